"""Users, API tokens and permissions: who may call a loopml server, and what they may touch."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from ..errors import InvalidInput

#: The user name of a resource's own default: the level of every user without a grant of their own.
EVERYONE = "*"


class PermissionLevel(StrEnum):
    """What a user may do with an experiment or a registered model; each level includes the ones below.

    READ: see it and what it holds. EDIT: add to it and change it (log to runs, create runs, new
    versions, stages, aliases, tags). MANAGE: delete and restore it, and everything else.
    NONE hides it (the default level of a private server).
    """

    NONE = "NONE"
    READ = "READ"
    EDIT = "EDIT"
    MANAGE = "MANAGE"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: PermissionLevel) -> bool:
        return self.rank >= needed.rank

    @classmethod
    def parse(cls, value: str | PermissionLevel) -> PermissionLevel:
        """A level from its name in any case (``"read"`` is READ)."""
        if isinstance(value, str):
            for level in cls:
                if level.value == value.strip().upper():
                    return level
        valid = ", ".join(level.value for level in cls)
        raise InvalidInput(f"unknown permission level {value!r}; use one of {valid}", level=str(value))


_RANKS = {
    PermissionLevel.NONE: 0,
    PermissionLevel.READ: 1,
    PermissionLevel.EDIT: 2,
    PermissionLevel.MANAGE: 3,
}


class ResourceKind(StrEnum):
    """What a permission is about: an experiment (by id) or a registered model (by name)."""

    EXPERIMENT = "experiment"
    REGISTERED_MODEL = "registered_model"

    @classmethod
    def parse(cls, value: str | ResourceKind) -> ResourceKind:
        if isinstance(value, str):
            for kind in cls:
                if kind.value == value.strip().lower():
                    return kind
        valid = ", ".join(kind.value for kind in cls)
        raise InvalidInput(f"unknown resource kind {value!r}; use one of {valid}", kind=str(value))


@dataclass(frozen=True, slots=True)
class User:
    """A person or a program calling the server. Admins pass every permission check."""

    user_id: str
    username: str
    is_admin: bool
    creation_time: int


@dataclass(frozen=True, slots=True)
class ApiToken:
    """What is kept of an API token: never the token itself, only its sha256 and its first
    characters (``prefix``) to recognise it in a list."""

    token_id: str
    username: str
    prefix: str
    note: str
    creation_time: int
    expires_time: int | None = None
    revoked_time: int | None = None

    def is_active(self, now: int) -> bool:
        """Neither revoked nor expired at ``now`` (ms since the epoch)."""
        return self.revoked_time is None and (self.expires_time is None or self.expires_time > now)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token just created: ``secret`` is shown this once and is not stored anywhere."""

    token: ApiToken
    secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Permission:
    """``username`` (or :data:`EVERYONE`) holds ``level`` on the experiment or registered model."""

    username: str
    kind: ResourceKind
    resource_id: str
    level: PermissionLevel
