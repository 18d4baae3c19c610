"""Orchestration records: flow runs, task runs, their logs, run artifacts and cache entries.

Times are milliseconds since the epoch, like every other entity. ``parameters`` holds the
JSON-able parameters of a run (values that JSON cannot carry are summarized as their
``repr``, cut to 200 characters); the exact values of a flow run, needed to retry it, are
persisted beside its results when they are not JSON (``parameters_ref``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class StateType(StrEnum):
    """The states of flow and task runs (Prefect's names)."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    CACHED = "CACHED"
    FAILED = "FAILED"
    RETRYING = "RETRYING"
    TIMED_OUT = "TIMED_OUT"
    CANCELLED = "CANCELLED"
    CRASHED = "CRASHED"

    def __str__(self) -> str:
        return self.value

    @property
    def is_final(self) -> bool:
        return self in _FINAL

    @property
    def is_success(self) -> bool:
        return self in (StateType.COMPLETED, StateType.CACHED)


_FINAL = frozenset(
    {
        StateType.COMPLETED,
        StateType.CACHED,
        StateType.FAILED,
        StateType.TIMED_OUT,
        StateType.CANCELLED,
        StateType.CRASHED,
    }
)

StateChange = tuple[StateType, int]
"""One entry of a run's state history: (state, time in ms)."""


@dataclass(frozen=True, slots=True)
class FlowRun:
    """One call of a flow (or a subflow), as recorded in the store."""

    flow_run_id: str
    flow_name: str
    name: str
    state: StateType
    start_time: int
    end_time: int | None = None
    flow_version: str | None = None
    entrypoint: str = ""  # "module:qualname" of the flow function, for retries
    parameters: dict[str, Any] = field(default_factory=dict)
    parameters_ref: str | None = None  # URI of the pickled parameters when they are not JSON
    tags: tuple[str, ...] = ()
    parent_flow_run_id: str | None = None
    parent_task_run_id: str | None = None
    tracking_run_id: str | None = None
    host: str = ""
    pid: int = 0
    heartbeat_time: int | None = None
    attempts: int = 1
    error: str | None = None  # exception type, message and traceback of a failed run
    history: tuple[StateChange, ...] = ()


@dataclass(frozen=True, slots=True)
class TaskRun:
    """One call of a task inside a flow run.

    ``dynamic_key`` tells calls of the same task in one flow run apart (``"0"``, ``"1"``, ... in
    call order); a retried flow run finds the completed calls by (``task_key``, ``dynamic_key``).
    ``upstream_task_run_ids`` are the task runs it waited for: the futures and states among its
    arguments and in its ``wait_for``.
    """

    task_run_id: str
    flow_run_id: str
    name: str
    task_key: str
    dynamic_key: str
    state: StateType
    start_time: int | None = None
    end_time: int | None = None
    attempts: int = 0
    cache_key: str | None = None
    result_ref: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    history: tuple[StateChange, ...] = ()
    error: str | None = None
    upstream_task_run_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One log line of a flow run (``task_run_id`` set when a task wrote it)."""

    flow_run_id: str
    timestamp: int
    level: int
    message: str
    task_run_id: str | None = None
    logger: str = ""


@dataclass(frozen=True, slots=True)
class RunArtifact:
    """A report written by a flow or task: markdown text, a table (JSON) or a link."""

    artifact_id: str
    type: str  # "markdown" | "table" | "link"
    data: str
    created_time: int
    key: str | None = None
    description: str | None = None
    flow_run_id: str | None = None
    task_run_id: str | None = None


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """A cached task result: where its value is persisted, and until when it is valid."""

    cache_key: str
    result_ref: str
    task_key: str
    flow_name: str
    created_time: int
    expires_time: int | None = None
