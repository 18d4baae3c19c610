"""The UI's run pages: ``/ui/runs/{run_id}`` (what a run recorded: params, latest metrics,
tags, datasets with their profile, logged models, parent and child runs, and a chart of every
metric) and ``/ui/runs/{run_id}/artifacts?path=P`` (the artifact browser with its preview
pane), plus ``/ui/runs/{run_id}/artifacts/raw?path=P``, a file's bytes for downloads and images.

Charts read ``GET /api/v1/runs/{run_id}/metrics/{key}/history?max_points=N`` (the REST API,
which checks READ itself): the server cuts a history down to N points that keep its shape
(:mod:`loopml.server.ui.downsample`), so a million-point history draws as fast as a small one.
Every page checks that the signed-in user may READ the run's experiment.
"""

from __future__ import annotations

import posixpath
import time
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from starlette.background import BackgroundTask

from ....artifacts.paths import safe_relpath
from ....entities import FileInfo, Run
from ....errors import InvalidInput, LoopmlError, NotFound
from ...permissions import UI_PREFIX
from ..access import require_run
from ..downsample import DEFAULT_POINTS
from ..routing import ui_router
from ..templating import error_page, render
from .run_artifacts import IMAGE_TYPES, RunArtifacts, human_size, missing, preview, run_artifacts
from .run_details import RunFamily, dataset_columns, find_models, run_family, system_tag

__all__ = ["router"]

router = ui_router()

#: Charts drawn as the page opens; the others when scrolled into view.
EAGER_CHARTS = 4
#: The most entries of a folder the artifact browser lists.
MAX_ENTRIES = 1_000
#: What a raw artifact may do in the browser: nothing but show itself (an SVG runs no script).
RAW_POLICY = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox"


def _run_or_404(request: Request, run_id: str) -> Run | Response:
    """The run when the user may READ it; else the 404 page leading back to the experiments."""
    try:
        require_run(request, run_id)
        run: Run = request.app.state.store.get_run(run_id)
    except NotFound:
        return error_page(
            request,
            404,
            title="Run not found",
            message=f"There is no run with id {run_id!r} (or you may not read it).",
            back=f"{UI_PREFIX}/experiments",
            back_label="the experiments",
            section="experiments",
        )
    return run


