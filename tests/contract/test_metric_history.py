"""Metric history: points logged one by one and in blocks read back as one ordered history."""

from __future__ import annotations

import math
import random

import pytest
import sqlalchemy as sa

from loopml import Client, InvalidInput, Metric
from loopml.store.sql.engine import sqlalchemy_url
from loopml.store.sql.metric_blocks import BLOCK_MIN_POINTS


def stored_rows(database_uri: str, table: str, run_id: str) -> int:
    engine = sa.create_engine(sqlalchemy_url(database_uri))
    try:
        with engine.connect() as conn:
            query = sa.text(f"SELECT count(*) FROM {table} WHERE run_id = :run_id")
            return int(conn.execute(query, {"run_id": run_id}).scalar_one())
    finally:
        engine.dispose()


def expected(points: list[tuple[float, int, int]]) -> list[tuple[float, int, int]]:
    """The documented order: step, then timestamp, then logging order (a stable sort)."""
    return sorted(points, key=lambda p: (p[1], p[2]))


def as_tuples(client: Client, run_id: str, key: str) -> list[tuple[float, int, int]]:
    history = client.get_metric_history(run_id, key)
    return list(zip(history.values, history.steps, history.timestamps, strict=True))


def test_a_batch_of_many_points_is_one_block(client: Client, run_id: str, database_uri: str) -> None:
    n = BLOCK_MIN_POINTS
    client.log_batch(run_id, metrics=[Metric("loss", 1.0 / (i + 1), 1000 + i, i) for i in range(n)])
    client.log_batch(run_id, metrics=[Metric("acc", i / n, 1000 + i, i) for i in range(n - 1)])
    assert stored_rows(database_uri, "metric_blocks", run_id) == 1  # loss: a block
    assert stored_rows(database_uri, "metrics", run_id) == n - 1  # acc: rows
    assert client.get_metric_history(run_id, "loss").values == [1.0 / (i + 1) for i in range(n)]
    assert client.get_metric_history(run_id, "acc").steps == list(range(n - 1))
    assert client.get_run(run_id).metrics == {"loss": 1.0 / n, "acc": (n - 2) / n}


def test_single_points_and_blocks_merge_in_step_timestamp_and_logging_order(
    client: Client, run_id: str
) -> None:
    rng = random.Random(7)
    logged: list[tuple[float, int, int]] = []
    value = 0.0

    def point() -> tuple[float, int, int]:
        nonlocal value
        value += 1.0  # every point distinct, so the order is fully checked
        return (value, rng.randrange(3), 100 + rng.randrange(2))  # ties on step and timestamp

    for round_ in range(6):
        if round_ % 2 == 0:
            block = [point() for _ in range(BLOCK_MIN_POINTS + round_)]
            client.log_batch(run_id, metrics=[Metric("m", v, ts, s) for v, s, ts in block])
            logged += block
        for _ in range(5):
            v, s, ts = point()
            client.log_metric(run_id, "m", v, step=s, timestamp=ts)
            logged.append((v, s, ts))
    assert as_tuples(client, run_id, "m") == expected(logged)


def test_blocks_alone_are_ordered_by_step(client: Client, run_id: str) -> None:
    steps = list(range(50))
    random.Random(3).shuffle(steps)
    client.log_batch(run_id, metrics=[Metric("m", float(s), 5000 - s, s) for s in steps])
    client.log_batch(run_id, metrics=[Metric("m", -float(s), 1, s) for s in range(20)])  # ties on step
    history = as_tuples(client, run_id, "m")
    points = [(float(s), s, 5000 - s) for s in steps] + [(-float(s), s, 1) for s in range(20)]
    assert history == expected(points)


def test_special_values_survive_blocks(client: Client, run_id: str) -> None:
    values = [math.nan, math.inf, -math.inf, 0.1 + 0.2, 5e-324, 1.7976931348623157e308, -0.0]
    values += [float(i) for i in range(BLOCK_MIN_POINTS)]
    big = 2**63 - 1
    metrics = [Metric("m", v, big - i, -(2**63) + i) for i, v in enumerate(values)]
    client.log_batch(run_id, metrics=metrics)
    history = client.get_metric_history(run_id, "m")
    assert math.isnan(history.values[0])
    assert history.values[1:] == values[1:]  # bit-exact round trip (0.1 + 0.2 included)
    assert history.steps == [-(2**63) + i for i in range(len(values))]
    assert history.timestamps == [big - i for i in range(len(values))]


def test_an_integer_beyond_64_bits_is_invalid_and_stores_nothing(client: Client, run_id: str) -> None:
    good = [Metric("m", float(i), 1000, i) for i in range(BLOCK_MIN_POINTS)]
    with pytest.raises(
        InvalidInput, match=r"step of metric 'm' must fit a 64-bit integer, got 9223372036854775808"
    ):
        client.log_batch(run_id, metrics=[*good, Metric("m", 1.0, 1000, 2**63)])
    with pytest.raises(InvalidInput, match="timestamp of metric 'x' must fit a 64-bit integer"):
        client.log_metric(run_id, "x", 1.0, timestamp=-(2**63) - 1)
    assert len(client.get_metric_history(run_id, "m")) == 0
    assert client.get_run(run_id).metrics == {}


def test_a_long_history_in_batches_reads_back_whole(client: Client, run_id: str) -> None:
    n, size = 20_000, 1000
    for lo in range(0, n, size):
        client.log_batch(
            run_id, metrics=[Metric("loss", i * 0.5, 10_000 + i, i) for i in range(lo, lo + size)]
        )
    client.log_metric(run_id, "loss", -1.0, step=n, timestamp=1)
    history = client.get_metric_history(run_id, "loss")
    assert len(history) == n + 1
    assert history.steps == list(range(n + 1))
    assert history.values[:3] == [0.0, 0.5, 1.0] and history.values[-1] == -1.0
    assert client.get_run(run_id).metrics == {"loss": -1.0}
