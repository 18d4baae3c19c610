"""The files batch scoring reads: finding them, looking inside, and reading them in chunks.

An input is a path, a glob (``data/*.csv``), a directory (its files with a known extension) or
an fsspec URL (``s3://bucket/day=*/part-*.parquet``, ``memory://...``). Each file is read in
chunks of about ``chunk_size`` rows, so memory stays the same however large the file:

- CSV: blocks of whole lines cut from the byte stream, each parsed by pyarrow on all cores
  (without the GIL) with the model signature's column types. A block with a value those types
  refuse is parsed again with the signature's columns as text, so that the bad rows can be
  found and rejected (:mod:`.rejects`) instead of failing the job. Lines with too many or too
  few fields are set aside as malformed. Values must not contain line breaks (quoted or not),
  as with pyarrow's and dask's readers.
- JSON Lines: blocks of whole lines parsed by pyarrow; a block mixing numbers and text in one
  field is parsed line by line instead.
- Parquet: record batches of ``chunk_size`` rows, reading only the columns needed.

``.gz`` compressed CSV and JSON Lines files are read through gzip (one piece per file).
pyarrow is imported by the functions, never by this module.
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, BinaryIO

from ..errors import InvalidInput, MissingExtra, NotFound

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "FORMATS",
    "Chunk",
    "InputFile",
    "Piece",
    "ReadSpec",
    "find_inputs",
    "iter_chunks",
    "plan_pieces",
    "require_pyarrow",
]

FORMATS = ("parquet", "csv", "jsonl")
_EXTENSIONS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_GLOB_CHARS = frozenset("*?[")
_SAMPLE_BYTES = 64 * 1024
# signature type -> pyarrow type name used to parse text columns (datetime, binary: inferred)
_ARROW_TYPES = {
    "double": "float64",
    "float": "float32",
    "long": "int64",
    "integer": "int32",
    "boolean": "bool_",
    "string": "string",
}
_SHOWN_TEXT = 200
# the blocks pyarrow parses a chunk of CSV in, in parallel: larger ones fall out of CPU caches
_CSV_BLOCK = 1 << 20


def require_pyarrow() -> None:
    """MissingExtra naming the ``parquet`` extra when pyarrow is not installed."""
    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise MissingExtra("parquet", module="pyarrow") from exc


@dataclass(frozen=True)
class InputFile:
    """One file to score and what was learned by looking at its start (or its Parquet footer)."""

    url: str  # a local path, or a URL fsspec opens
    format: str  # csv, parquet or jsonl
    compression: str | None  # "gzip" or None
    size: int  # bytes
    columns: tuple[str, ...] | None = None  # from the header or schema; None for JSON Lines
    data_start: int = 0  # byte offset of the first data line (CSV, uncompressed)
    row_bytes: float = 100.0  # average bytes per line at the start of the file (CSV, JSON Lines)
    row_groups: tuple[int, ...] = ()  # rows of each row group (Parquet)

    @property
    def rows(self) -> int | None:
        """The number of rows, when the file says it (Parquet)."""
        return sum(self.row_groups) if self.format == "parquet" else None


@dataclass(frozen=True)
class Piece:
    """A part of one file read as a unit: the whole file locally, one partition on Dask."""

    file: InputFile
    start: int = 0  # CSV/JSON Lines: the piece holds the lines that begin in [start, end)
    end: int | None = None  # None: to the end of the file
    row_groups: tuple[int, ...] | None = None  # Parquet: the row groups to read (None: all)


@dataclass(frozen=True)
class ReadSpec:
    """How to read chunks: their size, the columns wanted and the types to parse them with."""

    chunk_size: int
    column_types: Mapping[str, str] = field(default_factory=dict)  # column -> signature type
    wanted: frozenset[str] | None = None  # the columns to read; None: every column
    storage_options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Chunk:
    """Rows read from one file, and the rows of that part of the file that could not be parsed."""

    table: pa.Table
    source: str
    malformed: tuple[str, ...] = ()  # why each malformed line was set aside
    progress: int = 0  # the bytes (or, for Parquet, rows) of the file this chunk accounts for

    @property
    def rows(self) -> int:
        return int(self.table.num_rows) + len(self.malformed)


# ------------------------------------------------------------------------------------------ finding


def find_inputs(
    inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    input_format: str | None,
    storage_options: Mapping[str, Any],
) -> list[InputFile]:
    """Every file the paths, globs, directories or URLs name, in order, each looked into.

    NotFound names a pattern that matches no file; InvalidInput a file whose format is unknown
    or that cannot be read.
    """
    import pyarrow as pa

    patterns = [inputs] if isinstance(inputs, str | os.PathLike) else list(inputs)
    if not patterns:
        raise InvalidInput("no input given: pass a path, a glob or a list of them")
    found: dict[str, InputFile] = {}
    for pattern in patterns:
        text = os.fspath(pattern)
        for url in _expand(text, storage_options):
            if url in found:
                continue
            try:
                found[url] = _inspect(_identify(url, input_format, storage_options), storage_options)
            except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
                raise InvalidInput(f"cannot read {url!r}: {exc}", input=url) from exc
    return list(found.values())


def _expand(pattern: str, storage_options: Mapping[str, Any]) -> list[str]:
    from fsspec.core import url_to_fs

    fs, path = url_to_fs(pattern, **storage_options)
    if _GLOB_CHARS & set(path):
        paths = sorted(p for p in fs.glob(path) if fs.isfile(p))
    elif fs.isdir(path):
        paths = sorted(
            p for p in fs.find(path) if _known_extension(p) and not _base(p).startswith((".", "_"))
        )
    else:
        paths = [path] if fs.isfile(path) else []
    if not paths:
        raise NotFound(f"no input file matches {pattern!r}", pattern=pattern)
    return [_url(fs, p) for p in paths]


def _url(fs: Any, path: str) -> str:
    from fsspec.implementations.local import LocalFileSystem

    return path if isinstance(fs, LocalFileSystem) else str(fs.unstrip_protocol(path))


def _base(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _known_extension(path: str) -> bool:
    name = _base(path).lower().removesuffix(".gz")
    return os.path.splitext(name)[1] in _EXTENSIONS


def format_of(path: str) -> tuple[str | None, str | None]:
    """(format, compression) from a file name: ``x.csv.gz`` -> ("csv", "gzip"); unknown: None."""
    name = _base(path).lower()
    compression = "gzip" if name.endswith(".gz") else None
    return _EXTENSIONS.get(os.path.splitext(name.removesuffix(".gz"))[1]), compression


def _identify(url: str, input_format: str | None, storage_options: Mapping[str, Any]) -> InputFile:
    from fsspec.core import url_to_fs

    inferred, compression = format_of(url)
    fmt = input_format or inferred
    if fmt is None:
        raise InvalidInput(
            f"cannot tell the format of input {url!r} from its extension; name files .csv, .parquet or"
            " .jsonl (optionally .gz), or pass input_format='csv', 'parquet' or 'jsonl'",
            input=url,
        )
    if fmt == "parquet" and compression:
        raise InvalidInput(f"input {url!r}: a Parquet file compresses itself; do not gzip it", input=url)
    fs, path = url_to_fs(url, **storage_options)
    return InputFile(url, fmt, compression, int(fs.size(path)))


# ---------------------------------------------------------------------------------------- inspecting


def _inspect(file: InputFile, storage_options: Mapping[str, Any]) -> InputFile:
    """``file`` with its columns (CSV header, Parquet schema), row groups and line size."""
    if file.format == "parquet":
        import pyarrow.parquet as pq

        with _opened(file.url, storage_options) as raw:
            parquet = pq.ParquetFile(raw)
            meta = parquet.metadata
            groups = tuple(meta.row_group(i).num_rows for i in range(meta.num_row_groups))
            return replace(file, columns=tuple(parquet.schema_arrow.names), row_groups=groups)
    with _text_stream(file, storage_options) as (_raw, stream):
        header = stream.readline() if file.format == "csv" else b""
        sample = stream.read(_SAMPLE_BYTES)
    lines = sample.count(b"\n") + (1 if sample and not sample.endswith(b"\n") else 0)
    row_bytes = len(sample) / lines if lines else 100.0
    if file.format == "jsonl":
        return replace(file, row_bytes=row_bytes)
    if not header.strip():
        raise InvalidInput(f"input {file.url!r} is empty: a CSV file needs a header line", input=file.url)
    return replace(file, columns=_header_names(header, file.url), data_start=len(header), row_bytes=row_bytes)


def _header_names(header: bytes, url: str) -> tuple[str, ...]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    text = header.removeprefix(b"\xef\xbb\xbf")
    try:
        names = pacsv.read_csv(pa.py_buffer(text)).column_names
    except pa.ArrowInvalid as exc:
        raise InvalidInput(f"cannot read the header line of {url!r}: {exc}", input=url) from exc
    return tuple(names)


@contextmanager
def _opened(url: str, storage_options: Mapping[str, Any]) -> Iterator[BinaryIO]:
    import fsspec

    with fsspec.open(url, "rb", **storage_options) as raw:
        yield raw


@contextmanager
def _text_stream(file: InputFile, storage_options: Mapping[str, Any]) -> Iterator[tuple[BinaryIO, Any]]:
    """(the raw file, the stream of its lines: decompressed for ``.gz``)."""
    with _opened(file.url, storage_options) as raw:
        if file.compression == "gzip":
            with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
                yield raw, io.BufferedReader(unzipped, buffer_size=1 << 20)
        else:
            yield raw, raw


# ----------------------------------------------------------------------------------------- planning


def plan_pieces(files: Sequence[InputFile], chunk_size: int, *, split: bool) -> list[Piece]:
    """One piece per file, or (``split``) pieces of about ``chunk_size`` rows: byte ranges of
    uncompressed text files, runs of row groups of Parquet files."""
    if not split:
        return [Piece(f, start=f.data_start) for f in files]
    pieces: list[Piece] = []
    for f in files:
        if f.format == "parquet":
            pieces += [Piece(f, row_groups=groups) for groups in _group_rows(f.row_groups, chunk_size)]
        elif f.compression:
            pieces.append(Piece(f, start=f.data_start))
        else:
            step = max(int(chunk_size * f.row_bytes), 1)
            starts = range(f.data_start, max(f.size, f.data_start + 1), step)
            pieces += [Piece(f, start=s, end=min(s + step, f.size)) for s in starts]
    return pieces


def _group_rows(row_groups: Sequence[int], chunk_size: int) -> list[tuple[int, ...]]:
    groups: list[tuple[int, ...]] = []
    current: list[int] = []
    rows = 0
    for index, count in enumerate(row_groups):
        current.append(index)
        rows += count
        if rows >= chunk_size:
            groups.append(tuple(current))
            current, rows = [], 0
    if current or not groups:
        groups.append(tuple(current))
    return groups


# ------------------------------------------------------------------------------------------ reading


def iter_chunks(piece: Piece, spec: ReadSpec) -> Generator[Chunk, None, None]:
    """The chunks of ``piece``, in file order."""
    if piece.file.format == "parquet":
        yield from _parquet_chunks(piece, spec)
    else:
        yield from _text_chunks(piece, spec)


def _parquet_chunks(piece: Piece, spec: ReadSpec) -> Generator[Chunk, None, None]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    file = piece.file
    columns = [c for c in file.columns or () if spec.wanted is None or c in spec.wanted]
    with _opened(file.url, spec.storage_options) as raw:
        parquet = pq.ParquetFile(raw, pre_buffer=False)  # pre-buffering reads every row group at once
        batches = parquet.iter_batches(
            batch_size=spec.chunk_size, row_groups=piece.row_groups, columns=columns, use_threads=True
        )
        for batch in batches:
            table, rows = pa.Table.from_batches([batch]), batch.num_rows
            del batch  # the consumer's chunk is the only reference while the next one is read
            yield Chunk(table, file.url, progress=rows)
            del table


def _text_chunks(piece: Piece, spec: ReadSpec) -> Generator[Chunk, None, None]:
    """CSV or JSON Lines: blocks of whole lines of about ``chunk_size`` rows, each parsed alone."""
    file = piece.file
    block_bytes = max(int(spec.chunk_size * file.row_bytes), 256)
    parse = _csv_parser(file, spec) if file.format == "csv" else _jsonl_parser(file, spec)
    with _text_stream(file, spec.storage_options) as (raw, stream):
        if file.format == "csv":
            stream.readline()  # the header
        if piece.start > file.data_start:
            stream.seek(piece.start - 1)
            stream.readline()  # the end of a line the previous piece holds
        start = stream.tell()
        reported = 0 if piece.start <= file.data_start else start  # a whole file counts its header
        if not file.compression:  # never a buffer larger than what is left of the file
            block_bytes = min(block_bytes, max(file.size - start, 0) + 1)
        for block in _line_blocks(stream, start, piece.end, block_bytes):
            position = raw.tell()
            table, malformed = parse(block)
            del block
            yield Chunk(table, file.url, malformed, progress=max(position - reported, 0))
            del table
            reported = max(position, reported)


def _line_blocks(stream: Any, start: int, end: int | None, block_bytes: int) -> Iterator[memoryview]:
    """Blocks of whole lines read from ``stream`` (at ``start``, the start of a line), up to the
    line that ends at or after byte ``end`` (lines starting at ``end`` or later are not ours).
    Each block is read into a buffer of its own, handed to pyarrow without a copy."""
    line_start = start
    carry = b""
    while end is None or line_start < end:
        buffer = bytearray(len(carry) + block_bytes)
        buffer[: len(carry)] = carry
        got = stream.readinto(memoryview(buffer)[len(carry) :]) or 0
        size = len(carry) + got
        last = got == 0
        cut = size if last else buffer.rfind(b"\n", 0, size) + 1
        if end is not None and line_start + cut > end:
            newline = buffer.find(b"\n", max(end - 1 - line_start, 0), size)
            cut = newline + 1 if newline >= 0 else size
            last = True
        if cut == 0 and not last:
            carry = bytes(buffer[:size])  # a line longer than the block: read on
            block_bytes *= 2
            continue
        carry = bytes(buffer[cut:size])
        line_start += cut
        if cut > 4096 or bytes(buffer[:cut]).strip():
            yield memoryview(buffer)[:cut]
        if last:
            return


def _csv_parser(file: InputFile, spec: ReadSpec) -> Callable[[memoryview], tuple[pa.Table, tuple[str, ...]]]:
    """A function parsing one block of CSV lines into (table, why each malformed line was set aside).

    The block is parsed on all cores with the signature's column types; when a value does not
    parse as its type, the block is parsed again with the signature's columns as text, so that
    the bad rows can be rejected (:mod:`.rejects`) instead of failing the job.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = list(file.columns or ())
    include = [c for c in names if spec.wanted is None or c in spec.wanted]
    signature = {c: t for c, t in spec.column_types.items() if c in include}
    typed = {c: getattr(pa, _ARROW_TYPES[t])() for c, t in signature.items() if t in _ARROW_TYPES}
    as_text = {c: pa.string() for c in signature}
    read = pacsv.ReadOptions(column_names=names, use_threads=True, block_size=_CSV_BLOCK)

    def convert(types: dict[str, Any]) -> Any:
        return pacsv.ConvertOptions(column_types=types, include_columns=include, strings_can_be_null=True)

    def parse(block: memoryview) -> tuple[pa.Table, tuple[str, ...]]:
        malformed: list[str] = []

        def set_aside(row: Any) -> str:
            text = row.text if len(row.text) <= _SHOWN_TEXT else row.text[:_SHOWN_TEXT] + "..."
            malformed.append(
                f"malformed CSV line: expected {row.expected_columns} fields, got {row.actual_columns}:"
                f" {text!r}"
            )
            return "skip"

        options = pacsv.ParseOptions(invalid_row_handler=set_aside)
        try:
            return pacsv.read_csv(pa.py_buffer(block), read, options, convert(typed)), tuple(malformed)
        except pa.ArrowInvalid:
            malformed.clear()
        try:
            return pacsv.read_csv(pa.py_buffer(block), read, options, convert(as_text)), tuple(malformed)
        except pa.ArrowInvalid as exc:
            raise InvalidInput(f"cannot read {file.url!r}: {exc}", input=file.url) from exc

    return parse


