from __future__ import annotations

from dataclasses import dataclass, field

from .lifecycle import LifecycleStage


@dataclass(frozen=True, slots=True)
class Experiment:
    """A named group of runs. Times are milliseconds since the epoch."""

    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: LifecycleStage = LifecycleStage.ACTIVE
    creation_time: int = 0
    last_update_time: int = 0
    tags: dict[str, str] = field(default_factory=dict)
