"""The task runs of finished flow runs, kept ready for the flow run page: the compact JSON its
timeline and table draw, and the task-run names its logs and artifacts show.

Reading 10,000 task runs from the store takes a good part of a second; a finished flow run's task
runs no longer change, so they are read once and kept (the newest few flow runs, per app). The
key holds the flow run's state, end and attempts: a retried flow run (RUNNING again, then another
end) is read afresh, and a flow run still running is never kept.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from ....entities import FlowRun
from .flow_views import task_list

__all__ = ["FlowTasks", "TaskRunCache", "flow_tasks"]

_KEEP = 16


@dataclass(frozen=True)
class FlowTasks:
    """A flow run's task runs as the pages use them."""

    compact: bytes  # see flow_views.task_list
    names: dict[str, str]  # task run id -> name


class TaskRunCache:
    """The :class:`FlowTasks` of the last ``keep`` finished flow runs read; one reader per flow
    run at a time (a second request for it waits for the first instead of reading again)."""

    def __init__(self, keep: int = _KEEP) -> None:
        self._keep = keep
        self._entries: OrderedDict[str, tuple[tuple[Any, ...], FlowTasks]] = OrderedDict()
        self._lock = threading.Lock()
        self._reading: dict[str, threading.Lock] = {}

    def get(self, store: Any, flow_run: FlowRun) -> FlowTasks:
        if not flow_run.state.is_final:
            return _read(store, flow_run)
        key = (flow_run.state, flow_run.end_time, flow_run.attempts)
        flow_run_id = flow_run.flow_run_id
        with self._lock:
            reading = self._reading.setdefault(flow_run_id, threading.Lock())
        with reading:
            with self._lock:
                found = self._entries.get(flow_run_id)
                if found is not None and found[0] == key:
                    self._entries.move_to_end(flow_run_id)
                    return found[1]
            try:
                tasks = _read(store, flow_run)
            finally:
                with self._lock:
                    self._reading.pop(flow_run_id, None)
            with self._lock:
                self._entries[flow_run_id] = (key, tasks)
                self._entries.move_to_end(flow_run_id)
                while len(self._entries) > self._keep:
                    self._entries.popitem(last=False)
        return tasks


def _read(store: Any, flow_run: FlowRun) -> FlowTasks:
    task_runs = store.get_task_runs(flow_run.flow_run_id)
    compact = task_list(flow_run, task_runs, time.time_ns() // 1_000_000)
    return FlowTasks(compact, {tr.task_run_id: tr.name for tr in task_runs})


def flow_tasks(app_state: Any, store: Any, flow_run: FlowRun) -> FlowTasks:
    """The task runs of ``flow_run`` through the app's cache (made on first use)."""
    cache = getattr(app_state, "ui_flow_tasks", None)
    if cache is None:
        cache = app_state.ui_flow_tasks = TaskRunCache()
    tasks: FlowTasks = cache.get(store, flow_run)
    return tasks
