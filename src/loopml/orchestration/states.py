"""States of flow and task runs, as returned with ``return_state=True`` or by a future."""

from __future__ import annotations

from typing import Any

from ..entities.flow import StateType

_NAMES = {
    StateType.PENDING: "Pending",
    StateType.RUNNING: "Running",
    StateType.COMPLETED: "Completed",
    StateType.CACHED: "Cached",
    StateType.FAILED: "Failed",
    StateType.RETRYING: "Retrying",
    StateType.TIMED_OUT: "TimedOut",
    StateType.CANCELLED: "Cancelled",
    StateType.CRASHED: "Crashed",
}

_MISSING = object()


class State:
    """The final (or current) state of a run: its type, a message, and its result or exception.

    ``result()`` returns the run's value, or raises its exception for a failed run (pass
    ``raise_on_failure=False`` to get the exception instead).
    """

    __slots__ = ("_exception", "_value", "flow_run_id", "message", "task_run_id", "timestamp", "type")

    def __init__(
        self,
        type: StateType,
        timestamp: int,
        *,
        message: str = "",
        value: Any = _MISSING,
        exception: BaseException | None = None,
        flow_run_id: str | None = None,
        task_run_id: str | None = None,
    ) -> None:
        self.type = type
        self.timestamp = timestamp
        self.message = message
        self._value = value
        self._exception = exception
        self.flow_run_id = flow_run_id
        self.task_run_id = task_run_id

    @property
    def name(self) -> str:
        return _NAMES[self.type]

    def is_completed(self) -> bool:
        return self.type.is_success

    def is_cached(self) -> bool:
        return self.type is StateType.CACHED

    def is_failed(self) -> bool:
        return self.type in (StateType.FAILED, StateType.TIMED_OUT, StateType.CRASHED)

    def is_cancelled(self) -> bool:
        return self.type is StateType.CANCELLED

    def is_final(self) -> bool:
        return self.type.is_final

    def result(self, raise_on_failure: bool = True) -> Any:
        if self._exception is not None:
            if raise_on_failure:
                raise self._exception
            return self._exception
        if self._value is _MISSING:
            from ..errors import Conflict

            raise Conflict(f"a {self.name} run has no result")
        return self._value

    def __repr__(self) -> str:
        detail = f", message={self.message!r}" if self.message else ""
        return f"State({self.name}{detail})"
