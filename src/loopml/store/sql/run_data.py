"""Writing params, metrics and tags of a run: validation first, then one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ...entities import Metric, Param, RunTag
from ...errors import Conflict, InvalidInput
from .. import validation as v
from . import schema as t


@dataclass(frozen=True, slots=True)
class Batch:
    """Validated rows of a ``log_batch`` call, ready to insert."""

    metrics: list[dict[str, Any]]
    latest: list[dict[str, Any]]
    params: dict[str, str]
    tags: dict[str, str]


def metric_row(run_id: str, metric: Metric) -> dict[str, Any]:
    key = v.check_key(metric.key, "metric key")
    value, is_nan = v.split_nan(v.metric_value(key, metric.value))
    return {
        "run_id": run_id,
        "key": key,
        "value": value,
        "is_nan": is_nan,
        "step": v.integer(f"step of metric {key!r}", metric.step),
        "timestamp": v.integer(f"timestamp of metric {key!r}", metric.timestamp),
    }


def validate_batch(
    run_id: str, metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag]
) -> Batch:
    total = len(metrics) + len(params) + len(tags)
    if total > v.MAX_BATCH_SIZE:
        raise InvalidInput(f"a batch holds at most {v.MAX_BATCH_SIZE} values, got {total}; split it")
    rows = [metric_row(run_id, m) for m in metrics]
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:  # the newest point per key: highest (step, timestamp), later calls win ties
        best = latest.get(row["key"])
        if best is None or (row["step"], row["timestamp"]) >= (best["step"], best["timestamp"]):
            latest[row["key"]] = row
    param_values: dict[str, str] = {}
    for p in params:
        key = v.check_key(p.key, "param key")
        value = v.param_value(key, p.value)
        if param_values.setdefault(key, value) != value:
            raise InvalidInput(
                f"param {key!r} appears twice in the batch with different values "
                f"{param_values[key]!r} and {value!r}",
                key=key,
            )
    tag_values = {v.check_key(tag.key, "tag key"): v.tag_value(tag.key, tag.value) for tag in tags}
    return Batch(rows, list(latest.values()), param_values, tag_values)


def insert_params(conn: sa.Connection, dialect_insert: Any, run_id: str, params: dict[str, str]) -> None:
    """Insert params; one already logged with another value is a Conflict naming both values."""
    if not params:
        return
    existing = dict(
        conn.execute(
            sa.select(t.params.c.key, t.params.c.value).where(
                t.params.c.run_id == run_id, t.params.c.key.in_(list(params))
            )
        ).all()
    )
    for key, value in params.items():
        if key in existing and existing[key] != value:
            raise Conflict(
                f"param {key!r} of run {run_id} was logged as {existing[key]!r}; "
                f"it cannot be changed to {value!r} (params are immutable: log a new run or a metric)",
                key=key,
                old_value=existing[key],
                new_value=value,
            )
    new = [{"run_id": run_id, "key": k, "value": val} for k, val in params.items() if k not in existing]
    if new:
        conn.execute(dialect_insert(t.params).on_conflict_do_nothing(), new)


def upsert_tags(conn: sa.Connection, dialect_insert: Any, run_id: str, tags: dict[str, str]) -> None:
    if not tags:
        return
    stmt = dialect_insert(t.tags)
    stmt = stmt.on_conflict_do_update(index_elements=["run_id", "key"], set_={"value": stmt.excluded.value})
    conn.execute(stmt, [{"run_id": run_id, "key": k, "value": val} for k, val in tags.items()])


def latest_metric_upsert(dialect_insert: Any) -> Any:
    """Insert-or-update of a latest value that only moves forward in (step, timestamp)."""
    stmt = dialect_insert(t.latest_metrics)
    new, old = stmt.excluded, t.latest_metrics.c
    return stmt.on_conflict_do_update(
        index_elements=["run_id", "key"],
        set_={"value": new.value, "is_nan": new.is_nan, "step": new.step, "timestamp": new.timestamp},
        where=(new.step > old.step) | ((new.step == old.step) & (new.timestamp >= old.timestamp)),
    )


_METRIC_COLUMNS = ("run_id", "key", "value", "is_nan", "step", "timestamp")


def metric_insert() -> Any:
    return sa.insert(t.metrics).inline().values({n: sa.bindparam(n) for n in _METRIC_COLUMNS})


def writable_metric_insert() -> Any:
    """Insert one history point only if its run exists, is active and is RUNNING (rowcount says)."""
    m, r = t.metrics.c, t.runs.c
    source = sa.select(*(sa.bindparam(n, type_=getattr(m, n).type) for n in _METRIC_COLUMNS)).where(
        sa.exists().where(
            r.run_id == sa.bindparam("run_id"), r.status == "RUNNING", r.lifecycle_stage == "active"
        )
    )
    return sa.insert(t.metrics).from_select(list(_METRIC_COLUMNS), source)
