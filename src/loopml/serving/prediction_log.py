"""PredictionLog: every prediction the server makes, appended to Parquet files.

The server calls :meth:`PredictionLog.append` once per model call, from its event loop. The
call only checks the arguments and hands the rows to a queue; a background daemon thread
(started at the first append) writes them, so the caller never waits for pandas, pyarrow or
the disk. Guarantees:

- **bounded memory**: at most ``max_rows_in_memory`` rows are held (queued or being written);
  an append that would go past that is dropped whole and counted in :attr:`PredictionLog.dropped`,
  with one warning per burst on the ``loopml.serving`` logger. ``append`` never blocks.
- **flushed**: a file is written when ``flush_rows`` rows wait or ``flush_interval_s`` after the
  oldest waiting row, at :meth:`PredictionLog.flush` and :meth:`PredictionLog.close`, and at
  interpreter exit (``atexit``) for a log that was never closed.
- **the server survives**: a failed write (disk full, permission denied, a value pyarrow cannot
  store) is logged with its traceback and its rows are counted in ``dropped``.
- **readers never see half a file**: a local file is written under a hidden temporary name and
  renamed; an object store receives each file in one put.

The files are hive-partitioned, so ``pyarrow.dataset`` and ``pd.read_parquet(root)`` see
``model`` and ``date`` as columns::

    {root}/model={model}/date={YYYY-MM-DD}/part-{YYYYmmddTHHMMSS}-{8 hex}.parquet

The model name is percent-encoded in the directory name (pyarrow decodes it), the date is the
UTC date of each row's ``loopml_timestamp`` and the time in the file name is that of the file's
first row. :func:`read_predictions` reads the tree back into one DataFrame for drift monitoring.

pandas, numpy and pyarrow are imported by the writer thread and by :func:`read_predictions`,
never when this module is imported.
"""

from __future__ import annotations

import atexit
import importlib.util
import itertools
import logging
import math
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote

from loopml.errors import Conflict, InvalidInput, MissingExtra

if TYPE_CHECKING:
    import pandas as pd
    from fsspec import AbstractFileSystem

__all__ = ["PredictionLog", "default_prediction_log_root", "read_predictions"]

logger = logging.getLogger("loopml.serving")

#: Columns every file starts with, before the input features.
LOG_COLUMNS = (
    "loopml_request_id",
    "loopml_timestamp",
    "loopml_model",
    "loopml_version",
    "loopml_latency_ms",
    "loopml_prediction",
)
_RESERVED_PREFIX = "loopml_"
_MICROS_PER_DAY = 86_400_000_000
_CHECKED_COLUMNS_KEPT = 64
_READ_THREADS = 8  # files read at once by read_predictions (object stores are latency-bound)


class _Chunk(NamedTuple):
    """The rows of one append, as the caller gave them (converted by the writer thread)."""

    model: str
    version: str | None
    request_ids: Sequence[str]
    timestamps: Sequence[float]
    inputs: pd.DataFrame
    outputs: Sequence[Any]
    latencies_ms: Sequence[float]
    rows: int


