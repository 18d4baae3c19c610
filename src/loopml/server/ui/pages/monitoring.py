"""The monitoring pages: ``/ui/monitoring`` (each monitored model with its latest monitoring run:
time, version, drift share, verdict) and ``/ui/monitoring/{model_name}`` (drift share and
per-column drift scores over time from the model's monitoring runs, the latest report, and every
monitoring run with its HTML report).

Monitoring runs are what :func:`loopml.monitoring.monitor` records: runs of the experiment
``monitoring`` tagged ``loopml.monitor.model`` / ``loopml.monitor.version``, with metrics stepped
by window start (seconds since the epoch) and the artifacts ``drift_report.html`` and
``drift_report.json``. Reports are served by ``/ui/monitoring/{model_name}/report/{run_id}``
under a sandboxing Content-Security-Policy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from ....entities import PagedList, PermissionLevel, Run
from ....errors import LoopmlError, NotFound
from ...permissions import UI_PREFIX
from ..access import MODEL, require, require_run
from ..routing import ui_router
from ..templating import error_page, render
from .models import filter_quote, page_links, user_store
from .monitoring_data import report_location, series_points

if TYPE_CHECKING:
    from ....store.base import Store

__all__ = ["router"]

router = ui_router()

MONITOR_EXPERIMENT = "monitoring"
MODEL_TAG, VERSION_TAG = "loopml.monitor.model", "loopml.monitor.version"
REPORT_HTML, REPORT_JSON = "drift_report.html", "drift_report.json"
#: Registered models per page of the list; monitoring runs per page of a model's runs.
MODELS_PER_PAGE = RUNS_PER_PAGE = 50
#: The newest monitoring runs the charts are drawn from, and the columns they show at most.
CHART_RUNS, CHART_COLUMNS = 50, 40
#: What a report page may do: run its own inline script, in an origin of its own, nothing else.
REPORT_POLICY = (
    "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline'; "
    "style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
)


@dataclass(frozen=True)
class Summary:
    """One monitoring run as the pages show it."""

    run_id: str
    run_name: str
    start_time: int
    version: str
    drift_share: float | None
    drifted_columns: float | None
    rows: float | None
    verdict: str  # "drift", "ok" or "no data"
    report_url: str | None  # the report page, when the report can be read
    raw_url: str | None  # the file through the artifacts API, when it is under the destination


def _monitor_filter(name: str) -> str:
    return f"tags.`{MODEL_TAG}` = {filter_quote(name)}"


def _experiment_id(store: Store) -> str | None:
    experiment = store.get_experiment_by_name(MONITOR_EXPERIMENT)
    return None if experiment is None else experiment.experiment_id


def _report(request: Request, run: Run) -> dict[str, Any] | None:
    """The ``dataset`` and ``columns`` of the run's drift_report.json (None when unreadable)."""
    where = report_location(request, run.info.artifact_uri)
    if where is None:
        return None
    files, prefix = where
    try:
        doc = json.loads(files.read_bytes(f"{prefix}/{REPORT_JSON}"))
    except (LoopmlError, ValueError, OSError):
        return None
    return doc if isinstance(doc, dict) else None


def summarize(request: Request, model: str, run: Run, report: dict[str, Any] | None) -> Summary:
    """A monitoring run: its latest window's numbers and verdict, and where its report is."""
    metrics = run.data.metrics
    dataset = (report or {}).get("dataset") or {}
    if "drift_detected" in dataset:
        verdict = "drift" if dataset["drift_detected"] else "ok"
    else:
        verdict = "no data" if "drift_share" not in metrics else "unknown"
    where = report_location(request, run.info.artifact_uri)
    page = f"{UI_PREFIX}/monitoring/{quote(model, safe='')}/report/{run.info.run_id}"
    raw = None if where is None else f"/api/v1/artifacts/{quote(where[1])}/{REPORT_HTML}"
    return Summary(
        run.info.run_id,
        run.info.run_name,
        run.info.start_time,
        run.data.tags.get(VERSION_TAG, "—"),
        metrics.get("drift_share"),
        metrics.get("drifted_columns"),
        metrics.get("rows"),
        verdict,
        None if where is None else page,
        raw,
    )


# ---- /ui/monitoring -------------------------------------------------------------------------------


