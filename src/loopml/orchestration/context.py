"""The running flow run and task run of the current thread or asyncio task (ContextVars)."""

from __future__ import annotations

import itertools
import threading
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from .records import Recorder, TaskRecord
from .results import ResultStore


@dataclass(eq=False)
class FlowRunContext:
    """One flow run while it runs. Shared by the threads of its tasks."""

    flow_run_id: str
    name: str
    flow: Any  # the Flow
    parameters: dict[str, Any]
    client: Any  # the tracking Client whose store records the run
    recorder: Recorder
    results: ResultStore
    parent: FlowRunContext | None = None
    # a retried flow run: (task_key, dynamic_key) -> the TaskRun of that call in the earlier
    # attempts, which the call continues (or whose persisted result it reuses when completed)
    earlier: dict[tuple[str, str], Any] = field(default_factory=dict)
    task_runner: Any = None
    tracking_run: Any = None  # an ActiveRun, opened on demand
    _counters: dict[str, itertools.count[int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_dynamic_key(self, task_key: str) -> str:
        """ "0", "1", ...: the calls of one task in this flow run, in call order."""
        counter = self._counters.get(task_key)
        if counter is None:
            with self._lock:
                counter = self._counters.setdefault(task_key, itertools.count())
        return str(next(counter))  # itertools.count is atomic under the GIL

    @property
    def lock(self) -> threading.Lock:
        return self._lock


@dataclass(eq=False)
class TaskRunContext:
    """One task run while its body runs."""

    record: TaskRecord
    task: Any  # the Task
    flow_run: FlowRunContext


flow_run_var: ContextVar[FlowRunContext | None] = ContextVar("loopml_flow_run", default=None)
task_run_var: ContextVar[TaskRunContext | None] = ContextVar("loopml_task_run", default=None)
