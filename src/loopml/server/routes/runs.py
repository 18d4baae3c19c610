"""``/api/v1/runs``: runs, their params, metrics and tags (one by one or in a batch), metric
histories, dataset inputs, and the run search."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from ...entities import DatasetInput, Metric, Param, RunStatus, RunTag
from ...errors import InvalidInput
from ...store.base import Store, ViewType
from ..bodies import JSON_OBJECT_BODY, JsonBody, OptionalJsonBody, body_as, read_json_object
from ..dependencies import StoreDep, get_store
from ..responses import json_response, no_content

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/runs", tags=["runs"])


@dataclass(frozen=True)
class NewRun:
    """``run_id`` is chosen by the client (empty: the server picks one); ``start_time``
    defaults to now; ``artifact_uri`` to ``<experiment location>/<run_id>/artifacts``."""

    experiment_id: str
    run_name: str
    run_id: str = ""
    start_time: int | None = None
    artifact_uri: str | None = None
    user_id: str = ""
    source: str = ""
    parent_run_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunChange:
    run_name: str


@dataclass(frozen=True)
class Termination:
    status: str = RunStatus.FINISHED.value
    end_time: int | None = None


@dataclass(frozen=True)
class TagValue:
    value: str


@dataclass(frozen=True)
class Batch:
    metrics: list[Metric] = field(default_factory=list)
    params: list[Param] = field(default_factory=list)
    tags: list[RunTag] = field(default_factory=list)


@dataclass(frozen=True)
class Inputs:
    inputs: list[DatasetInput]
    dataset_ids: list[str] | None = None


@dataclass(frozen=True)
class RunSearch:
    experiment_ids: list[str]
    filter: str | None = None
    order_by: list[str] | None = None
    view: str = "active"
    max_results: int = 1000
    page_token: str | None = None


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _status(value: str) -> RunStatus:
    try:
        return RunStatus(value)
    except ValueError:
        valid = ", ".join(s.value for s in RunStatus)
        raise InvalidInput(f"unknown run status {value!r}; use one of {valid}", status=value) from None


def _view(value: str) -> ViewType:
    if value not in ("active", "deleted", "all"):
        raise InvalidInput(f"view must be one of active, deleted, all; got {value!r}", view=value)
    return value  # type: ignore[return-value]


# ---- the hot writes: matched first (routes are tried in order), run on the event loop ----------
#
# Coroutines, unlike the other endpoints: a metric point or a small batch is stored in ~0.1 ms
# on SQLite, less than the trip to the thread pool and back (0.2-0.3 ms) a `def` endpoint pays.
# The event loop waits for that write; a batch of more than INLINE_BATCH_VALUES values (whose
# decoding alone takes ~20 us per metric) goes to the thread pool instead. They read their body
# and store themselves (read_json_object, get_store: the same checks and the same store as
# JsonBody and StoreDep, without FastAPI's dependency solving, ~50 us a request); the app's
# own dependencies (authentication) still run before them.

#: The most values a batch may hold to be stored on the event loop.
INLINE_BATCH_VALUES = 100


@router.post(
    "/{run_id}/metrics", status_code=204, summary="Log one metric point", openapi_extra=JSON_OBJECT_BODY
)
async def log_metric(run_id: str, request: Request) -> Response:
    metric = body_as(Metric, await read_json_object(request), "the metric")
    (await get_store(request)).log_metric(run_id, metric)
    return no_content()


@router.post(
    "/{run_id}/batch",
    status_code=204,
    summary="Log metrics, params and tags in one transaction",
    openapi_extra=JSON_OBJECT_BODY,
)
async def log_batch(run_id: str, request: Request) -> Response:
    body = await read_json_object(request)
    store = await get_store(request)
    values = sum(
        len(part) for name in ("metrics", "params", "tags") if isinstance(part := body.get(name), list)
    )
    if values <= INLINE_BATCH_VALUES:
        _store_batch(store, run_id, body)
    else:
        await run_in_threadpool(_store_batch, store, run_id, body)
    return no_content()


def _store_batch(store: Store, run_id: str, body: dict[str, Any]) -> None:
    batch = body_as(Batch, body, "the batch")
    store.log_batch(run_id, batch.metrics, batch.params, batch.tags)


# ---- runs -------------------------------------------------------------------------------------


@router.post("", status_code=201, summary="Create a RUNNING run")
def create_run(body: JsonBody, store: StoreDep) -> Response:
    new = body_as(NewRun, body)
    run = store.create_run(
        run_id=new.run_id or uuid.uuid4().hex,
        experiment_id=new.experiment_id,
        run_name=new.run_name,
        start_time=_now_ms() if new.start_time is None else new.start_time,
        artifact_uri=new.artifact_uri,
        user_id=new.user_id,
        source=new.source,
        parent_run_id=new.parent_run_id,
        tags=new.tags,
    )
    return json_response(run, 201)


@router.post("/search", summary="Search runs: filter, order, one page")
def search_runs(body: JsonBody, store: StoreDep) -> Response:
    search = body_as(RunSearch, body)
    page = store.search_runs(
        search.experiment_ids,
        search.filter,
        search.order_by,
        _view(search.view),
        search.max_results,
        search.page_token,
    )
    return json_response(page)


@router.get("/{run_id}", summary="Read a run with its latest metrics, params and tags")
def get_run(run_id: str, store: StoreDep) -> Response:
    return json_response(store.get_run(run_id))


@router.patch("/{run_id}", status_code=204, summary="Rename a run")
def rename_run(run_id: str, body: JsonBody, store: StoreDep) -> Response:
    store.rename_run(run_id, body_as(RunChange, body).run_name)
    return no_content()


@router.delete("/{run_id}", status_code=204, summary="Delete a run (restorable)")
def delete_run(run_id: str, store: StoreDep) -> Response:
    store.delete_run(run_id)
    return no_content()


@router.post("/{run_id}/restore", status_code=204, summary="Restore a deleted run")
def restore_run(run_id: str, store: StoreDep) -> Response:
    store.restore_run(run_id)
    return no_content()


@router.post("/{run_id}/terminate", status_code=204, summary="End a run: FINISHED, FAILED or KILLED")
def terminate_run(run_id: str, store: StoreDep, body: OptionalJsonBody = None) -> Response:
    end = body_as(Termination, body or {})
    store.set_terminated(run_id, _status(end.status), _now_ms() if end.end_time is None else end.end_time)
    return no_content()


# ---- run data ---------------------------------------------------------------------------------


@router.post("/{run_id}/params", status_code=204, summary="Log one param")
def log_param(run_id: str, body: JsonBody, store: StoreDep) -> Response:
    store.log_param(run_id, body_as(Param, body, "the param"))
    return no_content()


@router.put("/{run_id}/tags/{key:path}", status_code=204, summary="Set a run tag")
def set_tag(run_id: str, key: str, body: JsonBody, store: StoreDep) -> Response:
    store.set_tag(run_id, RunTag(key, body_as(TagValue, body).value))
    return no_content()


@router.delete("/{run_id}/tags/{key:path}", status_code=204, summary="Delete a run tag")
def delete_tag(run_id: str, key: str, store: StoreDep) -> Response:
    store.delete_tag(run_id, key)
    return no_content()


#: The largest point budget ``max_points`` may ask for.
MAX_POINTS_LIMIT = 1_000_000


@router.get("/{run_id}/metrics/{key:path}/history", summary="Every point of a metric, in order")
def get_metric_history(run_id: str, key: str, store: StoreDep, max_points: int | None = None) -> Response:
    """Every point; with ``max_points``, at most that many, chosen to keep the shape of the
    curve (the first and last points, the min and max of each bucket: see
    :mod:`loopml.server.ui.downsample`), without the NaN and infinite values, and with
    ``total_points`` and ``non_finite_points`` added to the answer."""
    if max_points is None:
        return json_response(store.get_metric_history(run_id, key))
    from ..ui.downsample import MIN_POINTS, downsample

    if not MIN_POINTS <= max_points <= MAX_POINTS_LIMIT:
        raise InvalidInput(
            f"max_points must be between {MIN_POINTS} and {MAX_POINTS_LIMIT}, got {max_points}",
            max_points=max_points,
        )
    history = store.get_metric_history(run_id, key)
    points = downsample(history.steps, history.timestamps, history.values, max_points)
    return json_response(points.to_dict(history.key))


# ---- datasets ---------------------------------------------------------------------------------


@router.post("/{run_id}/inputs", status_code=204, summary="Record the datasets a run used")
def log_inputs(run_id: str, body: JsonBody, store: StoreDep) -> Response:
    given = body_as(Inputs, body, "the inputs")
    store.log_inputs(run_id, given.inputs, dataset_ids=given.dataset_ids)
    return no_content()


@router.get("/{run_id}/inputs", summary="The datasets a run used")
def get_run_inputs(run_id: str, store: StoreDep) -> Response:
    return json_response({"inputs": store.get_run_inputs(run_id)})
