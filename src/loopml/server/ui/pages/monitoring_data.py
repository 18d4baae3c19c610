"""What the monitoring pages read besides runs: where a run's reports are under the server's
artifacts destination, and the drift time series of a model's monitoring runs, merged by window
and bounded in size for the charts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import Request

from ....errors import NotFound

if TYPE_CHECKING:
    from ....artifacts.store import ArtifactStore
    from ....entities import Run
    from ....store.base import Store

__all__ = ["MAX_POINTS", "downsample", "report_location", "series_points"]

#: The most points a chart series holds; longer series keep each bucket's largest value.
MAX_POINTS = 1_000
_COLUMN_PREFIX = "drift."


def report_location(request: Request, artifact_uri: str) -> tuple[ArtifactStore, str] | None:
    """The artifacts store of the server's destination and the run's directory in it, when the
    run's artifact URI lies under the destination (``loopml-artifacts:/...``, or a local path or
    URL inside it); None otherwise (the server never reads files elsewhere for a page)."""
    from ...routes.artifacts import artifact_store
    from .run_artifacts import artifact_prefix

    destination = str(getattr(request.app.state, "artifacts_destination", "") or "")
    prefix = artifact_prefix(destination, artifact_uri) if destination else None
    return None if prefix is None else (artifact_store(request), prefix)


def downsample(
    steps: Sequence[int], values: Sequence[float], limit: int = MAX_POINTS
) -> tuple[list[int], list[float]]:
    """At most ``limit`` points, each bucket's lowest and highest (a drift peak is never
    averaged away): :func:`loopml.server.ui.downsample.select`."""
    from ..downsample import select

    if len(steps) <= limit:
        return list(steps), list(values)
    keep = select(values, limit).tolist()
    return [steps[i] for i in keep], [values[i] for i in keep]


def _merged(store: Store, runs: Sequence[Run], key: str) -> dict[int, float]:
    """``key``'s points of all ``runs`` by step (window start); a newer run wins a window."""
    points: dict[int, float] = {}
    for run in reversed(runs):  # oldest first, so newer runs overwrite
        if key not in run.data.metrics:
            continue
        try:
            history = store.get_metric_history(run.info.run_id, key)
        except NotFound:
            continue
        points.update(zip(history.steps, history.values, strict=True))
    return points


def _series(points: dict[int, float]) -> dict[str, list[Any]]:
    steps, values = downsample(sorted(points), [points[s] for s in sorted(points)])
    return {"x": [datetime.fromtimestamp(s, UTC).strftime("%Y-%m-%d %H:%M:%S") for s in steps], "y": values}


def series_points(store: Store, runs: Sequence[Run], max_columns: int) -> dict[str, Any]:
    """The charts' data from ``runs`` (newest first): ``drift_share`` over time, and the drift
    score of each column over time, columns sorted by their latest score (highest first, at
    most ``max_columns``); ``hidden_columns`` says how many were left out."""
    latest: dict[str, float] = {}
    for run in runs:  # newest first: the first value seen of a column is its latest
        for key, value in run.data.metrics.items():
            if key.startswith(_COLUMN_PREFIX) and key not in latest:
                latest[key] = value
    ordered = sorted(latest, key=lambda k: (-latest[k], k))
    columns = [
        {"name": key[len(_COLUMN_PREFIX) :], "latest": latest[key], **_series(_merged(store, runs, key))}
        for key in ordered[:max_columns]
    ]
    return {
        "drift_share": _series(_merged(store, runs, "drift_share")),
        "columns": columns,
        "hidden_columns": max(0, len(ordered) - max_columns),
        "runs": len(runs),
    }
