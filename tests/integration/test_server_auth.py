"""Authentication and permissions against a real ``loopml server --auth`` process on PostgreSQL.

Every route of the app is enumerated from the app itself, so a route added later is covered
without editing this file: without a token (and with an unknown, a revoked or an expired one)
each answers 401, except /health; with another user's token each route of a private experiment
or registered model answers 403.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

import loopml
from loopml.entities import PermissionLevel, ResourceKind
from loopml.entities.user import EVERYONE
from loopml.errors import Unauthenticated
from loopml.server.app import create_app
from loopml.server.auth import AppRoute, app_routes
from loopml.store.base import Store
from loopml.store.resolver import open_store

_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def _routes() -> list[tuple[str, AppRoute]]:
    """(method, route) for every route of the app but the web UI's pages (HEAD is GET's); the
    UI's sign-in is tested in test_ui_auth."""
    app = create_app(cast(Store, object()), "/tmp/unused", auth=True, ui=False)
    found = []
    for route in app_routes(app):
        methods = route.methods - {"HEAD"} if "GET" in route.methods else route.methods
        found += [(m, route) for m in sorted(methods)]
    return found


ROUTES = _routes()


def _fill(path: str, values: dict[str, str]) -> str:
    return _PARAM.sub(lambda m: values.get(m.group(1), "x"), path)


@dataclass(frozen=True)
class Person:
    name: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module")
def server_store(loopml_auth_server: Any) -> Iterator[Store]:
    """The auth server's own database, administered directly (as `loopml users` does)."""
    store = open_store(loopml_auth_server.store_uri)
    yield store
    store.close()


@pytest.fixture
def person(server_store: Store) -> Any:
    def make(prefix: str = "user", **token_options: Any) -> Person:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        server_store.users.create_user(name)
        return Person(name, server_store.users.create_token(name, **token_options).secret)

    return make


@pytest.fixture
def http(loopml_auth_server: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=loopml_auth_server.url, timeout=30) as client:
        yield client


def _call(
    http: httpx.Client, method: str, path: str, headers: dict[str, str] | None = None, **kw: Any
) -> Any:
    if method in ("POST", "PUT", "PATCH") and "json" not in kw:
        kw["json"] = {}
    if method in ("GET", "HEAD", "DELETE"):
        kw.pop("json", None)
    return http.request(method, path, headers=headers, **kw)


def _error(method: str, response: httpx.Response, status: int) -> dict[str, Any]:
    """The error body of an answer of ``status`` (a HEAD answer has none: its status stands for it)."""
    if response.status_code != status:
        return {}
    if method == "HEAD":
        return {"code": {401: "unauthenticated", 403: "permission_denied"}[status], "details": {}}
    error: dict[str, Any] = response.json()["error"]
    return error


def test_the_app_has_routes_of_every_kind_to_check() -> None:
    paths = {r.path for _m, r in ROUTES}
    assert {"/health", "/ready", "/docs", "/openapi.json", "/api/v1/runs/{run_id}"} <= paths
    assert len(ROUTES) > 30


@pytest.mark.parametrize("token", ["none", "unknown", "malformed"])
def test_every_route_but_health_answers_401_without_a_valid_token(http: httpx.Client, token: str) -> None:
    headers = {
        "unknown": {"Authorization": "Bearer lml_not-a-token"},
        "malformed": {"Authorization": "Basic abc"},
    }
    failures = []
    for method, route in ROUTES:
        response = _call(http, method, _fill(route.path, {}), headers.get(token))
        if route.path == "/health":
            assert response.status_code == 200
            continue
        if _error(method, response, 401).get("code") != "unauthenticated":
            failures.append(f"{method} {route.path}: {response.status_code} {response.text[:100]}")
        elif response.headers.get("www-authenticate") != 'Bearer realm="loopml"':
            failures.append(f"{method} {route.path}: no WWW-Authenticate challenge")
    assert failures == []


