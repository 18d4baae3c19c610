from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """Where a run is in its life. Only RUNNING runs accept new params, metrics and tags."""

    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"


class LifecycleStage(StrEnum):
    """Soft deletion: a deleted experiment or run keeps its data until it is restored or purged."""

    ACTIVE = "active"
    DELETED = "deleted"
