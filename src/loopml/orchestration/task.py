"""``@task``: a function that runs as a recorded, retried, cached task run inside a flow."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, overload

from ..errors import InvalidInput
from .context import FlowRunContext, flow_run_var
from .futures import TaskFuture, TaskFutureList, completed_future, unmapped
from .options import TaskOptions, build
from .records import TaskRecord, now_ms
from .states import State
from .task_engine import TaskCall, identity

_PLAIN_KINDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


class Task:
    """A task. Inside a flow, calling it runs a task run and returns its value (raising its
    exception); ``return_state=True`` returns the final :class:`State`; ``.submit()`` and
    ``.map()`` run it concurrently on the flow's task runner. Outside a flow it is the plain
    function."""

    def __init__(self, fn: Callable[..., Any], options: TaskOptions) -> None:
        if not callable(fn):
            raise InvalidInput(f"@task decorates a function, got {fn!r}")
        if inspect.iscoroutinefunction(fn):
            raise InvalidInput(
                f"task {options.name!r}: async tasks are not supported yet; use a plain function"
            )
        self.fn = fn
        self.options = options
        self.name = options.name
        self.task_key = identity(fn)
        self._signature = inspect.signature(fn)
        self._plain = all(p.kind in _PLAIN_KINDS for p in self._signature.parameters.values())
        functools.update_wrapper(self, fn)

    def __repr__(self) -> str:
        return f"Task({self.name!r})"

    def with_options(self, **changes: Any) -> Task:
        """A copy with some options changed (``dataclasses.replace``, checked again)."""
        return Task(self.fn, build(TaskOptions, self.options, changes))

    # ---- calling ----------------------------------------------------------------------------

    def __call__(
        self, *args: Any, return_state: bool = False, wait_for: Iterable[Any] | None = None, **kwargs: Any
    ) -> Any:
        flow = flow_run_var.get()
        if flow is None:
            value = self.fn(*args, **kwargs)
            return State(_completed(), now_ms(), value=value) if return_state else value
        state = TaskCall(self, flow, args, kwargs, tuple(wait_for or ())).run()
        return state if return_state else state.result()

    def submit(self, *args: Any, wait_for: Iterable[Any] | None = None, **kwargs: Any) -> TaskFuture:
        """Start a task run on the flow's task runner; returns its future at once."""
        flow = flow_run_var.get()
        if flow is None:
            return _outside_flow(self, args, kwargs)
        session = session_of(flow)
        call = TaskCall(self, flow, args, kwargs, tuple(wait_for or ()), session)
        return TaskFuture(session.submit(call.run), call.record)

    def map(self, *args: Any, wait_for: Iterable[Any] | None = None, **kwargs: Any) -> TaskFutureList:
        """One task run per element of the iterable arguments (zipped); arguments wrapped in
        ``unmapped(...)``, strings, bytes and non-iterables are passed whole to every run."""
        names = list(self._signature.parameters)
        bound = self._signature.bind_partial(*args, **kwargs).arguments
        mapped: dict[str, list[Any]] = {}
        static: dict[str, Any] = {}
        for name, value in bound.items():
            if isinstance(value, unmapped):
                static[name] = value.value
            elif isinstance(value, str | bytes | dict) or not isinstance(value, Iterable):
                static[name] = value
            else:
                mapped[name] = list(value)
        if not mapped:
            raise InvalidInput(
                f"task {self.name!r}: map needs at least one iterable argument; got {sorted(bound)}"
            )
        lengths = {name: len(values) for name, values in mapped.items()}
        if len(set(lengths.values())) > 1:
            raise InvalidInput(f"task {self.name!r}: mapped arguments differ in length: {lengths}")
        count = next(iter(lengths.values()))
        wait = tuple(wait_for or ())
        futures = TaskFutureList()
        for i in range(count):
            call_kwargs = {**static, **{name: values[i] for name, values in mapped.items()}}
            ordered = {n: call_kwargs[n] for n in names if n in call_kwargs}
            futures.append(self.submit(**ordered, wait_for=wait))
        return futures

    # ---- used by the engine --------------------------------------------------------------------

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise InvalidInput(f"task {self.name!r}: {exc}") from None
        bound.apply_defaults()
        return dict(bound.arguments)

    def call_arguments(self, inputs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if self._plain:
            return (), inputs
        bound = inspect.BoundArguments(self._signature, inputs)
        return bound.args, bound.kwargs

    def run_name(self, inputs: dict[str, Any], dynamic_key: str) -> str:
        template = self.options.task_run_name
        if template is None:
            return f"{self.name}-{dynamic_key}"
        if callable(template):
            return str(template())
        try:
            return template.format(**inputs)
        except (KeyError, IndexError, ValueError) as exc:
            raise InvalidInput(
                f"task {self.name!r}: task_run_name {template!r} does not format: {exc}"
            ) from None

    def prints_logged(self, flow: FlowRunContext) -> Any:
        from .run_logger import capture_prints

        wanted = self.options.log_prints
        if wanted is None:
            wanted = flow.flow.options.log_prints
        # None: as the enclosing run does; False turns off a flow's log_prints for this task
        return None if wanted is None else capture_prints(wanted)


def _completed() -> Any:
    from ..entities.flow import StateType

    return StateType.COMPLETED


def _outside_flow(task: Task, args: tuple[Any, ...], kwargs: dict[str, Any]) -> TaskFuture:
    """``.submit()`` outside a flow: the plain function, run now."""
    record = TaskRecord("", "", task.name, task.task_key, "0", {})
    try:
        value = task.fn(*args, **kwargs)
    except Exception as exc:
        from ..entities.flow import StateType

        return completed_future(State(StateType.FAILED, now_ms(), message=str(exc), exception=exc), record)
    return completed_future(State(_completed(), now_ms(), value=value), record)


def session_of(flow: FlowRunContext) -> Any:
    """The flow run's task-runner session, opened on first use."""
    session = flow.task_runner
    if session is None:
        with flow.lock:
            if flow.task_runner is None:
                from .runners import default_runner

                runner = flow.flow.options.task_runner or default_runner()
                flow.task_runner = runner.open()
            session = flow.task_runner
    return session


@overload
def task(fn: Callable[..., Any], /, **options: Any) -> Task: ...
@overload
def task(fn: None = None, /, **options: Any) -> Callable[[Callable[..., Any]], Task]: ...
def task(
    fn: Callable[..., Any] | None = None, /, **options: Any
) -> Task | Callable[[Callable[..., Any]], Task]:
    """``@task`` or ``@task(retries=2, cache_policy=INPUTS, ...)`` (Prefect's option names)."""

    def decorate(f: Callable[..., Any]) -> Task:
        given = dict(options)
        given.setdefault("name", getattr(f, "__name__", "task"))
        return Task(f, build(TaskOptions, None, given))

    return decorate(fn) if fn is not None else decorate
