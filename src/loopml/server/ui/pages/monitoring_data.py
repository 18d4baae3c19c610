"""What the monitoring pages read besides runs: where a run's reports are under the server's
artifacts destination, and the drift time series of a model's monitoring runs, merged by window
and bounded in size for the charts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request

from ....artifacts.uris import is_server_uri, server_path
from ....errors import InvalidInput, NotFound

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

    destination = str(getattr(request.app.state, "artifacts_destination", "") or "")
    if not destination:
        return None
    try:
        if is_server_uri(artifact_uri):
            return artifact_store(request), server_path(artifact_uri)
    except InvalidInput:
        return None
    relative = _relative(destination, artifact_uri)
    return None if relative is None else (artifact_store(request), relative)


def _relative(destination: str, uri: str) -> str | None:
    def local(text: str) -> str | None:
        if text.startswith("file://"):
            return text[len("file://") :]
        return text if "://" not in text else None

    root, path = local(destination), local(uri)
    if root is not None and path is not None:
        try:
            inside = Path(path).resolve().relative_to(Path(root).resolve())
        except ValueError:
            return None
        relative = inside.as_posix()
        return None if relative == "." else relative
    base = destination.rstrip("/") + "/"
    if not uri.startswith(base):
        return None
    return uri[len(base) :].strip("/") or None


def downsample(
    steps: Sequence[int], values: Sequence[float], limit: int = MAX_POINTS
) -> tuple[list[int], list[float]]:
    """At most ``limit`` points: consecutive buckets, each its first step and largest value (a
    drift peak is never averaged away)."""
    if len(steps) <= limit:
        return list(steps), list(values)
    size = -(-len(steps) // limit)
    kept_steps, kept_values = [], []
    for start in range(0, len(steps), size):
        kept_steps.append(steps[start])
        kept_values.append(max(values[start : start + size]))
    return kept_steps, kept_values


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
