"""The UI's compare-runs page, ``/ui/compare?runs=ID,ID,...``: 2 to 50 runs the user may read,
side by side: a params diff, the latest metrics, the metric histories overlaid (one chart per
chosen key, downsampled here to about :data:`MAX_POINTS` points a run so long histories stay
light), and the params against a chosen metric (parallel coordinates and a scatter)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from ....entities import PermissionLevel, Run
from ....errors import NotFound
from ....store.base import Store
from ...permissions import UI_PREFIX
from ..access import EXPERIMENT, require
from ..routing import ui_router
from ..templating import error_page, render

__all__ = ["MAX_POINTS", "MAX_RUNS", "DiffRow", "diff_rows", "downsample", "router", "run_ids"]

router = ui_router()

MIN_RUNS, MAX_RUNS = 2, 50
#: Points a history trace keeps (the min and the max of each of MAX_POINTS / 2 buckets).
MAX_POINTS = 1000
#: History charts drawn at most (each reads one history per run).
MAX_CHARTS = 6
DEFAULT_CHARTS = 2
#: Trace colours, one per run (cycled past 20 runs).
PALETTE = (
    "#2f6fdb", "#e4572e", "#1e8a4c", "#8e44ad", "#f2a541", "#17a2b8", "#c0392b", "#5d6878",
    "#b5179e", "#7cb518", "#0b3c8c", "#ff7f50", "#2e8b57", "#9b59b6", "#d4a017", "#008b8b",
    "#a0522d", "#4b0082", "#708090", "#e75480",
)  # fmt: skip


def run_ids(values: Iterable[str]) -> list[str]:
    """The run ids of ``?runs=a,b&runs=c`` (a form sends one ``runs`` a box), once each, in order."""
    found = (part.strip() for value in values for part in value.split(","))
    return list(dict.fromkeys(part for part in found if part))


@dataclass(frozen=True)
class DiffRow:
    """One key of the diff tables: its value in each run (None where the run lacks it)."""

    key: str
    values: tuple[Any, ...]

    @property
    def differs(self) -> bool:
        return len(set(self.values)) > 1

    @property
    def extremes(self) -> tuple[float | None, float | None]:
        """The lowest and highest finite number of the row (metrics), None where there is none."""
        numbers = [v for v in self.values if isinstance(v, float | int) and math.isfinite(v)]
        return (min(numbers), max(numbers)) if len(numbers) > 1 else (None, None)


def diff_rows(mappings: Sequence[dict[str, Any]]) -> list[DiffRow]:
    """One row per key of any of ``mappings``, sorted by key."""
    keys = sorted({key for mapping in mappings for key in mapping})
    return [DiffRow(key, tuple(mapping.get(key) for mapping in mappings)) for key in keys]


def downsample(
    xs: Sequence[float], ys: Sequence[float], max_points: int = MAX_POINTS
) -> tuple[list[Any], list[Any]]:
    """At most ``max_points`` points of a history: the points themselves when there are few
    (NaN and infinities as None: a gap, JSON has no such numbers), else the shape-keeping
    selection of :func:`loopml.server.ui.downsample.select` (each bucket's lowest and highest)."""
    import numpy as np

    from ..downsample import select

    y = np.asarray(ys, dtype=float)
    if len(y) <= max_points:
        return list(xs), [v if math.isfinite(v) else None for v in y.tolist()]
    keep = select(y, max_points)
    return np.asarray(xs)[keep].tolist(), y[keep].tolist()


@router.get("/compare")
def compare_page(request: Request) -> Response:
    """The runs of ``?runs=``, compared; ``?metric=`` (repeated) chooses the history charts."""
    ids = run_ids(request.query_params.getlist("runs"))
    back = f"{UI_PREFIX}/experiments"
    if not MIN_RUNS <= len(ids) <= MAX_RUNS:
        message = f"Compare needs {MIN_RUNS} to {MAX_RUNS} runs; the link named {len(ids)}."
        return _error(request, 400, "Bad request", message, back)
    store: Store = request.app.state.store
    try:
        runs = [_readable_run(request, store, run_id) for run_id in ids]
    except NotFound as exc:
        return _error(request, 404, "Not found", exc.message, back)
    metric_keys = sorted({key for run in runs for key in run.data.metrics})
    asked = [key for key in request.query_params.getlist("metric") if key in metric_keys]
    charts = list(dict.fromkeys(asked))[:MAX_CHARTS] or metric_keys[:DEFAULT_CHARTS]
    colors = [PALETTE[i % len(PALETTE)] for i in range(len(runs))]
    return render(
        request,
        "compare.html",
        section="experiments",
        runs=runs,
        colors=colors,
        experiment=store.get_experiment(runs[0].info.experiment_id),
        params=diff_rows([run.data.params for run in runs]),
        metrics=diff_rows([run.data.metrics for run in runs]),
        tags=diff_rows([run.data.tags for run in runs]),
        metric_keys=metric_keys,
        charts=charts,
        max_charts=MAX_CHARTS,
        data=_chart_data(store, runs, charts, colors),
    )


def _readable_run(request: Request, store: Store, run_id: str) -> Run:
    """The run, or NotFound when it does not exist or the user may not read its experiment."""
    run = store.get_run(run_id)
    try:
        require(request, PermissionLevel.READ, EXPERIMENT, run.info.experiment_id)
    except NotFound:
        raise NotFound(f"no run {run_id!r}", run_id=run_id) from None
    return run


def _chart_data(
    store: Store, runs: Sequence[Run], charts: Sequence[str], colors: Sequence[str]
) -> dict[str, Any]:
    """What the page's script draws: the runs, their (downsampled) histories of the chart keys,
    their params and their latest metrics."""
    histories: dict[str, list[dict[str, Any]]] = {}
    for key in charts:
        traces = []
        for index, run in enumerate(runs):
            if key not in run.data.metrics:
                continue
            history = store.get_metric_history(run.info.run_id, key)
            x, y = downsample(history.steps, history.values)
            traces.append({"run": index, "x": x, "y": y, "points": len(history)})
        histories[key] = traces
    return {
        "runs": [
            {"id": run.info.run_id, "name": run.info.run_name or run.info.run_id[:8], "color": color}
            for run, color in zip(runs, colors, strict=True)
        ],
        "histories": histories,
        "params": {row.key: list(row.values) for row in diff_rows([run.data.params for run in runs])},
        "metrics": {
            row.key: [v if isinstance(v, float | int) and math.isfinite(v) else None for v in row.values]
            for row in diff_rows([run.data.metrics for run in runs])
        },
        "maxPoints": MAX_POINTS,
    }


def _error(request: Request, status: int, title: str, message: str, back: str) -> Response:
    return error_page(
        request,
        status,
        title=title,
        message=message,
        back=back,
        back_label="experiments",
    )
