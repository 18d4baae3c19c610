"""Running a flow run: record it, enter its context, call the function (with retries and a
timeout), then record how it ended.

A flow call writes its flow run when it starts and when it ends (two short transactions);
everything its tasks do is buffered by the recorder and written before the call returns.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import socket
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..entities.flow import FlowRun, StateType, TaskRun
from ..errors import InvalidInput, RunTimedOut
from .context import FlowRunContext, flow_run_var, task_run_var
from .records import Recorder, now_ms
from .results import ResultStore
from .states import State
from .task_engine import call_with_timeout, describe, run_hook, summarize

if TYPE_CHECKING:
    from .flow import Flow

_MAX_JSON_PARAMETERS = 16_384  # bytes; larger parameters are pickled beside the results


def run_flow(
    flow_: Flow, parameters: dict[str, Any], *, retry_of: FlowRun | None = None, client: Any = None
) -> State:
    """Run one flow run to a final state; the records are all written when this returns.

    ``client``: whose store records it (default: the parent flow's, or the fluent API's).
    ``retry_of``: a recorded flow run to continue (its completed task calls are reused).
    """
    from ..tracking.fluent import _client

    parent = flow_run_var.get()
    if client is None:
        client = parent.client if parent is not None else _client()
    results = _result_store(flow_, client, parent)
    store = client.store.orchestration
    if retry_of is None:
        run = _new_flow_run(flow_, parameters, results, parent)
        store.create_flow_run(run)
        earlier: dict[tuple[str, str], TaskRun] = {}
    else:
        run = _resumed_flow_run(retry_of)
        store.update_flow_run(
            run.flow_run_id,
            state=run.state,
            history=run.history,
            attempts=run.attempts,
            host=run.host,
            pid=run.pid,
            heartbeat_time=run.heartbeat_time,
        )
        earlier = {(t.task_key, t.dynamic_key): t for t in store.get_task_runs(run.flow_run_id)}
    recorder = parent.recorder if parent is not None else Recorder(store)
    ctx = FlowRunContext(
        flow_run_id=run.flow_run_id,
        name=run.name,
        flow=flow_,
        parameters=parameters,
        client=client,
        recorder=recorder,
        results=results,
        parent=parent,
        earlier=earlier,
    )
    recorder.watch(run.flow_run_id)
    return _execute(flow_, ctx, list(run.history), run.attempts, is_root=parent is None)


def _result_store(flow_: Flow, client: Any, parent: FlowRunContext | None) -> ResultStore:
    """The parent's result store when the storage is the same (its memo is shared), else a new one."""
    storage = flow_.options.result_storage or client.settings.resolved_result_storage
    if parent is not None and parent.results.root == storage.rstrip("/"):
        return parent.results
    return ResultStore(storage)


def _new_flow_run(
    flow_: Flow, parameters: dict[str, Any], results: ResultStore, parent: FlowRunContext | None
) -> FlowRun:
    started = now_ms()
    flow_run_id = uuid.uuid4().hex
    json_parameters, parameters_ref = _recordable(parameters, results, flow_run_id)
    parent_task = task_run_var.get()
    return FlowRun(
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
        history=((StateType.RUNNING, started),),
    )


def _resumed_flow_run(earlier: FlowRun) -> FlowRun:
    """The next attempt of a recorded flow run, run by this process."""
    started = now_ms()
    return dataclasses.replace(
        earlier,
        state=StateType.RUNNING,
        history=(*earlier.history, (StateType.RUNNING, started)),
        attempts=earlier.attempts + 1,
        host=socket.gethostname(),
        pid=os.getpid(),
        heartbeat_time=started,
    )


@dataclasses.dataclass
class _Outcome:
    """How the flow function ended: its state type, and its value or exception."""

    state_type: StateType = StateType.CRASHED
    value: Any = None
    exception: BaseException | None = None

    def state(self, at: int, flow_run_id: str) -> State:
        exc = self.exception
        if exc is not None:
            message = f"{type(exc).__name__}: {exc}"
            return State(self.state_type, at, message=message, exception=exc, flow_run_id=flow_run_id)
        return State(self.state_type, at, value=self.value, flow_run_id=flow_run_id)


