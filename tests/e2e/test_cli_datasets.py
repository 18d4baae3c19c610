"""Datasets in the CLI: ``runs show`` lists a run's inputs; ``models show`` the datasets of versions."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner, Result

import loopml
from loopml import Client
from loopml.cli.main import cli


@pytest.fixture(autouse=True)
def store(loopml_store: Client) -> Client:
    """The fluent API and `loopml` (through LOOPML_TRACKING_URI) share a fresh store."""
    return loopml_store


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _trained_run() -> tuple[str, str]:
    """A run (in the store `loopml` reads by default) with two inputs, registered as model churn."""
    frame = pd.DataFrame({"x": range(40), "y": ["a", "b"] * 20})
    with loopml.start_run() as run:
        train = loopml.log_input(frame, context="training", name="churn-train")
        loopml.log_input(frame.head(10), context="validation", name="churn-val", source="s3://b/val.csv")
    loopml.register_model(f"runs:/{run.run_id}/model", "churn")
    return run.run_id, train.dataset.digest


def test_runs_show_lists_the_inputs() -> None:
    run_id, digest = _trained_run()
    out = invoke("runs", "show", run_id).stdout
    inputs = out[out.index("Inputs") : out.index("Artifacts")]
    assert "churn-train" in inputs and "churn-val" in inputs
    assert digest[:12] in inputs and "s3://b/val.csv" in inputs and "in-memory DataFrame" in inputs
    assert inputs.index("training") < inputs.index("validation")
    shown = json.loads(invoke("runs", "show", run_id, "--json").stdout)
    assert [(i["context"], i["name"], i["num_rows"]) for i in shown["inputs"]] == [
        ("training", "churn-train", 40),
        ("validation", "churn-val", 10),
    ]
    assert shown["inputs"][0]["digest"] == digest
    assert shown["inputs"][0]["profile"]["columns"]["x"]["max"] == 39


def test_runs_show_says_when_there_are_no_inputs() -> None:
    with loopml.start_run() as run:
        pass
    out = invoke("runs", "show", run.run_id).stdout
    assert "Inputs" in out and "(none)" in out[out.index("Inputs") : out.index("Artifacts")]


def test_models_show_lists_the_datasets_of_the_latest_versions() -> None:
    _run_id, digest = _trained_run()
    out = invoke("models", "show", "churn").stdout
    lineage = out[out.index("Datasets of version 1") :]
    assert "churn-train" in lineage and "churn-val" in lineage and digest[:12] in lineage
    shown = json.loads(invoke("models", "show", "churn", "--json").stdout)
    datasets = shown["latest_versions"][0]["datasets"]
    assert [(d["context"], d["name"]) for d in datasets] == [
        ("training", "churn-train"),
        ("validation", "churn-val"),
    ]


def test_fluent_log_input_with_run_id_and_search(store: Client) -> None:
    run_id = store.create_run(run_name="explicit").info.run_id
    recorded = loopml.log_input(pd.DataFrame({"a": [1]}), context="test", run_id=run_id)
    assert recorded.context == "test"
    assert loopml.active_run() is None  # run_id= does not start a fluent run
    found = loopml.search_runs(filter_string="datasets.context = 'test'", output_format="list")
    assert [r.info.run_id for r in found] == [run_id]
