"""``@flow``: a function whose calls are recorded flow runs holding the task runs made inside.

A flow call writes its flow run when it starts and when it ends (two short transactions);
everything its tasks do is buffered by the recorder and written before the call returns.
"""

from __future__ import annotations

import functools
import inspect
import os
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any, overload

from ..entities.flow import FlowRun, StateType, TaskRun
from ..errors import InvalidInput, NotFound
from .context import FlowRunContext, flow_run_var, task_run_var
from .options import FlowOptions, build
from .records import Recorder, now_ms
from .results import ResultStore
from .states import State
from .task_engine import SCRIPT_MODULE, call_with_timeout, describe, identity, run_hook, summarize

_MAX_JSON_PARAMETERS = 16_384  # bytes; larger parameters are pickled beside the results


class Flow:
    """A flow. Calling it runs a flow run and returns its value (raising its exception);
    ``return_state=True`` returns the final :class:`State`. A flow called inside another is a
    subflow: its own flow run, linked to the parent's."""

    def __init__(self, fn: Callable[..., Any], options: FlowOptions) -> None:
        if not callable(fn):
            raise InvalidInput(f"@flow decorates a function, got {fn!r}")
        if inspect.iscoroutinefunction(fn):
            raise InvalidInput(
                f"flow {options.name!r}: async flows are not supported yet; use a plain function"
            )
        self.fn = fn
        self.options = options
        self.name = options.name
        self._signature = inspect.signature(fn)
        self._validator: Any = None
        functools.update_wrapper(self, fn)

    def __repr__(self) -> str:
        return f"Flow({self.name!r})"

    @property
    def entrypoint(self) -> str:
        """``module:qualname``, or ``/path/to/script.py:qualname`` for a script's flow."""
        return identity(self.fn)

    def with_options(self, **changes: Any) -> Flow:
        return Flow(self.fn, build(FlowOptions, self.options, changes))

    def __call__(self, *args: Any, return_state: bool = False, **kwargs: Any) -> Any:
        parameters = self.validate(args, kwargs)
        state = run_flow(self, parameters)
        return state if return_state else state.result()

    # ---- parameters -----------------------------------------------------------------------------

    def validate(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The call's parameters by name, validated and coerced from the type hints."""
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise InvalidInput(f"flow {self.name!r}: {exc}") from None
        bound.apply_defaults()
        parameters = dict(bound.arguments)
        if not self.options.validate_parameters:
            return parameters
        validator = self._parameter_model()
        if validator is None:
            return parameters
        from pydantic import ValidationError

        checked = {k: v for k, v in parameters.items() if k in validator.model_fields}
        try:
            model = validator.model_validate(checked)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InvalidInput(
                f"flow {self.name!r}: parameter {where!r} is invalid: {first['msg']} "
                f"(got {first.get('input')!r})",
                parameter=where,
            ) from None
        return {**parameters, **{k: getattr(model, k) for k in checked}}

    def _parameter_model(self) -> Any:
        if self._validator is None:
            self._validator = _build_validator(self)
        return self._validator or None

    def call_arguments(self, parameters: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        bound = inspect.BoundArguments(self._signature, parameters)
        return bound.args, bound.kwargs


def _build_validator(flow: Flow) -> Any:
    """A pydantic model of the annotated parameters (False when there is nothing to check)."""
    import typing

    try:
        hints = typing.get_type_hints(flow.fn)
    except Exception:
        hints = {}
    fields: dict[str, Any] = {}
    for name, parameter in flow._signature.parameters.items():
        if name not in hints or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        default = ... if parameter.default is parameter.empty else parameter.default
        fields[name] = (hints[name], default)
    if not fields:
        return False
    from pydantic import ConfigDict, create_model

    return create_model(
        f"{flow.name}_parameters", __config__=ConfigDict(arbitrary_types_allowed=True), **fields
    )


@overload
def flow(fn: Callable[..., Any], /, **options: Any) -> Flow: ...
@overload
def flow(fn: None = None, /, **options: Any) -> Callable[[Callable[..., Any]], Flow]: ...
def flow(
    fn: Callable[..., Any] | None = None, /, **options: Any
) -> Flow | Callable[[Callable[..., Any]], Flow]:
    """``@flow`` or ``@flow(name=..., retries=..., experiment="churn", ...)`` (Prefect's names)."""

    def decorate(f: Callable[..., Any]) -> Flow:
        given = dict(options)
        given.setdefault("name", getattr(f, "__name__", "flow"))
        return Flow(f, build(FlowOptions, None, given))

    return decorate(fn) if fn is not None else decorate


# ---- the engine ----------------------------------------------------------------------------------


def run_flow(
    flow_: Flow, parameters: dict[str, Any], *, retry_of: FlowRun | None = None, client: Any = None
) -> State:
    """Run one flow run to a final state; the records are all written when this returns.

    ``client``: whose store records it (default: the parent flow's, or the fluent API's).
    """
    from ..tracking.fluent import _client

    parent = flow_run_var.get()
    if client is None:
        client = parent.client if parent is not None else _client()
    recorder = parent.recorder if parent is not None else Recorder(client.store.orchestration)
    storage = flow_.options.result_storage or client.settings.resolved_result_storage
    results = (
        parent.results
        if parent is not None and parent.results.root == storage.rstrip("/")
        else ResultStore(storage)
    )
    store = client.store.orchestration
    started = now_ms()
    if retry_of is None:
        flow_run_id = uuid.uuid4().hex
        json_parameters, parameters_ref = _recordable(parameters, results, flow_run_id)
        parent_task = task_run_var.get()
        history = [(StateType.RUNNING, started)]
        store.create_flow_run(
            FlowRun(
                flow_run_id=flow_run_id,
                flow_name=flow_.name,
                name=_run_name(flow_, parameters, flow_run_id),
                state=StateType.RUNNING,
                start_time=started,
                flow_version=flow_.options.version,
                entrypoint=flow_.entrypoint,
                parameters=json_parameters,
                parameters_ref=parameters_ref,
                tags=flow_.options.tags,
                parent_flow_run_id=parent.flow_run_id if parent is not None else None,
                parent_task_run_id=parent_task.record.task_run_id if parent_task is not None else None,
                host=socket.gethostname(),
                pid=os.getpid(),
                heartbeat_time=started,
                history=tuple(history),
            )
        )
        attempts = 1
        earlier: dict[tuple[str, str], TaskRun] = {}
    else:
        flow_run_id = retry_of.flow_run_id
        history = [*retry_of.history, (StateType.RUNNING, started)]
        attempts = retry_of.attempts + 1
        store.update_flow_run(
            flow_run_id,
            state=StateType.RUNNING,
            history=history,
            attempts=attempts,
            host=socket.gethostname(),
            pid=os.getpid(),
            heartbeat_time=started,
        )
        earlier = {(t.task_key, t.dynamic_key): t for t in store.get_task_runs(flow_run_id)}
    ctx = FlowRunContext(
        flow_run_id=flow_run_id,
        name=_run_name(flow_, parameters, flow_run_id) if retry_of is None else retry_of.name,
        flow=flow_,
        parameters=parameters,
        client=client,
        recorder=recorder,
        results=results,
        parent=parent,
        earlier=earlier,
    )
    recorder.watch(flow_run_id)
    return _execute(flow_, ctx, history, attempts, is_root=parent is None)


def _execute(
    flow_: Flow, ctx: FlowRunContext, history: list[tuple[StateType, int]], attempts: int, *, is_root: bool
) -> State:
    from ..tracking import fluent

    options = flow_.options
    token = flow_run_var.set(ctx)
    task_token = task_run_var.set(None)
    opener_token = fluent.run_opener.set(functools.partial(_open_tracking_run, ctx))
    active_token = None
    if options.experiment is not None:
        active = _open_tracking_run(ctx)
        active_token = fluent._active_runs.set((*fluent._active_runs.get(), active))
    error: str | None = None
    exception: BaseException | None = None
    value: Any = None
    delays = options.retry_delays() if options.retries else []
    retries_left = options.retries
    try:
        while True:
            try:
                value = _call(flow_, ctx)
                state_type = StateType.COMPLETED
                break
            except (KeyboardInterrupt, SystemExit) as exc:
                state_type, exception = StateType.CRASHED, exc
                raise
            except BaseException as exc:
                from ..errors import RunTimedOut

                if retries_left > 0:
                    retries_left -= 1
                    history.append((StateType.RETRYING, now_ms()))
                    wait = delays[options.retries - retries_left - 1] if delays else 0.0
                    if wait > 0:
                        time.sleep(wait)
                    attempts += 1
                    _close_session(ctx)
                    ctx.earlier = _task_runs_so_far(ctx)
                    ctx._counters.clear()
                    history.append((StateType.RUNNING, now_ms()))
                    continue
                # TimedOut when the flow's own timeout ran out; a task's or subflow's time-out fails it
                own = isinstance(exc, RunTimedOut) and exc.details.get("run_id") == ctx.flow_run_id
                state_type = StateType.TIMED_OUT if own else StateType.FAILED
                exception = exc
                break
    finally:
        _close_session(ctx)
        ended = now_ms()
        if exception is not None:
            error = describe(exception)
        history.append((state_type, ended))
        if ctx.tracking_run is not None:
            from ..entities import RunStatus

            status = RunStatus.FINISHED if state_type is StateType.COMPLETED else RunStatus.FAILED
            ctx.tracking_run.client.set_terminated(ctx.tracking_run.run_id, status)
        if active_token is not None:
            fluent._active_runs.reset(active_token)
        fluent.run_opener.reset(opener_token)
        task_run_var.reset(task_token)
        flow_run_var.reset(token)
        ctx.recorder.unwatch(ctx.flow_run_id)
        if is_root:
            ctx.recorder.close()
        else:
            ctx.recorder.flush()
        if state_type is StateType.TIMED_OUT:
            _cancel_unfinished(ctx, ended)
        ctx.client.store.orchestration.update_flow_run(
            ctx.flow_run_id,
            state=state_type,
            history=history,
            end_time=ended,
            error=error,
            tracking_run_id=ctx.tracking_run.run_id if ctx.tracking_run is not None else None,
            attempts=attempts,
        )
    message = f"{type(exception).__name__}: {exception}" if exception is not None else ""
    if exception is not None:
        state = State(state_type, ended, message=message, exception=exception, flow_run_id=ctx.flow_run_id)
    else:
        state = State(state_type, ended, value=value, flow_run_id=ctx.flow_run_id)
    snapshot = _FlowRunRef(ctx.flow_run_id, ctx.name)
    for hook in options.on_completion if state.is_completed() else options.on_failure:
        run_hook(hook, flow_, snapshot, state)
    return state


class _FlowRunRef:
    """What a flow hook receives as its flow run: its id and name."""

    def __init__(self, flow_run_id: str, name: str) -> None:
        self.id = self.flow_run_id = flow_run_id
        self.name = name


def _call(flow_: Flow, ctx: FlowRunContext) -> Any:
    args, kwargs = flow_.call_arguments(ctx.parameters)
    options = flow_.options

    def body() -> Any:
        if options.log_prints is not None:  # None: as the parent flow does
            from .run_logger import capture_prints

            with capture_prints(options.log_prints):
                return flow_.fn(*args, **kwargs)
        return flow_.fn(*args, **kwargs)

    if options.timeout_seconds is not None:
        return call_with_timeout(body, options.timeout_seconds, f"flow {flow_.name!r}", ctx.flow_run_id)
    return body()


def _cancel_unfinished(ctx: FlowRunContext, at: int) -> None:
    """The task runs a timed-out flow run leaves running (Python cannot stop their threads) are
    recorded Cancelled, not Running forever."""
    import dataclasses

    store = ctx.client.store.orchestration
    message = f"cancelled: the flow run timed out after {ctx.flow.options.timeout_seconds} s"
    store.write_records(
        [
            dataclasses.replace(
                run,
                state=StateType.CANCELLED,
                end_time=at,
                history=(*run.history, (StateType.CANCELLED, at)),
                error=message,
            )
            for run in store.get_task_runs(ctx.flow_run_id)
            if not run.state.is_final
        ]
    )


def _close_session(ctx: FlowRunContext) -> None:
    session, ctx.task_runner = ctx.task_runner, None
    if session is not None:
        session.close()


def _task_runs_so_far(ctx: FlowRunContext) -> dict[tuple[str, str], Any]:
    """The task runs of the flow run by call, for its next attempt to continue."""
    ctx.recorder.flush()
    runs = ctx.client.store.orchestration.get_task_runs(ctx.flow_run_id)
    return {(t.task_key, t.dynamic_key): t for t in runs}


def _open_tracking_run(ctx: FlowRunContext) -> Any:
    """The flow run's tracking run, created on first use (thread-safe)."""
    if ctx.tracking_run is not None:
        return ctx.tracking_run
    with ctx.lock:
        if ctx.tracking_run is None:
            from ..tracking import fluent

            client = ctx.client
            experiment = ctx.flow.options.experiment
            if experiment is not None:
                experiment_id = client.get_or_create_experiment(experiment).experiment_id
            else:
                experiment_id = fluent._current_experiment_id(client)
            run = client.create_run(
                experiment_id,
                run_name=ctx.name,
                tags={"loopml.flow_run_id": ctx.flow_run_id, "loopml.flow_name": ctx.flow.name},
            )
            ctx.tracking_run = fluent.ActiveRun(run, client)
    return ctx.tracking_run


def _run_name(flow_: Flow, parameters: dict[str, Any], flow_run_id: str) -> str:
    template = flow_.options.flow_run_name
    if template is None:
        return f"{flow_.name}-{flow_run_id[:8]}"
    if callable(template):
        return str(template())
    try:
        return template.format(**parameters)
    except (KeyError, IndexError, ValueError) as exc:
        raise InvalidInput(
            f"flow {flow_.name!r}: flow_run_name {template!r} does not format: {exc}"
        ) from None


def _recordable(
    parameters: dict[str, Any], results: ResultStore, flow_run_id: str
) -> tuple[dict[str, Any], str | None]:
    """(parameters as stored, the URI of their pickle when JSON cannot hold them exactly)."""
    import orjson

    try:
        text = orjson.dumps(parameters)
        if len(text) <= _MAX_JSON_PARAMETERS and orjson.loads(text) == parameters:
            return parameters, None
    except TypeError:
        pass
    try:
        ref = results.persist(f"{flow_run_id}-parameters", parameters, owner="the flow's parameters")
    except InvalidInput:
        ref = None  # unpicklable parameters: the run cannot be retried from the CLI, it still runs
    return summarize(parameters), ref


def load_flow(entrypoint: str) -> Flow:
    """The Flow named by ``module:qualname`` or ``/path/to/script.py:qualname``."""
    import importlib

    module_name, _, qualname = entrypoint.rpartition(":")  # a Windows path holds a ':' too
    try:
        if module_name.endswith(".py"):
            obj: Any = _load_script(module_name)
        else:
            obj = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError, OSError) as exc:
        raise NotFound(f"cannot import the flow {entrypoint!r}: {exc}", entrypoint=entrypoint) from None
    if isinstance(obj, Flow):
        return obj
    if callable(obj) and isinstance(getattr(obj, "__wrapped__", None), Flow):
        return obj.__wrapped__  # type: ignore[no-any-return]
    raise InvalidInput(f"{entrypoint!r} is not a flow")


def _load_script(path: str) -> Any:
    """A script as a module (not ``__main__``: its ``if __name__ == "__main__":`` part does
    not run), with its directory importable as when it was run."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(SCRIPT_MODULE, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    sys.modules[SCRIPT_MODULE] = module
    spec.loader.exec_module(module)
    return module


def retry_flow_run(client: Any, flow_run_id: str) -> State:
    """Run a failed or crashed flow run again, in this process, reusing the persisted results
    of the task calls that completed (matched by task and call order)."""
    store = client.store.orchestration
    flow_run = store.get_flow_run(flow_run_id)
    if flow_run.state not in (StateType.FAILED, StateType.CRASHED, StateType.TIMED_OUT, StateType.CANCELLED):
        raise InvalidInput(
            f"flow run {flow_run_id} is {flow_run.state}; "
            "only failed, crashed, timed-out or cancelled runs can be retried"
        )
    flow_ = load_flow(flow_run.entrypoint)
    if flow_run.parameters_ref:
        parameters = ResultStore(flow_run.parameters_ref.rsplit("/", 1)[0]).load(flow_run.parameters_ref)
    else:
        parameters = dict(flow_run.parameters)
    if flow_run_var.get() is not None:
        raise InvalidInput("retry_flow_run runs a flow run from the top level, not inside another flow")
    return run_flow(flow_, parameters, retry_of=flow_run, client=client)
