from __future__ import annotations

import pytest

from loopml import Client, InvalidFilter, InvalidInput


@pytest.fixture
def populated(client: Client, experiment_id: str) -> dict[str, str]:
    """Six finished runs with params, metrics and tags; returns name -> run id."""
    ids = {}
    for i in range(6):
        run = client.create_run(experiment_id, run_name=f"run-{i}", start_time=1_000 + i)
        rid = run.info.run_id
        client.log_batch(
            rid,
            params={"model": "rf" if i % 2 else "lr", "depth": i},
            tags={"team": "a" if i < 3 else "b"},
        )
        if i != 5:  # run-5 has no accuracy
            client.log_metric(rid, "accuracy", 0.5 + i / 10)
        client.log_metric(rid, "loss", 1.0 - i / 10)
        client.set_terminated(rid, "FINISHED" if i != 4 else "FAILED")
        ids[f"run-{i}"] = rid
    return ids


def names(runs: list) -> list[str]:
    return [r.info.run_name for r in runs]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ("metrics.accuracy > 0.7", {"run-3", "run-4"}),
        ("metrics.accuracy >= 0.7 and params.model = 'lr'", {"run-2", "run-4"}),
        ("params.model = 'rf' or tags.team = 'a'", {"run-0", "run-1", "run-2", "run-3", "run-5"}),
        ("(params.model = 'rf' or params.model = 'lr') and metrics.loss < 0.65", {"run-4", "run-5"}),
        ("params.depth IN ('1', '2')", {"run-1", "run-2"}),
        ("params.depth NOT IN (1, 2)", {"run-0", "run-3", "run-4", "run-5"}),
        ("attributes.status = 'FAILED'", {"run-4"}),
        ("run_name LIKE 'run-%' and status != 'FAILED'", {"run-0", "run-1", "run-2", "run-3", "run-5"}),
        ("tags.team ILIKE 'B'", {"run-3", "run-4", "run-5"}),
        ("tags.team LIKE 'B'", set()),
        ("metrics.accuracy != 0.5", {"run-1", "run-2", "run-3", "run-4"}),
        ("start_time >= 1004", {"run-4", "run-5"}),
        ("", {"run-0", "run-1", "run-2", "run-3", "run-4", "run-5"}),
    ],
)
def test_filters(
    client: Client, experiment_id: str, populated: dict[str, str], flt: str, expected: set
) -> None:
    assert set(names(client.search_runs([experiment_id], flt))) == expected


def test_order_by_metric_puts_missing_values_last(
    client: Client, experiment_id: str, populated: dict
) -> None:
    desc = names(client.search_runs([experiment_id], order_by=["metrics.accuracy DESC"]))
    assert desc == ["run-4", "run-3", "run-2", "run-1", "run-0", "run-5"]
    asc = names(client.search_runs([experiment_id], order_by=["metrics.accuracy ASC"]))
    assert asc == ["run-0", "run-1", "run-2", "run-3", "run-4", "run-5"]
    by_param = names(client.search_runs([experiment_id], order_by=["params.model", "start_time DESC"]))
    assert by_param == ["run-4", "run-2", "run-0", "run-5", "run-3", "run-1"]
    default = names(client.search_runs([experiment_id]))
    assert default == [f"run-{i}" for i in range(5, -1, -1)]  # newest first


def test_pages_cover_every_run_once(client: Client, experiment_id: str, populated: dict) -> None:
    seen, token = [], None
    while True:
        page = client.search_runs([experiment_id], order_by=["metrics.loss"], max_results=4, page_token=token)
        seen.extend(names(page))
        token = page.token
        if token is None:
            break
    assert seen == [f"run-{i}" for i in range(5, -1, -1)]


def test_search_returns_full_runs(client: Client, experiment_id: str, populated: dict) -> None:
    (run,) = client.search_runs([experiment_id], "run_name = 'run-3'")
    assert run.params == {"model": "rf", "depth": "3"}
    assert run.metrics == {"accuracy": pytest.approx(0.8), "loss": pytest.approx(0.7)}
    assert run.tags == {"team": "b"}


def test_deleted_runs_are_hidden_unless_asked(client: Client, experiment_id: str, populated: dict) -> None:
    client.delete_run(populated["run-0"])
    assert "run-0" not in names(client.search_runs([experiment_id]))
    assert names(client.search_runs([experiment_id], run_view_type="deleted")) == ["run-0"]
    assert len(client.search_runs([experiment_id], run_view_type="all")) == 6


def test_malformed_filter_names_the_position(client: Client, experiment_id: str) -> None:
    with pytest.raises(InvalidFilter) as err:
        client.search_runs([experiment_id], "metrics.acc >> 1")
    assert err.value.position == 13
    with pytest.raises(InvalidInput):
        client.search_runs([experiment_id], max_results=0)
    with pytest.raises(InvalidInput):
        client.search_runs([experiment_id], page_token="garbage!")
