"""The progress bar of a batch scoring job: a rich bar on stderr, or nothing.

What the bar counts depends on what is known in advance: rows for Parquet inputs (their
footers say how many), bytes read for CSV and JSON Lines, partitions on Dask. The rows scored
so far are always shown beside it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

__all__ = ["Progress", "progress_bar"]


class Progress(Protocol):
    def advance(self, units: int, rows: int) -> None:
        """``units`` more of the total (bytes, rows or partitions) done, and ``rows`` more rows."""


class _Silent:
    def advance(self, units: int, rows: int) -> None:
        return None


class _RichProgress:
    def __init__(self, bar: Any, task: Any) -> None:
        self._bar = bar
        self._task = task
        self._rows = 0

    def advance(self, units: int, rows: int) -> None:
        self._rows += rows
        self._bar.update(self._task, advance=units, rows=self._rows)


@contextmanager
def progress_bar(enabled: bool, total: int | None, unit: str) -> Iterator[Progress]:
    """A bar counting ``unit`` ("bytes", "rows" or "partitions") up to ``total``, on stderr."""
    if not enabled:
        yield _Silent()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import Progress as RichProgress

    done = DownloadColumn() if unit == "bytes" else MofNCompleteColumn()
    columns = [
        TextColumn("scoring"),
        BarColumn(),
        done,
        TextColumn(unit if unit == "partitions" else ""),
        TextColumn("{task.fields[rows]:,} rows"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with RichProgress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task("scoring", total=total, rows=0)
        yield _RichProgress(bar, task)
        if total is not None:
            bar.update(task, completed=total)
