"""The UI's flows pages: ``/ui/flows`` (flow runs, filtered by state and flow, paged by the
store) and ``/ui/flows/{flow_run_id}`` (a flow run: its header, task-run timeline and table, logs,
artifacts, subflows and tracking run).

The flow run page stays fast at 10,000 task runs: the page itself carries no task runs; its
script fetches them once as compact JSON (``tasks.json``, ~60 bytes a task) and draws only the
rows in view (the timeline) or on the current page (the table, 200 a page). Logs come a page at a
time from ``logs.json``, filtered by level and text on the server.
"""

from __future__ import annotations

import time
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request, Response
from fastapi.responses import HTMLResponse

from ....entities import FlowRun, PermissionLevel, StateType
from ....errors import InvalidInput, NotFound, PermissionDenied
from ...permissions import UI_PREFIX
from ..access import require_run
from ..routing import ui_router
from ..templating import error_page, render
from .flow_cache import flow_tasks
from .flow_views import LOG_LEVELS, artifact_views, log_page

__all__ = ["PAGE_SIZE", "router"]

router = ui_router()

#: Flow runs per page of the list.
PAGE_SIZE = 50
_SUBFLOWS = 100
_JSON_HEADERS = {"Cache-Control": "no-store"}


def _now() -> int:
    return time.time_ns() // 1_000_000


def _orchestration(request: Request) -> Any:
    return request.app.state.store.orchestration


# ---- /ui/flows ------------------------------------------------------------------------------------


@router.get("/flows")
def flow_runs(
    request: Request,
    flow: Annotated[str, Query()] = "",
    state: Annotated[list[str] | None, Query()] = None,
    page: Annotated[str, Query()] = "",
) -> HTMLResponse:
    """The flow runs, newest first, a page at a time; a bad state or page token is shown next to
    the filter (with no runs) rather than as an error page."""
    from ....store.paging import decode_page_token, encode_page_token

    chosen = [s.strip().upper() for s in state or () if s.strip()]
    flow_name = flow.strip()
    error = None
    try:
        offset = decode_page_token(page)
        runs = _orchestration(request).search_flow_runs(
            flow_name or None, chosen or None, None, PAGE_SIZE, page or None
        )
    except InvalidInput as exc:
        offset, error = 0, exc.message
        runs = None

    def link(at: int | None) -> str | None:
        if at is None:
            return None
        query: list[tuple[str, str]] = [("flow", flow_name)] if flow_name else []
        query += [("state", s) for s in chosen]
        if at:
            query.append(("page", encode_page_token(at)))
        return f"{UI_PREFIX}/flows" + (f"?{urlencode(query)}" if query else "")

    shown = list(runs or [])
    return render(
        request,
        "flows.html",
        section="flows",
        runs=shown,
        now=_now(),
        states=[s.value for s in StateType],
        chosen=chosen,
        flow=flow_name,
        error=error,
        previous_url=link(max(offset - PAGE_SIZE, 0) if offset else None),
        next_url=link(offset + PAGE_SIZE if runs is not None and runs.token else None),
        where=f"{offset + 1}\u2013{offset + len(shown)}" if shown else "",
    )


# ---- /ui/flows/{flow_run_id} ----------------------------------------------------------------------


def _flow_run_or_404(request: Request, flow_run_id: str) -> FlowRun | HTMLResponse:
    try:
        flow_run: FlowRun = _orchestration(request).get_flow_run(flow_run_id)
    except NotFound:
        return error_page(
            request,
            404,
            message=f"There is no flow run with id {flow_run_id!r}.",
            back=f"{UI_PREFIX}/flows",
            back_label="flow runs",
        )
    return flow_run


@router.get("/flows/{flow_run_id}")
def flow_run_page(request: Request, flow_run_id: str) -> HTMLResponse:
    """A flow run: header, links, artifacts; the timeline, task table and logs are drawn by
    ``flows.js`` from the JSON routes below."""
    found = _flow_run_or_404(request, flow_run_id)
    if isinstance(found, HTMLResponse):
        return found
    store = _orchestration(request)
    artifacts = store.get_artifacts(flow_run_id)
    names = flow_tasks(request.app.state, store, found).names if any(a.task_run_id for a in artifacts) else {}
    subflows = store.search_flow_runs(parent_flow_run_id=flow_run_id, max_results=_SUBFLOWS)
    parent = _flow_run_or_none(store, found.parent_flow_run_id)
    return render(
        request,
        "flow_run.html",
        section="flows",
        run=found,
        now=_now(),
        parent=parent,
        subflows=list(subflows),
        more_subflows=subflows.token is not None,
        tracking=_tracking_link(request, found.tracking_run_id),
        artifacts=artifact_views(artifacts, names),
        levels=list(LOG_LEVELS),
    )


def _flow_run_or_none(store: Any, flow_run_id: str | None) -> FlowRun | None:
    if flow_run_id is None:
        return None
    try:
        found: FlowRun = store.get_flow_run(flow_run_id)
    except NotFound:
        return None
    return found


def _tracking_link(request: Request, run_id: str | None) -> dict[str, Any] | None:
    """The tracking run: a link when the user may read it, else its id with the reason."""
    if run_id is None:
        return None
    try:
        require_run(request, run_id, PermissionLevel.READ)
    except NotFound:
        return {"run_id": run_id, "url": None, "note": "not found (deleted, or not yours to read)"}
    except PermissionDenied as exc:
        return {"run_id": run_id, "url": None, "note": exc.message}
    return {"run_id": run_id, "url": f"{UI_PREFIX}/runs/{run_id}", "note": None}


@router.get("/flows/{flow_run_id}/tasks.json")
def flow_run_tasks(request: Request, flow_run_id: str) -> Response:
    """Every task run of the flow run, compact (see :func:`~.flow_views.task_list`)."""
    store = _orchestration(request)
    body = flow_tasks(request.app.state, store, store.get_flow_run(flow_run_id)).compact
    return Response(body, media_type="application/json", headers=_JSON_HEADERS)


@router.get("/flows/{flow_run_id}/logs.json")
def flow_run_logs(
    request: Request,
    flow_run_id: str,
    level: Annotated[str, Query()] = "",
    q: Annotated[str, Query(max_length=200)] = "",
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    task: Annotated[str, Query()] = "",
) -> Response:
    """A page of the flow run's logs at ``level`` or above containing ``q`` (of the task runs
    named ``task`` when given)."""
    if level and level.upper() not in LOG_LEVELS:
        raise InvalidInput(f"unknown log level {level!r}; choose one of {', '.join(LOG_LEVELS)}")
    store = _orchestration(request)
    flow_run = store.get_flow_run(flow_run_id)
    logs = store.get_logs(flow_run_id)
    names = flow_tasks(request.app.state, store, flow_run).names if any(r.task_run_id for r in logs) else {}
    if task:
        ids = {i for i, name in names.items() if name == task}
        logs = [r for r in logs if r.task_run_id in ids]
    min_level = LOG_LEVELS[level.upper()] if level else 0
    found = log_page(logs, names, min_level=min_level, text=q, offset=offset, limit=limit)
    return Response(found.as_json(), media_type="application/json", headers=_JSON_HEADERS)
