"""Profiles on disk, and profiles of files.

Storing: :func:`profile_to_dict` gives a JSON-ready dict (floats exact: JSON numbers are written
with ``repr``; NaN and +-inf as the strings "NaN", "Infinity", "-Infinity", so the JSON is
standard). The sample rows travel inside it as a base64 Parquet file, which keeps every dtype.
:func:`profile_to_parquet` writes one Parquet file: the sample rows as the table and the
statistics as JSON in the schema metadata under ``b"loopml.profile"``. Paths may be local or
fsspec URLs (``s3://``, ``memory://``), with ``storage_options`` for fsspec.

Reading: :func:`profile_files` profiles Parquet, CSV or JSON Lines files named by a path, glob,
directory or URL, in chunks of ``chunk_size`` rows read by :mod:`loopml.serving.batch_inputs`:
each chunk is profiled column by column (one pandas column at a time next to the Arrow chunk)
and merged into the running profile, so memory stays bounded by the chunk size. A column a chunk
lacks (sparse JSON Lines) counts as missing there.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidInput, NotFound
from .profiles import ColumnProfile, Profile, ProfileOptions, build_profile, check_columns, merge_two
from .sketch import QuantileSketch

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from ..serving.batch_inputs import InputFile, Piece, ReadSpec

__all__ = [
    "METADATA_KEY",
    "profile_files",
    "profile_from_dict",
    "profile_from_json",
    "profile_from_parquet",
    "profile_to_dict",
    "profile_to_json",
    "profile_to_parquet",
]

METADATA_KEY = b"loopml.profile"
FORMAT = "loopml.profile"
VERSION = 1
PathOrUrl = str | os.PathLike[str]
_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


# -------------------------------------------------------------------------------------- dict / JSON


def _number(x: float | None) -> float | str | None:
    """A float as JSON allows it: non-finite values as strings."""
    if x is None or math.isfinite(x):
        return x
    return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")


def _float(x: Any) -> float | None:
    if x is None:
        return None
    return _SPECIAL[x] if isinstance(x, str) else float(x)


def column_to_dict(column: ColumnProfile) -> dict[str, Any]:
    """One column's statistics as a JSON-ready dict."""
    return {
        "name": column.name,
        "kind": column.kind,
        "dtype": column.dtype,
        "count": column.count,
        "missing": column.missing,
        "min": _number(column.min),
        "max": _number(column.max),
        "mean": _number(column.mean),
        "std": _number(column.std),
        "sketch": None if column.sketch is None else column.sketch.to_dict(),
        "categories": None if column.categories is None else [[k, n] for k, n in column.categories.items()],
        "other": column.other,
    }


def column_from_dict(data: Mapping[str, Any]) -> ColumnProfile:
    """The :class:`ColumnProfile` :func:`column_to_dict` described."""
    sketch, categories = data.get("sketch"), data.get("categories")
    return ColumnProfile(
        name=str(data["name"]),
        kind=str(data["kind"]),
        dtype=str(data["dtype"]),
        count=int(data["count"]),
        missing=int(data["missing"]),
        min=_float(data.get("min")),
        max=_float(data.get("max")),
        mean=_float(data.get("mean")),
        std=_float(data.get("std")),
        sketch=None if sketch is None else QuantileSketch.from_dict(sketch),
        categories=None if categories is None else {str(k): int(n) for k, n in categories},
        other=int(data.get("other", 0)),
    )


