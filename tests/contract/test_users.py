"""The UserStore contract: users, API tokens and permissions, on SQLite and PostgreSQL.

User administration is not served over HTTP (``loopml users`` talks to the database), so this
suite runs on the SQL backends only.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from loopml import AlreadyExists, InvalidInput, NotFound
from loopml.entities import PermissionLevel, ResourceKind
from loopml.entities.user import EVERYONE
from loopml.errors import Unauthenticated
from loopml.store.base import Store
from loopml.store.resolver import open_store
from loopml.store.sql.engine import sqlalchemy_url

pytestmark = pytest.mark.backends("sqlite", "postgres")

READ, EDIT, MANAGE, NONE = (
    PermissionLevel.READ,
    PermissionLevel.EDIT,
    PermissionLevel.MANAGE,
    PermissionLevel.NONE,
)
EXPERIMENT, MODEL = ResourceKind.EXPERIMENT, ResourceKind.REGISTERED_MODEL


@pytest.fixture
def store(store_uri: str) -> Iterator[Store]:
    s = open_store(store_uri)
    yield s
    s.close()


def _now() -> int:
    return time.time_ns() // 1_000_000


def test_users_are_created_listed_and_unique(store: Store) -> None:
    admin = store.users.create_user("alice", is_admin=True)
    bob = store.users.create_user("bob.smith@example.com")
    assert admin.is_admin and not bob.is_admin
    assert store.users.get_user("bob.smith@example.com") == bob
    assert [u.username for u in store.users.list_users()] == ["alice", "bob.smith@example.com"]
    with pytest.raises(AlreadyExists, match="'alice' already exists"):
        store.users.create_user("alice")
    with pytest.raises(NotFound, match=r"no user named 'carol'.*loopml users create carol"):
        store.users.get_user("carol")
    for bad in ("", "*", "has space", "-dash-first", "x" * 257):
        with pytest.raises(InvalidInput, match="invalid user name"):
            store.users.create_user(bad)
    assert len(store.users.list_users()) == 2


def test_a_token_is_returned_once_and_only_its_sha256_is_stored(store: Store, database_uri: str) -> None:
    store.users.create_user("bob")
    issued = store.users.create_token("bob", note="laptop")
    secret = issued.secret
    assert secret.startswith("lml_") and len(secret) >= 4 + 43
    assert secret not in repr(issued)
    assert issued.token.prefix == secret[:12] and issued.token.username == "bob"
    assert store.users.authenticate(secret).username == "bob"

    engine = sa.create_engine(sqlalchemy_url(database_uri))
    try:
        with engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM api_tokens"))]
    finally:
        engine.dispose()
    assert len(rows) == 1
    assert rows[0]["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert not any(secret in str(value) for value in rows[0].values())

    second = store.users.create_token("bob")
    assert second.secret != secret
    listed = store.users.list_tokens("bob")
    assert [t.token_id for t in listed] == [issued.token.token_id, second.token.token_id]
    assert listed[0].note == "laptop" and listed[0].is_active(_now())
    with pytest.raises(NotFound, match="no user named 'nobody'"):
        store.users.create_token("nobody")


def test_unknown_revoked_and_expired_tokens_are_refused(store: Store) -> None:
    store.users.create_user("bob")
    kept = store.users.create_token("bob")
    revoked = store.users.create_token("bob")
    expired = store.users.create_token("bob", expires_time=_now() - 1)
    later = store.users.create_token("bob", expires_time=_now() + 3_600_000)

    first = store.users.revoke_token(revoked.token.token_id)
    assert first.revoked_time is not None and not first.is_active(_now())
    assert store.users.revoke_token(revoked.token.token_id).revoked_time == first.revoked_time
    with pytest.raises(Unauthenticated, match=f"{revoked.token.prefix}... was revoked"):
        store.users.authenticate(revoked.secret)
    with pytest.raises(Unauthenticated, match=f"{expired.token.prefix}... expired"):
        store.users.authenticate(expired.secret)
    with pytest.raises(Unauthenticated, match="not valid"):
        store.users.authenticate(kept.secret + "x")
    with pytest.raises(Unauthenticated, match="no API token"):
        store.users.authenticate("")
    assert store.users.authenticate(kept.secret).username == "bob"
    assert store.users.authenticate(later.secret).username == "bob"
    with pytest.raises(NotFound, match="no API token with id 'nope'"):
        store.users.revoke_token("nope")


def test_levels_come_from_the_grant_then_the_resource_then_the_server_default(store: Store) -> None:
    owner = store.users.create_user("owner")
    other = store.users.create_user("other")
    admin = store.users.create_user("root", is_admin=True)
    assert store.users.get_default_level() is READ
    assert store.users.effective_level(other, EXPERIMENT, "e-old") is READ  # no rows: the server default

    store.users.set_default_level(NONE)
    store.users.grant_creator(owner, EXPERIMENT, "e-private")
    assert store.users.effective_level(owner, EXPERIMENT, "e-private") is MANAGE
    assert store.users.effective_level(other, EXPERIMENT, "e-private") is NONE
    assert store.users.effective_level(admin, EXPERIMENT, "e-private") is MANAGE

    store.users.set_default_level(EDIT)
    store.users.grant_creator(owner, MODEL, "churn")
    assert store.users.effective_level(other, MODEL, "churn") is EDIT
    # a resource keeps the default it was created with; one without rows follows the server's
    assert store.users.effective_level(other, EXPERIMENT, "e-private") is NONE
    assert store.users.effective_level(other, EXPERIMENT, "e-old") is EDIT

    granted = store.users.set_permission("other", EXPERIMENT, "e-private", READ)
    assert (granted.username, granted.level) == ("other", READ)
    assert store.users.effective_level(other, EXPERIMENT, "e-private") is READ
    store.users.set_permission("other", EXPERIMENT, "e-private", MANAGE)  # replaces
    assert store.users.effective_level(other, EXPERIMENT, "e-private") is MANAGE
    store.users.delete_permission("other", EXPERIMENT, "e-private")
    assert store.users.effective_level(other, EXPERIMENT, "e-private") is NONE
    with pytest.raises(NotFound, match="holds no permission of their own"):
        store.users.delete_permission("other", EXPERIMENT, "e-private")

    store.users.set_permission(EVERYONE, EXPERIMENT, "e-private", READ)  # the resource's default
    assert store.users.effective_level(other, EXPERIMENT, "e-private") is READ
    # a user's own grant wins over the resource's default, also downwards
    store.users.set_permission("other", MODEL, "churn", NONE)
    assert store.users.effective_level(other, MODEL, "churn") is NONE


def test_readable_filters_many_resources_at_once(store: Store) -> None:
    owner = store.users.create_user("owner")
    other = store.users.create_user("other")
    admin = store.users.create_user("root", is_admin=True)
    store.users.set_default_level(NONE)
    for i in range(5):
        store.users.grant_creator(owner, EXPERIMENT, f"e{i}")
    store.users.set_permission("other", EXPERIMENT, "e1", READ)
    store.users.set_permission(EVERYONE, EXPERIMENT, "e3", EDIT)
    ids = [f"e{i}" for i in range(5)] + ["without-rows"]
    assert store.users.readable(other, EXPERIMENT, ids) == {"e1", "e3"}
    assert store.users.readable(owner, EXPERIMENT, ids) == {f"e{i}" for i in range(5)}
    assert store.users.readable(admin, EXPERIMENT, ids) == set(ids)
    assert store.users.readable(other, MODEL, ids) == set()  # another kind: the server default, NONE
    store.users.set_default_level(READ)
    assert store.users.readable(other, EXPERIMENT, ids) == {"e1", "e3", "without-rows"}


def test_permissions_are_listed_and_forgotten_with_their_resource(store: Store) -> None:
    owner = store.users.create_user("owner")
    store.users.create_user("other")
    store.users.grant_creator(owner, MODEL, "churn")
    store.users.set_permission("other", MODEL, "churn", EDIT)
    store.users.grant_creator(owner, EXPERIMENT, "e1")
    listed = store.users.list_permissions(kind=MODEL)
    assert {(p.username, p.level) for p in listed} == {("owner", MANAGE), ("other", EDIT), (EVERYONE, READ)}
    assert {p.resource_id for p in store.users.list_permissions(username="owner")} == {"churn", "e1"}
    assert [p.level for p in store.users.list_permissions(username=EVERYONE, kind=EXPERIMENT)] == [READ]
    store.users.forget_resource(MODEL, "churn")
    assert store.users.list_permissions(kind=MODEL) == []
    assert len(store.users.list_permissions()) == 2


def test_bad_levels_kinds_and_users_are_refused(store: Store) -> None:
    store.users.create_user("bob")
    with pytest.raises(InvalidInput, match="unknown permission level 'WRITE'"):
        store.users.set_permission("bob", EXPERIMENT, "e1", "WRITE")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="unknown resource kind 'dataset'"):
        store.users.set_permission("bob", "dataset", "e1", READ)  # type: ignore[arg-type]
    with pytest.raises(NotFound, match="no user named 'carol'"):
        store.users.set_permission("carol", EXPERIMENT, "e1", READ)
    with pytest.raises(InvalidInput, match="resource id"):
        store.users.set_permission("bob", EXPERIMENT, "", READ)
    assert store.users.set_permission("bob", EXPERIMENT, "e1", "edit").level is EDIT  # type: ignore[arg-type]
    assert store.users.list_permissions(username="bob")[0].level is EDIT
