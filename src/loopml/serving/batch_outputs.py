"""Where batch scoring writes: tables appended chunk by chunk, under a temporary name until
the job has succeeded, so that an output is either whole or absent.

A local output is written beside its final path (``.<name>.<token>.tmp``) and renamed at the
end; an output at an fsspec URL (``s3://...``) is written to a local temporary file and
uploaded at the end. The Dask engine writes a directory of parts the same way: a temporary
directory beside the output, moved into place at the end. pyarrow and pandas are imported by
the functions, never by this module.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from ..errors import Conflict, InvalidInput
from .batch_inputs import FORMATS, format_of

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "StagedDirectory",
    "StagedFile",
    "TableWriter",
    "check_free",
    "default_rejects",
    "output_format",
]

EXTENSIONS = {"parquet": ".parquet", "csv": ".csv", "jsonl": ".jsonl"}


def output_format(output: str, format: str | None) -> str:
    """``format``, else the one the output's extension names; parquet when it has none."""
    if format is not None:
        if format not in FORMATS:
            raise InvalidInput(
                f"unknown output format {format!r}; use one of {', '.join(FORMATS)}", format=str(format)
            )
        return format
    inferred, compression = format_of(output)
    if compression:
        raise InvalidInput(
            f"output {output!r}: compressed CSV or JSON Lines are not written; use .parquet (compressed"
            " column by column) or a plain .csv or .jsonl",
            output=output,
        )
    if inferred is not None:
        return inferred
    extension = os.path.splitext(output.rstrip("/").rsplit("/", 1)[-1])[1]
    if not extension:
        return "parquet"
    raise InvalidInput(
        f"cannot tell the output format from the extension of {output!r}; name it .parquet, .csv or"
        " .jsonl, or pass format='parquet', 'csv' or 'jsonl'",
        output=output,
    )


def default_rejects(output: str) -> str:
    """``out/scores.parquet`` -> ``out/scores.rejects.parquet`` (beside the output, same format)."""
    trimmed = output.rstrip("/")
    head, sep, base = trimmed.rpartition("/")
    stem, extension = os.path.splitext(base)
    return f"{head}{sep}{stem}.rejects{extension}"


def check_free(url: str, storage_options: Mapping[str, Any], *, overwrite: bool, what: str) -> None:
    """Conflict naming ``url`` when something is there already and ``overwrite`` is false."""
    if overwrite:
        return
    from fsspec.core import url_to_fs

    fs, path = url_to_fs(url, **storage_options)
    if fs.exists(path):
        raise Conflict(
            f"{what} {url!r} already exists; pass overwrite=True (--overwrite) to replace it",
            path=url,
        )


def _local(fs: Any) -> bool:
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(fs, LocalFileSystem)


def _remove(fs: Any, path: str) -> None:
    if fs.exists(path):
        fs.rm(path, recursive=fs.isdir(path))


class StagedFile:
    """One output file written at :attr:`temp` (a local path) and moved to ``url`` by :meth:`commit`."""

    def __init__(self, url: str, storage_options: Mapping[str, Any]) -> None:
        from fsspec.core import url_to_fs

        self.url = url
        self._fs, self._path = url_to_fs(url, **storage_options)
        token = secrets.token_hex(6)
        if _local(self._fs):
            parent, base = os.path.split(os.path.abspath(self._path))
            os.makedirs(parent, exist_ok=True)
            self.temp = os.path.join(parent, f".{base}.{token}.tmp")
        else:
            base = self._path.rstrip("/").rsplit("/", 1)[-1]
            self.temp = os.path.join(tempfile.gettempdir(), f"loopml-batch-{token}-{base}")

    def written(self) -> bool:
        return os.path.exists(self.temp)

    def commit(self) -> None:
        """Put the temporary file in place, replacing what is there (checked free before)."""
        if self._fs.isdir(self._path):
            self._fs.rm(self._path, recursive=True)
        if _local(self._fs):
            os.replace(self.temp, self._path)
            return
        self._fs.put_file(self.temp, self._path)
        os.remove(self.temp)

    def discard(self) -> None:
        if os.path.exists(self.temp):
            os.remove(self.temp)

    def remove_target(self) -> None:
        """Delete the file at ``url`` (a stale rejects file an overwriting job did not replace)."""
        _remove(self._fs, self._path)


