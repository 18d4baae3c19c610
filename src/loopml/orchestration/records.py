"""The engine's in-memory task-run records and the recorder that writes them in batches.

A task run changes state two or three times in well under a millisecond; writing each change
would cost more than the task. The engine keeps one mutable :class:`TaskRecord` per task run
and marks it dirty on each change; the :class:`Recorder` writes the newest snapshot of every
dirty record, with the logs and artifacts written meanwhile, in one transaction: every 0.1 s
on a background thread, and once more before the flow call returns. So every task run is in
the store when the flow returns, and a process killed mid-flow loses at most the last 0.1 s.
The same thread refreshes the heartbeat of the running flow runs (see the crash rule in
docs/orchestration.md).
"""

from __future__ import annotations

import _thread
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ..entities.flow import LogRecord, RunArtifact, StateType, TaskRun
from ..errors import StoreError

FLUSH_INTERVAL_S = 0.1
HEARTBEAT_INTERVAL_S = 10.0
WRITE_CHUNK = 20_000  # records of each kind per write (a store takes at most 100,000 in one batch)

_log = logging.getLogger("loopml.orchestration")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(slots=True, eq=False)
class TaskRecord:
    """The engine's view of one task run while it runs (mutable; snapshots are TaskRun)."""

    task_run_id: str
    flow_run_id: str
    name: str
    task_key: str
    dynamic_key: str
    parameters: dict[str, Any]
    state: StateType = StateType.PENDING
    start_time: int | None = None
    end_time: int | None = None
    attempts: int = 0
    cache_key: str | None = None
    result_ref: str | None = None
    error: str | None = None
    history: list[tuple[StateType, int]] = field(default_factory=list)
    upstream: tuple[str, ...] = ()

    def set_state(self, state: StateType, at: int) -> None:
        self.state = state
        self.history.append((state, at))

    def snapshot(self) -> TaskRun:
        return TaskRun(
            task_run_id=self.task_run_id,
            flow_run_id=self.flow_run_id,
            name=self.name,
            task_key=self.task_key,
            dynamic_key=self.dynamic_key,
            state=self.state,
            start_time=self.start_time,
            end_time=self.end_time,
            attempts=self.attempts,
            cache_key=self.cache_key,
            result_ref=self.result_ref,
            parameters=self.parameters,
            history=tuple(self.history),
            error=self.error,
            upstream_task_run_ids=self.upstream,
        )


class Recorder:
    """Buffers task-run changes, logs and artifacts of one top-level flow run (and its
    subflows) and writes them to ``store`` in batches."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._dirty: dict[str, TaskRecord] = {}
        self._logs: list[LogRecord] = []
        self._artifacts: list[RunArtifact] = []
        self._flow_runs: set[str] = set()
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self._started = False
        self._error: BaseException | None = None

    # ---- called by the engine (any thread) ----------------------------------------------

    def touch(self, record: TaskRecord) -> None:
        self._dirty[record.task_run_id] = record

    def log(self, record: LogRecord) -> None:
        self._logs.append(record)

    def artifact(self, artifact: RunArtifact) -> None:
        self._artifacts.append(artifact)

    def watch(self, flow_run_id: str) -> None:
        """Heartbeat this flow run until :meth:`unwatch`; starts the background thread."""
        self._flow_runs.add(flow_run_id)
        if not self._started:
            # _thread: threading.Thread.start() waits for the new thread to be scheduled, which
            # costs milliseconds on a busy machine; nothing here needs that handshake.
            self._started = True
            _thread.start_new_thread(self._run, ())

    def unwatch(self, flow_run_id: str) -> None:
        self._flow_runs.discard(flow_run_id)

    def flush(self) -> None:
        """Write everything buffered now; raises StoreError if the store refuses it."""
        with self._lock:
            dirty, self._dirty = self._dirty, {}
            logs, self._logs = self._logs, []
            artifacts, self._artifacts = self._artifacts, []
            if not (dirty or logs or artifacts):
                return
            snapshots = [record.snapshot() for record in dirty.values()]
            written = 0  # a burst (a tight logging loop) can outgrow one batch: write in chunks
            try:
                while written < max(len(snapshots), len(logs), len(artifacts)):
                    end = written + WRITE_CHUNK
                    self._store.write_records(
                        snapshots[written:end], logs[written:end], artifacts[written:end]
                    )
                    written = end
            except BaseException:
                for key, record in dirty.items():  # keep them for the next attempt (upserts)
                    self._dirty.setdefault(key, record)
                self._logs[:0] = logs[written:]  # the chunks written are not written twice
                self._artifacts[:0] = artifacts[written:]
                raise

    def close(self) -> None:
        """Stop the thread and write what is left (the flow call returns after this)."""
        self._stop.set()
        if self._started:
            self._stopped.wait()
        self.flush()
        if self._error is not None and not isinstance(self._error, StoreError):
            _log.warning("a background write of run records failed and was retried: %s", self._error)

    # ---- the background thread --------------------------------------------------------------

    def _run(self) -> None:
        last_beat = time.monotonic()
        try:
            while not self._stop.wait(FLUSH_INTERVAL_S):
                try:
                    self.flush()
                    if time.monotonic() - last_beat >= HEARTBEAT_INTERVAL_S and self._flow_runs:
                        last_beat = time.monotonic()
                        self._store.heartbeat(sorted(self._flow_runs), now_ms())
                except Exception as exc:  # kept and retried at the next tick; close() writes once more
                    self._error = exc
        finally:
            self._stopped.set()
