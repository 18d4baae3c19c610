"""Writing params, metrics and tags of a run: validation first, then one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...entities import Metric, Param, RunTag
from ...errors import Conflict, InvalidInput
from .. import validation as v
from .statements import Statements


@dataclass(frozen=True, slots=True)
class Batch:
    """Validated rows of a ``log_batch`` call, ready to insert."""

    metrics: list[MetricRow]
    latest: list[MetricRow]
    params: dict[str, str]
    tags: dict[str, str]


# (run_id, key, value, step, timestamp): the order of statements.METRIC_COLUMNS
MetricRow = tuple[str, str, float | None, int, int]


def metric_row(run_id: str, metric: Metric) -> MetricRow:
    key = v.check_key(metric.key, "metric key")
    value = v.metric_value(key, metric.value)
    return (
        run_id,
        key,
        None if value != value else value,  # NaN is stored as NULL (SQLite has no NaN)
        v.integer(f"step of metric {key!r}", metric.step),
        v.integer(f"timestamp of metric {key!r}", metric.timestamp),
    )


def validate_batch(
    run_id: str, metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag]
) -> Batch:
    total = len(metrics) + len(params) + len(tags)
    if total > v.MAX_BATCH_SIZE:
        raise InvalidInput(f"a batch holds at most {v.MAX_BATCH_SIZE} values, got {total}; split it")
    rows: list[MetricRow] = []
    append = rows.append
    valid_key = v.is_valid_key
    for m in metrics:
        key, value, step, ts = m.key, m.value, m.step, m.timestamp
        if (
            type(key) is str
            and type(value) is float
            and type(step) is int
            and type(ts) is int
            and valid_key(key)
        ):
            append((run_id, key, None if value != value else value, step, ts))  # the common case, checked
        else:
            append(metric_row(run_id, m))  # every other case, with the error messages
    latest: dict[str, MetricRow] = {}
    for row in rows:  # the newest point per key: highest (step, timestamp), later calls win ties
        best = latest.get(row[1])
        if best is None or row[3] > best[3] or (row[3] == best[3] and row[4] >= best[4]):
            latest[row[1]] = row
    param_values: dict[str, str] = {}
    for p in params:
        key = v.check_key(p.key, "param key")
        text = v.param_value(key, p.value)
        if param_values.setdefault(key, text) != text:
            raise InvalidInput(
                f"param {key!r} appears twice in the batch with different values "
                f"{param_values[key]!r} and {text!r}",
                key=key,
            )
    tag_values = {v.check_key(tag.key, "tag key"): v.tag_value(tag.key, tag.value) for tag in tags}
    return Batch(rows, list(latest.values()), param_values, tag_values)


def write_batch(cursor: Any, sql: Statements, run_id: str, batch: Batch) -> None:
    """Write a validated batch inside the caller's transaction.

    A param already logged with another value is a Conflict naming both values; the caller's
    transaction then rolls back, so nothing of the batch is kept.
    """
    if batch.params:
        existing = dict(sql.run_params.fetchall(cursor, {"run_id": run_id}))
        for key, value in batch.params.items():
            if key in existing and existing[key] != value:
                raise Conflict(
                    f"param {key!r} of run {run_id} was logged as {existing[key]!r}; "
                    f"it cannot be changed to {value!r} (params are immutable: log a new run or a metric)",
                    key=key,
                    old_value=existing[key],
                    new_value=value,
                )
        new = [{"run_id": run_id, "key": k, "value": v} for k, v in batch.params.items() if k not in existing]
        if new:
            sql.insert_param.executemany(cursor, new)
    if batch.tags:
        sql.upsert_tag.executemany(
            cursor, [{"run_id": run_id, "key": k, "value": v} for k, v in batch.tags.items()]
        )
    if batch.metrics:
        sql.insert_metric.executemany_rows(cursor, batch.metrics)
        sql.upsert_latest.executemany(cursor, batch.latest)
