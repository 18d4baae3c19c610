"""Rows of the SQL store turned into entities, and the bulk reads behind them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from ...entities import Experiment, LifecycleStage, Run, RunData, RunInfo, RunStatus
from . import schema as t

CHUNK = 500  # ids per IN (...) list: well below every driver's parameter limit
_STATUS = {s.value: s for s in RunStatus}  # a dict lookup is ~20x cheaper than calling the Enum
_STAGE = {s.value: s for s in LifecycleStage}
_NAN = float("nan")


def experiment_from_row(row: Any, tags: dict[str, str]) -> Experiment:
    return Experiment(
        experiment_id=row.experiment_id,
        name=row.name,
        artifact_location=row.artifact_location,
        lifecycle_stage=LifecycleStage(row.lifecycle_stage),
        creation_time=row.creation_time,
        last_update_time=row.last_update_time,
        tags=tags,
    )


def run_info_from_row(row: Any) -> RunInfo:
    return RunInfo(
        run_id=row.run_id,
        experiment_id=row.experiment_id,
        run_name=row.name,
        status=_STATUS[row.status],
        start_time=row.start_time,
        end_time=row.end_time,
        lifecycle_stage=_STAGE[row.lifecycle_stage],
        artifact_uri=row.artifact_uri,
        user_id=row.user_id,
        source=row.source,
        parent_run_id=row.parent_run_id,
    )


def experiment_tags(conn: sa.Connection, experiment_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for chunk in _chunks(experiment_ids):
        query = sa.select(t.experiment_tags).where(t.experiment_tags.c.experiment_id.in_(chunk))
        for row in conn.execute(query):
            out[row.experiment_id][row.key] = row.value
    return out


def load_runs(conn: sa.Connection, run_rows: Sequence[Any]) -> list[Run]:
    """Runs with their params, latest metrics and tags, read in a few bulk queries."""
    ids = [row.run_id for row in run_rows]
    params = _key_values(conn, t.params, ids)
    tags = _key_values(conn, t.tags, ids)
    metrics: dict[str, dict[str, float]] = defaultdict(dict)
    lm = t.latest_metrics.c
    for chunk in _chunks(ids):
        query = sa.select(lm.run_id, lm.key, lm.value).where(lm.run_id.in_(chunk))
        for run_id, key, value in conn.execute(query).all():
            metrics[run_id][key] = _NAN if value is None else value
    return [
        Run(
            run_info_from_row(row),
            RunData(
                metrics=metrics.get(row.run_id, {}),
                params=params.get(row.run_id, {}),
                tags=tags.get(row.run_id, {}),
            ),
        )
        for row in run_rows
    ]


def _key_values(conn: sa.Connection, table: sa.Table, ids: Sequence[str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for chunk in _chunks(ids):
        query = sa.select(table.c.run_id, table.c.key, table.c.value).where(table.c.run_id.in_(chunk))
        for run_id, key, value in conn.execute(query).all():
            out[run_id][key] = value
    return out


def _chunks(ids: Sequence[str]) -> list[Sequence[str]]:
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]
