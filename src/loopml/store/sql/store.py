"""SqlStore: the Store protocol on SQLite and PostgreSQL through SQLAlchemy Core."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from ...entities import (
    DatasetInput,
    Experiment,
    LifecycleStage,
    Metric,
    MetricHistory,
    PagedList,
    Param,
    Run,
    RunData,
    RunStatus,
    RunTag,
)
from ...errors import AlreadyExists, Conflict, InvalidInput, NotFound, StoreError
from .. import validation as v
from ..base import ViewType
from . import rows
from . import run_data as rd
from . import schema as t
from .checkpointer import Checkpointer
from .engine import create_engines, is_sqlite, sqlalchemy_url
from .metric_blocks import merge
from .migration import ensure_schema
from .orchestration import SqlOrchestration
from .registry import SqlRegistry
from .statements import METRIC_COLUMNS, Statements
from .users import SqlUsers

MAX_PAGE = 50_000
_VIEWS: dict[str, tuple[str, ...]] = {
    "active": (LifecycleStage.ACTIVE,),
    "deleted": (LifecycleStage.DELETED,),
    "all": (LifecycleStage.ACTIVE, LifecycleStage.DELETED),
}


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _stages(view: str) -> tuple[str, ...]:
    try:
        return _VIEWS[view]
    except KeyError:
        raise InvalidInput(f"view must be one of active, deleted, all; got {view!r}") from None


class SqlStore:
    """The metadata store on a SQL database (``sqlite:///path`` or ``postgresql://...``).

    An embedded SQLite store creates and upgrades its schema itself; any other database
    must be upgraded with ``loopml db upgrade URI`` first (``auto_upgrade=True`` overrides).
    Writes happen one at a time per process (a lock) in short transactions.
    """

    def __init__(self, uri: str, *, auto_upgrade: bool | None = None, busy_timeout_s: float = 60.0) -> None:
        self.uri = uri
        self._sqlite = is_sqlite(sqlalchemy_url(uri))
        self._busy_timeout_s = busy_timeout_s
        self._auto_upgrade = self._sqlite if auto_upgrade is None else auto_upgrade
        self._lock = threading.Lock()
        self._open()
        self.orchestration = SqlOrchestration(self)
        self.users = SqlUsers(self)

    def _open(self) -> None:
        self._pid = os.getpid()
        self._reader, self._writer = create_engines(self.uri, busy_timeout_s=self._busy_timeout_s)
        self._raw_writer: Any = None
        self._raw_cursor: Any = None
        self._dbapi_error: type[Exception] = self._writer.dialect.loaded_dbapi.Error
        try:
            with self._errors("opening the store"):
                ensure_schema(self._writer, self.uri, auto_upgrade=self._auto_upgrade)
        except BaseException:
            self._reader.dispose()
            self._writer.dispose()
            raise
        self._sql = Statements(self._writer.dialect)
        if self._sqlite:
            self._insert: Any = sqlite.insert
        else:
            from sqlalchemy.dialects import postgresql  # imported only for PostgreSQL stores

            self._insert = postgresql.insert
        self._checkpointer = Checkpointer(self._reader) if self._sqlite else None
        self.registry = SqlRegistry(self)

    def _after_commit(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.notify()

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        if self._raw_writer is not None:
            self._raw_cursor.close()
            self._raw_writer.close()
            self._raw_writer = None
        self._reader.dispose()
        self._writer.dispose()

    # ---- transactions -------------------------------------------------------------------

    def _check_fork(self) -> None:
        if os.getpid() != self._pid:  # connections must not cross a fork
            self._reader.dispose(close=False)
            self._writer.dispose(close=False)
            self._raw_writer = None
            self._checkpointer = None  # its thread stayed in the parent
            self._lock = threading.Lock()
            self._open()

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"the store at {self._safe_uri()} failed while {doing}: {exc}") from exc

    def _safe_uri(self) -> str:
        return self._writer.url.render_as_string(hide_password=True)

    @contextmanager
    def _write(self, doing: str) -> Iterator[sa.Connection]:
        """One write transaction; on any error nothing of it is kept."""
        self._check_fork()
        with self._lock, self._errors(doing), self._writer.begin() as conn:
            yield conn
        self._after_commit()

    @contextmanager
    def _raw_write(self, doing: str) -> Iterator[Any]:
        """A write transaction on the driver's cursor, for the hot paths (see prepared.py)."""
        self._check_fork()
        with self._lock:
            try:
                if self._sqlite:
                    yield from self._sqlite_transaction()
                else:
                    yield from self._driver_transaction()
            except self._dbapi_error as exc:
                raise StoreError(f"the store at {self._safe_uri()} failed while {doing}: {exc}") from exc

    def _sqlite_transaction(self) -> Iterator[Any]:
        # One connection and cursor kept for this process's writes (under the lock).
        if self._raw_writer is None:
            self._raw_writer = self._writer.raw_connection()
            self._raw_cursor = self._raw_writer.cursor()
        cursor = self._raw_cursor
        cursor.execute("BEGIN IMMEDIATE")
        try:
            yield cursor
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")
        self._after_commit()

    def _driver_transaction(self) -> Iterator[Any]:
        raw = self._writer.raw_connection()
        try:
            cursor = raw.cursor()
            try:
                yield cursor
            except BaseException:
                raw.rollback()
                raise
            raw.commit()
        finally:
            raw.close()  # back to the pool

    @contextmanager
    def _read(self, doing: str) -> Iterator[sa.Connection]:
        self._check_fork()
        with self._errors(doing), self._reader.connect() as conn:
            yield conn

    # ---- experiments --------------------------------------------------------------------

    def create_experiment(
        self, experiment_id: str, name: str, artifact_location: str, tags: dict[str, str] | None = None
    ) -> Experiment:
        v.check_name(name, "experiment name")
        tag_rows = [
            {"experiment_id": experiment_id, "key": v.check_key(k, "tag key"), "value": v.tag_value(k, val)}
            for k, val in (tags or {}).items()
        ]
        now = _now_ms()
        row = {
            "experiment_id": experiment_id,
            "name": name,
            "artifact_location": artifact_location,
            "lifecycle_stage": LifecycleStage.ACTIVE.value,
            "creation_time": now,
            "last_update_time": now,
        }
        with self._write("creating an experiment") as conn:
            clash = conn.execute(
                sa.select(t.experiments.c.experiment_id, t.experiments.c.name).where(
                    (t.experiments.c.name == name) | (t.experiments.c.experiment_id == experiment_id)
                )
            ).first()
            if clash is not None:
                what = f"name {name!r}" if clash.name == name else f"id {experiment_id!r}"
                raise AlreadyExists(f"an experiment with {what} already exists", name=name)
            conn.execute(t.experiments.insert(), row)
            if tag_rows:
                conn.execute(t.experiment_tags.insert(), tag_rows)
        return self.get_experiment(experiment_id)

    def get_experiment(self, experiment_id: str) -> Experiment:
        with self._read("reading an experiment") as conn:
            row = conn.execute(
                sa.select(t.experiments).where(t.experiments.c.experiment_id == str(experiment_id))
            ).first()
            if row is None:
                raise NotFound(f"no experiment with id {experiment_id!r}", experiment_id=experiment_id)
            return rows.experiment_from_row(
                row, rows.experiment_tags(conn, [row.experiment_id])[row.experiment_id]
            )

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        with self._read("reading an experiment") as conn:
            row = conn.execute(sa.select(t.experiments).where(t.experiments.c.name == name)).first()
            if row is None:
                return None
            return rows.experiment_from_row(
                row, rows.experiment_tags(conn, [row.experiment_id])[row.experiment_id]
            )

    def search_experiments(self, view: ViewType = "active") -> list[Experiment]:
        stages = _stages(view)
        with self._read("listing experiments") as conn:
            found = conn.execute(
                sa.select(t.experiments)
                .where(t.experiments.c.lifecycle_stage.in_(stages))
                .order_by(t.experiments.c.creation_time, t.experiments.c.name)
            ).all()
            tags = rows.experiment_tags(conn, [r.experiment_id for r in found])
        return [rows.experiment_from_row(r, tags.get(r.experiment_id, {})) for r in found]

    def _update_experiment(self, experiment_id: str, doing: str, **values: Any) -> None:
        with self._write(doing) as conn:
            result = conn.execute(
                t.experiments.update()
                .where(t.experiments.c.experiment_id == experiment_id)
                .values(last_update_time=_now_ms(), **values)
            )
            if result.rowcount == 0:
                raise NotFound(f"no experiment with id {experiment_id!r}", experiment_id=experiment_id)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        v.check_name(new_name, "experiment name")
        existing = self.get_experiment_by_name(new_name)
        if existing is not None and existing.experiment_id != experiment_id:
            raise AlreadyExists(f"an experiment named {new_name!r} already exists", name=new_name)
        self._update_experiment(experiment_id, "renaming an experiment", name=new_name)

    def delete_experiment(self, experiment_id: str) -> None:
        self._update_experiment(
            experiment_id, "deleting an experiment", lifecycle_stage=LifecycleStage.DELETED.value
        )

    def restore_experiment(self, experiment_id: str) -> None:
        self._update_experiment(
            experiment_id, "restoring an experiment", lifecycle_stage=LifecycleStage.ACTIVE.value
        )

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        row = {
            "experiment_id": experiment_id,
            "key": v.check_key(key, "tag key"),
            "value": v.tag_value(key, value),
        }
        self.get_experiment(experiment_id)
        stmt = self._insert(t.experiment_tags)
        stmt = stmt.on_conflict_do_update(
            index_elements=["experiment_id", "key"], set_={"value": stmt.excluded.value}
        )
        with self._write("tagging an experiment") as conn:
            conn.execute(stmt, row)

    # ---- runs -----------------------------------------------------------------------------

    def create_run(
        self,
        *,
        run_id: str,
        experiment_id: str,
        run_name: str,
        start_time: int,
        artifact_uri: str | None = None,
        user_id: str = "",
        source: str = "",
        parent_run_id: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> Run:
        v.check_name(run_name, "run name")
        tag_values = {v.check_key(k, "tag key"): v.tag_value(k, val) for k, val in (tags or {}).items()}
        row: dict[str, Any] = {
            "run_id": run_id,
            "experiment_id": experiment_id,
            "name": run_name,
            "status": RunStatus.RUNNING.value,
            "start_time": v.integer("start_time", start_time),
            "end_time": None,
            "lifecycle_stage": LifecycleStage.ACTIVE.value,
            "artifact_uri": artifact_uri,
            "user_id": user_id,
            "source": source,
            "parent_run_id": parent_run_id,
        }
        with self._raw_write("creating a run") as cursor:
            location = self._active_experiment_location(cursor, experiment_id)
            if artifact_uri is None:
                row["artifact_uri"] = f"{location.rstrip('/')}/{run_id}/artifacts"
            if parent_run_id is not None:
                self._run_state(cursor, parent_run_id)
            if self._sql.run_state.fetchall(cursor, {"run_id": run_id}):
                raise AlreadyExists(f"a run with id {run_id!r} already exists", run_id=run_id)
            self._sql.insert_run.execute(cursor, row)
            if tag_values:
                tag_rows = [{"run_id": run_id, "key": k, "value": val} for k, val in tag_values.items()]
                self._sql.upsert_tag.executemany(cursor, tag_rows)
        return Run(rows.run_info_from_row(SimpleNamespace(**row)), RunData(tags=tag_values))

    def _active_experiment_location(self, cursor: Any, experiment_id: str) -> str:
        found = self._sql.experiment_for_run.fetchall(cursor, {"experiment_id": experiment_id})
        if not found:
            raise NotFound(f"no experiment with id {experiment_id!r}", experiment_id=experiment_id)
        stage, location = found[0]
        if stage != LifecycleStage.ACTIVE:
            raise Conflict(
                f"experiment {experiment_id!r} is deleted; restore it before adding runs",
                experiment_id=experiment_id,
            )
        return str(location)

    def _run_state(self, cursor: Any, run_id: str) -> tuple[str, str]:
        found = self._sql.run_state.fetchall(cursor, {"run_id": run_id})
        if not found:
            raise NotFound(f"no run with id {run_id!r}", run_id=run_id)
        return found[0][0], found[0][1]

    def _check_writable(self, cursor: Any, run_id: str, *, running: bool = True) -> None:
        status, stage = self._run_state(cursor, run_id)
        if stage != LifecycleStage.ACTIVE:
            raise Conflict(f"run {run_id} is deleted; restore it before writing to it", run_id=run_id)
        if running and status != RunStatus.RUNNING:
            raise Conflict(
                f"run {run_id} is {status}; only RUNNING runs accept metrics and params",
                run_id=run_id,
                status=status,
            )

    def get_run(self, run_id: str) -> Run:
        with self._read("reading a run") as conn:
            row = conn.execute(sa.select(t.runs).where(t.runs.c.run_id == run_id)).first()
            if row is None:
                raise NotFound(f"no run with id {run_id!r}", run_id=run_id)
            return rows.load_runs(conn, [row])[0]

    def set_terminated(self, run_id: str, status: RunStatus, end_time: int) -> None:
        status = RunStatus(status)
        values = {
            "run_id": run_id,
            "status": status.value,
            "end_time": None if status == RunStatus.RUNNING else v.integer("end_time", end_time),
        }
        with self._raw_write("ending a run") as cursor:
            if self._sql.set_status.execute(cursor, values) == 0:
                raise NotFound(f"no run with id {run_id!r}", run_id=run_id)

    def _update_run(self, run_id: str, doing: str, **values: Any) -> None:
        with self._write(doing) as conn:
            if conn.execute(t.runs.update().where(t.runs.c.run_id == run_id).values(**values)).rowcount == 0:
                raise NotFound(f"no run with id {run_id!r}", run_id=run_id)

    def rename_run(self, run_id: str, run_name: str) -> None:
        self._update_run(run_id, "renaming a run", name=v.check_name(run_name, "run name"))

    def delete_run(self, run_id: str) -> None:
        self._update_run(run_id, "deleting a run", lifecycle_stage=LifecycleStage.DELETED.value)

    def restore_run(self, run_id: str) -> None:
        self._update_run(run_id, "restoring a run", lifecycle_stage=LifecycleStage.ACTIVE.value)

    # ---- run data ---------------------------------------------------------------------------

    def log_metric(self, run_id: str, metric: Metric) -> None:
        row = rd.metric_row(run_id, metric)
        with self._raw_write("logging a metric") as cursor:
            if self._sql.insert_metric_if_writable.execute(
                cursor, dict(zip(METRIC_COLUMNS, row, strict=True))
            ):
                self._sql.upsert_latest.execute(cursor, row)
            else:  # the run is unknown, deleted or not RUNNING: say which
                self._check_writable(cursor, run_id)
                raise StoreError(f"metric {row[1]!r} of run {run_id} was not stored; try again")

    def log_param(self, run_id: str, param: Param) -> None:
        self.log_batch(run_id, params=[param])

    def set_tag(self, run_id: str, tag: RunTag) -> None:
        batch = rd.validate_batch(run_id, (), (), [tag])
        with self._raw_write("setting a tag") as cursor:
            self._check_writable(cursor, run_id, running=False)
            rd.write_batch(cursor, self._sql, run_id, batch)

    def delete_tag(self, run_id: str, key: str) -> None:
        with self._write("deleting a tag") as conn:
            result = conn.execute(t.tags.delete().where(t.tags.c.run_id == run_id, t.tags.c.key == key))
            if result.rowcount == 0:
                self._get_run_row(conn, run_id)
                raise NotFound(f"run {run_id} has no tag {key!r}", run_id=run_id, key=key)

    def _get_run_row(self, conn: sa.Connection, run_id: str) -> Any:
        row = conn.execute(sa.select(t.runs).where(t.runs.c.run_id == run_id)).first()
        if row is None:
            raise NotFound(f"no run with id {run_id!r}", run_id=run_id)
        if row.lifecycle_stage != LifecycleStage.ACTIVE:
            raise Conflict(f"run {run_id} is deleted; restore it before writing to it", run_id=run_id)
        return row

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        batch = rd.validate_batch(run_id, metrics, params, tags)
        with self._raw_write("logging a batch") as cursor:
            self._check_writable(cursor, run_id)
            rd.write_batch(cursor, self._sql, run_id, batch)

    def get_metric_history(self, run_id: str, key: str) -> MetricHistory:
        params = {"run_id": run_id, "key": key}
        with self._read("reading a metric history") as conn:
            cursor = conn.connection.cursor()
            try:
                blocks = self._sql.history_blocks.fetchall(cursor, params)
                if blocks:
                    singles = self._sql.history_with_ids.fetch_columns(cursor, params)
                else:
                    singles = self._sql.history.fetch_columns(cursor, params)
                    if not singles[0]:
                        self._run_state(cursor, run_id)  # NotFound for an unknown run; [] for an unknown key
            finally:
                cursor.close()
        if blocks:
            values, steps, timestamps = merge(singles, blocks)
        else:
            values, steps, timestamps = singles
            if None in values:  # NaN is stored as NULL
                values = [float("nan") if value is None else value for value in values]
        return MetricHistory(key, values=values, steps=steps, timestamps=timestamps)

    # ---- datasets (datasets.py) -----------------------------------------------------------------

    def log_inputs(
        self, run_id: str, inputs: Sequence[DatasetInput], *, dataset_ids: Sequence[str] | None = None
    ) -> None:
        from . import datasets

        checked = datasets.validate_inputs(inputs, dataset_ids)
        with self._write("logging inputs") as conn:
            datasets.log_inputs(conn, self._insert, run_id, checked)

    def get_run_inputs(self, run_id: str) -> list[DatasetInput]:
        from . import datasets

        with self._read("reading the inputs of a run") as conn:
            return datasets.get_run_inputs(conn, run_id)

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        view: ViewType = "active",
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        from ..filter import parse_filter, parse_order_by
        from ..paging import decode_page_token, encode_page_token
        from .query import fetch_run_rows

        if not 1 <= v.integer("max_results", max_results) <= MAX_PAGE:
            raise InvalidInput(f"max_results must be between 1 and {MAX_PAGE}, got {max_results}")
        expr = parse_filter(filter_string)
        keys = parse_order_by(order_by)
        offset = decode_page_token(page_token)
        ids = [str(e) for e in experiment_ids]
        with self._read("searching runs") as conn:
            found = fetch_run_rows(conn, ids, expr, keys, _stages(view), offset, max_results + 1)
            more = len(found) > max_results
            page = rows.load_runs(conn, found[:max_results])
        return PagedList(page, encode_page_token(offset + max_results) if more else None)
