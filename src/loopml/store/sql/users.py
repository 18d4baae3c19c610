"""SqlUsers: users, API tokens and permissions on the SQL store (``SqlStore.users``).

Tokens are ``lml_`` + :func:`secrets.token_urlsafe` (32 random bytes). Only their sha256 is
stored, with the first characters to recognise them in a list: the secret has 256 bits of
entropy, so a fast hash is enough (a password would need a slow one). Authentication is one
indexed lookup by that hash.

A user's level on a resource: admins MANAGE everything; otherwise the user's own row of
``permissions``, else the resource's ``EVERYONE_ID`` row (written with the server's default
level when the resource is created through the server), else the server's default level now.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import secrets
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ...entities import ApiToken, IssuedToken, Permission, PermissionLevel, ResourceKind, User
from ...entities.user import EVERYONE
from ...errors import AlreadyExists, InvalidInput, NotFound, Unauthenticated
from . import schema as t

if TYPE_CHECKING:
    from .store import SqlStore

__all__ = ["DEFAULT_LEVEL", "TOKEN_PREFIX", "SqlUsers", "hash_token"]

#: The server's default level for new resources until ``loopml permissions default`` sets one.
DEFAULT_LEVEL = PermissionLevel.READ
#: Every token starts with this (secret scanners and people recognise it).
TOKEN_PREFIX = "lml_"
DEFAULT_LEVEL_KEY = "default_permission"
_SHOWN = 12  # characters of a token kept for display: "lml_" + 8
_CHUNK = 1000
_USERNAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@+-]*")
_u, _k, _p, _s = t.users.c, t.api_tokens.c, t.permissions.c, t.auth_settings.c


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def hash_token(secret: str) -> str:
    """The sha256 (hex) stored for a token."""
    return hashlib.sha256(secret.encode()).hexdigest()


def check_username(username: Any) -> str:
    """User names: 1-256 of letters, digits and ``_ . @ + -``, starting with a letter or digit."""
    if (
        not isinstance(username, str)
        or not _USERNAME_RE.fullmatch(username)
        or len(username) > t.USERNAME_LENGTH
    ):
        raise InvalidInput(
            f"invalid user name {username!r}: use letters, digits and _ . @ + - "
            f"(starting with a letter or a digit, at most {t.USERNAME_LENGTH} characters)",
            username=repr(username),
        )
    return username


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _user(row: Any) -> User:
    return User(row.user_id, row.username, bool(row.is_admin), row.creation_time)


def _token(row: Any) -> ApiToken:
    return ApiToken(
        token_id=row.token_id,
        username=row.username,
        prefix=row.prefix,
        note=row.note,
        creation_time=row.creation_time,
        expires_time=row.expires_time,
        revoked_time=row.revoked_time,
    )


class SqlUsers:
    """The UserStore protocol on a :class:`SqlStore`'s connections and write lock."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store

    # ---- users -------------------------------------------------------------------------------

    def create_user(self, username: str, *, is_admin: bool = False) -> User:
        user = User(uuid.uuid4().hex, check_username(username), bool(is_admin), _now_ms())
        with self._store._write("creating a user") as conn:
            if conn.execute(sa.select(_u.user_id).where(_u.username == username)).first() is not None:
                raise AlreadyExists(f"a user named {username!r} already exists", username=username)
            conn.execute(t.users.insert(), dataclasses.asdict(user))
        return user

    def _user_row(self, conn: sa.Connection, username: str) -> Any:
        row = conn.execute(sa.select(t.users).where(_u.username == username)).first()
        if row is None:
            raise NotFound(
                f"no user named {username!r}; create one with `loopml users create {username}`",
                username=username,
            )
        return row

    def get_user(self, username: str) -> User:
        with self._store._read("reading a user") as conn:
            return _user(self._user_row(conn, username))

    def list_users(self) -> list[User]:
        with self._store._read("listing users") as conn:
            found = conn.execute(sa.select(t.users).order_by(_u.creation_time, _u.username)).all()
        return [_user(r) for r in found]

    # ---- API tokens --------------------------------------------------------------------------

    def create_token(self, username: str, *, expires_time: int | None = None, note: str = "") -> IssuedToken:
        if not isinstance(note, str) or len(note) > 256:
            raise InvalidInput("a token's note must be a string of at most 256 characters", note=repr(note))
        if expires_time is not None and (isinstance(expires_time, bool) or not isinstance(expires_time, int)):
            raise InvalidInput(f"expires_time must be ms since the epoch, got {expires_time!r}")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = ApiToken(uuid.uuid4().hex, username, secret[:_SHOWN], note, _now_ms(), expires_time)
        row = {**dataclasses.asdict(token), "token_hash": hash_token(secret)}
        with self._store._write("creating an API token") as conn:
            row["user_id"] = self._user_row(conn, username).user_id
            del row["username"]
            conn.execute(t.api_tokens.insert(), row)
        return IssuedToken(token, secret)

    def _tokens(self) -> sa.Select[Any]:
        return sa.select(t.api_tokens, _u.username).join(t.users, _u.user_id == _k.user_id)

    def list_tokens(self, username: str | None = None) -> list[ApiToken]:
        stmt = self._tokens().order_by(_k.creation_time, _k.token_id)
        with self._store._read("listing API tokens") as conn:
            if username is not None:
                stmt = stmt.where(_k.user_id == self._user_row(conn, username).user_id)
            return [_token(r) for r in conn.execute(stmt).all()]

    def revoke_token(self, token_id: str) -> ApiToken:
        """Revoke the token (at once: the next request with it is refused); revoking twice keeps
        the first revocation time."""
        with self._store._write("revoking an API token") as conn:
            conn.execute(
                t.api_tokens.update()
                .where(_k.token_id == token_id, _k.revoked_time.is_(None))
                .values(revoked_time=_now_ms())
            )
            row = conn.execute(self._tokens().where(_k.token_id == token_id)).first()
            if row is None:
                raise NotFound(
                    f"no API token with id {token_id!r}; `loopml users token list` shows them",
                    token_id=token_id,
                )
        return _token(row)

    def authenticate(self, secret: str) -> User:
        """The user of the token ``secret``; Unauthenticated when it is unknown, revoked or expired."""
        if not isinstance(secret, str) or not secret:
            raise Unauthenticated("no API token was given")
        stmt = sa.select(
            _k.prefix,
            _k.expires_time,
            _k.revoked_time,
            _u.user_id,
            _u.username,
            _u.is_admin,
            _u.creation_time,
        ).join(t.users, _u.user_id == _k.user_id)
        with self._store._read("checking an API token") as conn:
            row = conn.execute(stmt.where(_k.token_hash == hash_token(secret))).first()
        if row is None:
            raise Unauthenticated("the API token is not valid (unknown token)")
        if row.revoked_time is not None:
            raise Unauthenticated(f"the API token {row.prefix}... was revoked at {_time(row.revoked_time)}")
        if row.expires_time is not None and row.expires_time <= _now_ms():
            raise Unauthenticated(f"the API token {row.prefix}... expired at {_time(row.expires_time)}")
        return _user(row)

    # ---- permissions -------------------------------------------------------------------------

    def _default_level(self, conn: sa.Connection) -> PermissionLevel:
        value = conn.execute(sa.select(_s.value).where(_s.key == DEFAULT_LEVEL_KEY)).scalar()
        return DEFAULT_LEVEL if value is None else PermissionLevel(value)

    def get_default_level(self) -> PermissionLevel:
        with self._store._read("reading the default permission") as conn:
            return self._default_level(conn)

    def set_default_level(self, level: PermissionLevel) -> None:
        value = PermissionLevel.parse(level).value
        stmt = self._store._insert(t.auth_settings).values(key=DEFAULT_LEVEL_KEY, value=value)
        with self._store._write("setting the default permission") as conn:
            conn.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": value}))

    def _user_id(self, conn: sa.Connection, username: str) -> str:
        return t.EVERYONE_ID if username == EVERYONE else str(self._user_row(conn, username).user_id)

    def set_permission(
        self, username: str, kind: ResourceKind, resource_id: str, level: PermissionLevel
    ) -> Permission:
        kind, level = ResourceKind.parse(kind), PermissionLevel.parse(level)
        resource_id = _resource_id(resource_id)
        with self._store._write("granting a permission") as conn:
            user_id = self._user_id(conn, username)
            self._upsert(conn, kind, resource_id, user_id, level)
        return Permission(username, kind, resource_id, level)

    def _upsert(
        self, conn: sa.Connection, kind: ResourceKind, resource_id: str, user_id: str, level: PermissionLevel
    ) -> None:
        stmt = self._store._insert(t.permissions).values(
            kind=kind.value, resource_id=resource_id, user_id=user_id, level=level.value
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["kind", "resource_id", "user_id"], set_={"level": level.value}
            )
        )

    def delete_permission(self, username: str, kind: ResourceKind, resource_id: str) -> None:
        kind = ResourceKind.parse(kind)
        with self._store._write("revoking a permission") as conn:
            user_id = self._user_id(conn, username)
            deleted = conn.execute(
                t.permissions.delete().where(
                    _p.kind == kind.value, _p.resource_id == resource_id, _p.user_id == user_id
                )
            ).rowcount
            if not deleted:
                raise NotFound(
                    f"{username!r} holds no permission of their own on {kind.value} {resource_id!r}",
                    username=username,
                    kind=kind.value,
                    resource_id=resource_id,
                )

    def list_permissions(
        self,
        *,
        username: str | None = None,
        kind: ResourceKind | None = None,
        resource_id: str | None = None,
    ) -> list[Permission]:
        stmt = (
            sa.select(t.permissions, _u.username)
            .join(t.users, _u.user_id == _p.user_id, isouter=True)
            .order_by(_p.kind, _p.resource_id, _p.user_id)
        )
        if kind is not None:
            stmt = stmt.where(_p.kind == ResourceKind.parse(kind).value)
        if resource_id is not None:
            stmt = stmt.where(_p.resource_id == resource_id)
        with self._store._read("listing permissions") as conn:
            if username is not None:
                stmt = stmt.where(_p.user_id == self._user_id(conn, username))
            found = conn.execute(stmt).all()
        return [
            Permission(
                EVERYONE if r.user_id == t.EVERYONE_ID else r.username,
                ResourceKind(r.kind),
                r.resource_id,
                PermissionLevel(r.level),
            )
            for r in found
        ]

    def effective_level(self, user: User, kind: ResourceKind, resource_id: str) -> PermissionLevel:
        if user.is_admin:
            return PermissionLevel.MANAGE
        with self._store._read("checking a permission") as conn:
            found = dict(
                conn.execute(
                    sa.select(_p.user_id, _p.level).where(
                        _p.kind == kind.value,
                        _p.resource_id == str(resource_id),
                        _p.user_id.in_((user.user_id, t.EVERYONE_ID)),
                    )
                ).all()
            )
            level = found.get(user.user_id) or found.get(t.EVERYONE_ID)
            return PermissionLevel(level) if level is not None else self._default_level(conn)

    def readable(self, user: User, kind: ResourceKind, resource_ids: Sequence[str]) -> set[str]:
        """The ids among ``resource_ids`` that ``user`` may READ."""
        ids = list(dict.fromkeys(str(i) for i in resource_ids))
        if user.is_admin:
            return set(ids)
        levels: dict[str, dict[str, str]] = {}
        with self._store._read("checking permissions") as conn:
            for start in range(0, len(ids), _CHUNK):
                for row in conn.execute(
                    sa.select(_p.resource_id, _p.user_id, _p.level).where(
                        _p.kind == kind.value,
                        _p.resource_id.in_(ids[start : start + _CHUNK]),
                        _p.user_id.in_((user.user_id, t.EVERYONE_ID)),
                    )
                ):
                    levels.setdefault(row.resource_id, {})[row.user_id] = row.level
            default = self._default_level(conn)
        allowed = set()
        for resource_id in ids:
            rows = levels.get(resource_id, {})
            level = rows.get(user.user_id) or rows.get(t.EVERYONE_ID)
            if (PermissionLevel(level) if level else default).allows(PermissionLevel.READ):
                allowed.add(resource_id)
        return allowed

    def grant_creator(self, user: User, kind: ResourceKind, resource_id: str) -> None:
        """``user`` created the resource: MANAGE for them, and the server's default level now as
        the resource's own default (kept when the server's default changes later)."""
        resource_id = _resource_id(resource_id)
        with self._store._write("granting the creator's permission") as conn:
            self._upsert(conn, kind, resource_id, user.user_id, PermissionLevel.MANAGE)
            everyone = self._store._insert(t.permissions).values(
                kind=kind.value,
                resource_id=resource_id,
                user_id=t.EVERYONE_ID,
                level=self._default_level(conn).value,
            )
            conn.execute(everyone.on_conflict_do_nothing(index_elements=["kind", "resource_id", "user_id"]))

    def forget_resource(self, kind: ResourceKind, resource_id: str) -> None:
        """Drop every permission on a resource that no longer exists (a deleted registered model),
        so a new one of the same name starts afresh."""
        with self._store._write("dropping permissions") as conn:
            conn.execute(t.permissions.delete().where(_p.kind == kind.value, _p.resource_id == resource_id))


def _resource_id(resource_id: Any) -> str:
    if not isinstance(resource_id, str) or not resource_id or len(resource_id) > t.MODEL_NAME_LENGTH:
        raise InvalidInput(
            f"a resource id must be a non-empty string of at most {t.MODEL_NAME_LENGTH} characters, "
            f"got {resource_id!r}",
            resource_id=repr(resource_id),
        )
    return resource_id
