"""SqlOrchestration: flow runs, task runs, logs, artifacts and the task cache on the SQL store.

The engine buffers task-run snapshots, logs and artifacts and hands them over in batches:
``write_records`` writes a batch in one transaction on prepared statements (an upsert of the
task runs by id, then the inserts), with ``executemany`` on the driver's cursor.

Crash detection happens in reads. A flow run still RUNNING whose process is gone is marked
CRASHED (with its unfinished task runs) before it is returned: gone means that it runs on this
host under a pid that is no live process, or that its last heartbeat (its start when it never
sent one) is older than ``stale_after_ms``. Only the RUNNING rows are examined.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ...entities import CacheEntry, FlowRun, LogRecord, PagedList, RunArtifact, StateType, TaskRun
from ...errors import AlreadyExists, InvalidInput, NotFound, StoreError
from .. import validation as v
from . import orchestration_rows as rows
from . import schema as t
from .prepared import Prepared

if TYPE_CHECKING:
    from .store import SqlStore

__all__ = ["DEFAULT_STALE_AFTER_MS", "MAX_FLOW_RUN_PAGE", "SqlOrchestration"]

MAX_FLOW_RUN_PAGE = 10_000
DEFAULT_STALE_AFTER_MS = 60_000  # the engine heartbeats every 10 s

_f, _r, _l, _a, _c = t.flow_runs.c, t.task_runs.c, t.flow_logs.c, t.flow_artifacts.c, t.task_cache.c
_RUNNING, _CRASHED = StateType.RUNNING.value, StateType.CRASHED.value
_UNFINISHED = tuple(s.value for s in StateType if not s.is_final)
_LIVENESS = (_f.flow_run_id, _f.state, _f.host, _f.pid, _f.heartbeat_time, _f.start_time)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (signal 0 checks without sending)."""
    if sys.platform == "win32":  # signal 0 is CTRL_C_EVENT there: rely on heartbeats only
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process / a pid no process can have
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


class WriteStatements:
    """The prepared statements of ``write_records`` for one dialect."""

    def __init__(self, dialect: sa.Dialect) -> None:
        if dialect.name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
        self.insert: Any = insert

        def binds(table: sa.Table, names: tuple[str, ...]) -> dict[str, Any]:
            return {n: sa.bindparam(n, type_=table.c[n].type) for n in names}

        upsert = insert(t.task_runs).values(binds(t.task_runs, rows.TASK_RUN_COLUMNS))
        self.upsert_task_run = Prepared(
            upsert.on_conflict_do_update(
                index_elements=["task_run_id"],
                set_={n: upsert.excluded[n] for n in rows.TASK_RUN_COLUMNS if n != "task_run_id"},
            ),
            dialect,
        )
        self.insert_log = Prepared(
            sa.insert(t.flow_logs).inline().values(binds(t.flow_logs, rows.LOG_COLUMNS)), dialect
        )
        self.insert_artifact = Prepared(
            insert(t.flow_artifacts)
            .values(binds(t.flow_artifacts, rows.ARTIFACT_COLUMNS))
            .on_conflict_do_nothing(index_elements=["artifact_id"]),  # a retried batch adds nothing
            dialect,
        )


