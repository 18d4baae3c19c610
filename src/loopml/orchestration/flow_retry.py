"""Retrying a recorded flow run: find its flow by entrypoint, and run it again from the failure."""

from __future__ import annotations

import os
from typing import Any

from ..entities.flow import StateType
from ..errors import InvalidInput, NotFound
from .context import flow_run_var
from .flow import Flow
from .flow_engine import run_flow
from .results import ResultStore
from .states import State
from .task_engine import SCRIPT_MODULE


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
