"""The orchestration records: ``/api/v1/flow-runs`` (flow runs, their task runs and logs),
``/api/v1/records`` (the engine's batched write), ``/api/v1/run-artifacts`` and
``/api/v1/task-cache``.

Each endpoint calls one method of the store's
:class:`~loopml.store.base.OrchestrationStore`. Records are read from JSON *as sent*:
containers take their entity shape (a history becomes pairs, tags a tuple) and every value
is left for the store to check, so a bad value is refused with the store's own message,
naming the record and the field, exactly as in process. Reads run the store's crash
detection (a RUNNING flow run of a dead process on the server's host, or with a stale
heartbeat, is marked CRASHED first).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar, cast

from fastapi import APIRouter, Query, Response

from ...entities import CacheEntry, FlowRun, LogRecord, RunArtifact, TaskRun
from ...errors import InvalidInput
from ..bodies import JsonBody, body_as
from ..dependencies import StoreDep
from ..responses import json_response, no_content

__all__ = ["record_as", "router"]

router = APIRouter(prefix="/api/v1", tags=["orchestration"])

T = TypeVar("T")
_FLOW_RUN = "/flow-runs/{flow_run_id}"


@functools.cache
def _fields(kind: type) -> tuple[frozenset[str], frozenset[str]]:
    """(every field, the required ones) of a dataclass."""
    every = dataclasses.fields(kind)
    required = {
        f.name for f in every if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    return frozenset(f.name for f in every), frozenset(required)


def _pairs(value: Any) -> Any:
    """A JSON history (``[[state, ms], ...]``) as the entity holds it; anything else as sent."""
    if type(value) is list:
        return tuple(tuple(entry) if type(entry) is list else entry for entry in value)
    return value


def record_as(kind: type[T], data: Any, what: str) -> T:
    """``data`` (a JSON object) as a ``kind`` record with its values as sent: unknown and
    missing fields are InvalidInput here, the values are the store's to check."""
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{what} must be a JSON object, got {type(data).__name__} {data!r:.100}")
    every, required = _fields(cast(type, kind))
    if not every.issuperset(data):
        unknown = sorted(set(data) - every)
        raise InvalidInput(
            f"{what} has unknown field(s) {', '.join(map(repr, unknown))}; "
            f"expected: {', '.join(sorted(every))}",
            fields=unknown,
        )
    if not required.issubset(data):
        missing = sorted(required - set(data))
        raise InvalidInput(f"{what} lacks the field(s) {', '.join(map(repr, missing))}", fields=missing)
    values = dict(data)
    if "history" in values:
        values["history"] = _pairs(values["history"])
    if type(values.get("tags")) is list:
        values["tags"] = tuple(values["tags"])
    return kind(**values)


def _records(kind: type[T], data: Any, what: str) -> list[T]:
    if data is None:
        return []
    if not isinstance(data, list):
        raise InvalidInput(f"field {what!r} of the records must be a list, got {type(data).__name__}")
    single = what[:-1].replace("_", " ")
    return [record_as(kind, item, f"{single} #{i} of the records") for i, item in enumerate(data)]


@dataclass(frozen=True)
class FlowRunSearch:
    flow_name: str | None = None
    states: list[str] | None = None
    parent_flow_run_id: str | None = None
    max_results: int = 100
    page_token: str | None = None


@dataclass(frozen=True)
class Heartbeat:
    flow_run_ids: list[str]
    now: int


# ---- flow runs --------------------------------------------------------------------------------------


@router.post("/flow-runs", status_code=201, summary="Record a new flow run (its id is the client's)")
def create_flow_run(body: JsonBody, store: StoreDep) -> Response:
    flow_run = record_as(FlowRun, body, "the flow run")
    store.orchestration.create_flow_run(flow_run)
    return json_response(flow_run, 201)


@router.post("/flow-runs/search", summary="Flow runs, newest first: by flow, states, parent; one page")
def search_flow_runs(body: JsonBody, store: StoreDep) -> Response:
    search = body_as(FlowRunSearch, body)
    page = store.orchestration.search_flow_runs(
        search.flow_name,
        search.states,  # type: ignore[arg-type]  # names: the store checks them
        search.parent_flow_run_id,
        search.max_results,
        search.page_token,
    )
    return json_response(page)


