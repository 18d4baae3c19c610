"""Writing params, metrics and tags of a run: validation first, then one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...entities import Metric, Param, RunTag
from ...errors import Conflict, InvalidInput
from .. import validation as v
from .metric_blocks import BLOCK_MIN_POINTS, BlockRow, pack
from .statements import Statements


@dataclass(frozen=True, slots=True)
class Batch:
    """Validated rows of a ``log_batch`` call, ready to insert.

    ``metrics`` are the points stored row by row, ``blocks`` the keys with many points,
    packed (metric_blocks.py); ``latest`` holds the newest point of every key.
    """

    metrics: list[MetricRow]
    blocks: list[BlockRow]
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
    groups: dict[str, list[MetricRow]] = {}
    valid_key, low, high = v.is_valid_key, v.INT64_MIN, v.INT64_MAX
    for m in metrics:
        key, value, step, ts = m.key, m.value, m.step, m.timestamp
        if (
            type(key) is str
            and type(value) is float
            and type(step) is int
            and type(ts) is int
            and low <= step <= high
            and low <= ts <= high
            and valid_key(key)
        ):
            row = (run_id, key, None if value != value else value, step, ts)  # the common case, checked
        else:
            row = metric_row(run_id, m)  # every other case, with the error messages
        group = groups.get(row[1])
        if group is None:
            groups[row[1]] = [row]
        else:
            group.append(row)
    singles: list[MetricRow] = []
    blocks: list[BlockRow] = []
    latest: list[MetricRow] = []
    for key, group in groups.items():
        best = group[0]
        for row in group:  # the newest point: highest (step, timestamp), later calls win ties
            if row[3] > best[3] or (row[3] == best[3] and row[4] >= best[4]):
                best = row
        latest.append(best)
        if len(group) >= BLOCK_MIN_POINTS:
            blocks.append(pack(run_id, key, group))
        else:
            singles.extend(group)
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
    return Batch(singles, blocks, latest, param_values, tag_values)


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
    if batch.blocks:
        after_id = sql.last_metric_id.fetchall(cursor, {})[0][0] or 0
        sql.insert_block.executemany_rows(cursor, [(*block, after_id) for block in batch.blocks])
    if batch.metrics:
        sql.insert_metric.executemany_rows(cursor, batch.metrics)
    if batch.latest:
        sql.upsert_latest.executemany(cursor, batch.latest)
