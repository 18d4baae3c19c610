from __future__ import annotations

import pytest

from loopml import AlreadyExists, Client, Conflict, InvalidInput, NotFound


def test_create_and_read_back(client: Client) -> None:
    eid = client.create_experiment("churn", tags={"team": "growth"})
    exp = client.get_experiment(eid)
    assert exp.name == "churn"
    assert exp.tags == {"team": "growth"}
    assert exp.lifecycle_stage == "active"
    assert exp.artifact_location.endswith(eid)
    assert client.get_experiment_by_name("churn") == exp
    assert client.get_experiment_by_name("nope") is None


def test_duplicate_name_is_already_exists(client: Client) -> None:
    client.create_experiment("dup")
    with pytest.raises(AlreadyExists, match="'dup'"):
        client.create_experiment("dup")
    assert [e.name for e in client.search_experiments()] == ["dup"]


def test_unknown_experiment_is_not_found(client: Client) -> None:
    with pytest.raises(NotFound, match="'missing'"):
        client.get_experiment("missing")
    with pytest.raises(NotFound):
        client.create_run("missing")


@pytest.mark.parametrize("name", ["", "   ", "x" * 300])
def test_bad_names_are_invalid_input(client: Client, name: str) -> None:
    with pytest.raises(InvalidInput):
        client.create_experiment(name)
    assert client.search_experiments(view="all") == []


def test_delete_restore_rename_and_views(client: Client) -> None:
    a = client.create_experiment("a")
    b = client.create_experiment("b")
    client.delete_experiment(a)
    assert [e.name for e in client.search_experiments()] == ["b"]
    assert [e.name for e in client.search_experiments(view="deleted")] == ["a"]
    assert {e.name for e in client.search_experiments(view="all")} == {"a", "b"}
    with pytest.raises(Conflict, match="deleted"):
        client.create_run(a)
    client.restore_experiment(a)
    client.rename_experiment(a, "a2")
    assert client.get_experiment(a).name == "a2"
    with pytest.raises(AlreadyExists):
        client.rename_experiment(a, "b")
    client.set_experiment_tag(b, "owner", "me")
    client.set_experiment_tag(b, "owner", "you")
    assert client.get_experiment(b).tags == {"owner": "you"}


def test_default_experiment_is_created_once(client: Client) -> None:
    first = client.default_experiment()
    second = client.default_experiment()
    assert first.experiment_id == second.experiment_id == "0"
    assert first.name == "Default"
