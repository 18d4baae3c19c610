from __future__ import annotations

from dataclasses import dataclass, field

from .lifecycle import LifecycleStage, RunStatus


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What a run is: ids, status and times (milliseconds since the epoch)."""

    run_id: str
    experiment_id: str
    run_name: str
    status: RunStatus
    start_time: int
    end_time: int | None
    lifecycle_stage: LifecycleStage
    artifact_uri: str
    user_id: str = ""
    source: str = ""
    parent_run_id: str | None = None


@dataclass(frozen=True, slots=True)
class RunData:
    """What a run recorded: latest metric values, params and tags."""

    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Run:
    """A run as read from the store: ``run.params["lr"]``, ``run.metrics["loss"]``, ``run.info.status``."""

    info: RunInfo
    data: RunData

    @property
    def run_id(self) -> str:
        return self.info.run_id

    @property
    def params(self) -> dict[str, str]:
        return self.data.params

    @property
    def metrics(self) -> dict[str, float]:
        return self.data.metrics

    @property
    def tags(self) -> dict[str, str]:
        return self.data.tags