def test_revoked_and_expired_tokens_answer_401_on_every_route(
    http: httpx.Client, person: Any, server_store: Store
) -> None:
    revoked = person("revoked")
    assert http.get("/api/v1/experiments", headers=revoked.headers).status_code == 200
    token_id = server_store.users.list_tokens(revoked.name)[0].token_id
    server_store.users.revoke_token(token_id)
    expired = person("expired", expires_time=time.time_ns() // 1_000_000 + 1500)
    assert http.get("/api/v1/experiments", headers=expired.headers).status_code == 200
    time.sleep(1.6)
    for who, pattern in ((revoked, "was revoked"), (expired, "expired at")):
        for method, route in ROUTES:
            if route.path == "/health":
                continue
            response = _call(http, method, _fill(route.path, {}), who.headers)
            assert response.status_code == 401, f"{who.name}: {method} {route.path}: {response.text}"
            if method != "HEAD":
                assert pattern in response.json()["error"]["message"]


@pytest.fixture
def private(http: httpx.Client, person: Any, server_store: Store) -> dict[str, str]:
    """An experiment with a run, and a registered model with a version and an alias, made by
    their owner and closed to everyone else (their own default level NONE)."""
    owner = person("owner")
    name = f"private-{uuid.uuid4().hex[:8]}"
    created = http.post("/api/v1/experiments", json={"name": name}, headers=owner.headers)
    assert created.status_code == 201, created.text
    experiment_id = created.json()["experiment_id"]
    run = http.post(
        "/api/v1/runs", json={"experiment_id": experiment_id, "run_name": "r"}, headers=owner.headers
    )
    assert run.status_code == 201, run.text
    version = http.post(
        f"/api/v1/registered-models/{name}/versions",
        json={"source": "runs:/x/model", "storage_location": "/tmp/x"},
        headers=owner.headers,
    )
    assert version.status_code == 201, version.text
    alias = http.put(
        f"/api/v1/registered-models/{name}/aliases/champion", json={"version": 1}, headers=owner.headers
    )
    assert alias.status_code == 204, alias.text
    server_store.users.set_permission(EVERYONE, ResourceKind.EXPERIMENT, experiment_id, PermissionLevel.NONE)
    server_store.users.set_permission(EVERYONE, ResourceKind.REGISTERED_MODEL, name, PermissionLevel.NONE)
    return {
        "owner_token": owner.token,
        "experiment_id": experiment_id,
        "run_id": run.json()["info"]["run_id"],
        "name": name,
        "version": "1",
        "alias": "champion",
        "key": "k",
        "path": f"{experiment_id}/{run.json()['info']['run_id']}/artifacts/model.pkl",
    }


def _private_kind(method: str, path: str) -> str | None:
    """What a route names, read from its path (not from the permission table it checks):
    an experiment (by id, or by a run of it), a registered model, or nothing."""
    if "{experiment_id}" in path or "{run_id}" in path or (method, path) == ("POST", "/api/v1/runs"):
        return "experiment"
    if path.startswith("/api/v1/artifacts"):  # <experiment id>/<run id>/artifacts/...
        return "experiment"
    if path.startswith("/api/v1/registered-models/{name}"):
        return "model"
    return None


def test_another_users_token_is_refused_on_every_route_of_a_private_resource(
    http: httpx.Client, person: Any, private: dict[str, str]
) -> None:
    stranger = person("stranger")
    checked: dict[str, int] = {}
    failures = []
    for method, route in ROUTES:
        kind = _private_kind(method, route.path)
        if kind is None:
            continue
        body = (
            {"experiment_id": private["experiment_id"], "run_name": "x"}
            if route.path == "/api/v1/runs"
            else {}
        )
        params = {"path": private["path"]} if route.path == "/api/v1/artifacts" else None
        response = _call(http, method, _fill(route.path, private), stranger.headers, json=body, params=params)
        expected = private["experiment_id"] if kind == "experiment" else private["name"]
        error = _error(method, response, 403)
        held = error.get("details", {}).get("resource_id", expected if method == "HEAD" else None)
        if error.get("code") != "permission_denied" or held != expected:
            failures.append(f"{method} {route.path}: {response.status_code} {response.text[:120]}")
        checked[kind] = checked.get(kind, 0) + 1
    assert failures == []
    assert checked["experiment"] >= 15 and checked["model"] >= 15

    # the owner reads them; lists and searches leave them out for the stranger
    owner = {"Authorization": f"Bearer {private['owner_token']}"}
    assert http.get(f"/api/v1/runs/{private['run_id']}", headers=owner).status_code == 200
    assert http.get(f"/api/v1/registered-models/{private['name']}", headers=owner).status_code == 200
    listed = http.get("/api/v1/experiments", headers=stranger.headers).json()["experiments"]
    assert private["experiment_id"] not in [e["experiment_id"] for e in listed]
    found = http.post(
        "/api/v1/runs/search", json={"experiment_ids": [private["experiment_id"]]}, headers=stranger.headers
    )
    assert found.status_code == 200 and found.json()["items"] == []
    assert http.get(
        "/api/v1/experiments", params={"name": private["name"]}, headers=stranger.headers
    ).json() == {"experiments": []}
    models = http.post("/api/v1/registered-models/search", json={}, headers=stranger.headers).json()["items"]
    assert private["name"] not in [m["name"] for m in models]
    events = http.get("/api/v1/events", headers=stranger.headers).json()["events"]
    assert not [e for e in events if e["subject"].startswith(f"models:/{private['name']}")]


def test_a_grant_opens_a_private_experiment_at_its_level(
    http: httpx.Client, person: Any, private: dict[str, str], server_store: Store
) -> None:
    reader = person("reader")
    run_path = f"/api/v1/runs/{private['run_id']}"
    metric = {"key": "loss", "value": 0.5, "timestamp": 1, "step": 0}
    server_store.users.set_permission(
        reader.name, ResourceKind.EXPERIMENT, private["experiment_id"], PermissionLevel.READ
    )
    assert http.get(run_path, headers=reader.headers).status_code == 200
    denied = http.post(run_path + "/metrics", json=metric, headers=reader.headers)
    assert denied.status_code == 403 and "needs EDIT" in denied.json()["error"]["message"]
    server_store.users.set_permission(
        reader.name, ResourceKind.EXPERIMENT, private["experiment_id"], PermissionLevel.EDIT
    )
    assert http.post(run_path + "/metrics", json=metric, headers=reader.headers).status_code == 204
    assert http.delete(run_path, headers=reader.headers).status_code == 403  # deleting needs MANAGE


def test_the_tokens_user_is_the_runs_user_and_the_registry_actor(
    loopml_auth_server: Any, http: httpx.Client, person: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = person("alice")
    monkeypatch.setenv("LOOPML_TRACKING_TOKEN", alice.token)
    client = loopml.Client(tracking_uri=loopml_auth_server.url)
    try:
        experiment_id = client.create_experiment(f"alice-{uuid.uuid4().hex[:8]}")
        run = client.create_run(experiment_id, run_name="r")
        client.log_metric(run.info.run_id, "loss", 0.25)
        assert client.get_run(run.info.run_id).info.user_id == alice.name
        through_client = f"c-{uuid.uuid4().hex[:8]}"
        client.create_registered_model(through_client)
        client.set_registered_model_tag(through_client, "team", "vision")
        assert [c.actor for c in client.get_model_history(through_client)] == [alice.name, alice.name]
    finally:
        client.close()
    # a REST client claiming to be someone else is recorded as the token's user
    spoofed = http.post(
        "/api/v1/runs",
        json={"experiment_id": experiment_id, "run_name": "s", "user_id": "mallory"},
        headers=alice.headers,
    )
    assert spoofed.json()["info"]["user_id"] == alice.name
    model = f"m-{uuid.uuid4().hex[:8]}"
    assert (
        http.post(
            "/api/v1/registered-models",
            params={"actor": "mallory"},
            json={"name": model},
            headers=alice.headers,
        ).status_code
        == 201
    )
    http.put(
        f"/api/v1/registered-models/{model}/tags/team",
        params={"actor": "mallory"},
        json={"value": "x"},
        headers=alice.headers,
    )
    history = http.get(f"/api/v1/registered-models/{model}/history", headers=alice.headers).json()["changes"]
    assert len(history) == 2 and {c["actor"] for c in history} == {alice.name}


def test_a_clients_artifacts_go_through_the_server_with_its_token(
    loopml_auth_server: Any, http: httpx.Client, person: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    owner, stranger = person("owner"), person("stranger")
    monkeypatch.setenv("LOOPML_TRACKING_TOKEN", owner.token)
    client = loopml.Client(tracking_uri=loopml_auth_server.url)
    try:
        experiment_id = client.create_experiment(f"files-{uuid.uuid4().hex[:8]}")
        run_id = client.create_run(experiment_id, run_name="r").info.run_id
        client.log_text(run_id, "hello", "notes.txt")
        assert [f.path for f in client.list_artifacts(run_id)] == ["notes.txt"]
        local = client.download_artifacts(run_id, "notes.txt", str(tmp_path))
        assert Path(local).read_text() == "hello"
    finally:
        client.close()
    path = f"/api/v1/artifacts/{experiment_id}/{run_id}/artifacts/notes.txt"
    assert http.get(path, headers=stranger.headers).status_code == 200  # the server default: READ
    refused = http.put(path, content=b"overwritten", headers=stranger.headers)
    assert refused.status_code == 403 and refused.json()["error"]["details"]["needed"] == "EDIT"
    root = http.get("/api/v1/artifacts", headers=stranger.headers)
    assert root.status_code == 403 and "root of the artifacts destination" in root.json()["error"]["message"]
    assert http.get(path).status_code == 401


def test_without_the_token_variable_the_client_is_told_what_to_do(loopml_auth_server: Any) -> None:
    client = loopml.Client(tracking_uri=loopml_auth_server.url)
    try:
        with pytest.raises(Unauthenticated, match="LOOPML_TRACKING_TOKEN"):
            client.search_experiments()
    finally:
        client.close()


def test_the_admin_passes_every_check(
    http: httpx.Client, loopml_auth_server: Any, private: dict[str, str]
) -> None:
    admin = {"Authorization": f"Bearer {loopml_auth_server.admin_token}"}
    assert http.get("/ready", headers=admin).json() == {"status": "ready"}
    assert http.get(f"/api/v1/experiments/{private['experiment_id']}", headers=admin).status_code == 200
    assert (
        http.get(f"/api/v1/registered-models/{private['name']}/versions/1", headers=admin).status_code == 200
    )
    assert http.delete(f"/api/v1/runs/{private['run_id']}", headers=admin).status_code == 204
