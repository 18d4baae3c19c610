"""Runs as a pandas DataFrame: one row per run, ``metrics.*``, ``params.*``, ``tags.*`` columns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..entities import Run

if TYPE_CHECKING:
    import pandas as pd

INFO_COLUMNS = ("run_id", "experiment_id", "run_name", "status", "artifact_uri", "user_id", "parent_run_id")


def runs_to_frame(runs: Sequence[Run]) -> pd.DataFrame:
    import pandas as pd

    columns: dict[str, list[Any]] = {name: [getattr(r.info, name) for r in runs] for name in INFO_COLUMNS}
    columns["status"] = [str(s) for s in columns["status"]]
    columns["start_time"] = pd.to_datetime([r.info.start_time for r in runs], unit="ms", utc=True)
    columns["end_time"] = pd.to_datetime(
        [r.info.end_time if r.info.end_time is not None else None for r in runs], unit="ms", utc=True
    )
    n = len(runs)
    for prefix, attr in (("metrics", "metrics"), ("params", "params"), ("tags", "tags")):
        data: dict[str, list[Any]] = {}
        for i, run in enumerate(runs):
            for key, value in getattr(run.data, attr).items():
                column = data.get(key)
                if column is None:
                    column = data[key] = [None] * n
                column[i] = value
        for key in sorted(data):
            columns[f"{prefix}.{key}"] = data[key]
    frame = pd.DataFrame(columns)
    for column in frame.columns:
        if column.startswith("metrics."):
            frame[column] = frame[column].astype("float64")
    return frame
