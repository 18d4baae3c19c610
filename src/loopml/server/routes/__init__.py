"""The REST API: one router module per aggregate, each exposing ``router`` (an APIRouter with its
``/api/v1/...`` prefix). ``create_app`` includes every module of :data:`ROUTERS`, in order:
a new aggregate is a new module appended here."""

from __future__ import annotations

from types import ModuleType

from . import artifacts, experiments, health, orchestration, registry, runs

__all__ = ["ROUTERS"]

ROUTERS: tuple[ModuleType, ...] = (
    health,
    experiments,
    runs,
    registry,
    orchestration,
    artifacts,
)