@router.post("/flow-runs/heartbeat", status_code=204, summary="The process running these flow runs is alive")
def heartbeat(body: JsonBody, store: StoreDep) -> Response:
    beat = body_as(Heartbeat, body)
    store.orchestration.heartbeat(beat.flow_run_ids, beat.now)
    return no_content()


@router.get(_FLOW_RUN, summary="Read a flow run")
def get_flow_run(flow_run_id: str, store: StoreDep) -> Response:
    return json_response(store.orchestration.get_flow_run(flow_run_id))


_UPDATE_FIELDS = frozenset(
    {"state", "history", "end_time", "error", "tracking_run_id", "attempts", "host", "pid", "heartbeat_time"}
)


@router.patch(_FLOW_RUN, status_code=204, summary="Set a flow run's state, history, end and error")
def update_flow_run(flow_run_id: str, body: JsonBody, store: StoreDep) -> Response:
    """``state`` and ``history`` are required; ``end_time`` and ``error`` are set as given
    (null or left out clears them); the other fields change only when given."""
    unknown = sorted(set(body) - _UPDATE_FIELDS)
    if unknown:
        raise InvalidInput(
            f"the flow run change has unknown field(s) {', '.join(map(repr, unknown))}; "
            f"expected: {', '.join(sorted(_UPDATE_FIELDS))}",
            fields=unknown,
        )
    missing = [name for name in ("state", "history") if name not in body]
    if missing:
        raise InvalidInput(f"the flow run change lacks the field(s) {', '.join(map(repr, missing))}")
    store.orchestration.update_flow_run(
        flow_run_id,
        state=body["state"],
        history=_pairs(body["history"]),
        **{name: body.get(name) for name in sorted(_UPDATE_FIELDS - {"state", "history"})},
    )
    return no_content()


@router.get(_FLOW_RUN + "/task-runs", summary="The task runs of a flow run, by start time")
def get_task_runs(flow_run_id: str, store: StoreDep) -> Response:
    return json_response({"task_runs": store.orchestration.get_task_runs(flow_run_id)})


@router.get(_FLOW_RUN + "/logs", summary="The logs of a flow run (or of one of its task runs)")
def get_logs(flow_run_id: str, store: StoreDep, task_run_id: str | None = None) -> Response:
    return json_response({"logs": store.orchestration.get_logs(flow_run_id, task_run_id)})


# ---- the batched write, run artifacts -------------------------------------------------------------------


@router.post(
    "/records", status_code=204, summary="Upsert task runs, append logs and artifacts, in one transaction"
)
def write_records(body: JsonBody, store: StoreDep) -> Response:
    unknown = sorted(set(body) - {"task_runs", "logs", "artifacts"})
    if unknown:
        raise InvalidInput(
            f"the records have unknown field(s) {', '.join(map(repr, unknown))}; "
            "expected: task_runs, logs, artifacts",
            fields=unknown,
        )
    store.orchestration.write_records(
        _records(TaskRun, body.get("task_runs"), "task_runs"),
        _records(LogRecord, body.get("logs"), "logs"),
        _records(RunArtifact, body.get("artifacts"), "artifacts"),
    )
    return no_content()


@router.get("/run-artifacts", summary="Run artifacts of a flow run and/or with a key, oldest first")
def get_artifacts(store: StoreDep, flow_run_id: str | None = None, key: str | None = None) -> Response:
    return json_response({"artifacts": store.orchestration.get_artifacts(flow_run_id, key)})


# ---- the task cache -----------------------------------------------------------------------------------


@router.get("/task-cache/{cache_key:path}", summary="A cached task result, unless missing or expired")
def get_cache_entry(cache_key: str, now: int, store: StoreDep) -> Response:
    return json_response({"entry": store.orchestration.get_cache_entry(cache_key, now)})


@router.post("/task-cache", status_code=204, summary="Store a cached task result (replaces one with its key)")
def put_cache_entry(body: JsonBody, store: StoreDep) -> Response:
    store.orchestration.put_cache_entry(record_as(CacheEntry, body, "the cache entry"))
    return no_content()


@router.delete("/task-cache", summary="Remove cache entries (all, or of a flow and/or a task)")
def clear_cache(
    store: StoreDep,
    flow_name: Annotated[str | None, Query()] = None,
    task_key: Annotated[str | None, Query()] = None,
) -> Response:
    return json_response({"removed": store.orchestration.clear_cache(flow_name, task_key)})