@router.get("/runs/{run_id}")
def run_page(request: Request, run_id: str) -> Response:
    found = _run_or_404(request, run_id)
    if isinstance(found, Response):
        return found
    run = found
    store = request.app.state.store
    artifacts = run_artifacts(request, run)
    models, models_error = [], ""
    if artifacts is not None:
        try:
            models = find_models(artifacts)
        except LoopmlError as exc:
            models_error = exc.message
    family = run_family(request, run)
    inputs = store.get_run_inputs(run.run_id)
    end = run.info.end_time
    return render(
        request,
        "run.html",
        section="experiments",
        run=run,
        experiment=store.get_experiment(run.info.experiment_id),
        duration=(end if end is not None else time.time_ns() // 1_000_000) - run.info.start_time,
        params=sorted(run.params.items()),
        metric_keys=sorted(run.metrics),
        user_tags=sorted((k, v) for k, v in run.tags.items() if not system_tag(k)),
        system_tags=sorted((k, v) for k, v in run.tags.items() if system_tag(k)),
        inputs=[(item, dataset_columns(item)) for item in inputs],
        models=models,
        models_error=models_error,
        family=family,
        artifacts_served=artifacts is not None,
        compare_url=_compare_url(run, family),
        max_points=DEFAULT_POINTS,
        eager_charts=EAGER_CHARTS,
    )


def _compare_url(run: Run, family: RunFamily) -> str | None:
    """The compare page of the run with its (readable) parent and its first 20 children."""
    ids = [run.run_id] if family.parent is None else [family.parent.run_id, run.run_id]
    ids += [child.run_id for child in family.children[:20]]
    return f"{UI_PREFIX}/compare?{urlencode({'runs': ','.join(ids)})}" if len(ids) > 1 else None


@router.get("/runs/{run_id}/artifacts")
def artifacts_page(request: Request, run_id: str, path: str = "") -> Response:
    found = _run_or_404(request, run_id)
    if isinstance(found, Response):
        return found
    run = found
    artifacts = run_artifacts(request, run)
    experiment = request.app.state.store.get_experiment(run.info.experiment_id)
    context: dict[str, Any] = {
        "section": "experiments",
        "run": run,
        "experiment_name": experiment.name,
        "path": path,
        "crumbs": [],
        "size": human_size,
        "hidden_entries": 0,
    }
    if artifacts is None:
        return render(request, "artifacts.html", served=False, entries=[], shown=None, folder="", **context)
    try:
        rel = safe_relpath(path)
        folder, entries, shown = _browse(artifacts, rel)
    except (NotFound, InvalidInput) as exc:
        return _missing_artifact(request, run, path, exc)
    context.update(path=rel, crumbs=_crumbs(folder), hidden_entries=max(0, len(entries) - MAX_ENTRIES))
    entries = sorted(entries, key=lambda e: not e.is_dir)[:MAX_ENTRIES]  # folders first
    return render(
        request, "artifacts.html", served=True, entries=entries, shown=shown, folder=folder, **context
    )


def _browse(artifacts: RunArtifacts, rel: str) -> tuple[str, list[FileInfo], Any]:
    """(the directory listed, its entries, the preview of ``rel`` when it is a file)."""
    entries = artifacts.list(rel)
    if entries or not rel:
        return rel, entries, None
    if not artifacts.exists(rel):
        raise missing(rel)
    folder = posixpath.dirname(rel)
    entries = artifacts.list(folder)
    size = next((e.file_size for e in entries if e.path == rel), None) or 0
    return folder, entries, preview(artifacts, rel, size)


def _crumbs(folder: str) -> list[tuple[str, str]]:
    """(name, path) of each directory from the root to ``folder``."""
    parts = [p for p in folder.split("/") if p]
    return [(name, "/".join(parts[: i + 1])) for i, name in enumerate(parts)]


def _missing_artifact(request: Request, run: Run, path: str, exc: LoopmlError) -> Response:
    status = 404 if isinstance(exc, NotFound) else 400
    return error_page(
        request,
        status,
        title="Artifact not found" if status == 404 else "Bad artifact path",
        message=f"Run {run.info.run_name!r} has no artifact {path!r}." if status == 404 else exc.message,
        back=f"{UI_PREFIX}/runs/{quote(run.run_id, safe='')}/artifacts",
        back_label="the run's artifacts",
        section="experiments",
    )


@router.get("/runs/{run_id}/artifacts/raw")
def artifact_bytes(request: Request, run_id: str, path: str, inline: bool = False) -> Response:
    """The bytes of one artifact file: an attachment, or (``inline``, images only) an image
    the page shows with ``<img>``; sandboxed either way."""
    found = _run_or_404(request, run_id)
    if isinstance(found, Response):
        return found
    artifacts = run_artifacts(request, found)
    rel = safe_relpath(path)
    if artifacts is None or not rel:
        raise missing(path)
    try:
        reader = artifacts.open_reader(rel)
    except InvalidInput:  # a directory
        raise missing(path) from None
    name = posixpath.basename(rel)
    image = IMAGE_TYPES.get(posixpath.splitext(name)[1].lower())
    shown = inline and image is not None
    disposition = "inline" if shown else "attachment"
    headers = {
        "Content-Length": str(reader.size),
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(name, safe='')}",
        "Content-Security-Policy": RAW_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
    }
    return StreamingResponse(
        reader.chunks(),
        media_type=image if shown and image else "application/octet-stream",
        headers=headers,
        background=BackgroundTask(reader.close),
    )
