"""Futures of submitted task runs, ``wait`` and ``as_completed``."""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from ..entities.flow import StateType
from .records import TaskRecord
from .states import State


class TaskFuture:
    """The future of a task run started with ``.submit()`` or ``.map()``."""

    __slots__ = ("_future", "_record")

    def __init__(self, future: cf.Future[State], record: TaskRecord) -> None:
        self._future = future
        self._record = record

    @property
    def task_run_id(self) -> str:
        return self._record.task_run_id

    @property
    def state(self) -> State:
        """The final state once done; the current one (Pending, Running, Retrying) before."""
        if self._future.done():
            return self.wait_state()
        record = self._record
        return State(
            record.state, record.history[-1][1] if record.history else 0, task_run_id=record.task_run_id
        )

    def wait(self, timeout: float | None = None) -> None:
        """Block until the run is final (or ``timeout`` seconds passed)."""
        cf.wait([self._future], timeout=timeout)

    def wait_state(self, timeout: float | None = None) -> State:
        return self._future.result(timeout=timeout)

    def done(self) -> bool:
        return self._future.done()

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> Any:
        """The task's value; raises its exception when it failed (unless told not to)."""
        return self.wait_state(timeout).result(raise_on_failure=raise_on_failure)

    def add_done_callback(self, fn: Any) -> None:
        self._future.add_done_callback(lambda _: fn(self))

    def __repr__(self) -> str:
        return f"TaskFuture({self._record.name!r}, {self.state.name})"


class TaskFutureList(list[TaskFuture]):
    """The futures of a ``.map()``: ``.result()`` is the list of values, ``.wait()`` waits for all."""

    def wait(self, timeout: float | None = None) -> None:
        wait(self, timeout=timeout)

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> list[Any]:
        return [f.result(timeout=timeout, raise_on_failure=raise_on_failure) for f in self]


class DoneAndNotDone(NamedTuple):
    done: set[TaskFuture]
    not_done: set[TaskFuture]


def wait(futures: Iterable[TaskFuture], timeout: float | None = None) -> DoneAndNotDone:
    """Wait for every future (at most ``timeout`` seconds); which are done, which are not."""
    futures = list(futures)
    by_inner = {f._future: f for f in futures}
    done, not_done = cf.wait(list(by_inner), timeout=timeout)
    return DoneAndNotDone({by_inner[f] for f in done}, {by_inner[f] for f in not_done})


def as_completed(futures: Iterable[TaskFuture], timeout: float | None = None) -> Iterator[TaskFuture]:
    """The futures in the order they finish."""
    by_inner = {f._future: f for f in futures}
    for inner in cf.as_completed(list(by_inner), timeout=timeout):
        yield by_inner[inner]


class unmapped:
    """``task.map(xs, unmapped(model))``: the same value for every mapped call."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def completed_future(state: State, record: TaskRecord) -> TaskFuture:
    future: cf.Future[State] = cf.Future()
    future.set_result(state)
    return TaskFuture(future, record)


def is_pending(state_type: StateType) -> bool:
    return not state_type.is_final
