from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FileInfo:
    """An entry of an artifact listing: ``path`` is relative to the run's artifact root."""

    path: str
    is_dir: bool
    file_size: int | None = None
