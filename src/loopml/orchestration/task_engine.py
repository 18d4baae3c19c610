"""Running one task call: states, retries, timeout, caching, result persistence, hooks.

Everything here runs in the flow's process (a task's body may run elsewhere: see runners.py).
The states of a run are kept in its :class:`TaskRecord` and written by the recorder in
batches, so a trivial task costs tens of microseconds, not a database round trip per state.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import traceback
import uuid
from collections.abc import Iterable
from typing import Any

from ..cache_policies import CacheContext, CachePolicy
from ..entities.flow import CacheEntry, StateType
from ..errors import RunTimedOut, UpstreamFailed
from .context import FlowRunContext, TaskRunContext, task_run_var
from .records import TaskRecord, now_ms
from .states import State

_SCALARS = (int, float, str, bool, type(None), bytes)
SCRIPT_MODULE = "__loopml_script__"  # the module name of a script loaded again by load_flow


def identity(fn: Any) -> str:
    """``module:qualname`` of a task or flow function: its key in the records and the cache.

    A script's functions (``python train.py``: module ``__main__``) are named by the script's
    path instead, so the tasks of two scripts never share a cache key and a flow run of a script
    can be loaded again (``load_flow``) to be retried.
    """
    module = getattr(fn, "__module__", None) or "?"
    qualname = getattr(fn, "__qualname__", None) or repr(fn)
    if module in ("__main__", SCRIPT_MODULE):
        filename = getattr(getattr(fn, "__code__", None), "co_filename", "")
        if filename.endswith(".py"):  # not "<stdin>", "<string>" or a notebook cell
            module = os.path.abspath(filename)
    return f"{module}:{qualname}"


def summarize(parameters: dict[str, Any]) -> dict[str, Any]:
    """Parameters as recorded: JSON scalars as they are, anything else as a short repr."""
    out: dict[str, Any] = {}
    for key, value in parameters.items():
        kind = type(value)
        if (
            value is None
            or kind is bool
            or kind is int
            or kind is float
            or (kind is str and len(value) <= 200)
        ):
            out[key] = value
        else:
            text = repr(value)
            out[key] = text if len(text) <= 200 else text[:197] + "..."
    return out


def describe(exc: BaseException) -> str:
    """Type, message and traceback of an exception, as recorded with a failed state."""
    text = "".join(traceback.format_exception(exc))
    return text if len(text) <= 20_000 else text[:10_000] + "\n...\n" + text[-10_000:]


def resolve(value: Any) -> Any:
    """A task argument with the futures and states it holds replaced by their results."""
    from .futures import TaskFuture

    kind = type(value)
    if kind in _SCALARS:
        return value
    if isinstance(value, TaskFuture):
        return _upstream(value.wait_state())
    if isinstance(value, State):
        return _upstream(value)
    if kind is list or kind is tuple:
        return kind(resolve(v) for v in value)
    if kind is dict:
        return {k: resolve(v) for k, v in value.items()}
    return value


def upstream_ids(values: Iterable[Any]) -> tuple[str, ...]:
    """The task runs behind the futures and states among ``values`` (looked into as
    :func:`resolve` looks), each once, in order."""
    from .futures import TaskFuture

    found: dict[str, None] = {}

    def visit(value: Any) -> None:
        kind = type(value)
        if kind in _SCALARS:
            return
        if isinstance(value, TaskFuture | State):
            if value.task_run_id:
                found[value.task_run_id] = None
        elif kind is list or kind is tuple:
            for v in value:
                visit(v)
        elif kind is dict:
            for v in value.values():
                visit(v)

    for value in values:
        visit(value)
    return tuple(found)


def _upstream(state: State) -> Any:
    if not state.is_completed():
        raise UpstreamFailed(
            f"an upstream task run ended {state.name}: {state.message}", task_run_id=state.task_run_id
        )
    return state.result()


class TaskCall:
    """One call of a task in a flow run, ready to run (now, or in a runner's thread)."""

    __slots__ = ("args", "earlier", "flow", "kwargs", "record", "session", "task", "wait_for")

    def __init__(
        self,
        task: Any,
        flow: FlowRunContext,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        wait_for: tuple[Any, ...] = (),
        session: Any = None,
    ) -> None:
        self.task = task
        self.flow = flow
        self.args = args
        self.kwargs = kwargs
        self.wait_for = wait_for
        self.session = session
        dynamic_key = flow.next_dynamic_key(task.task_key)
        # a retried flow run: the same call in an earlier attempt; this call continues its record
        earlier = flow.earlier.get((task.task_key, dynamic_key)) if flow.earlier else None
        self.earlier = earlier
        self.record = TaskRecord(
            task_run_id=uuid.uuid4().hex if earlier is None else earlier.task_run_id,
            flow_run_id=flow.flow_run_id,
            name=f"{task.name}-{dynamic_key}",  # the default run name, until run() formats its own
            task_key=task.task_key,
            dynamic_key=dynamic_key,
            parameters={},
            attempts=0 if earlier is None else earlier.attempts,
            history=[] if earlier is None else list(earlier.history),
        )

    def run(self) -> State:
        """Run it to a final state (never raises for the task's own failures)."""
        record = self.record
        try:
            inputs = self.task.bind(self.args, self.kwargs)
            record.upstream = upstream_ids((*inputs.values(), *self.wait_for))
            for dependency in self.wait_for:
                resolve(dependency)
            inputs = {k: resolve(v) for k, v in inputs.items()}
        except UpstreamFailed as exc:
            record.parameters = {}
            return self._final(StateType.CANCELLED, now_ms(), message=str(exc), exception=exc)
        record.parameters = summarize(inputs)
        record.name = self.task.run_name(inputs, record.dynamic_key)
        reused = self._earlier_result()
        if reused is not None:
            return reused
        cache_key = self._cache_key(inputs) if self.task.options.caches else None
        if cache_key is not None:
            record.cache_key = cache_key
            if not self.task.options.refresh_cache:
                hit = self._cached(cache_key)
                if hit is not None:
                    return hit
        return self._attempt(inputs, cache_key)

    # ---- steps ------------------------------------------------------------------------------

    def _earlier_result(self) -> State | None:
        """Completed in an earlier attempt of the flow run: its result, its record left as it is."""
        earlier, record = self.earlier, self.record
        if earlier is None or not earlier.state.is_success or not earlier.result_ref:
            return None
        try:
            value = self.flow.results.load(earlier.result_ref)
        except Exception:  # the result is gone: run it again
            return None
        return State(
            StateType.COMPLETED,
            now_ms(),
            message="result of the earlier attempt",
            value=value,
            task_run_id=record.task_run_id,
            flow_run_id=record.flow_run_id,
        )

    def _attempt(self, inputs: dict[str, Any], cache_key: str | None) -> State:
        """Run the body until it completes or its retries are spent."""
        options, record, recorder = self.task.options, self.record, self.flow.recorder
        delays = options.retry_delays() if options.retries else []
        before = record.attempts  # a continued record: each attempt of the flow run retries anew
        while True:
            record.attempts += 1
            started = now_ms()
            if record.start_time is None:
                record.start_time = started
            record.set_state(StateType.RUNNING, started)
            recorder.touch(record)
            try:
                value = self._call_body(inputs)
            except (KeyboardInterrupt, SystemExit) as exc:
                message = f"interrupted: {type(exc).__name__}"
                self._final(StateType.CRASHED, now_ms(), message=message, exception=exc)
                raise
            except BaseException as exc:
                tried = record.attempts - before
                if tried <= options.retries and self._should_retry(exc):
                    record.error = describe(exc)
                    record.set_state(StateType.RETRYING, now_ms())
                    recorder.touch(record)
                    wait = delays[tried - 1] if delays else 0.0
                    if wait > 0:
                        time.sleep(wait)
                    continue
                # its own timeout, not a RunTimedOut raised by something it called (a subflow)
                own = isinstance(exc, RunTimedOut) and exc.details.get("run_id") == record.task_run_id
                state_type = StateType.TIMED_OUT if own else StateType.FAILED
                message = f"{type(exc).__name__}: {exc}"
                return self._final(state_type, now_ms(), message=message, exception=exc)
            return self._completed(value, cache_key)

    def _call_body(self, inputs: dict[str, Any]) -> Any:
        task, record = self.task, self.record
        args, kwargs = task.call_arguments(inputs)
        token = task_run_var.set(TaskRunContext(record, task, self.flow))
        try:
            printing = task.prints_logged(self.flow)
            if printing is not None:
                with printing:
                    return self._invoke(args, kwargs)
            return self._invoke(args, kwargs)
        finally:
            task_run_var.reset(token)

    def _invoke(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        fn, timeout = self.task.fn, self.task.options.timeout_seconds
        session = self.session
        if timeout is None:
            if session is not None:
                return session.run_body(fn, args, kwargs)
            return fn(*args, **kwargs)
        return call_with_timeout(
            (lambda: session.run_body(fn, args, kwargs))
            if session is not None
            else (lambda: fn(*args, **kwargs)),
            timeout,
            f"task {self.record.name!r}",
            run_id=self.record.task_run_id,
        )

    def _should_retry(self, exc: BaseException) -> bool:
        options = self.task.options
        if options.retry_on:
            return isinstance(exc, options.retry_on)
        if options.retry_condition_fn is not None:
            state = State(
                StateType.FAILED,
                now_ms(),
                message=str(exc),
                exception=exc,
                task_run_id=self.record.task_run_id,
            )
            return bool(options.retry_condition_fn(self.task, self.record.snapshot(), state))
        return True

    def _cache_key(self, inputs: dict[str, Any]) -> str | None:
        options, task = self.task.options, self.task
        context = CacheContext(task.task_key, task.fn, inputs, self.flow.parameters)
        if options.cache_key_fn is not None:
            key = options.cache_key_fn(context, inputs)
            if key is None:
                return None
            # with the task's identity, as the policies' keys: two tasks never share a key by
            # accident, and whatever the function returns makes a safe file name for the result
            return hashlib.sha256(f"{task.task_key}\x1f{key}".encode()).hexdigest()
        policy: CachePolicy = options.cache_policy  # set: the options cache
        return policy.compute_key(context)

    def _cached(self, cache_key: str) -> State | None:
        flow = self.flow
        entry = flow.client.store.orchestration.get_cache_entry(cache_key, now_ms())
        if entry is None:
            return None
        try:
            value = flow.results.load(entry.result_ref)
        except Exception:  # a result file that is gone or unreadable is a miss
            return None
        self.record.result_ref = entry.result_ref
        return self._final(StateType.CACHED, now_ms(), value=value, message=f"cache hit {cache_key[:12]}")

    def _completed(self, value: Any, cache_key: str | None) -> State:
        options, record, flow = self.task.options, self.record, self.flow
        persist = options.persist_result
        if persist is None:
            persist = cache_key is not None or bool(flow.flow.options.persist_result)
        if persist:
            try:
                key = cache_key or record.task_run_id
                record.result_ref = flow.results.persist(key, value, owner=f"task {record.name!r}")
            except Exception as exc:
                return self._final(StateType.FAILED, now_ms(), message=str(exc), exception=exc)
            if cache_key is not None:
                expiration = options.cache_expiration
                created = now_ms()
                flow.client.store.orchestration.put_cache_entry(
                    CacheEntry(
                        cache_key=cache_key,
                        result_ref=record.result_ref,
                        task_key=record.task_key,
                        flow_name=flow.flow.name,
                        created_time=created,
                        expires_time=None
                        if expiration is None
                        else created + int(expiration.total_seconds() * 1000),
                    )
                )
        record.error = None
        return self._final(StateType.COMPLETED, now_ms(), value=value)

    def _final(
        self,
        state_type: StateType,
        at: int,
        *,
        message: str = "",
        value: Any = None,
        exception: BaseException | None = None,
    ) -> State:
        record = self.record
        if record.start_time is None:
            record.start_time = at
        record.end_time = at
        record.set_state(state_type, at)
        if exception is not None:
            record.error = describe(exception)
        self.flow.recorder.touch(record)
        if exception is not None:
            state = State(
                state_type,
                at,
                message=message,
                exception=exception,
                task_run_id=record.task_run_id,
                flow_run_id=record.flow_run_id,
            )
        else:
            state = State(
                state_type,
                at,
                message=message,
                value=value,
                task_run_id=record.task_run_id,
                flow_run_id=record.flow_run_id,
            )
        hooks = self.task.options.on_completion if state.is_completed() else self.task.options.on_failure
        for hook in hooks:
            run_hook(hook, self.task, record, state)
        return state


def run_hook(hook: Any, owner: Any, record: Any, state: State) -> None:
    """Call a hook; its failure is logged, never raised (the run's state is already final)."""
    import logging

    try:
        hook(owner, record.snapshot() if hasattr(record, "snapshot") else record, state)
    except Exception:
        logging.getLogger("loopml.orchestration").exception(
            "hook %r of %r failed", hook, getattr(owner, "name", owner)
        )


def call_with_timeout(call: Any, timeout: float, what: str, run_id: str) -> Any:
    """Run ``call`` in a helper thread and wait at most ``timeout`` seconds for it.

    Python cannot stop a thread: a call that times out keeps running in the background, its
    result discarded; the run is TimedOut at once. ``run_id`` (the run whose timeout this is)
    goes into the error's details, so an outer run tells its own timeout from an inner one's.
    """
    import contextvars

    outcome: list[Any] = []
    context = contextvars.copy_context()

    def target() -> None:
        try:
            outcome.append((True, context.run(call)))
        except BaseException as exc:
            outcome.append((False, exc))

    thread = threading.Thread(target=target, name="loopml-timeout", daemon=True)
    thread.start()
    thread.join(timeout)
    if not outcome:
        raise RunTimedOut(f"{what} did not finish within {timeout} s", timeout_seconds=timeout, run_id=run_id)
    ok, result = outcome[0]
    if ok:
        return result
    raise result