def _execute(
    flow_: Flow, ctx: FlowRunContext, history: list[tuple[StateType, int]], attempts: int, *, is_root: bool
) -> State:
    outcome = _Outcome()
    try:
        with _entered(ctx):
            attempts = _attempt(flow_, ctx, history, attempts, outcome)
    finally:  # KeyboardInterrupt and SystemExit too: recorded Crashed, then re-raised
        ended = _record_end(ctx, history, attempts, outcome, is_root=is_root)
    state = outcome.state(ended, ctx.flow_run_id)
    options = flow_.options
    run = _FlowRunRef(ctx.flow_run_id, ctx.name)
    for hook in options.on_completion if state.is_completed() else options.on_failure:
        run_hook(hook, flow_, run, state)
    return state


@contextlib.contextmanager
def _entered(ctx: FlowRunContext) -> Iterator[None]:
    """The flow run is the current one (and its tracking run the active run when it has an
    ``experiment``) while inside."""
    from ..tracking import fluent

    with contextlib.ExitStack() as stack:
        stack.callback(flow_run_var.reset, flow_run_var.set(ctx))
        stack.callback(task_run_var.reset, task_run_var.set(None))
        opener = fluent.run_opener.set(functools.partial(_open_tracking_run, ctx))
        stack.callback(fluent.run_opener.reset, opener)
        if ctx.flow.options.experiment is not None:
            active = (*fluent._active_runs.get(), _open_tracking_run(ctx))
            stack.callback(fluent._active_runs.reset, fluent._active_runs.set(active))
        yield


def _attempt(
    flow_: Flow, ctx: FlowRunContext, history: list[tuple[StateType, int]], attempts: int, outcome: _Outcome
) -> int:
    """Call the flow function until it completes or its retries are spent; returns the attempts."""
    options = flow_.options
    delays = options.retry_delays() if options.retries else []
    retried = 0
    while True:
        try:
            outcome.value = _call(flow_, ctx)
            outcome.state_type = StateType.COMPLETED
            return attempts
        except (KeyboardInterrupt, SystemExit) as exc:
            outcome.state_type, outcome.exception = StateType.CRASHED, exc
            raise
        except BaseException as exc:
            if retried < options.retries:
                _prepare_retry(ctx, history, delays[retried] if delays else 0.0)
                retried += 1
                attempts += 1
                continue
            # TimedOut when the flow's own timeout ran out; a task's or subflow's time-out fails it
            own = isinstance(exc, RunTimedOut) and exc.details.get("run_id") == ctx.flow_run_id
            outcome.state_type = StateType.TIMED_OUT if own else StateType.FAILED
            outcome.exception = exc
            return attempts


def _prepare_retry(ctx: FlowRunContext, history: list[tuple[StateType, int]], wait: float) -> None:
    """Between two attempts: wait, let the first attempt's tasks finish, and continue its calls."""
    history.append((StateType.RETRYING, now_ms()))
    if wait > 0:
        time.sleep(wait)
    _close_session(ctx)
    ctx.earlier = _task_runs_so_far(ctx)
    ctx._counters.clear()
    history.append((StateType.RUNNING, now_ms()))


def _record_end(
    ctx: FlowRunContext,
    history: list[tuple[StateType, int]],
    attempts: int,
    outcome: _Outcome,
    *,
    is_root: bool,
) -> int:
    """Wait for the flow run's tasks, write every record, end its tracking run; returns the end time."""
    _close_session(ctx)
    ended = now_ms()
    state_type = outcome.state_type
    history.append((state_type, ended))
    if ctx.tracking_run is not None:
        from ..entities import RunStatus

        status = RunStatus.FINISHED if state_type is StateType.COMPLETED else RunStatus.FAILED
        ctx.tracking_run.client.set_terminated(ctx.tracking_run.run_id, status)
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
        error=describe(outcome.exception) if outcome.exception is not None else None,
        tracking_run_id=ctx.tracking_run.run_id if ctx.tracking_run is not None else None,
        attempts=attempts,
    )
    return ended


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