def stats_to_dict(p: Profile) -> dict[str, Any]:
    """Everything but the sample rows."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "n_rows": p.n_rows,
        "sample_size": p.sample_size,
        "max_categories": p.max_categories,
        "bins": p.bins,
        "seed": p.seed,
        "columns": [column_to_dict(c) for c in p.columns.values()],
    }


def stats_from_dict(data: Mapping[str, Any], sample: pd.DataFrame) -> Profile:
    """The profile of :func:`stats_to_dict` with ``sample`` as its rows."""
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        raise InvalidInput("not a loopml profile: the 'format' field is missing or not 'loopml.profile'")
    if int(data.get("version", 0)) > VERSION:
        raise InvalidInput(
            f"this profile has format version {data['version']}, newer than this loopml reads ({VERSION});"
            " upgrade loopml",
            version=data["version"],
        )
    try:
        columns = {c.name: c for c in (column_from_dict(d) for d in data["columns"])}
        return Profile(
            int(data["n_rows"]),
            columns,
            sample,
            int(data["sample_size"]),
            int(data["max_categories"]),
            int(data["bins"]),
            int(data["seed"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"not a valid loopml profile: {exc!r}") from exc


def profile_to_dict(p: Profile) -> dict[str, Any]:
    """The whole profile as a JSON-ready dict; the sample is a base64 Parquet file."""
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(sample_table(p.sample), buffer)
    data = stats_to_dict(p)
    data["sample"] = {"encoding": "parquet+base64", "data": base64.b64encode(buffer.getvalue()).decode()}
    return data


def profile_from_dict(data: Mapping[str, Any]) -> Profile:
    """The profile :func:`profile_to_dict` described."""
    import pyarrow.parquet as pq

    encoded = data.get("sample") if isinstance(data, Mapping) else None
    if not isinstance(encoded, Mapping) or encoded.get("encoding") != "parquet+base64":
        raise InvalidInput("not a loopml profile dict: its 'sample' is missing or not parquet+base64")
    table = pq.read_table(io.BytesIO(base64.b64decode(encoded["data"])))
    return stats_from_dict(data, sample_frame(table))


def profile_to_json(p: Profile, path: PathOrUrl | None, storage_options: Mapping[str, Any]) -> str:
    """The profile as standard JSON text, written to ``path`` too when given."""
    text = json.dumps(profile_to_dict(p), allow_nan=False, separators=(",", ":"))
    if path is not None:
        with _open(path, "wb", storage_options) as f:
            f.write(text.encode())
    return text


def profile_from_json(text_or_path: PathOrUrl, storage_options: Mapping[str, Any]) -> Profile:
    """The profile in JSON text (starting with "{") or in the file at a path or URL."""
    if isinstance(text_or_path, str) and text_or_path.lstrip().startswith("{"):
        text = text_or_path
    else:
        with _open(text_or_path, "rb", storage_options) as f:
            text = f.read().decode()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"not JSON: {exc}") from exc
    return profile_from_dict(data)


# ------------------------------------------------------------------------------------------ Parquet


def sample_table(sample: pd.DataFrame) -> pa.Table:
    """The sample rows as an Arrow table with pandas metadata (dtypes come back). An object
    column Arrow cannot type (mixed values) is stored as text, spelled like the categories."""
    import pyarrow as pa

    try:
        return pa.Table.from_pandas(sample, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass
    fixed = sample.copy()
    for name in fixed.columns:
        try:
            pa.array(fixed[name], from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            fixed[name] = fixed[name].map(lambda v: v if v is None or v != v else str(v)).astype(object)
    return pa.Table.from_pandas(fixed, preserve_index=False)


def sample_frame(table: pa.Table) -> pd.DataFrame:
    """The sample rows of an Arrow table, with text columns that were object columns back as
    object (pandas 3 reads every Arrow string column as its ``str`` dtype)."""
    frame = table.to_pandas()
    described = (table.schema.pandas_metadata or {}).get("columns", [])
    objects = {
        c["name"]: object
        for c in described
        if c.get("numpy_type") == "object" and c.get("name") in frame and frame[c["name"]].dtype != object
    }
    return frame.astype(objects) if objects else frame


def profile_to_parquet(p: Profile, path: PathOrUrl, storage_options: Mapping[str, Any]) -> None:
    """One Parquet file: the sample rows, the statistics as JSON under ``b"loopml.profile"``."""
    import pyarrow.parquet as pq

    table = sample_table(p.sample)
    stats = json.dumps(stats_to_dict(p), allow_nan=False, separators=(",", ":")).encode()
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), METADATA_KEY: stats})
    with _open(path, "wb", storage_options) as f:
        pq.write_table(table, f)


def profile_from_parquet(path: PathOrUrl, storage_options: Mapping[str, Any]) -> Profile:
    """The profile in a Parquet file :func:`profile_to_parquet` wrote."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with _open(path, "rb", storage_options) as f:
        try:
            table = pq.read_table(f)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InvalidInput(
                f"cannot read {os.fspath(path)!r} as Parquet: {exc}", path=os.fspath(path)
            ) from exc
    stats = (table.schema.metadata or {}).get(METADATA_KEY)
    if stats is None:
        raise InvalidInput(
            f"{os.fspath(path)!r} is a Parquet file but not a loopml profile (no {METADATA_KEY!r} metadata)",
            path=os.fspath(path),
        )
    return stats_from_dict(json.loads(stats), sample_frame(table))


def _open(path: PathOrUrl, mode: str, storage_options: Mapping[str, Any]) -> Any:
    """An fsspec file; NotFound naming ``path`` when reading a file that does not exist."""
    import fsspec
    from fsspec.core import url_to_fs
    from fsspec.implementations.local import LocalFileSystem

    url = os.fspath(path)
    fs, inner = url_to_fs(url, **storage_options)
    if "r" in mode and not fs.isfile(inner):
        raise NotFound(f"no profile file at {url!r}", path=url)
    if "w" in mode and isinstance(fs, LocalFileSystem):
        fs.makedirs(fs._parent(inner), exist_ok=True)
    return fsspec.open(url, mode, **storage_options)


