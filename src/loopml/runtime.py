"""``loopml.runtime.flow_run`` and ``loopml.runtime.task_run``: what is running here, now.

Their attributes read the current context (None outside a flow or task run).
"""

from __future__ import annotations

from typing import Any

from .orchestration.context import flow_run_var, task_run_var


class _FlowRunView:
    @property
    def id(self) -> str | None:
        ctx = flow_run_var.get()
        return ctx.flow_run_id if ctx is not None else None

    @property
    def name(self) -> str | None:
        ctx = flow_run_var.get()
        return ctx.name if ctx is not None else None

    @property
    def flow_name(self) -> str | None:
        ctx = flow_run_var.get()
        return ctx.flow.name if ctx is not None else None

    @property
    def parameters(self) -> dict[str, Any]:
        ctx = flow_run_var.get()
        return dict(ctx.parameters) if ctx is not None else {}

    @property
    def tracking_run_id(self) -> str | None:
        ctx = flow_run_var.get()
        return ctx.tracking_run.run_id if ctx is not None and ctx.tracking_run is not None else None


class _TaskRunView:
    @property
    def id(self) -> str | None:
        ctx = task_run_var.get()
        return ctx.record.task_run_id if ctx is not None else None

    @property
    def name(self) -> str | None:
        ctx = task_run_var.get()
        return ctx.record.name if ctx is not None else None

    @property
    def task_name(self) -> str | None:
        ctx = task_run_var.get()
        return ctx.task.name if ctx is not None else None

    @property
    def attempt(self) -> int:
        ctx = task_run_var.get()
        return ctx.record.attempts if ctx is not None else 0


flow_run = _FlowRunView()
task_run = _TaskRunView()
