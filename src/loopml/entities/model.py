"""The model registry's value objects: registered models, their versions, stages, history and events."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..errors import InvalidInput


class ModelStage(StrEnum):
    """Where a version is in its life. Several versions may hold a stage at once."""

    NONE = "None"
    STAGING = "Staging"
    PRODUCTION = "Production"
    ARCHIVED = "Archived"

    @classmethod
    def parse(cls, value: str | ModelStage) -> ModelStage:
        """A stage from its name in any case (``"production"`` is ``Production``)."""
        if isinstance(value, str):
            for stage in cls:
                if stage.value.lower() == value.strip().lower():
                    return stage
        valid = ", ".join(s.value for s in cls)
        raise InvalidInput(f"unknown stage {value!r}; use one of {valid}", stage=str(value), valid=valid)


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One version of a registered model: ``models:/<name>/<version>``.

    ``source`` is the URI it was registered from (``runs:/<run_id>/model``);
    ``storage_location`` is where its files are, resolved once at registration.
    """

    name: str
    version: int
    source: str
    storage_location: str
    run_id: str | None
    current_stage: ModelStage
    description: str
    creation_time: int
    last_update_time: int
    user_id: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    """A named model: its versions share the name; ``aliases`` maps alias -> version."""

    name: str
    description: str
    creation_time: int
    last_update_time: int
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    latest_versions: tuple[ModelVersion, ...] = ()  # the newest version of each stage that has one


@dataclass(frozen=True, slots=True)
class ModelChange:
    """One row of a model's audit history: who changed what, from which value to which."""

    id: int
    timestamp: int
    actor: str
    name: str
    version: int | None
    action: str  # the event type too: "model_version.stage_transitioned", "model_alias.set", ...
    field: str | None
    old_value: str | None
    new_value: str | None
    comment: str | None


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened, stored in the same transaction as the change; poll by ``id``."""

    id: int
    type: str
    subject: str  # "models:/churn/3", "models:/churn"
    payload: dict[str, Any]
    timestamp: int
