"""Datasets as run inputs, on every backend: round trip, dedup, write rules, search, lineage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loopml import Client, Conflict, Dataset, DatasetInput, InvalidFilter, InvalidInput, NotFound


def _frame(scale: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame({"x": [1.0 * scale, 2.0, 3.0], "label": ["a", "b", "a"]})


def test_inputs_round_trip(client: Client, run_id: str) -> None:
    logged = client.log_input(run_id, _frame(), "training", "train")
    client.log_input(run_id, np.arange(6.0).reshape(3, 2), context="test", source="s3://b/test.npy")
    inputs = client.get_run_inputs(run_id)
    assert [(i.context, i.dataset.source_type) for i in inputs] == [
        ("training", "dataframe"),
        ("test", "ndarray"),
    ]
    train = inputs[0].dataset
    assert train == logged.dataset  # schema, profile and counts survive the store
    assert (train.name, train.source, train.num_rows, train.num_columns) == (
        "train",
        "in-memory DataFrame",
        3,
        2,
    )
    assert train.schema == {"x": "float64", "label": str(_frame()["label"].dtype)}
    assert train.profile["columns"]["x"]["max"] == 3.0
    assert train.profile["columns"]["label"]["top"][0] == {"value": "a", "count": 2}
    test = inputs[1].dataset
    assert (test.source, test.name) == ("s3://b/test.npy", f"dataset-{test.digest[:8]}")


def test_one_dataset_used_by_many_runs_is_stored_once(
    client: Client, experiment_id: str, database_uri: str
) -> None:
    import sqlalchemy as sa

    from loopml.store.sql.engine import sqlalchemy_url
    from loopml.store.sql.schema import datasets, run_inputs

    runs = [client.create_run(experiment_id).info.run_id for _ in range(3)]
    for run in runs:
        client.log_input(run, _frame(), name="shared")
        client.log_input(run, _frame(), name="shared")  # logging twice is harmless
    client.log_input(runs[0], _frame(), name="shared", context="validation")
    client.log_input(runs[0], _frame(scale=2.0), name="shared")  # new content: a new dataset
    engine = sa.create_engine(sqlalchemy_url(database_uri))
    with engine.connect() as conn:
        stored = conn.execute(sa.select(datasets.c.name, datasets.c.digest)).all()
        links = conn.execute(sa.select(sa.func.count()).select_from(run_inputs)).scalar_one()
    engine.dispose()
    assert len(stored) == 2 and {name for name, _ in stored} == {"shared"}
    assert links == 3 + 2
    assert [i.context for i in client.get_run_inputs(runs[0])] == ["training", "training", "validation"]
    assert len(client.get_run_inputs(runs[1])) == 1


def test_writing_follows_the_rules_of_params(client: Client, run_id: str, experiment_id: str) -> None:
    with pytest.raises(NotFound, match="no run with id 'nope'"):
        client.log_input("nope", _frame())
    with pytest.raises(NotFound):
        client.get_run_inputs("nope")
    with pytest.raises(InvalidInput, match="use one of training, validation, test"):
        client.log_input(run_id, _frame(), context="holdout")
    client.set_terminated(run_id)
    with pytest.raises(Conflict, match="FINISHED"):
        client.log_input(run_id, _frame())
    other = client.create_run(experiment_id).info.run_id
    client.delete_run(other)
    with pytest.raises(Conflict, match="deleted"):
        client.log_input(other, _frame())
    assert client.get_run_inputs(run_id) == []


def test_a_bad_input_in_a_batch_stores_nothing(client: Client, run_id: str) -> None:
    good = DatasetInput(Dataset("good", "ab" * 32, "here", "file"), "training")
    bad = DatasetInput(Dataset("bad", "cd" * 32, "here", "file", profile={"x": float("nan")}), "training")
    with pytest.raises(InvalidInput, match="cannot be stored as JSON"):
        client.store.log_inputs(run_id, [good, bad])
    assert client.get_run_inputs(run_id) == []
    client.store.log_inputs(run_id, [good])
    assert [i.dataset.name for i in client.get_run_inputs(run_id)] == ["good"]


def test_search_runs_by_dataset(client: Client, experiment_id: str) -> None:
    a, b, c = (client.create_run(experiment_id, run_name=n).info.run_id for n in "abc")
    train = client.log_input(a, _frame(), "training", "iris-train").dataset
    client.log_input(a, _frame(2.0), "validation", "iris-val")
    client.log_input(b, _frame(), "training", "iris-train")
    client.log_input(b, _frame(3.0), "test", "iris-test")

    def names(filter_string: str) -> set[str]:
        return {r.info.run_name for r in client.search_runs([experiment_id], filter_string)}

    assert names("datasets.name = 'iris-train'") == {"a", "b"}
    assert names(f"datasets.digest = '{train.digest}'") == {"a", "b"}
    assert names("datasets.context = 'test'") == {"b"}
    assert names("datasets.name LIKE 'iris-v%'") == {"a"}
    assert names("datasets.name IN ('iris-test', 'iris-val')") == {"a", "b"}
    assert names("datasets.name = 'iris-train' and datasets.context = 'validation'") == {"a"}
    assert names("datasets.name = 'nothing' or attributes.run_name = 'c'") == {"c"}
    assert names("datasets.name != 'iris-train'") == {"a", "b"}  # some input is not iris-train
    assert c not in {r.info.run_id for r in client.search_runs([experiment_id], "datasets.name != 'x'")}
    with pytest.raises(InvalidFilter, match="unknown dataset field 'size'"):
        client.search_runs([experiment_id], "datasets.size = '1'")
    with pytest.raises(InvalidFilter, match="cannot sort"):
        client.search_runs([experiment_id], "", order_by=["datasets.name"])


def test_model_versions_show_the_datasets_of_their_run(client: Client, run_id: str) -> None:
    client.log_input(run_id, _frame(), "training", "train")
    client.log_input(run_id, _frame(2.0), "validation", "val")
    mv = client.register_model(f"runs:/{run_id}/model", "churn")
    lineage = client.get_model_version_datasets("churn", mv.version)
    assert [(i.context, i.dataset.name) for i in lineage] == [("training", "train"), ("validation", "val")]
    bare = client.register_model("/models/churn/2", "churn")
    assert client.get_model_version_datasets("churn", bare.version) == []
    with pytest.raises(NotFound):
        client.get_model_version_datasets("churn", 99)


def test_registry_searches_do_not_take_dataset_fields(client: Client) -> None:
    client.register_model("/m/1", "m")
    with pytest.raises(InvalidFilter, match="not searchable here"):
        client.search_model_versions("datasets.name = 'x'")
