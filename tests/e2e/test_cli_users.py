"""``loopml server create-admin``, ``loopml users ...`` and ``loopml permissions ...`` on a real
SQLite store (click's CliRunner), read back through the store."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from loopml.cli.main import cli
from loopml.entities import PermissionLevel, ResourceKind
from loopml.errors import Unauthenticated
from loopml.store.base import Store
from loopml.store.resolver import open_store


@pytest.fixture
def uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'server.db'}"


@pytest.fixture
def store(uri: str) -> Iterator[Store]:
    s = open_store(uri)
    yield s
    s.close()


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_create_admin_prints_a_working_token_once_alone_on_stdout(uri: str, store: Store) -> None:
    result = run("server", "create-admin", "--username", "root", "--backend-store-uri", uri)
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.startswith("lml_") and "\n" not in token
    assert "shown this once" in result.stderr and "LOOPML_TRACKING_TOKEN" in result.stderr
    user = store.users.authenticate(token)
    assert (user.username, user.is_admin) == ("root", True)
    # the group's own --backend-store-uri works too, and a second admin of that name is refused
    again = run("server", "--backend-store-uri", uri, "create-admin", "--username", "root")
    assert again.exit_code == 4 and "'root' already exists" in again.stderr


def test_users_and_their_tokens(uri: str, store: Store) -> None:
    assert run("users", "create", "bob", "--backend-store-uri", uri).exit_code == 0
    assert run("users", "create", "carol", "--admin", "--tracking-uri", uri).exit_code == 0
    made = run(
        "users",
        "token",
        "create",
        "bob",
        "--expires-in-days",
        "30",
        "--note",
        "ci",
        "--backend-store-uri",
        uri,
    )
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip()
    assert store.users.authenticate(secret).username == "bob"
    token = store.users.list_tokens("bob")[0]
    assert token.note == "ci" and token.expires_time is not None
    assert abs(token.expires_time - (time.time() + 30 * 86400) * 1000) < 60_000

    listed = json.loads(run("users", "list", "--json", "--backend-store-uri", uri).stdout)
    assert [(u["username"], u["is_admin"], u["active_tokens"]) for u in listed] == [
        ("bob", False, 1),
        ("carol", True, 0),
    ]
    table = run("users", "token", "list", "--backend-store-uri", uri).stdout
    assert token.token_id in table and f"{token.prefix}..." in table and secret not in table

    revoked = run("users", "token", "revoke", token.token_id, "--backend-store-uri", uri)
    assert revoked.exit_code == 0 and "revoked" in revoked.stdout
    with pytest.raises(Unauthenticated, match="revoked"):
        store.users.authenticate(secret)
    assert "revoked" in run("users", "token", "list", "bob", "--backend-store-uri", uri).stdout

    unknown = run("users", "token", "create", "nobody", "--backend-store-uri", uri)
    assert unknown.exit_code == 3 and "no user named 'nobody'" in unknown.stderr
    assert (
        run("users", "token", "create", "bob", "--expires-in-days", "0", "--backend-store-uri", uri).exit_code
        == 2
    )


def test_permissions_grant_revoke_list_and_default(uri: str, store: Store) -> None:
    store.users.create_user("bob")
    experiment = store.create_experiment("e1", "vision", "/tmp/vision")
    store.registry.create_registered_model("churn")

    by_name = run("permissions", "grant", "bob", "--experiment", "vision", "edit", "--backend-store-uri", uri)
    assert by_name.exit_code == 0, by_name.output
    assert (
        run("permissions", "grant", "bob", "--model", "churn", "MANAGE", "--backend-store-uri", uri).exit_code
        == 0
    )
    assert (
        run("permissions", "grant", "*", "--model", "churn", "NONE", "--backend-store-uri", uri).exit_code
        == 0
    )
    bob = store.users.get_user("bob")
    assert (
        store.users.effective_level(bob, ResourceKind.EXPERIMENT, experiment.experiment_id)
        is PermissionLevel.EDIT
    )
    assert store.users.effective_level(bob, ResourceKind.REGISTERED_MODEL, "churn") is PermissionLevel.MANAGE

    listed = json.loads(run("permissions", "list", "--json", "--backend-store-uri", uri).stdout)
    assert listed["default"] == "READ"
    assert {(p["user"], p["kind"], p["resource"], p["level"]) for p in listed["permissions"]} == {
        ("bob", "experiment", "e1", "EDIT"),
        ("bob", "registered_model", "churn", "MANAGE"),
        ("*", "registered_model", "churn", "NONE"),
    }

    assert run("permissions", "revoke", "bob", "--model", "churn", "--backend-store-uri", uri).exit_code == 0
    assert store.users.effective_level(bob, ResourceKind.REGISTERED_MODEL, "churn") is PermissionLevel.NONE
    again = run("permissions", "revoke", "bob", "--model", "churn", "--backend-store-uri", uri)
    assert again.exit_code == 3 and "holds no permission of their own" in again.stderr

    assert run("permissions", "default", "none", "--backend-store-uri", uri).exit_code == 0
    assert run("permissions", "default", "--backend-store-uri", uri).stdout.strip() == "NONE"
    assert store.users.get_default_level() is PermissionLevel.NONE

    missing = run("permissions", "grant", "bob", "--experiment", "nope", "READ", "--backend-store-uri", uri)
    assert missing.exit_code == 3 and "no experiment with id or name 'nope'" in missing.stderr
    both = run(
        "permissions",
        "grant",
        "bob",
        "--experiment",
        "e1",
        "--model",
        "churn",
        "READ",
        "--backend-store-uri",
        uri,
    )
    assert both.exit_code == 2 and "exactly one resource" in both.stderr
    assert (
        run(
            "permissions", "grant", "bob", "--experiment", "e1", "WRITE", "--backend-store-uri", uri
        ).exit_code
        == 2
    )


def test_administration_refuses_a_server_url() -> None:
    result = run("users", "list", "--tracking-uri", "http://127.0.0.1:5000")
    assert result.exit_code == 2 and "administered on the server's database" in result.stderr


def test_the_default_store_is_the_embedded_one() -> None:
    assert run("users", "create", "local").exit_code == 0  # LOOPML_HOME is a fresh directory per test
    assert "local" in run("users", "list").stdout


def test_server_auth_is_handed_to_the_workers_and_a_store_without_admin_is_flagged(
    uri: str, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from loopml.cli import server as server_cli

    for variable in ("LOOPML_SERVER_AUTH", "LOOPML_BACKEND_STORE_URI", "LOOPML_ARTIFACTS_DESTINATION"):
        monkeypatch.setenv(variable, "")  # restored after the test: the command sets them
    started: list[str] = []
    monkeypatch.setattr(
        server_cli, "run_uvicorn", lambda **_kw: started.append(os.environ["LOOPML_SERVER_AUTH"])
    )
    result = run("server", "--backend-store-uri", uri, "--auth")
    assert result.exit_code == 0 and started == ["1"]
    assert "no admin yet" in result.stderr and "loopml server create-admin" in result.stderr

    store.users.create_user("root", is_admin=True)
    result = run("server", "--backend-store-uri", uri, "--auth")
    assert started == ["1", "1"] and "no admin" not in result.stderr
    assert run("server", "--backend-store-uri", uri, "--no-auth").exit_code == 0 and started[-1] == "0"
    monkeypatch.setenv("LOOPML_SERVER_AUTH", "true")  # the setting, without the option
    assert run("server", "--backend-store-uri", uri).exit_code == 0 and started[-1] == "1"
