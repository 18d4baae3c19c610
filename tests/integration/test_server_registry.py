"""The model registry through a real `loopml server` (backed by PostgreSQL): the user's path
with nothing but ``LOOPML_TRACKING_URI=http://...``, the REST answers, names in paths.

Model files are run artifacts. Until artifacts travel through the server, the client writes
them itself to the run's artifact location, so these tests give client and server one shared
local directory as artifact root (``LOOPML_ARTIFACT_ROOT``), and ``load_model`` reads the
files from there after resolving ``models:/`` through the server.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

import loopml
from loopml import Client, Conflict, NotFound
from loopml.store.http import HttpStore
from loopml.tracking.client import _user

pytestmark = pytest.mark.server

API = "/api/v1"


@pytest.fixture
def through_server(loopml_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The fluent API pointed at the server; yields the shared artifact root."""
    from loopml.tracking.fluent import _client

    shared = tmp_path / "shared-artifacts"
    monkeypatch.setenv("LOOPML_TRACKING_URI", loopml_server)
    monkeypatch.setenv("LOOPML_ARTIFACT_ROOT", str(shared))
    try:
        yield shared
    finally:
        _client().close()  # this test's fluent client (its LOOPML_HOME is the test's own)


@pytest.fixture
def in_postgres(loopml_server_store: str) -> Iterator[Client]:
    client = Client(tracking_uri=loopml_server_store)
    yield client
    client.close()


@pytest.fixture
def http(loopml_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=loopml_server, timeout=10) as client:
        yield client