class PredictionLog:
    """Appends predictions to hive-partitioned Parquet files under ``root``.

    ``root`` is a local path, a ``file://`` URL or any fsspec URL (``s3://bucket/predictions``);
    ``storage_options`` go to the fsspec filesystem. The log keeps a reference to the objects
    given to :meth:`append` until they are written: do not modify them afterwards.
    """

    def __init__(
        self,
        root: str,
        *,
        max_rows_in_memory: int = 100_000,
        flush_rows: int = 10_000,
        flush_interval_s: float = 5.0,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        self._max_rows = _positive_int("max_rows_in_memory", max_rows_in_memory)
        self._flush_rows = _positive_int("flush_rows", flush_rows)
        if not isinstance(flush_interval_s, int | float) or not 0 < flush_interval_s < math.inf:
            raise InvalidInput(
                f"flush_interval_s must be a positive number of seconds, got {flush_interval_s!r}",
                flush_interval_s=repr(flush_interval_s),
            )
        self._flush_interval_s = float(flush_interval_s)
        if not _has_pyarrow():
            raise MissingExtra("parquet", module="pyarrow")
        self._fs, self._root, self._local = _open_root(root, storage_options)
        self.root: str = self._root if self._local else root.rstrip("/")
        self._dropped = 0
        self._written = 0
        self._closed = False
        self._atexit_registered = False
        # the column Index objects whose names passed the check: a server that builds its frames
        # with the same Index (``pd.DataFrame(values, columns=index)``) skips the check
        self._checked_columns: dict[int, Any] = {}
        self._reset()

    def _reset(self) -> None:
        """Fresh queue and thread state: at creation, and in a forked child (the parent's rows
        are the parent's to write, and its thread does not exist there)."""
        self._pid = os.getpid()
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque[_Chunk] = deque()
        self._queued_rows = 0  # rows in the queue
        self._held_rows = 0  # rows in the queue or being written: what max_rows_in_memory bounds
        self._oldest = 0.0  # time.monotonic() of the first chunk in the queue
        self._accepted = 0  # rows accepted since _reset
        self._finished = 0  # of those, rows written or lost
        self._flush_waiters = 0
        self._warned = False  # a drop was logged in this burst
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"PredictionLog({self.root!r})"

    @property
    def dropped(self) -> int:
        """Rows dropped: the buffer was full, or their write failed."""
        return self._dropped

    @property
    def written(self) -> int:
        """Rows written to Parquet files so far."""
        return self._written

    def append(
        self,
        *,
        model: str,
        version: str | None,
        request_ids: Sequence[str],
        timestamps: Sequence[float],
        inputs: pd.DataFrame,
        outputs: Sequence[Any],
        latencies_ms: Sequence[float],
    ) -> None:
        """Queue the rows of one model call; return at once (no I/O, no conversion).

        ``timestamps`` are seconds since the epoch (``time.time()``); ``inputs`` is the
        DataFrame the model was called with, one row per prediction, aligned with the other
        sequences. Rows that would take the buffer past ``max_rows_in_memory`` are dropped.
        Conflict after :meth:`close`; InvalidInput for misaligned lengths or a feature named
        ``loopml_*``.
        """
        rows = _checked_rows(model, version, request_ids, timestamps, inputs, outputs, latencies_ms)
        columns = inputs.columns
        if self._checked_columns.get(id(columns)) is not columns:  # an Index is immutable
            _check_feature_names(columns)
            if len(self._checked_columns) >= _CHECKED_COLUMNS_KEPT:
                self._checked_columns.clear()
            self._checked_columns[id(columns)] = columns
        if rows == 0:
            return
        chunk = _Chunk(model, version, request_ids, timestamps, inputs, outputs, latencies_ms, rows)
        if self._pid != os.getpid():
            self._reset()
        with self._cond:
            if self._closed:
                raise Conflict("the prediction log is closed")
            if self._held_rows + rows > self._max_rows:
                self._dropped += rows
                if self._warned:
                    return
                self._warned = warn = True
            else:
                warn = False
                if not self._queue:
                    self._oldest = time.monotonic()
                    self._cond.notify_all()  # the writer starts its flush_interval_s clock
                self._queue.append(chunk)
                self._queued_rows += rows
                self._held_rows += rows
                self._accepted += rows
                if self._queued_rows >= self._flush_rows:
                    self._cond.notify_all()
                if self._thread is None:
                    self._start_thread()
        if warn:
            logger.warning(
                "prediction log %s: the buffer is full (max_rows_in_memory=%d); predictions are dropped"
                " until the writer catches up (%d dropped so far)",
                self.root,
                self._max_rows,
                self._dropped,
            )

    def flush(self) -> None:
        """Write every row appended so far; return when they are written (or lost)."""
        if self._pid != os.getpid():
            self._reset()
        with self._cond:
            target = self._accepted
            if self._finished >= target:
                return
            self._flush_waiters += 1
            self._cond.notify_all()
            try:
                while self._finished < target:
                    if self._thread is None or not self._thread.is_alive():
                        self._start_thread()  # it died of a bug: the rows are still queued
                    self._cond.wait(1.0)
            finally:
                self._flush_waiters -= 1

    def close(self) -> None:
        """Refuse further appends, write what is buffered and stop the thread. Idempotent."""
        self._shutdown()
        if self._atexit_registered:
            self._atexit_registered = False
            atexit.unregister(self._close_at_exit)

    def _close_at_exit(self) -> None:
        """The atexit hook: like close, without touching atexit's list while it runs."""
        try:
            self._shutdown()
        except Exception:
            logger.exception("prediction log %s: could not flush at exit", self.root)

    def _shutdown(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self.flush()
        with self._cond:
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    # ---- the writer thread ------------------------------------------------------------------------

    def _start_thread(self) -> None:
        """Start the writer; called with the lock held."""
        self._thread = threading.Thread(target=self._run, name="loopml-prediction-log", daemon=True)
        self._thread.start()
        if not self._atexit_registered:
            self._atexit_registered = True
            atexit.register(self._close_at_exit)

    def _run(self) -> None:
        while True:
            with self._cond:
                taken = self._take()
                if taken is None:  # closed and empty
                    if self._thread is threading.current_thread():
                        self._thread = None
                    return
            rows = sum(chunk.rows for chunk in taken)
            try:
                written = _write_chunks(self._fs, self._root, self._local, taken)
            except Exception:  # a bug: the rows are lost, the thread goes on
                logger.exception("prediction log %s: could not write %d predictions", self.root, rows)
                written = 0
            with self._cond:
                self._held_rows -= rows
                self._finished += rows
                self._written += written
                self._dropped += rows - written
                self._warned = False  # the next drop starts a new burst
                self._cond.notify_all()

    def _take(self) -> list[_Chunk] | None:
        """Wait until the queue is due (full, old, flushed or closed); take it all. None when
        closed and empty. Called with the lock held."""
        while True:
            if self._queue:
                if self._closed or self._flush_waiters or self._queued_rows >= self._flush_rows:
                    break
                left = self._oldest + self._flush_interval_s - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            elif self._closed:
                return None
            else:
                self._cond.wait()
        taken = list(self._queue)
        self._queue.clear()
        self._queued_rows = 0
        return taken


def default_prediction_log_root() -> str:
    """``<artifact root of the settings>/predictions`` (``LOOPML_ARTIFACT_ROOT``, or ``<home>/artifacts``)."""
    from loopml.settings import load_settings

    return load_settings().resolved_artifact_root.rstrip("/") + "/predictions"


def read_predictions(
    root: str,
    *,
    model: str | None = None,
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
    storage_options: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """The predictions logged under ``root`` as one DataFrame sorted by ``loopml_timestamp``.

    ``model`` keeps one model's rows. ``start`` and ``end`` are inclusive: a date (or an ISO
    date string) covers that whole UTC day, a datetime (or an ISO datetime string; naive means
    UTC) bounds ``loopml_timestamp`` itself. Files with other feature columns are combined by
    column name, a column missing from a file is null there. An empty or missing root gives an
    empty DataFrame with the ``loopml_*`` columns.
    """
    pa, _ = _pyarrow()
    if model is not None and not isinstance(model, str):
        raise InvalidInput(f"model must be a string, got {model!r}", model=repr(model))
    low, high = _bound(start, "start"), _bound(end, "end")
    if _after(low, high):
        raise InvalidInput(f"start {start!r} is after end {end!r}", start=str(start), end=str(end))
    fragments = _fragments(pa, root, storage_options, model, low[0], high[0])
    if not fragments:
        return _empty_frame(pa)
    frame = _concat(pa, _read_fragments(fragments))
    if low[1] is not None:
        frame = frame[frame["loopml_timestamp"] >= low[1]]
    if high[1] is not None:
        frame = frame[frame["loopml_timestamp"] <= high[1]]
    return frame.sort_values("loopml_timestamp", kind="stable", ignore_index=True)


def _fragments(
    pa: Any,
    root: str,
    storage_options: dict[str, Any] | None,
    model: str | None,
    first_day: str | None,
    last_day: str | None,
) -> list[Any]:
    """The files under ``root`` whose hive partitions match the model and the day range."""
    import pyarrow.dataset as ds

    fs, path, local = _open_root(root, storage_options)
    keys = pa.schema([("model", pa.string()), ("date", pa.string())])
    flavor = ds.partitioning(keys, flavor="hive")
    try:  # schema=keys: the files are not inspected here (a feature may be named "date")
        dataset = ds.dataset(
            path, schema=keys, filesystem=None if local else fs, format="parquet", partitioning=flavor
        )
    except FileNotFoundError:
        return []
    conditions = []
    if model is not None:
        conditions.append(ds.field("model") == model)
    if first_day is not None:
        conditions.append(ds.field("date") >= first_day)
    if last_day is not None:
        conditions.append(ds.field("date") <= last_day)
    where = None
    for condition in conditions:
        where = condition if where is None else where & condition
    return list(dataset.get_fragments(filter=where))


def _read_fragments(fragments: list[Any]) -> list[Any]:
    """Each file alone, with its own schema and without the partition values (which would
    replace a feature named "model" or "date"); in threads: pyarrow reads without the GIL."""
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow.dataset as ds

    parquet = ds.ParquetFileFormat()

    def read(fragment: Any) -> Any:
        return parquet.make_fragment(fragment.path, filesystem=fragment.filesystem).to_table()

    with ThreadPoolExecutor(max_workers=min(_READ_THREADS, len(fragments))) as pool:
        return list(pool.map(read, fragments))


# ---- checks in the caller -------------------------------------------------------------------------


def _checked_rows(
    model: Any,
    version: Any,
    request_ids: Sequence[Any],
    timestamps: Sequence[Any],
    inputs: Any,
    outputs: Sequence[Any],
    latencies_ms: Sequence[Any],
) -> int:
    """The number of rows of an append, or InvalidInput: cheap checks only (no conversion)."""
    if not isinstance(model, str) or not model:
        raise InvalidInput(f"model must be a non-empty string, got {model!r}", model=repr(model))
    if version is not None and not isinstance(version, str):
        raise InvalidInput(f"version must be a string or None, got {version!r}", version=repr(version))
    columns = getattr(inputs, "columns", None)
    if columns is None:
        raise InvalidInput(
            f"inputs must be the DataFrame the model was called with, got {type(inputs).__name__}",
            type=type(inputs).__name__,
        )
    rows = len(request_ids)
    lengths = (len(timestamps), len(inputs), len(outputs), len(latencies_ms))
    if lengths != (rows, rows, rows, rows):
        raise InvalidInput(
            f"append needs aligned rows: {rows} request_ids, {lengths[0]} timestamps, {lengths[1]} inputs"
            f" rows, {lengths[2]} outputs and {lengths[3]} latencies_ms",
            rows=[rows, *lengths],
        )
    return rows


def _check_feature_names(columns: Any) -> None:
    """InvalidInput for a feature named ``loopml_*``."""
    import numpy as np  # loaded already: pandas imports it

    for name in np.asarray(columns, dtype=object).tolist():  # much faster than iterating an Index
        if isinstance(name, str) and name.startswith(_RESERVED_PREFIX):
            raise InvalidInput(
                f"input feature {name!r} starts with {_RESERVED_PREFIX!r}, which the prediction log"
                " reserves for its own columns; rename the feature",
                feature=name,
            )


def _positive_int(what: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"{what} must be a positive integer, got {value!r}", **{what: repr(value)})
    return value


# ---- files ----------------------------------------------------------------------------------------


def _has_pyarrow() -> bool:
    try:
        return importlib.util.find_spec("pyarrow") is not None
    except (ImportError, ValueError):
        return False


def _pyarrow() -> tuple[Any, Any]:
    """(pyarrow, pyarrow.parquet), or MissingExtra."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise MissingExtra("parquet", module="pyarrow") from exc
    return pa, pq


def _open_root(root: Any, storage_options: dict[str, Any] | None) -> tuple[AbstractFileSystem, str, bool]:
    """(filesystem, root path as it names it, whether it is local); as the artifact store does."""
    from loopml.artifacts.store import _open_root as open_root

    if not isinstance(root, str) or not root.strip():
        raise InvalidInput(f"the prediction log root must be a path or a URL, got {root!r}", root=repr(root))
    return open_root(root, dict(storage_options or {}))


def _write_chunks(fs: AbstractFileSystem, root: str, local: bool, chunks: list[_Chunk]) -> int:
    """Write ``chunks`` as one file per model, feature columns and UTC date; the rows written.

    A group that cannot be converted is retried chunk by chunk, so only the offending appends
    are lost; every failure is logged with its traceback.
    """
    pa, pq = _pyarrow()
    groups: dict[tuple[str, tuple[Any, ...]], list[_Chunk]] = {}
    for chunk in chunks:
        groups.setdefault((chunk.model, tuple(chunk.inputs.columns)), []).append(chunk)
    written = 0
    for (model, _), group in groups.items():
        tables = _tables(pa, group)
        for table in tables:
            for day, part in _split_by_date(pa, table):
                try:
                    _write_file(pa, pq, fs, root, local, model, day, part)
                except Exception:
                    logger.exception(
                        "prediction log %s: could not write %d predictions of model %r",
                        root,
                        part.num_rows,
                        model,
                    )
                else:
                    written += part.num_rows
    return written


def _tables(pa: Any, group: list[_Chunk]) -> list[Any]:
    """The group as one table, or chunk by chunk when the whole does not convert."""
    try:
        return [_table(pa, group)]
    except Exception:
        if len(group) == 1:
            logger.exception(
                "prediction log: cannot store %d predictions of model %r", group[0].rows, group[0].model
            )
            return []
    return [table for chunk in group for table in _tables(pa, [chunk])]


def _table(pa: Any, group: list[_Chunk]) -> Any:
    """One Arrow table: the ``loopml_*`` columns, then the input features."""
    import numpy as np
    import pandas as pd

    rows = sum(chunk.rows for chunk in group)
    frames = [chunk.inputs for chunk in group]
    features = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    table = pa.Table.from_pandas(features, preserve_index=False).replace_schema_metadata(None)
    seconds = np.fromiter(_chain(chunk.timestamps for chunk in group), dtype=np.float64, count=rows)
    if not np.isfinite(seconds).all():
        raise ValueError("a timestamp is not a finite number of seconds")
    micros = np.rint(seconds * 1e6).astype(np.int64)
    latencies = np.fromiter(_chain(chunk.latencies_ms for chunk in group), dtype=np.float64, count=rows)
    columns = [
        pa.array([str(i) for i in _chain(chunk.request_ids for chunk in group)], pa.string()),
        pa.array(micros, pa.timestamp("us", tz="UTC")),
        pa.array(itertools.repeat(group[0].model, rows), pa.string(), size=rows),
        pa.array([chunk.version for chunk in group for _ in range(chunk.rows)], pa.string()),
        pa.array(latencies, pa.float64()),
        _prediction_array(pa, _chain(_plain_outputs(chunk.outputs) for chunk in group)),
    ]
    return pa.Table.from_arrays([*columns, *table.columns], names=[*LOG_COLUMNS, *table.column_names])


def _chain(sequences: Iterable[Iterable[Any]]) -> Iterable[Any]:
    return itertools.chain.from_iterable(sequences)


def _plain_outputs(outputs: Any) -> list[Any]:
    """The outputs of one call as plain Python values; a row of several values as JSON text."""
    import numpy as np

    if hasattr(outputs, "columns") and hasattr(outputs, "to_dict"):  # a DataFrame: a dict per row
        return [_json(row) for row in outputs.to_dict("records")]
    if hasattr(outputs, "to_numpy"):  # a Series
        outputs = outputs.to_numpy()
    if isinstance(outputs, np.ndarray):
        if outputs.ndim > 1:
            return [_json(row) for row in outputs]
        if outputs.dtype.kind in "biufU":
            return list(outputs.tolist())
    if isinstance(outputs, list) and {type(v) for v in outputs} <= _SCALARS:
        return outputs  # what the scoring server hands over: plain values already
    return [_plain(value) for value in outputs]


_SCALARS = frozenset({bool, int, float, str, type(None)})


def _plain(value: Any) -> Any:
    import numpy as np

    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple | dict | np.ndarray):
        return _json(value)
    return value  # e.g. a datetime: pyarrow stores it, or the fallback makes it text


def _prediction_array(pa: Any, values: Iterable[Any]) -> Any:
    """The predictions as pyarrow infers them; as text when they mix types."""
    plain = list(values)
    try:
        return pa.array(plain)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        return pa.array([v if v is None or isinstance(v, str) else _json(v) for v in plain], pa.string())


def _json(value: Any) -> str:
    import orjson

    options = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
    return orjson.dumps(value, option=options, default=_json_default).decode("utf-8")


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy arrays orjson does not take (not contiguous, object dtype)
        return value.tolist()
    return str(value)


def _split_by_date(pa: Any, table: Any) -> list[tuple[str, Any]]:
    """(ISO UTC date, rows of that date) for each date in the table."""
    import numpy as np

    micros = table.column("loopml_timestamp").cast(pa.int64()).to_numpy()
    days = micros // _MICROS_PER_DAY
    unique = np.unique(days)
    if len(unique) == 1:
        return [(str(np.datetime64(int(unique[0]), "D")), table)]
    return [(str(np.datetime64(int(day), "D")), table.filter(pa.array(days == day))) for day in unique]


def _write_file(
    pa: Any, pq: Any, fs: AbstractFileSystem, root: str, local: bool, model: str, day: str, table: Any
) -> None:
    """Write one file atomically: a temporary name then a rename, or a single put."""
    first = table.column("loopml_timestamp").cast(pa.int64()).to_numpy().min()
    stamp = datetime.fromtimestamp(int(first) / 1e6, UTC).strftime("%Y%m%dT%H%M%S")
    directory = f"{root}/model={quote(model, safe='')}/date={day}"
    name = f"part-{stamp}-{uuid.uuid4().hex[:8]}.parquet"
    # dictionary encoding only where values repeat (text): on float features it costs ~5x the
    # write time and makes the file larger
    options = {"use_dictionary": [f.name for f in table.schema if _is_text(pa, f.type)]}
    if not local:
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, **options)
        fs.pipe_file(f"{directory}/{name}", sink.getvalue().to_pybytes())
        return
    os.makedirs(directory, exist_ok=True)
    tmp = f"{directory}/.{name}.tmp"  # hidden: pyarrow datasets skip names starting with "."
    try:
        pq.write_table(table, tmp, **options)
        os.replace(tmp, f"{directory}/{name}")
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _is_text(pa: Any, kind: Any) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_dictionary(kind))


# ---- reading --------------------------------------------------------------------------------------


def _bound(value: date | datetime | str | None, what: str) -> tuple[str | None, pd.Timestamp | None]:
    """(ISO date for the partition filter, UTC instant for the row filter or None for a whole day)."""
    if value is None:
        return None, None
    if isinstance(value, str):
        text = value.strip()
        try:
            value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInput(
                f"{what} {value!r} is not an ISO date (2024-05-01) or datetime (2024-05-01T12:00:00)",
                **{what: value},
            ) from None
    if isinstance(value, datetime):
        import pandas as pd

        instant = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return instant.date().isoformat(), pd.Timestamp(instant)
    if isinstance(value, date):
        return value.isoformat(), None
    raise InvalidInput(
        f"{what} must be a date, a datetime or an ISO string, got {type(value).__name__} {value!r}",
        **{what: repr(value)},
    )


def _after(low: tuple[str | None, Any], high: tuple[str | None, Any]) -> bool:
    """Whether the start bound is after the end bound."""
    if low[0] is None or high[0] is None:
        return False
    if low[1] is not None and high[1] is not None:
        return bool(low[1] > high[1])
    return low[0] > high[0]


def _concat(pa: Any, tables: list[Any]) -> pd.DataFrame:
    """The tables as one DataFrame, columns matched by name (missing ones null)."""
    try:
        return pa.concat_tables(tables, promote_options="permissive").to_pandas()
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # a column of different types: pandas mixes them
        import pandas as pd

        return pd.concat([table.to_pandas() for table in tables], ignore_index=True)


def _empty_frame(pa: Any) -> pd.DataFrame:
    schema = pa.schema(
        [
            ("loopml_request_id", pa.string()),
            ("loopml_timestamp", pa.timestamp("us", tz="UTC")),
            ("loopml_model", pa.string()),
            ("loopml_version", pa.string()),
            ("loopml_latency_ms", pa.float64()),
            ("loopml_prediction", pa.null()),
        ]
    )
    return schema.empty_table().to_pandas()