class StagedDirectory:
    """A directory of parts written at :attr:`temp_url` (beside ``url``, on the same filesystem,
    so that Dask workers reach it) and moved to ``url`` by :meth:`commit`."""

    def __init__(self, url: str, storage_options: Mapping[str, Any]) -> None:
        from fsspec.core import url_to_fs

        self.url = url
        self._fs, self._path = url_to_fs(url, **storage_options)
        self._path = self._path.rstrip("/")
        if _local(self._fs):
            self._path = os.path.abspath(self._path)
        head, sep, base = self._path.rpartition("/")
        self._temp = f"{head}{sep}.{base}.{secrets.token_hex(6)}.tmp"
        self._fs.makedirs(self._temp, exist_ok=True)
        self.temp_url = self._temp if _local(self._fs) else str(self._fs.unstrip_protocol(self._temp))

    def part(self, index: int, format: str) -> str:
        return f"{self.temp_url}/part-{index:05d}{EXTENSIONS[format]}"

    def has_parts(self) -> bool:
        try:
            return bool(self._fs.ls(self._temp, detail=False))
        except FileNotFoundError:
            return False

    def commit(self) -> None:
        _remove(self._fs, self._path)
        if _local(self._fs):
            os.replace(self._temp, self._path)
        else:
            self._fs.mv(self._temp, self._path, recursive=True)

    def discard(self) -> None:
        with suppress(FileNotFoundError):
            _remove(self._fs, self._temp)

    def remove_target(self) -> None:
        _remove(self._fs, self._path)


class TableWriter:
    """Appends tables to one Parquet, CSV or JSON Lines file, opened at the first write.

    The first table's schema is the file's: later tables are cast to it, and a column whose
    type changed in a way that does not cast is an InvalidInput naming it.
    """

    def __init__(self, format: str, target: str, storage_options: Mapping[str, Any] | None = None) -> None:
        self.format = format
        self.target = target
        self.rows = 0
        self._storage_options = dict(storage_options or {})
        self._schema: pa.Schema | None = None
        self._sink: Any = None
        self._writer: Any = None

    def write(self, table: pa.Table) -> None:
        if self._schema is None:
            self._open(table.schema)
        elif table.schema != self._schema:
            table = self._conform(table)
        if self.format == "jsonl":
            self._write_jsonl(table)
        else:
            self._writer.write_table(table)
        self.rows += table.num_rows

    def close(self, empty_schema: pa.Schema | None = None) -> None:
        """Finish the file; with ``empty_schema``, a file that got no table is written empty."""
        if self._schema is None and empty_schema is not None:
            self._open(empty_schema)
        try:
            if self._writer is not None:
                self._writer.close()
        finally:
            self._writer = None
            if self._sink is not None:
                self._sink.close()
                self._sink = None

    def _open(self, schema: pa.Schema) -> None:
        local = "://" not in self.target
        if local and self.format != "jsonl":
            sink: Any = self.target  # pyarrow's own file: no Python in the write path
        else:
            import fsspec

            sink = self._sink = fsspec.open(self.target, "wb", **self._storage_options).open()
        if self.format == "parquet":
            import pyarrow.parquet as pq

            self._writer = pq.ParquetWriter(sink, schema)
        elif self.format == "csv":
            import pyarrow.csv as pacsv

            self._writer = pacsv.CSVWriter(sink, schema)
        self._schema = schema

    def _conform(self, table: pa.Table) -> pa.Table:
        import pyarrow as pa

        assert self._schema is not None
        if table.column_names != self._schema.names:
            raise InvalidInput(
                f"the columns written to {self.target!r} changed from {self._schema.names}"
                f" to {table.column_names}",
                columns=table.column_names,
            )
        try:
            return table.cast(self._schema)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            changed = [
                f"{f.name!r} ({self._schema.field(f.name).type} before, {f.type} now)"
                for f in table.schema
                if f.type != self._schema.field(f.name).type
            ]
            raise InvalidInput(
                f"the type of column(s) {', '.join(changed)} changed from one chunk to the next and"
                f" does not convert: {exc}",
                columns=changed,
            ) from exc

    def _write_jsonl(self, table: pa.Table) -> None:
        text = table.to_pandas().to_json(
            orient="records", lines=True, double_precision=15, date_format="iso", force_ascii=False
        )
        if text and not text.endswith("\n"):
            text += "\n"
        self._sink.write(text.encode("utf-8"))
