"""What the signed-in user may see and do, for pages: :func:`require` (raise, as the API would)
and :func:`allowed` (hide an action the API would refuse). Without authentication every user
may do everything."""

from __future__ import annotations

from fastapi import Request

from ...entities import PermissionLevel, ResourceKind
from ...errors import NotFound, PermissionDenied
from ..auth import caller_of

__all__ = ["EXPERIMENT", "MODEL", "allowed", "level_of", "require", "require_run"]

EXPERIMENT, MODEL = ResourceKind.EXPERIMENT, ResourceKind.REGISTERED_MODEL


def level_of(request: Request, kind: ResourceKind, resource_id: str) -> PermissionLevel:
    """The user's level on one experiment or registered model (MANAGE without authentication)."""
    user = caller_of(request)
    if user is None or user.is_admin:
        return PermissionLevel.MANAGE
    level: PermissionLevel = request.app.state.store.users.effective_level(user, kind, resource_id)
    return level


def allowed(request: Request, needed: PermissionLevel, kind: ResourceKind, resource_id: str) -> bool:
    return level_of(request, kind, resource_id).allows(needed)


def require(request: Request, needed: PermissionLevel, kind: ResourceKind, resource_id: str) -> None:
    """NotFound when the user may not even READ it (a page never reveals what exists), else
    PermissionDenied saying what is missing."""
    level = level_of(request, kind, resource_id)
    if level.allows(needed):
        return
    what = kind.value.replace("_", " ")
    if not level.allows(PermissionLevel.READ):
        raise NotFound(f"no {what} {resource_id!r}", resource_id=resource_id)
    raise PermissionDenied(f"this needs {needed.value} on {what} {resource_id!r}; you hold {level.value}")


def require_run(request: Request, run_id: str, needed: PermissionLevel = PermissionLevel.READ) -> None:
    """The check of a run: its experiment's level."""
    store = request.app.state.store
    require(request, needed, EXPERIMENT, store.get_run(run_id).info.experiment_id)