def _jsonl_parser(
    file: InputFile, spec: ReadSpec
) -> Callable[[memoryview], tuple[pa.Table, tuple[str, ...]]]:
    """A function parsing one block of JSON lines into (table, malformed line reasons)."""
    import pyarrow as pa
    import pyarrow.json as pajson

    read = pajson.ReadOptions(use_threads=True, block_size=1 << 22)

    def parse(block: memoryview) -> tuple[pa.Table, tuple[str, ...]]:
        try:
            table = pajson.read_json(pa.py_buffer(block), read_options=read)
            malformed: tuple[str, ...] = ()
        except pa.ArrowInvalid:
            table, malformed = _jsonl_by_line(bytes(block))
        if spec.wanted is not None:
            table = table.select([c for c in table.column_names if c in spec.wanted])
        return table, malformed

    return parse


def _jsonl_by_line(block: bytes) -> tuple[pa.Table, tuple[str, ...]]:
    """The slow path: each line parsed on its own; a field mixing types becomes text."""
    import orjson
    import pyarrow as pa

    records: list[dict[str, Any]] = []
    malformed: list[str] = []
    for line in block.splitlines():
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            record = None
            reason = f"not JSON ({exc})"
        else:
            reason = f"not a JSON object but {type(record).__name__}"
        if isinstance(record, dict):
            records.append(record)
        else:
            text = line[:_SHOWN_TEXT].decode("utf-8", "replace")
            malformed.append(f"malformed JSON line, {reason}: {text!r}")
    names = list(dict.fromkeys(k for record in records for k in record))
    columns: dict[str, pa.Array] = {}
    for name in names:
        values = [record.get(name) for record in records]
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            columns[name] = pa.array([None if v is None else str(v) for v in values], pa.string())
    table = pa.table(columns) if columns else pa.table({})
    return table, tuple(malformed)
