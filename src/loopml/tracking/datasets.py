"""What ``log_input`` records of a dataset: a stable content digest, its source, schema and profile.

The digest is a sha256 (hex) that stays the same across processes and machines for the same
data and changes when one value changes:

* DataFrame: column names and dtypes, then the row hashes of
  ``pd.util.hash_pandas_object(df, index=False)`` (vectorised; the index is not data);
* ndarray: dtype, shape and the raw bytes (C order);
* file (a path or an fsspec URL): the file's bytes, read in chunks.

pandas and numpy are imported here, when a dataset is logged, never by ``import loopml``.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import TYPE_CHECKING, Any

from ..entities import Dataset, DatasetInput
from ..entities.dataset import CONTEXTS
from ..errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["build_dataset", "dataset_input", "digest_array", "digest_file", "digest_frame"]

CHUNK_BYTES = 1 << 20
_FRAME_SOURCE = "in-memory DataFrame"
_ARRAY_SOURCE = "in-memory ndarray"
_CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv")
_PARQUET_SUFFIXES = (".parquet", ".pq")


def _header(kind: str, **fields: Any) -> bytes:
    return json.dumps({"kind": kind, **fields}, sort_keys=True, separators=(",", ":")).encode()


def digest_frame(frame: pd.DataFrame) -> str:
    """sha256 of the column names, dtypes and the per-row hashes of ``frame`` (the index is ignored)."""
    import pandas as pd

    h = hashlib.sha256(
        _header(
            "dataframe",
            columns=[str(c) for c in frame.columns],
            dtypes=[str(d) for d in frame.dtypes],
            rows=len(frame),
        )
    )
    if frame.shape[1] and len(frame):
        try:
            hashes = pd.util.hash_pandas_object(frame, index=False)
        except TypeError:  # unhashable cells (lists, dicts): hash their text instead
            hashes = pd.util.hash_pandas_object(frame.astype(str), index=False)
        h.update(hashes.to_numpy(dtype="uint64").tobytes())
    return h.hexdigest()


def digest_array(array: np.ndarray) -> str:
    """sha256 of the dtype, the shape and the bytes (C order) of ``array``."""
    import numpy as np
    import pandas as pd

    h = hashlib.sha256(_header("ndarray", dtype=array.dtype.str, shape=list(array.shape)))
    if array.dtype.hasobject:  # pointers, not data: hash the values
        h.update(pd.util.hash_array(array.ravel().astype(object)).tobytes())
    else:
        h.update(np.ascontiguousarray(array).data.cast("B"))
    return h.hexdigest()


def digest_file(source: str) -> str:
    """Streaming sha256 of the bytes of a local path or an fsspec URL."""
    import fsspec

    h = hashlib.sha256()
    with fsspec.open(source, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            h.update(chunk)
    return h.hexdigest()


def _file_source(path: str | os.PathLike[str]) -> str:
    text = os.fspath(path)
    if "://" in text:
        return text
    absolute = os.path.abspath(os.path.expanduser(text))
    if not os.path.isfile(absolute):
        raise InvalidInput(f"no file at {text!r} to log as a dataset", path=text)
    return absolute


def _read_table(source: str) -> pd.DataFrame | None:
    """The file as a DataFrame when it is CSV or Parquet (by its suffix); otherwise None."""
    import fsspec
    import pandas as pd

    lower = source.lower()
    if lower.endswith(_CSV_SUFFIXES):
        sep = "\t" if lower.endswith(".tsv") else ","
        compression = "gzip" if lower.endswith(".gz") else None
        with fsspec.open(source, "rb") as f:
            return pd.read_csv(f, sep=sep, compression=compression)
    if lower.endswith(_PARQUET_SUFFIXES):
        from ..errors import MissingExtra

        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise MissingExtra("parquet", module="pyarrow") from None
        with fsspec.open(source, "rb") as f:
            return pd.read_parquet(f)
    return None


def _schema(frame: pd.DataFrame) -> dict[str, str]:
    return {str(c): str(d) for c, d in zip(frame.columns, frame.dtypes, strict=True)}


def _array_frame(array: np.ndarray) -> pd.DataFrame | None:
    import pandas as pd

    if array.ndim == 1:
        return pd.DataFrame({"0": array})
    if array.ndim == 2:
        return pd.DataFrame(array, columns=[str(i) for i in range(array.shape[1])])
    return None


def build_dataset(data: Any, name: str | None = None, source: str | None = None) -> Dataset:
    """A :class:`Dataset` of a DataFrame, an ndarray or a file (a path or an fsspec URL)."""
    import numpy as np
    import pandas as pd

    from .profile import profile_frame

    frame: pd.DataFrame | None
    if isinstance(data, pd.DataFrame):
        digest, kind, where, frame = digest_frame(data), "dataframe", _FRAME_SOURCE, data
    elif isinstance(data, pd.Series):
        frame = data.to_frame()
        digest, kind, where = digest_frame(frame), "dataframe", "in-memory Series"
    elif isinstance(data, np.ndarray):
        digest, kind, where, frame = digest_array(data), "ndarray", _ARRAY_SOURCE, _array_frame(data)
    elif isinstance(data, str | os.PathLike):
        where = _file_source(data)
        digest, kind, frame = digest_file(where), "file", _read_table(where)
    else:
        raise InvalidInput(
            f"log_input takes a pandas DataFrame, a numpy array or a file path/URL, "
            f"got {type(data).__name__}",
            type=type(data).__name__,
        )
    if frame is not None:
        schema, profile = _schema(frame), profile_frame(frame)
        num_rows: int | None = len(frame)
        num_columns: int | None = frame.shape[1]
    elif kind == "ndarray":  # more than two dimensions: no columns to profile
        schema = {"array": f"{data.dtype}{list(data.shape)}"}
        profile, num_rows, num_columns = {"shape": list(data.shape)}, data.shape[0], None
    else:
        schema, profile, num_rows, num_columns = {}, {}, None, None
    return Dataset(
        name=name if name is not None else f"dataset-{digest[:8]}",
        digest=digest,
        source=source if source is not None else where,
        source_type=kind,
        schema=schema,
        profile=profile,
        num_rows=num_rows,
        num_columns=num_columns,
    )


def check_context(context: Any) -> str:
    if context not in CONTEXTS:
        raise InvalidInput(
            f"unknown dataset context {context!r}; use one of {', '.join(CONTEXTS)}",
            context=repr(context),
            valid=", ".join(CONTEXTS),
        )
    return str(context)


def dataset_input(
    data: Any, context: str = "training", name: str | None = None, source: str | None = None
) -> DatasetInput:
    """Validate the context first (cheap), then digest and profile the data."""
    check_context(context)
    if source is not None and not isinstance(source, str):
        raise InvalidInput(f"source must be a string, got {type(source).__name__}")
    return DatasetInput(build_dataset(data, name, source), context)
