"""Task bodies that run in another process (process pool, Dask): what they take along and
what they bring back.

A body in a worker sees the same ``loopml.runtime`` values and ``get_run_logger()`` as in the
flow's process; its log records travel back with its result and are recorded with the task
run. Metrics it logs land in the flow's tracking run when the flow has one (``experiment=``,
or a run already opened in the flow), through a Client on the same tracking URI.
"""

from __future__ import annotations

import contextvars
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..entities.flow import LogRecord
from ..errors import InvalidInput
from .context import FlowRunContext, TaskRunContext, flow_run_var, task_run_var
from .records import Recorder, TaskRecord


@dataclass(frozen=True)
class RemoteRun:
    """What a body in another process knows of its task run (it pickles)."""

    flow_run_id: str
    flow_run_name: str
    flow_name: str
    parameters: dict[str, Any]
    task_run_id: str
    task_run_name: str
    task_name: str
    task_key: str
    dynamic_key: str
    attempt: int
    log_prints: bool
    tracking_uri: str
    artifact_root: str
    tracking_run_id: str | None

    @classmethod
    def of(cls, ctx: TaskRunContext, log_prints: bool) -> RemoteRun:
        flow, record = ctx.flow_run, ctx.record
        return cls(
            flow_run_id=flow.flow_run_id,
            flow_run_name=flow.name,
            flow_name=flow.flow.name,
            parameters=dict(record.parameters),
            task_run_id=record.task_run_id,
            task_run_name=record.name,
            task_name=ctx.task.name,
            task_key=record.task_key,
            dynamic_key=record.dynamic_key,
            attempt=record.attempts,
            log_prints=log_prints,
            tracking_uri=flow.client.tracking_uri,
            artifact_root=flow.client.artifact_root,
            tracking_run_id=flow.tracking_run.run_id if flow.tracking_run is not None else None,
        )


@dataclass
class RemoteOutcome:
    """What a worker sends back: the value (or the exception) and the log records."""

    ok: bool
    value: Any
    logs: list[LogRecord] = field(default_factory=list)


class _Logs:
    """The worker's stand-in store: the recorder's flush lands the log records here."""

    def __init__(self) -> None:
        self.records: list[LogRecord] = []

    def write_records(
        self, task_runs: Sequence[Any] = (), logs: Sequence[LogRecord] = (), artifacts: Sequence[Any] = ()
    ) -> None:
        self.records.extend(logs)


def call_remote(payload: bytes) -> RemoteOutcome:
    """Run a pickled ``(fn, args, kwargs, RemoteRun)`` in this (worker) process.

    In a fresh context: a forked worker holds a copy of the context of the task run that
    started it, which must not leak into the bodies it runs later.
    """
    import cloudpickle

    fn, args, kwargs, run = cloudpickle.loads(payload)
    return contextvars.Context().run(_run_in_worker, fn, args, kwargs, run)


def _run_in_worker(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], run: RemoteRun
) -> RemoteOutcome:
    from ..tracking import fluent

    logs = _Logs()
    recorder = Recorder(logs)
    flow = FlowRunContext(
        flow_run_id=run.flow_run_id,
        name=run.flow_run_name,
        flow=types.SimpleNamespace(name=run.flow_name),
        parameters=run.parameters,
        client=None,
        recorder=recorder,
        results=None,  # type: ignore[arg-type]  # a body never persists results itself
    )
    record = TaskRecord(
        run.task_run_id, run.flow_run_id, run.task_run_name, run.task_key, run.dynamic_key, run.parameters
    )
    record.attempts = run.attempt
    flow_run_var.set(flow)
    task_run_var.set(TaskRunContext(record, types.SimpleNamespace(name=run.task_name), flow))
    fluent.run_opener.set(_tracking_run_opener(run))
    try:
        if run.log_prints:
            from .run_logger import capture_prints

            with capture_prints(True):
                value = fn(*args, **kwargs)
        else:
            value = fn(*args, **kwargs)
        outcome = RemoteOutcome(True, value)
    except Exception as exc:
        outcome = RemoteOutcome(False, exc)
    recorder.flush()
    outcome.logs = logs.records
    return outcome


def _tracking_run_opener(run: RemoteRun) -> Callable[[], Any]:
    opened: list[Any] = []

    def opener() -> Any:
        if run.tracking_run_id is None:
            raise InvalidInput(
                f"task {run.task_name!r} runs in a worker process and its flow has no tracking run yet: "
                "give the flow experiment=..., log something in the flow before submitting, or open a run "
                "in the task with loopml.start_run()"
            )
        if not opened:
            from ..tracking.client import Client
            from ..tracking.fluent import ActiveRun

            client = Client(tracking_uri=run.tracking_uri, artifact_root=run.artifact_root)
            opened.append(ActiveRun(client.get_run(run.tracking_run_id), client))
        return opened[0]

    return opener


def payload(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes:
    """The body and the current task run's context, pickled for a worker (cloudpickle: local
    functions and lambdas too)."""
    import cloudpickle

    ctx = task_run_var.get()
    if ctx is None:
        raise InvalidInput("a task body is sent to a worker only from inside its task run")
    from .run_logger import capturing

    data: bytes = cloudpickle.dumps((fn, args, kwargs, RemoteRun.of(ctx, log_prints=capturing())))
    return data


def received(outcome: RemoteOutcome) -> Any:
    """Back in the flow's process: record the worker's logs, then return the value or raise."""
    ctx = task_run_var.get()
    if ctx is not None:
        for record in outcome.logs:
            ctx.flow_run.recorder.log(record)
    if not outcome.ok:
        raise outcome.value
    return outcome.value