@router.get("/monitoring")
def monitoring_list(request: Request, page: str = "") -> HTMLResponse:
    """One row per monitored model (of one page of the registered models the user may read)."""
    store = user_store(request)
    found = store.registry.search_registered_models(None, None, MODELS_PER_PAGE, page or None)
    experiment_id = _experiment_id(store)
    rows = []
    for model in found if experiment_id is not None else []:
        latest = store.search_runs([str(experiment_id)], _monitor_filter(model.name), None, "active", 1)
        if latest:
            rows.append((model, summarize(request, model.name, latest[0], _report(request, latest[0]))))
    links = page_links(f"{UI_PREFIX}/monitoring", page, found.token, MODELS_PER_PAGE)
    return render(
        request,
        "monitoring.html",
        section="monitoring",
        rows=rows,
        unmonitored=len(found) - len(rows),
        pager=links,
        pager_label=links.label(len(found), "registered models") if found else "",
    )


# ---- /ui/monitoring/{model_name} ------------------------------------------------------------------


def _not_found(request: Request, message: str) -> HTMLResponse:
    return error_page(
        request,
        404,
        message=message,
        back=f"{UI_PREFIX}/monitoring",
        back_label="monitoring",
    )


@router.get("/monitoring/{model_name}")
def monitoring_model(request: Request, model_name: str, page: str = "") -> HTMLResponse:
    """Drift share and column scores over time, the latest report, the monitoring runs."""
    try:
        require(request, PermissionLevel.READ, MODEL, model_name)
        store = user_store(request)
        store.registry.get_registered_model(model_name)
    except NotFound as exc:
        return _not_found(request, exc.message)
    recent, listed = _monitoring_runs(store, model_name, page)
    latest_report = _report(request, recent[0]) if recent else None
    latest = summarize(request, model_name, recent[0], latest_report) if recent else None
    runs = [summarize(request, model_name, run, None) for run in listed]
    path = f"{UI_PREFIX}/monitoring/{quote(model_name, safe='')}"
    links = page_links(path, page, listed.token, RUNS_PER_PAGE)
    return render(
        request,
        "monitoring_model.html",
        section="monitoring",
        model_name=model_name,
        latest=latest,
        columns=_column_rows(latest_report),
        threshold=((latest_report or {}).get("dataset") or {}).get("drift_share_threshold"),
        charts=series_points(store, recent, CHART_COLUMNS) if recent else None,
        runs=runs,
        pager=links,
        pager_label=links.label(len(runs), "monitoring runs"),
    )


def _monitoring_runs(store: Store, model_name: str, page: str) -> tuple[list[Run], PagedList[Run]]:
    """The newest monitoring runs of the model (for the charts) and the page of them listed."""
    experiment_id = _experiment_id(store)
    if experiment_id is None:
        return [], PagedList([], None)
    where = _monitor_filter(model_name)
    recent = list(store.search_runs([experiment_id], where, None, "active", CHART_RUNS))
    listed = store.search_runs([experiment_id], where, None, "active", RUNS_PER_PAGE, page or None)
    return recent, listed


def _column_rows(report: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The latest report's columns, drifted first, then by effect size."""
    columns = (report or {}).get("columns") or {}
    rows = []
    for name, entry in columns.items():
        effect = entry.get("effect") or {}
        rows.append(
            {
                "name": name,
                "kind": entry.get("kind"),
                "test": entry.get("test"),
                "statistic": entry.get("statistic"),
                "p_value": entry.get("p_value"),
                "effect": effect.get("value"),
                "effect_name": effect.get("name"),
                "drift": bool(entry.get("drift_detected")),
            }
        )
    return sorted(rows, key=lambda r: (not r["drift"], -(r["effect"] or r["statistic"] or 0.0)))


@router.get("/monitoring/{model_name}/report/{run_id}")
def monitoring_report(request: Request, model_name: str, run_id: str) -> Response:
    """A monitoring run's HTML report, sandboxed (its script runs in an origin of its own)."""
    try:
        require(request, PermissionLevel.READ, MODEL, model_name)
        require_run(request, run_id)
        run = request.app.state.store.get_run(run_id)
        if run.data.tags.get(MODEL_TAG) != model_name:
            raise NotFound(f"run {run_id!r} is not a monitoring run of {model_name!r}", run_id=run_id)
        where = report_location(request, run.info.artifact_uri)
        if where is None:
            raise NotFound(
                f"the report of run {run_id!r} is stored outside the server's artifacts destination "
                f"({run.info.artifact_uri}); download it with the client",
                run_id=run_id,
            )
        files, prefix = where
        body = files.read_bytes(f"{prefix}/{REPORT_HTML}")
    except NotFound as exc:
        return _not_found(request, exc.message)
    headers = {
        "Content-Security-Policy": REPORT_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }
    return Response(body, media_type="text/html; charset=utf-8", headers=headers)
