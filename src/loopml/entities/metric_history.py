from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload

from .metric import Metric

if TYPE_CHECKING:
    import pandas as pd


class MetricHistory(Sequence[Metric]):
    """Every logged point of one metric, ordered by step then timestamp.

    Held as columns, so reading a million points stays fast: ``values``, ``steps`` and
    ``timestamps`` are plain lists; indexing or iterating yields :class:`Metric` objects.
    """

    __slots__ = ("key", "steps", "timestamps", "values")

    def __init__(self, key: str, values: list[float], steps: list[int], timestamps: list[int]) -> None:
        self.key = key
        self.values = values
        self.steps = steps
        self.timestamps = timestamps

    def __len__(self) -> int:
        return len(self.values)

    @overload
    def __getitem__(self, index: int) -> Metric: ...
    @overload
    def __getitem__(self, index: slice) -> list[Metric]: ...
    def __getitem__(self, index: int | slice) -> Metric | list[Metric]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return Metric(self.key, self.values[index], self.timestamps[index], self.steps[index])

    def __iter__(self) -> Iterator[Metric]:
        key = self.key
        for value, ts, step in zip(self.values, self.timestamps, self.steps, strict=True):
            yield Metric(key, value, ts, step)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MetricHistory):
            return (self.key, self.values, self.steps, self.timestamps) == (
                other.key,
                other.values,
                other.steps,
                other.timestamps,
            )
        if isinstance(other, Sequence):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"MetricHistory(key={self.key!r}, points={len(self)})"

    def to_pandas(self) -> pd.DataFrame:
        import pandas as pd

        data: dict[str, Any] = {"step": self.steps, "timestamp": self.timestamps, "value": self.values}
        return pd.DataFrame(data)