class SqlOrchestration:
    """The OrchestrationStore protocol on a :class:`SqlStore`'s connections and write lock.

    ``stale_after_ms``: a RUNNING flow run whose last heartbeat is older than this is CRASHED.
    """

    def __init__(self, store: SqlStore, *, stale_after_ms: int = DEFAULT_STALE_AFTER_MS) -> None:
        if v.integer("stale_after_ms", stale_after_ms) <= 0:
            raise InvalidInput(f"stale_after_ms must be a positive number of ms, got {stale_after_ms}")
        self._store = store
        self.stale_after_ms = stale_after_ms
        self._host = socket.gethostname()
        self._sql = WriteStatements(store._writer.dialect)

    # ---- flow runs ------------------------------------------------------------------------------

    def create_flow_run(self, flow_run: FlowRun) -> None:
        row = rows.flow_run_row(flow_run)
        stmt = self._sql.insert(t.flow_runs).on_conflict_do_nothing(index_elements=["flow_run_id"])
        with self._store._write("creating a flow run") as conn:
            # RETURNING says whether the row went in (psycopg's rowcount does not, for DO NOTHING).
            if conn.execute(stmt.returning(_f.flow_run_id), row).first() is None:
                run_id = row["flow_run_id"]
                raise AlreadyExists(f"a flow run with id {run_id!r} already exists", flow_run_id=run_id)

    def update_flow_run(
        self,
        flow_run_id: str,
        *,
        state: StateType,
        history: Sequence[tuple[StateType, int]],
        end_time: int | None = None,
        error: str | None = None,
        tracking_run_id: str | None = None,
        attempts: int | None = None,
        host: str | None = None,
        pid: int | None = None,
        heartbeat_time: int | None = None,
    ) -> None:
        """Set the state, the whole history, the end time and the error (None clears them);
        ``tracking_run_id``, ``attempts`` and the process running it (``host``, ``pid``,
        ``heartbeat_time``: a retry runs in another process) change only when given."""
        what = f"flow run {flow_run_id}"
        values: dict[str, Any] = {
            "state": rows.state(state, f"state of {what}"),
            "history": rows.history_json(history, f"history of {what}"),
            "end_time": rows.optional_integer(end_time, f"end_time of {what}"),
            "error": rows.optional_text(error, f"error of {what}"),
        }
        if tracking_run_id is not None:
            values["tracking_run_id"] = rows.check_id(tracking_run_id, f"tracking_run_id of {what}")
        if attempts is not None:
            values["attempts"] = v.integer(f"attempts of {what}", attempts)
        if host is not None:
            values["host"] = rows.optional_text(host, f"host of {what}")
        if pid is not None:
            values["pid"] = v.integer(f"pid of {what}", pid)
        if heartbeat_time is not None:
            values["heartbeat_time"] = v.integer(f"heartbeat_time of {what}", heartbeat_time)
        with self._store._write("updating a flow run") as conn:
            stmt = t.flow_runs.update().where(_f.flow_run_id == flow_run_id).values(**values)
            if conn.execute(stmt).rowcount == 0:
                raise _no_flow_run(flow_run_id)

    def heartbeat(self, flow_run_ids: Sequence[str], now: int) -> None:
        """Record that the process running these flow runs is alive at ``now`` (unknown ids are skipped)."""
        ids = [rows.check_id(i, "flow_run_id") for i in flow_run_ids]
        now = v.integer("heartbeat time", now)
        if not ids:
            return
        with self._store._write("recording a heartbeat") as conn:
            conn.execute(t.flow_runs.update().where(_f.flow_run_id.in_(ids)).values(heartbeat_time=now))

    # ---- task runs, logs, artifacts -------------------------------------------------------------

    def write_records(
        self,
        task_runs: Sequence[TaskRun] = (),
        logs: Sequence[LogRecord] = (),
        artifacts: Sequence[RunArtifact] = (),
    ) -> None:
        """Upsert task runs by id (the newest snapshot wins; a task run keeps the position of its
        first write), append logs and artifacts (an artifact id already stored is skipped), all in
        one transaction: a batch that fails leaves nothing. Every record is checked first."""
        total = len(task_runs) + len(logs) + len(artifacts)
        if total > v.MAX_BATCH_SIZE:
            raise InvalidInput(f"a batch holds at most {v.MAX_BATCH_SIZE} records, got {total}; split it")
        task_rows: dict[str, tuple[Any, ...]] = {}
        for task_run in task_runs:
            row = rows.task_run_row(task_run)
            task_rows[row[0]] = row  # a later snapshot in the batch replaces an earlier one
        log_rows = [rows.log_row(log) for log in logs]
        artifact_rows = [rows.artifact_row(artifact) for artifact in artifacts]
        if not total:
            return
        try:
            with self._store._raw_write("writing task runs, logs and artifacts") as cursor:
                if task_rows:
                    self._sql.upsert_task_run.executemany_rows(cursor, list(task_rows.values()))
                if log_rows:
                    self._sql.insert_log.executemany_rows(cursor, log_rows)
                if artifact_rows:
                    self._sql.insert_artifact.executemany_rows(cursor, artifact_rows)
        except StoreError as exc:  # most likely a record of a flow run that does not exist: say which
            referenced = {r[1] for r in task_rows.values()} | {r[0] for r in log_rows}
            referenced |= {r[6] for r in artifact_rows if r[6] is not None}
            missing = sorted(referenced - self._existing_flow_runs(referenced))
            if missing:
                raise NotFound(
                    f"no flow run with id {', '.join(map(repr, missing))}; nothing of the batch was written",
                    flow_run_ids=missing,
                ) from exc
            raise

    def _existing_flow_runs(self, ids: Iterable[str]) -> set[str]:
        with self._store._read("reading flow runs") as conn:
            stmt = sa.select(_f.flow_run_id).where(_f.flow_run_id.in_(list(ids)))
            return set(conn.execute(stmt).scalars())

    # ---- reads (with crash detection) -----------------------------------------------------------

    def get_flow_run(self, flow_run_id: str) -> FlowRun:
        now = _now_ms()
        with self._store._read("reading a flow run") as conn:
            row = self._flow_run_row(conn, flow_run_id, t.flow_runs)
        if self._gone(row, now) is not None:
            self._mark_crashed([flow_run_id], now)
            with self._store._read("reading a flow run") as conn:
                row = self._flow_run_row(conn, flow_run_id, t.flow_runs)
        return rows.flow_run_from_row(row)

    def search_flow_runs(
        self,
        flow_name: str | None = None,
        states: Sequence[StateType] | None = None,
        parent_flow_run_id: str | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> PagedList[FlowRun]:
        """Flow runs, newest first (then by id), filtered by flow name, states (None or empty: any)
        and parent flow run; a page of ``max_results`` (1 to 10,000) and the token of the next."""
        from ..paging import decode_page_token, encode_page_token

        if not 1 <= v.integer("max_results", max_results) <= MAX_FLOW_RUN_PAGE:
            raise InvalidInput(f"max_results must be between 1 and {MAX_FLOW_RUN_PAGE}, got {max_results}")
        if isinstance(states, str):
            states = [states]  # type: ignore[list-item]
        wanted = sorted({rows.state(s, "state filter") for s in states or ()})
        offset = decode_page_token(page_token)
        where = []
        if flow_name is not None:
            where.append(_f.flow_name == flow_name)
        if parent_flow_run_id is not None:
            where.append(_f.parent_flow_run_id == parent_flow_run_id)
        now = _now_ms()
        if not wanted or _RUNNING in wanted or _CRASHED in wanted:
            with self._store._read("searching flow runs") as conn:
                running = conn.execute(sa.select(*_LIVENESS).where(_f.state == _RUNNING, *where)).all()
            gone = [r.flow_run_id for r in running if self._gone(r, now) is not None]
            if gone:
                self._mark_crashed(gone, now)
        if wanted:
            where.append(_f.state.in_(wanted))
        stmt = (
            sa.select(t.flow_runs)
            .where(*where)
            .order_by(_f.start_time.desc(), _f.flow_run_id)
            .offset(offset)
            .limit(max_results + 1)
        )
        with self._store._read("searching flow runs") as conn:
            found = conn.execute(stmt).all()
        page = [rows.flow_run_from_row(r) for r in found[:max_results]]
        return PagedList(page, encode_page_token(offset + max_results) if len(found) > max_results else None)

    def get_task_runs(self, flow_run_id: str) -> list[TaskRun]:
        """The task runs of a flow run, by start time (not started last), then in order of first write."""
        now = _now_ms()
        with self._store._read("reading task runs") as conn:
            flow = self._flow_run_row(conn, flow_run_id, *_LIVENESS)
            if self._gone(flow, now) is None:
                return self._task_runs(conn, flow_run_id)
        self._mark_crashed([flow_run_id], now)
        with self._store._read("reading task runs") as conn:
            return self._task_runs(conn, flow_run_id)

    def _task_runs(self, conn: sa.Connection, flow_run_id: str) -> list[TaskRun]:
        stmt = (
            sa.select(*(_r[n] for n in rows.TASK_RUN_COLUMNS))
            .where(_r.flow_run_id == flow_run_id)
            .order_by(sa.nulls_last(_r.start_time.asc()), _r.id)
        )
        return [rows.task_run_from_row(r) for r in conn.execute(stmt)]

    def get_logs(self, flow_run_id: str, task_run_id: str | None = None) -> list[LogRecord]:
        """The logs of a flow run (of one of its task runs), by timestamp then in order of writing."""
        stmt = sa.select(t.flow_logs).where(_l.flow_run_id == flow_run_id)
        if task_run_id is not None:
            stmt = stmt.where(_l.task_run_id == task_run_id)
        with self._store._read("reading logs") as conn:
            found = conn.execute(stmt.order_by(_l.timestamp, _l.id)).all()
            if not found:
                self._flow_run_row(conn, flow_run_id, _f.flow_run_id)  # NotFound for an unknown flow run
        return [rows.same_named(LogRecord, r) for r in found]

    def get_artifacts(self, flow_run_id: str | None = None, key: str | None = None) -> list[RunArtifact]:
        """Artifacts of a flow run and/or with a key (both None: every artifact), oldest first."""
        stmt = sa.select(t.flow_artifacts)
        if flow_run_id is not None:
            stmt = stmt.where(_a.flow_run_id == flow_run_id)
        if key is not None:
            stmt = stmt.where(_a.key == key)
        with self._store._read("reading artifacts") as conn:
            found = conn.execute(stmt.order_by(_a.created_time, _a.artifact_id)).all()
            if not found and flow_run_id is not None:
                self._flow_run_row(conn, flow_run_id, _f.flow_run_id)
        return [rows.same_named(RunArtifact, r) for r in found]

    def _flow_run_row(self, conn: sa.Connection, flow_run_id: str, *columns: Any) -> Any:
        row = conn.execute(sa.select(*columns).where(_f.flow_run_id == flow_run_id)).first()
        if row is None:
            raise _no_flow_run(flow_run_id)
        return row

    # ---- crash detection ------------------------------------------------------------------------

    def _gone(self, row: Any, now: int) -> str | None:
        """Why the process of a RUNNING flow run is gone, or None (not RUNNING, or maybe alive)."""
        if row.state != _RUNNING:
            return None
        if row.host == self._host and row.pid > 0 and not _pid_alive(row.pid):
            return "no process has that pid on this host"
        last = row.start_time if row.heartbeat_time is None else row.heartbeat_time
        if now - last > self.stale_after_ms:
            age, limit = (now - last) / 1000, self.stale_after_ms / 1000
            return f"its last heartbeat is {age:.0f} s old (the limit is {limit:g} s)"
        return None

    def _mark_crashed(self, flow_run_ids: Sequence[str], now: int) -> None:
        """Mark these flow runs CRASHED, with their unfinished task runs, in one transaction.

        The rows are read again under the write lock: a run that finished or sent a heartbeat
        since the caller looked is left alone.
        """
        crashed = StateType.CRASHED
        set_task = (
            t.task_runs.update()
            .where(_r.id == sa.bindparam("row_id"))
            .values(
                state=sa.bindparam("new_state"),
                end_time=sa.bindparam("new_end_time"),
                error=sa.bindparam("new_error"),
                history=sa.bindparam("new_history"),
            )
        )
        with self._store._write("marking crashed flow runs") as conn:
            stmt = sa.select(*_LIVENESS, _f.history).where(_f.flow_run_id.in_(list(flow_run_ids)))
            for row in conn.execute(stmt.with_for_update()).all():
                reason = self._gone(row, now)
                if reason is None:
                    continue
                error = _crash_message(row.host, row.pid, reason)
                conn.execute(
                    t.flow_runs.update()
                    .where(_f.flow_run_id == row.flow_run_id)
                    .values(
                        state=_CRASHED,
                        end_time=now,
                        error=error,
                        history=rows.append_history(row.history, crashed, now),
                    )
                )
                unfinished = conn.execute(
                    sa.select(_r.id, _r.history).where(
                        _r.flow_run_id == row.flow_run_id, _r.state.in_(_UNFINISHED)
                    )
                ).all()
                if unfinished:
                    conn.execute(
                        set_task,
                        [
                            {
                                "row_id": task.id,
                                "new_state": _CRASHED,
                                "new_end_time": now,
                                "new_error": error,
                                "new_history": rows.append_history(task.history, crashed, now),
                            }
                            for task in unfinished
                        ],
                    )

    # ---- the task cache -------------------------------------------------------------------------

    def get_cache_entry(self, cache_key: str, now: int) -> CacheEntry | None:
        """The entry of ``cache_key`` unless it is missing or expired (``expires_time <= now``)."""
        now = v.integer("now", now)
        stmt = sa.select(t.task_cache).where(
            _c.cache_key == cache_key, sa.or_(_c.expires_time.is_(None), _c.expires_time > now)
        )
        with self._store._read("reading the task cache") as conn:
            row = conn.execute(stmt).first()
        return None if row is None else rows.same_named(CacheEntry, row)

    def put_cache_entry(self, entry: CacheEntry) -> None:
        """Store a cached result; an entry with the same key is replaced."""
        row = rows.cache_row(entry)
        stmt = self._sql.insert(t.task_cache).values(row)
        stmt = stmt.on_conflict_do_update(
            index_elements=["cache_key"], set_={k: stmt.excluded[k] for k in row if k != "cache_key"}
        )
        with self._store._write("writing the task cache") as conn:
            conn.execute(stmt)

    def clear_cache(self, flow_name: str | None = None, task_key: str | None = None) -> int:
        """Remove cache entries (all when no filter is given); returns how many were removed.

        ``flow_name`` keeps to the entries made in that flow. ``task_key`` is a task's identity
        (``"module:qualname"``) or only its name, as typed on a command line: an entry matches
        when its task key equals it or ends with ``":" + task_key`` or ``"." + task_key`` (a
        function defined inside another, ``module:outer.<locals>.name``).
        """
        stmt = t.task_cache.delete()
        if flow_name is not None:
            stmt = stmt.where(_c.flow_name == rows.text(flow_name, "flow_name"))
        if task_key is not None:
            key = rows.text(task_key, "task_key", empty=False)
            stmt = stmt.where(
                sa.or_(
                    _c.task_key == key,
                    _c.task_key.endswith(f":{key}", autoescape=True),
                    _c.task_key.endswith(f".{key}", autoescape=True),
                )
            )
        with self._store._write("clearing the task cache") as conn:
            return int(conn.execute(stmt).rowcount)


def _no_flow_run(flow_run_id: str) -> NotFound:
    return NotFound(f"no flow run with id {flow_run_id!r}", flow_run_id=flow_run_id)


def _crash_message(host: str, pid: int, reason: str) -> str:
    return f"the process running this flow run (host {host}, pid {pid}) is gone: {reason}"
