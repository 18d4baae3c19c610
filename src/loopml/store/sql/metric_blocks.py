"""Metric history in blocks: the points of one key from one ``log_batch`` call, as columns.

Reading a history row by row costs a Python tuple and three objects per point, which bounds
a 100,000-point read near a tenth of a second whatever the database does. Points that arrive
many at a time (``log_batch`` with at least :data:`BLOCK_MIN_POINTS` points of one key,
asynchronous logging, imports) are therefore stored as one ``metric_blocks`` row per key and
call, holding the steps, timestamps and values packed as little-endian int64, int64 and
float64 arrays. Points logged one at a time stay rows of ``metrics``. A history read merges
both and orders the points by step, then timestamp, then logging order.

numpy is imported by the functions that need it, so a store that never sees a block never
pays for the import.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

BLOCK_MIN_POINTS = 16
"""A key with at least this many points in one batch is stored as a block."""

# (run_id, key, points, step_data, timestamp_data, value_data): the order of BLOCK_COLUMNS
# without its last column, ``after_id``, which the writer adds in its transaction.
BlockRow = tuple[str, str, int, bytes, bytes, bytes]
BLOCK_COLUMNS = ("run_id", "key", "points", "step_data", "timestamp_data", "value_data", "after_id")

_INT = "<i8"
_FLOAT = "<f8"


def pack(run_id: str, key: str, rows: Sequence[tuple[Any, ...]]) -> BlockRow:
    """One block of validated metric rows ``(run_id, key, value, step, timestamp)``.

    A value of ``None`` (NaN, as the row-wise table stores it) is packed as NaN.
    """
    import numpy as np

    values = np.array([row[2] for row in rows], dtype=_FLOAT)  # None becomes NaN
    steps = np.array([row[3] for row in rows], dtype=_INT)
    timestamps = np.array([row[4] for row in rows], dtype=_INT)
    return (run_id, key, len(rows), steps.tobytes(), timestamps.tobytes(), values.tobytes())


def merge(
    singles: Sequence[list[Any]], blocks: Sequence[tuple[Any, ...]]
) -> tuple[list[float], list[int], list[int]]:
    """The ordered columns ``(values, steps, timestamps)`` of single points and blocks.

    ``singles`` is ``[values, steps, timestamps, ids]`` of the ``metrics`` rows (NaN as
    ``None``); ``blocks`` the ``metric_blocks`` rows ``(step_data, timestamp_data,
    value_data, after_id)`` in id order. Points are ordered by step, then timestamp, then
    logging order: a block's points come after the single points whose id is at most its
    ``after_id``, and in the order they were given within the block.
    """
    import numpy as np

    values_s, steps_s, timestamps_s, ids = singles
    steps = [np.array(steps_s, dtype=np.int64)]
    timestamps = [np.array(timestamps_s, dtype=np.int64)]
    values = [np.array(values_s, dtype=np.float64)]  # None becomes NaN
    order = [np.array(ids, dtype=np.float64)]
    for step_data, timestamp_data, value_data, after_id in blocks:
        block_steps = np.frombuffer(step_data, dtype=_INT)
        steps.append(block_steps)
        timestamps.append(np.frombuffer(timestamp_data, dtype=_INT))
        values.append(np.frombuffer(value_data, dtype=_FLOAT))
        order.append(np.full(len(block_steps), after_id + 0.5))
    step = np.concatenate(steps)
    timestamp = np.concatenate(timestamps)
    value = np.concatenate(values)
    if len(step) > 1 and not bool(np.all(step[1:] > step[:-1])):
        # np.lexsort is stable: points of blocks with the same after_id keep their given order.
        index = np.lexsort((np.concatenate(order), timestamp, step))
        step, timestamp, value = step[index], timestamp[index], value[index]
    return value.tolist(), step.tolist(), timestamp.tolist()
