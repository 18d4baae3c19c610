"""The permission table and the scoped store, in process (httpx's ASGI transport) over SQLite."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from starlette.responses import PlainTextResponse

from loopml.entities import PermissionLevel, ResourceKind
from loopml.server.app import create_app
from loopml.server.auth import app_routes
from loopml.server.permissions import ADMIN_ONLY, RULES, is_ui_path, rule_for
from loopml.store.base import Store
from loopml.store.resolver import open_store

NONE, READ = PermissionLevel.NONE, PermissionLevel.READ


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'auth.db'}")
    yield s
    s.close()


class Api:
    """Requests to an in-process app, as one user or another."""

    def __init__(self, app: FastAPI, tokens: dict[str, str]) -> None:
        self.app = app
        self.tokens = tokens

    def __call__(self, who: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who in self.tokens else {}
                return await client.request(method, path, headers=headers, **kwargs)

        return asyncio.run(go())


@pytest.fixture
def api(store: Store, tmp_path: Path) -> Api:
    tokens = {}
    for name in ("root", "bob", "carol"):
        store.users.create_user(name, is_admin=name == "root")
        tokens[name] = store.users.create_token(name).secret
    return Api(create_app(store, str(tmp_path / "artifacts"), auth=True), tokens)


def test_every_route_of_the_app_has_a_rule_and_every_rule_a_route(store: Store, tmp_path: Path) -> None:
    app = create_app(store, str(tmp_path), auth=True, ui=True)
    served = {("GET" if m == "HEAD" else m, r.path) for r in app_routes(app) for m in r.methods}
    pages = {(m, p) for m, p in served if is_ui_path(p)}  # the web UI's: one rule for all its pages
    assert pages, "the web UI is mounted"
    served -= pages
    assert sorted(served - set(RULES)) == [], "give these routes a rule in loopml/server/permissions.py"
    assert sorted(set(RULES) - served) == [], "these rules name no route of the app"


def test_a_route_without_a_rule_is_for_admins_only(api: Api) -> None:
    extra = APIRouter(prefix="/api/v1/extra")

    @extra.get("/{thing}")
    def read_thing(thing: str) -> dict[str, str]:
        return {"thing": thing}

    api.app.include_router(extra)
    api.app.add_route("/plain", lambda _request: PlainTextResponse("plain"))
    assert rule_for("GET", "/api/v1/extra/{thing}") is ADMIN_ONLY
    for path in ("/api/v1/extra/x", "/plain"):
        denied = api("bob", "GET", path)
        assert denied.status_code == 403, path
        assert denied.json()["error"]["message"].startswith("only admins may call GET")
        assert api("root", "GET", path).status_code == 200
        assert api("nobody", "GET", path).status_code == 401


def test_creators_manage_what_they_create_and_others_get_the_default(api: Api, store: Store) -> None:
    made = api("bob", "POST", "/api/v1/experiments", json={"name": "shared"})
    experiment_id = made.json()["experiment_id"]
    run = api("bob", "POST", "/api/v1/runs", json={"experiment_id": experiment_id, "run_name": "r"}).json()
    run_path = f"/api/v1/runs/{run['info']['run_id']}"
    # the server default READ: carol sees bob's work but may not add to it
    assert api("carol", "GET", run_path).status_code == 200
    metric = {"key": "m", "value": 1.0, "timestamp": 1}
    assert api("carol", "POST", run_path + "/metrics", json=metric).status_code == 403
    assert (
        api(
            "carol", "POST", "/api/v1/runs", json={"experiment_id": experiment_id, "run_name": "x"}
        ).status_code
        == 403
    )
    assert api("bob", "POST", run_path + "/metrics", json=metric).status_code == 204
    assert api("bob", "DELETE", f"/api/v1/experiments/{experiment_id}").status_code == 204
    assert api("bob", "POST", f"/api/v1/experiments/{experiment_id}/restore").status_code == 204

    # from now on new experiments are private; the earlier one keeps READ for others
    store.users.set_default_level(NONE)
    private = api("bob", "POST", "/api/v1/experiments", json={"name": "private"}).json()["experiment_id"]
    assert api("carol", "GET", f"/api/v1/experiments/{private}").status_code == 403
    assert api("carol", "GET", f"/api/v1/experiments/{experiment_id}").status_code == 200
    names = [e["name"] for e in api("carol", "GET", "/api/v1/experiments").json()["experiments"]]
    assert names == ["shared"]
    assert [e["name"] for e in api("root", "GET", "/api/v1/experiments").json()["experiments"]] == [
        "shared",
        "private",
    ]
    # an experiment made without the server (no permission rows) follows the server default
    store.create_experiment("legacy", "legacy", "/tmp/legacy")
    assert api("carol", "GET", "/api/v1/experiments/legacy").status_code == 403
    store.users.set_default_level(READ)
    assert api("carol", "GET", "/api/v1/experiments/legacy").status_code == 200
    assert api("carol", "GET", f"/api/v1/experiments/{private}").status_code == 403


def test_a_missing_resource_is_404_not_403(api: Api, store: Store) -> None:
    store.users.set_default_level(NONE)
    missing = api("carol", "GET", "/api/v1/experiments/does-not-exist")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert api("carol", "GET", "/api/v1/runs/no-such-run").status_code == 404
    assert api("carol", "GET", "/api/v1/registered-models/nope").status_code == 404
    no_body_field = api("carol", "POST", "/api/v1/runs", json={"run_name": "r"})
    assert no_body_field.status_code == 400 and "'experiment_id'" in no_body_field.json()["error"]["message"]


def test_registering_creates_a_model_its_creator_manages(api: Api, store: Store) -> None:
    version = {"source": "runs:/r/model", "storage_location": "/tmp/m"}
    assert api("bob", "POST", "/api/v1/registered-models/churn/versions", json=version).status_code == 201
    store.users.set_permission("*", ResourceKind.REGISTERED_MODEL, "churn", NONE)
    # carol may register a model of her own, not a version of bob's
    assert api("carol", "POST", "/api/v1/registered-models/churn/versions", json=version).status_code == 403
    assert api("carol", "POST", "/api/v1/registered-models/fraud/versions", json=version).status_code == 201
    assert (
        api(
            "carol", "POST", "/api/v1/registered-models/fraud/versions/1/stage", json={"stage": "Staging"}
        ).status_code
        == 200
    )

    # searches and events show carol her model only
    models = api("carol", "POST", "/api/v1/registered-models/search", json={}).json()["items"]
    assert [m["name"] for m in models] == ["fraud"]
    versions = api("carol", "POST", "/api/v1/model-versions/search", json={}).json()["items"]
    assert [(v["name"], v["version"]) for v in versions] == [("fraud", 1)]
    subjects = {e["subject"] for e in api("carol", "GET", "/api/v1/events").json()["events"]}
    assert subjects and all(s.startswith("models:/fraud") for s in subjects)
    assert any(
        s.startswith("models:/churn")
        for s in (e["subject"] for e in api("root", "GET", "/api/v1/events").json()["events"])
    )

    # deleting a model forgets its permissions: a new model of that name starts afresh
    assert api("bob", "DELETE", "/api/v1/registered-models/churn").status_code == 204
    assert store.users.list_permissions(kind=ResourceKind.REGISTERED_MODEL, resource_id="churn") == []
    assert api("carol", "POST", "/api/v1/registered-models", json={"name": "churn"}).status_code == 201
    assert api("carol", "DELETE", "/api/v1/registered-models/churn").status_code == 204


def test_the_caller_is_the_actor_and_the_runs_user_whatever_the_request_says(api: Api, store: Store) -> None:
    experiment_id = api("bob", "POST", "/api/v1/experiments", json={"name": "e"}).json()["experiment_id"]
    run = api(
        "bob",
        "POST",
        "/api/v1/runs",
        json={"experiment_id": experiment_id, "run_name": "r", "user_id": "eve"},
    )
    assert run.json()["info"]["user_id"] == "bob"
    api("bob", "POST", "/api/v1/registered-models", params={"actor": "eve"}, json={"name": "m"})
    api("bob", "PUT", "/api/v1/registered-models/m/tags/k", params={"actor": "eve"}, json={"value": "v"})
    changes = store.registry.get_model_history("m")
    assert [(c.action, c.actor) for c in changes] == [
        ("registered_model.created", "bob"),
        ("registered_model.tag_set", "bob"),
    ]


def test_without_auth_nothing_is_checked(store: Store, tmp_path: Path) -> None:
    app = create_app(store, str(tmp_path), auth=False)
    response = Api(app, {})("anyone", "POST", "/api/v1/experiments", json={"name": "open"})
    assert response.status_code == 201
    assert store.users.list_permissions() == []


def test_levels_parse_in_any_case_and_order() -> None:
    assert PermissionLevel.parse(" edit ") is PermissionLevel.EDIT
    assert PermissionLevel.MANAGE.allows(READ) and not READ.allows(PermissionLevel.EDIT)
    assert NONE.allows(NONE) and not NONE.allows(READ)


def test_users_are_not_administered_through_a_server() -> None:
    from loopml import InvalidInput
    from loopml.store.http.store import HttpStore

    remote = HttpStore("http://127.0.0.1:9", token="lml_x")
    try:
        with pytest.raises(InvalidInput, match="administered on the server's database"):
            _ = remote.users
    finally:
        remote.close()
