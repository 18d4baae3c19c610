"""The model registry on every backend: versions, stages, aliases, history, events, search, URIs."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest

import loopml
from loopml import Client, Conflict, InvalidFilter, InvalidInput, ModelStage, NotFound
from loopml.registry.api import register_model, resolve_model_uri
from loopml.tracking.client import _user


@pytest.fixture
def run(client: Client, experiment_id: str) -> loopml.Run:
    return client.create_run(experiment_id, run_name="train")


def _register(client: Client, name: str = "churn", n: int = 1, **kwargs: Any) -> list[loopml.ModelVersion]:
    return [client.register_model(f"/models/{name}/{i}", name, **kwargs) for i in range(n)]


def _actions(client: Client, name: str) -> list[tuple[Any, ...]]:
    return [(c.action, c.version, c.field, c.old_value, c.new_value) for c in client.get_model_history(name)]


# ------------------------------------------------------------------------------------------ versions


def test_register_from_a_run_resolves_the_location_once(client: Client, run: loopml.Run) -> None:
    mv = register_model(
        f"runs:/{run.run_id}/model", "churn", tags={"team": "ml"}, description="d", client=client
    )
    assert (mv.name, mv.version, mv.run_id) == ("churn", 1, run.run_id)
    assert mv.source == f"runs:/{run.run_id}/model"
    assert mv.storage_location == f"{run.info.artifact_uri}/model"
    assert (mv.current_stage, mv.tags, mv.description, mv.user_id) == (
        ModelStage.NONE,
        {"team": "ml"},
        "d",
        _user(),
    )
    assert mv.uri == "models:/churn/1"
    client.delete_run(run.run_id)  # the version no longer needs its run
    assert resolve_model_uri("models:/churn/1", client=client) == f"{run.info.artifact_uri}/model"


def test_versions_count_per_model_and_the_model_is_created_once(client: Client) -> None:
    assert [v.version for v in _register(client, "a", 3)] == [1, 2, 3]
    assert [v.version for v in _register(client, "b", 2)] == [1, 2]
    mv = client.register_model("s3://bucket/model", "a")
    assert (mv.version, mv.storage_location, mv.run_id) == (4, "s3://bucket/model", None)
    assert [c.action for c in client.get_model_history("b")] == [
        "registered_model.created",
        "model_version.created",
        "model_version.created",
    ]


def test_register_from_an_unknown_run_is_not_found(client: Client) -> None:
    with pytest.raises(NotFound, match="no run"):
        client.register_model("runs:/0123456789abcdef/model", "churn")
    with pytest.raises(NotFound):
        client.get_registered_model("churn")


def test_concurrent_registrations_get_distinct_versions(client: Client, store_uri: str) -> None:
    errors: list[BaseException] = []
    versions: list[int] = []

    def register() -> None:
        other = Client(tracking_uri=store_uri, artifact_root=client.artifact_root)
        try:
            for _ in range(5):
                versions.append(other.register_model("/models/x", "racy").version)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            other.close()

    threads = [threading.Thread(target=register) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(versions) == list(range(1, 16))
    created = [c for c in client.get_model_history("racy") if c.action == "registered_model.created"]
    assert len(created) == 1


def test_create_registered_model_twice_is_already_exists(client: Client) -> None:
    model = client.create_registered_model("churn", tags={"team": "ml"}, description="predicts churn")
    assert (model.name, model.tags, model.description, model.latest_versions) == (
        "churn",
        {"team": "ml"},
        "predicts churn",
        (),
    )
    with pytest.raises(loopml.AlreadyExists, match="churn"):
        client.create_registered_model("churn")


@pytest.mark.parametrize("name", ["", "a/b", "a@b", " padded"])
def test_bad_model_names_are_refused(client: Client, name: str) -> None:
    with pytest.raises(InvalidInput):
        client.register_model("/m", name)


def test_unknown_model_and_version_are_not_found(client: Client) -> None:
    _register(client, "churn", 2)
    with pytest.raises(NotFound, match="no registered model named 'nope'"):
        client.get_registered_model("nope")
    with pytest.raises(NotFound, match=r"no version 7; its versions: 1, 2"):
        client.get_model_version("churn", 7)
    with pytest.raises(InvalidInput, match="version"):
        client.get_model_version("churn", 0)


# ------------------------------------------------------------------------------------------ stages


def test_stages_are_case_insensitive_and_shared(client: Client) -> None:
    _register(client, "churn", 3)
    assert client.transition_model_version_stage("churn", 1, "staging").current_stage == "Staging"
    client.transition_model_version_stage("churn", 2, "STAGING", comment="try it")
    stages = {v.version: v.current_stage for v in client.search_model_versions("name = 'churn'")}
    assert stages == {1: ModelStage.STAGING, 2: ModelStage.STAGING, 3: ModelStage.NONE}
    assert [v.version for v in client.get_latest_versions("churn", ["Staging"])] == [2]
    latest = client.get_registered_model("churn").latest_versions
    assert {(v.version, v.current_stage.value) for v in latest} == {(2, "Staging"), (3, "None")}
    change = client.get_model_history("churn")[-1]
    assert (change.action, change.version, change.field, change.old_value, change.new_value) == (
        "model_version.stage_transitioned",
        2,
        "current_stage",
        "None",
        "Staging",
    )
    assert (change.comment, change.actor) == ("try it", _user())


def test_archive_existing_versions_archives_and_records_each(client: Client) -> None:
    _register(client, "churn", 3)
    client.transition_model_version_stage("churn", 1, "Production")
    client.transition_model_version_stage("churn", 2, "Production")
    client.transition_model_version_stage("churn", 3, "Production", archive_existing_versions=True)
    stages = {v.version: v.current_stage.value for v in client.search_model_versions("name = 'churn'")}
    assert stages == {1: "Archived", 2: "Archived", 3: "Production"}
    archived = [c for c in client.get_model_history("churn") if c.new_value == "Archived"]
    assert sorted((c.version, c.old_value) for c in archived) == [(1, "Production"), (2, "Production")]
    with pytest.raises(InvalidInput, match="Staging and Production only"):
        client.transition_model_version_stage("churn", 3, "None", archive_existing_versions=True)


def test_unknown_stage_lists_the_valid_ones(client: Client) -> None:
    _register(client, "churn")
    with pytest.raises(InvalidInput, match="None, Staging, Production, Archived"):
        client.transition_model_version_stage("churn", 1, "Prod")
    assert client.get_model_version("churn", 1).current_stage == ModelStage.NONE


# ------------------------------------------------------------------------------------------ aliases


def test_aliases_move_resolve_and_record_old_and_new(client: Client) -> None:
    _register(client, "churn", 2)
    client.set_registered_model_alias("churn", "champion", 1)
    client.set_registered_model_alias("churn", "champion", 2, comment="better AUC")
    assert client.get_model_version_by_alias("churn", "champion").version == 2
    assert client.get_model_version("churn", 2).aliases == ("champion",)
    assert client.get_model_version("churn", 1).aliases == ()
    assert client.get_registered_model("churn").aliases == {"champion": 2}
    assert resolve_model_uri("models:/churn@champion", client=client) == "/models/churn/1"
    moved = client.get_model_history("churn")[-1]
    assert (moved.action, moved.field, moved.old_value, moved.new_value, moved.comment) == (
        "model_alias.set",
        "champion",
        "1",
        "2",
        "better AUC",
    )
    client.delete_registered_model_alias("churn", "champion")
    assert _actions(client, "churn")[-1] == ("model_alias.deleted", 2, "champion", "2", None)
    with pytest.raises(NotFound, match="has no alias 'champion'; its aliases: none"):
        client.get_model_version_by_alias("churn", "champion")


@pytest.mark.parametrize("alias", ["1st", "latest", "Latest", "v1", "V12", "a b", "a.b", "", "x/y"])
def test_bad_alias_names_are_refused(client: Client, alias: str) -> None:
    _register(client, "churn")
    with pytest.raises(InvalidInput, match="alias"):
        client.set_registered_model_alias("churn", alias, 1)


def test_alias_on_an_unknown_version_is_not_found_and_changes_nothing(client: Client) -> None:
    _register(client, "churn")
    before = client.get_events()
    with pytest.raises(NotFound, match="no version 5"):
        client.set_registered_model_alias("churn", "champion", 5)
    assert client.get_events() == before
    assert client.get_registered_model("churn").aliases == {}


# ----------------------------------------------------------------------------- tags, descriptions


def test_tags_and_descriptions_are_recorded(client: Client) -> None:
    _register(client, "churn")
    client.set_registered_model_tag("churn", "team", "ml")
    client.set_registered_model_tag("churn", "team", "risk")
    client.update_registered_model("churn", "predicts churn")
    client.set_model_version_tag("churn", 1, "validated", True)
    client.update_model_version("churn", 1, "first")
    client.delete_model_version_tag("churn", 1, "validated")
    client.delete_registered_model_tag("churn", "team")
    assert _actions(client, "churn")[2:] == [
        ("registered_model.tag_set", None, "team", None, "ml"),
        ("registered_model.tag_set", None, "team", "ml", "risk"),
        ("registered_model.description_updated", None, "description", "", "predicts churn"),
        ("model_version.tag_set", 1, "validated", None, "True"),
        ("model_version.description_updated", 1, "description", "", "first"),
        ("model_version.tag_deleted", 1, "validated", "True", None),
        ("registered_model.tag_deleted", None, "team", "risk", None),
    ]
    model = client.get_registered_model("churn")
    assert (model.tags, model.description) == ({}, "predicts churn")
    assert client.get_model_version("churn", 1).description == "first"
    with pytest.raises(NotFound, match="no tag 'team'"):
        client.delete_registered_model_tag("churn", "team")


def test_a_description_change_may_carry_a_comment_into_the_history(client: Client) -> None:
    _register(client, "churn")
    client.update_registered_model("churn", "predicts churn", comment="after the review")
    client.update_model_version("churn", 1, "first", comment="trained on May data")
    model_change, version_change = client.get_model_history("churn")[-2:]
    assert (model_change.action, model_change.new_value, model_change.comment) == (
        "registered_model.description_updated",
        "predicts churn",
        "after the review",
    )
    assert (version_change.version, version_change.new_value, version_change.comment) == (
        1,
        "first",
        "trained on May data",
    )
    client.update_model_version("churn", 1, "second")
    assert client.get_model_history("churn")[-1].comment is None


# -------------------------------------------------------------------------------- history and events


def test_events_are_written_with_each_change_and_polled_by_id(client: Client) -> None:
    start = max((e.id for e in client.get_events()), default=0)
    _register(client, "churn")
    client.transition_model_version_stage("churn", 1, "Production", comment="ship")
    client.set_registered_model_alias("churn", "champion", 1)
    events = client.get_events(after_id=start)
    assert [(e.type, e.subject) for e in events] == [
        ("registered_model.created", "models:/churn"),
        ("model_version.created", "models:/churn/1"),
        ("model_version.stage_transitioned", "models:/churn/1"),
        ("model_alias.set", "models:/churn/1"),
    ]
    assert events[1].payload["storage_location"] == "/models/churn/0"
    assert events[2].payload | {"actor": None} == {
        "name": "churn",
        "version": 1,
        "field": "current_stage",
        "old": "None",
        "new": "Production",
        "comment": "ship",
        "actor": None,
    }
    ids = [e.id for e in events]
    assert ids == sorted(ids)
    assert [e.type for e in client.get_events(after_id=ids[1])] == [events[2].type, events[3].type]
    assert [e.id for e in client.get_events(after_id=start, types=["model_alias.set"])] == [ids[3]]
    assert len(client.get_events(after_id=start, limit=2)) == 2


def test_model_events_of_other_parts_are_appended_and_polled(client: Client) -> None:
    _register(client, "churn")
    start = max(e.id for e in client.get_events())
    added = client.add_model_event("churn", "drift.detected", {"drift_share": 0.6}, version="1")
    assert (added.type, added.subject) == ("drift.detected", "models:/churn/1")
    assert added.payload["drift_share"] == 0.6
    on_model = client.add_model_event("churn", "monitor.checked", {"columns": ["a", "b"]})
    events = client.get_events(after_id=start)
    assert [(e.id, e.type, e.subject) for e in events] == [
        (added.id, "drift.detected", "models:/churn/1"),
        (on_model.id, "monitor.checked", "models:/churn"),
    ]
    assert events[1].payload["columns"] == ["a", "b"]
    assert [e.id for e in client.get_events(after_id=start, types=["drift.detected"])] == [added.id]


@pytest.mark.parametrize(
    ("name", "kind", "payload", "version", "error", "message"),
    [
        ("nope", "drift.detected", {}, None, NotFound, "nope"),
        ("churn", "drift.detected", {}, 9, NotFound, "9"),
        ("churn", "Drift", {}, None, InvalidInput, "invalid event type 'Drift'"),
        ("churn", "model_alias.set", {}, None, InvalidInput, "the registry's own"),
        ("churn", "drift.detected", {"blob": "x" * 70_000}, None, InvalidInput, "the limit is 65536"),
    ],
)
def test_bad_model_events_are_refused_and_add_nothing(
    client: Client,
    name: str,
    kind: str,
    payload: dict[str, Any],
    version: int | None,
    error: type,
    message: str,
) -> None:
    _register(client, "churn")
    start = max(e.id for e in client.get_events())
    with pytest.raises(error, match=re.escape(message)):
        client.add_model_event(name, kind, payload, version=version)
    assert client.get_events(after_id=start) == []


# in process only: the failure is injected into this process's SQL registry (over HTTP the
# change is written by the server's store, the same code: its atomicity is tested here)
@pytest.mark.backends("sqlite", "postgres")
def test_a_failed_change_leaves_neither_change_history_nor_event(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from loopml.store.sql import registry

    _register(client, "churn")
    events, history = client.get_events(), client.get_model_history("churn")
    real = registry.record

    def record_then_fail(*args: Any, **kwargs: Any) -> None:
        real(*args, **kwargs)
        raise RuntimeError("crash after the event was written")

    monkeypatch.setattr(registry, "record", record_then_fail)
    with pytest.raises(RuntimeError, match="crash"):
        client.transition_model_version_stage("churn", 1, "Production")
    monkeypatch.undo()
    assert client.get_model_version("churn", 1).current_stage == ModelStage.NONE
    assert client.get_events() == events
    assert client.get_model_history("churn") == history


def test_history_of_a_deleted_model_remains(client: Client) -> None:
    _register(client, "churn", 2)
    client.delete_registered_model("churn")
    with pytest.raises(NotFound):
        client.get_registered_model("churn")
    assert [(a, v) for a, v, *_ in _actions(client, "churn")] == [
        ("registered_model.created", None),
        ("model_version.created", 1),
        ("model_version.created", 2),
        ("model_version.deleted", 1),
        ("model_version.deleted", 2),
        ("registered_model.deleted", None),
    ]
    assert all(c.actor == _user() for c in client.get_model_history("churn"))
    with pytest.raises(NotFound):
        client.get_model_history("never-registered")
    # the name is free again, and numbering starts over
    assert _register(client, "churn")[0].version == 1


# -------------------------------------------------------------------------------------- delete rules


def test_versions_in_production_or_aliased_need_force(client: Client) -> None:
    _register(client, "churn", 3)
    client.transition_model_version_stage("churn", 1, "Production")
    client.set_registered_model_alias("churn", "champion", 2)
    with pytest.raises(Conflict, match="version 1 is in Production"):
        client.delete_model_version("churn", 1)
    with pytest.raises(Conflict, match="alias 'champion' points at version 2"):
        client.delete_model_version("churn", 2)
    with pytest.raises(Conflict, match="in use"):
        client.delete_registered_model("churn")
    client.delete_model_version("churn", 3)
    client.delete_model_version("churn", 2, force=True)
    assert client.get_registered_model("churn").aliases == {}
    assert _actions(client, "churn")[-2:] == [
        ("model_alias.deleted", 2, "champion", "2", None),
        ("model_version.deleted", 2, None, "2", None),
    ]
    client.delete_registered_model("churn", force=True)
    assert client.search_registered_models().token is None
    assert list(client.search_registered_models()) == []
    assert list(client.search_model_versions()) == []


# ------------------------------------------------------------------------------------------ search


def test_search_registered_models_filters_orders_and_pages(client: Client) -> None:
    for name in ("alpha", "beta", "Gamma", "delta"):
        client.create_registered_model(name, tags={"team": "ml" if name != "beta" else "risk"})
    names = [m.name for m in client.search_registered_models()]
    assert names == ["Gamma", "alpha", "beta", "delta"]  # code point order
    assert [m.name for m in client.search_registered_models("tags.team = 'ml'", ["name DESC"])] == [
        "delta",
        "alpha",
        "Gamma",
    ]
    assert [m.name for m in client.search_registered_models("name ILIKE '%A'")] == [
        "Gamma",
        "alpha",
        "beta",
        "delta",
    ]
    first = client.search_registered_models(max_results=3)
    assert [m.name for m in first] == names[:3]
    rest = client.search_registered_models(max_results=3, page_token=first.token)
    assert ([m.name for m in rest], rest.token) == (names[3:], None)
    created = [m.name for m in client.search_registered_models(order_by=["creation_time DESC", "name"])]
    assert sorted(created) == sorted(names)
    with pytest.raises(InvalidFilter, match="not searchable here"):
        client.search_registered_models("metrics.acc > 1")
    with pytest.raises(InvalidFilter, match="unknown attribute 'run_id'"):
        client.search_registered_models("run_id = 'x'")


def test_search_model_versions_filters_orders_and_pages(client: Client, run: loopml.Run) -> None:
    _register(client, "churn", 3)
    client.register_model(f"runs:/{run.run_id}/model", "fraud")
    client.transition_model_version_stage("churn", 2, "Production")
    client.set_model_version_tag("churn", 3, "validated", "yes")

    def search(filter_string: str = "", order_by: list[str] | None = None) -> list[tuple[str, int]]:
        return [(v.name, v.version) for v in client.search_model_versions(filter_string, order_by)]

    assert search() == [("churn", 3), ("churn", 2), ("churn", 1), ("fraud", 1)]
    assert search("current_stage = 'production'") == [("churn", 2)]
    assert search("name = 'churn' and version >= 2", ["version"]) == [("churn", 2), ("churn", 3)]
    assert search(f"run_id = '{run.run_id}'") == [("fraud", 1)]
    assert search("tags.validated = 'yes' or source LIKE '%/1'") == [("churn", 3), ("churn", 2)]
    assert search("version IN (1, 3)", ["name DESC", "version"]) == [
        ("fraud", 1),
        ("churn", 1),
        ("churn", 3),
    ]
    assert search("", ["tags.validated"])[0] == ("churn", 3)  # versions without the tag come last
    page = client.search_model_versions(max_results=2)
    assert len(page) == 2 and page.token is not None
    assert len(client.search_model_versions(max_results=2, page_token=page.token)) == 2
    with pytest.raises(InvalidFilter, match="version is a number"):
        client.search_model_versions("version = '1'")
    with pytest.raises(InvalidInput, match="page token"):
        client.search_model_versions(page_token="nonsense!")


# ------------------------------------------------------------------------------------- model URIs


def test_resolve_model_uri_every_form(client: Client) -> None:
    _register(client, "churn", 3)
    client.transition_model_version_stage("churn", 1, "Production")
    client.transition_model_version_stage("churn", 2, "Production")
    client.set_registered_model_alias("churn", "challenger", 3)
    assert resolve_model_uri("models:/churn/1", client=client) == "/models/churn/0"
    assert resolve_model_uri("models:/churn/Production", client=client) == "/models/churn/1"
    assert resolve_model_uri("models:/churn/production", client=client) == "/models/churn/1"
    assert resolve_model_uri("models:/churn/latest", client=client) == "/models/churn/2"
    assert resolve_model_uri("models:/churn@challenger", client=client) == "/models/churn/2"
    copy = client.register_model("models:/churn@challenger", "churn-copy")
    assert (copy.storage_location, copy.source) == ("/models/churn/2", "models:/churn@challenger")


@pytest.mark.parametrize(
    ("uri", "error", "message"),
    [
        ("models:/churn/9", NotFound, "no version 9; its versions: 1, 2"),
        ("models:/churn@champ", NotFound, "no alias 'champ'; its aliases: challenger"),
        ("models:/churn/Staging", NotFound, "no version in stage Staging; stages with versions: None"),
        ("models:/churn/Prod", InvalidInput, "use one of None, Staging, Production, Archived"),
        ("models:/nope/1", NotFound, "no registered model named 'nope'"),
        ("models:/nope/latest", NotFound, "no registered model named 'nope'"),
        ("models:/churn", InvalidInput, "malformed model URI"),
        ("models:/churn/1/extra", InvalidInput, "malformed model URI"),
        ("runs:/abc/model", InvalidInput, "not a model URI"),
    ],
)
def test_resolve_model_uri_errors(client: Client, uri: str, error: type[Exception], message: str) -> None:
    _register(client, "churn", 2)
    client.set_registered_model_alias("churn", "challenger", 2)
    with pytest.raises(error, match=message):
        resolve_model_uri(uri, client=client)


def test_the_fluent_functions_use_the_tracking_uri(store_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from loopml.tracking.fluent import _client, _client_for

    monkeypatch.setenv("LOOPML_TRACKING_URI", store_uri)
    try:
        mv = loopml.register_model("/models/fluent", "fluent")
        assert mv.version == 1
        assert resolve_model_uri("models:/fluent/latest") == "/models/fluent"
    finally:
        _client().close()
        _client_for.cache_clear()