# ------------------------------------------------------------------------------------ files, chunked


def profile_files(
    data: PathOrUrl | Sequence[PathOrUrl],
    columns: Sequence[str] | None,
    options: ProfileOptions,
    storage_options: Mapping[str, Any],
) -> Profile:
    """The profile of the files ``data`` names, read in chunks of ``options.chunk_size`` rows."""
    from ..serving.batch_inputs import ReadSpec, plan_pieces, require_pyarrow

    require_pyarrow()
    files = _find_files(data, storage_options)
    if columns is not None:
        for file in files:
            if file.columns is not None:
                _check_file_columns(columns, file)
    wanted = None if columns is None else frozenset(columns)
    spec = ReadSpec(options.chunk_size, wanted=wanted, storage_options=storage_options)
    rng = np.random.default_rng(options.seed)
    result: Profile | None = None
    # split: a Parquet piece is a run of row groups of about chunk_size rows, so that pyarrow
    # pre-buffers only those (over a whole file it buffers every row group: memory ~ file size)
    for piece in plan_pieces(files, options.chunk_size, split=True):
        for table in _tables(piece, spec):
            part = _profile_table(table, options, rng)
            del table
            result = part if result is None else _merge_padded(result, part, rng)
    if result is None:
        raise InvalidInput(f"the input {data!r} holds no table to profile")
    names = check_columns(columns, list(result.columns))
    return _reordered(result, names)


def _find_files(data: PathOrUrl | Sequence[PathOrUrl], storage_options: Mapping[str, Any]) -> list[InputFile]:
    """Each file the paths, globs, directories or URLs name, looked into (batch scoring's finder:
    NotFound for a pattern matching nothing, InvalidInput naming a file that cannot be read)."""
    from ..serving.batch_inputs import find_inputs

    return find_inputs(data, None, storage_options)


def _check_file_columns(columns: Sequence[str], file: InputFile) -> None:
    available = list(file.columns or ())
    unknown = [c for c in ([columns] if isinstance(columns, str) else columns) if c not in available]
    if unknown:
        raise InvalidInput(
            f"unknown column {unknown[0]!r} in columns=: {file.url!r} has {available}", columns=unknown
        )


def _tables(piece: Piece, spec: ReadSpec) -> Iterator[pa.Table]:
    """The Arrow tables of a piece; read failures name the file."""
    import pyarrow as pa

    from ..serving.batch_inputs import iter_chunks

    chunks = iter_chunks(piece, spec)
    while True:
        try:
            chunk = next(chunks)
        except StopIteration:
            return
        except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"cannot read {piece.file.url!r}: {exc}", input=piece.file.url) from exc
        table = chunk.table
        del chunk  # one chunk in memory at a time: none is held while the next is read
        yield table
        del table


def _profile_table(table: pa.Table, options: ProfileOptions, rng: np.random.Generator) -> Profile:
    """The profile of one Arrow chunk, converted to pandas one column at a time."""
    from .sample import sample_indices

    names = table.column_names
    if len(set(names)) != len(names):
        duplicated = sorted({n for n in names if names.count(n) > 1})
        raise InvalidInput(f"the data has duplicate column names {duplicated}", columns=duplicated)
    sample = table.take(sample_indices(table.num_rows, options.sample_size, rng)).to_pandas()
    return build_profile(table.num_rows, _LazyColumns(table), sample, options)


class _LazyColumns(Mapping[str, "pd.Series"]):
    """Column name -> pandas Series, converted from Arrow when asked, so that only one
    column is held twice (Arrow and pandas) at a time."""

    def __init__(self, table: pa.Table) -> None:
        self._table = table

    def __getitem__(self, name: str) -> pd.Series:
        return self._table.column(name).to_pandas()

    def __iter__(self) -> Iterator[str]:
        return iter(self._table.column_names)

    def __len__(self) -> int:
        return int(self._table.num_columns)


def _merge_padded(a: Profile, b: Profile, rng: np.random.Generator) -> Profile:
    """``merge_two`` after giving each side the columns only the other has, as all missing."""
    names = list(dict.fromkeys([*a.columns, *b.columns]))
    return merge_two(_padded(a, names), _padded(b, names), rng)


def _padded(p: Profile, names: list[str]) -> Profile:
    if list(p.columns) == names:
        return p
    columns = {
        n: p.columns.get(n) or ColumnProfile(n, "categorical", "null", 0, p.n_rows, categories={})
        for n in names
    }
    sample = p.sample.reindex(columns=names)
    return replace(p, columns=columns, sample=sample)


def _reordered(p: Profile, names: list[str]) -> Profile:
    if list(p.columns) == names:
        return p
    return replace(p, columns={n: p.columns[n] for n in names}, sample=p.sample[names])