def _name(prefix: str = "churn") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_log_register_alias_and_load_a_model_through_the_server(
    through_server: Path, in_postgres: Client, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LinearRegression

    # an experiment of its own: the server's Default experiment outlives the tests that share it
    monkeypatch.setenv("LOOPML_EXPERIMENT_NAME", _name("models"))
    X = pd.DataFrame({"x1": np.arange(20.0), "x2": np.arange(20.0) % 3})
    model = LinearRegression().fit(X, 2 * X["x1"] - X["x2"] + 1)
    name = _name()
    with loopml.start_run() as run:
        info = loopml.log_model(model, "model", input_example=X.head(2), registered_model_name=name)
    assert info.registered_model_version is not None and info.registered_model_version.version == 1
    second = loopml.register_model(f"runs:/{run.info.run_id}/model", name, tags={"stage": "candidate"})
    assert (second.version, second.run_id) == (2, run.info.run_id)
    assert second.storage_location.startswith(str(through_server))

    client = Client()
    request.addfinalizer(client.close)
    assert isinstance(client.store, HttpStore)
    client.transition_model_version_stage(name, 1, "Production")
    client.set_registered_model_alias(name, "champion", 2, comment="better")
    expected = model.predict(X)
    for uri in (f"models:/{name}@champion", f"models:/{name}/Production", f"models:/{name}/latest"):
        loaded = loopml.load_model(uri)
        assert np.allclose(loaded.predict(X), expected), uri

    # what the server stored, read from its database: who did what, and the events
    history = in_postgres.get_model_history(name)
    assert [(c.action, c.version) for c in history] == [
        ("registered_model.created", None),
        ("model_version.created", 1),
        ("model_version.created", 2),
        ("model_version.stage_transitioned", 1),
        ("model_alias.set", 2),
    ]
    assert {c.actor for c in history} == {_user()}
    assert client.get_model_history(name) == history
    assert in_postgres.get_registered_model(name) == client.get_registered_model(name)
    events = [e for e in client.get_events(types=["model_alias.set"]) if e.subject == f"models:/{name}/2"]
    assert [(e.payload["new"], e.payload["comment"]) for e in events] == [("2", "better")]
    assert in_postgres.get_events(after_id=events[0].id - 1, limit=1) == events


def test_the_actor_is_recorded_as_sent_and_errors_keep_their_status(http: httpx.Client) -> None:
    name = _name()
    created = http.post(f"{API}/registered-models", params={"actor": "ana"}, json={"name": name})
    assert created.status_code == 201 and created.json()["name"] == name
    version = http.post(
        f"{API}/registered-models/{name}/versions",
        params={"actor": "bob"},
        json={"source": "/m/1", "storage_location": "/m/1"},
    )
    assert version.status_code == 201 and (version.json()["version"], version.json()["user_id"]) == (1, "bob")
    alias = http.put(f"{API}/registered-models/{name}/aliases/champion", json={"version": 1})
    assert alias.status_code == 204
    history = http.get(f"{API}/registered-models/{name}/history").json()["changes"]
    assert [(c["action"], c["actor"]) for c in history] == [
        ("registered_model.created", "ana"),
        ("model_version.created", "bob"),
        ("model_alias.set", ""),
    ]
    after = history[0]["id"] - 1

    def events(types: list[str] | str) -> list[str]:
        query = {"after_id": after, "types": types}
        found = http.get(f"{API}/events", params=query).json()["events"]
        return [e["type"] for e in found if e["subject"] == f"models:/{name}/1"]

    assert events(["model_alias.set"]) == ["model_alias.set"]  # repeated or comma-separated
    assert events("model_version.created,model_alias.set") == ["model_version.created", "model_alias.set"]

    def code(response: httpx.Response) -> tuple[int, str]:
        return response.status_code, response.json()["error"]["code"]

    stage = http.post(f"{API}/registered-models/{name}/versions/1/stage", json={"stage": "Prod"})
    assert code(stage) == (400, "invalid_input") and "None, Staging, Production" in stage.text
    assert code(http.get(f"{API}/registered-models/{name}/versions/9")) == (404, "not_found")
    assert code(http.get(f"{API}/registered-models/{name}/versions/zero")) == (400, "invalid_input")
    assert code(http.delete(f"{API}/registered-models/{name}")) == (409, "conflict")
    unknown = http.post(f"{API}/registered-models", json={"name": _name(), "owner": "x"})
    assert code(unknown) == (400, "invalid_input") and "'owner'" in unknown.text
    records = http.post(f"{API}/records", json={"task_runs": [{"task_run_id": "t"}]})
    assert code(records) == (400, "invalid_input") and "lacks the field(s)" in records.text
    orphan = {"flow_run_id": "f" * 32, "timestamp": 1, "level": 20, "message": "x"}
    assert code(http.post(f"{API}/records", json={"logs": [orphan]})) == (404, "not_found")
    assert http.delete(f"{API}/registered-models/{name}", params={"force": "true"}).status_code == 204
    paths = set(http.get("/openapi.json").json()["paths"])
    assert {
        f"{API}/registered-models/{{name}}/versions/{{version}}/stage",
        f"{API}/events",
        f"{API}/records",
        f"{API}/flow-runs/{{flow_run_id}}/task-runs",
    } <= paths


@pytest.mark.parametrize("prefix", ["churn v2", ".", "..", "ü-model", "50%", "a?b#c", "a+b", "x.y"])
def test_model_names_tag_keys_and_aliases_travel_whole_in_paths(loopml_server: str, prefix: str) -> None:
    name = prefix if prefix in (".", "..") else _name(prefix)
    client = Client(tracking_uri=loopml_server)
    try:
        if prefix in (".", ".."):  # names that cannot be made unique: start clean
            with contextlib.suppress(NotFound):
                client.delete_registered_model(name, force=True)
        client.register_model("/models/m", name)
        client.set_registered_model_tag(name, "team/owner", "ml")
        client.set_model_version_tag(name, 1, ".", "dot")
        client.set_registered_model_alias(name, "champion", 1)
        model = client.get_registered_model(name)
        assert (model.name, model.tags, model.aliases) == (name, {"team/owner": "ml"}, {"champion": 1})
        assert client.get_model_version_by_alias(name, "champion").tags == {".": "dot"}
        client.delete_model_version_tag(name, 1, ".")
        client.delete_registered_model_tag(name, "team/owner")
        assert [c.action for c in client.get_model_history(name)][-2:] == [
            "model_version.tag_deleted",
            "registered_model.tag_deleted",
        ]
        with pytest.raises(Conflict):
            client.delete_model_version(name, 1)
        client.delete_registered_model(name, force=True)
        with pytest.raises(NotFound, match="no registered model named"):
            client.get_registered_model(name)
    finally:
        client.close()
