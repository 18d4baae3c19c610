"""``loopml models ...`` end to end with click's CliRunner (each test has its own LOOPML_HOME)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner, Result

import loopml
from loopml import Client
from loopml.cli.main import cli


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def client() -> Iterator[Client]:
    client = Client()  # the store `loopml` reads without --tracking-uri
    for i in range(3):
        client.register_model(f"/models/churn/{i + 1}", "churn", tags={"team": "ml"})
    client.register_model("/models/fraud/1", "fraud")
    client.set_registered_model_tag("churn", "team", "ml")
    client.set_registered_model_alias("churn", "champion", 2)
    yield client
    client.close()


def test_list_shows_models_as_a_table_and_json(client: Client) -> None:
    table = invoke("models", "list")
    assert table.exit_code == 0
    assert "churn" in table.stdout and "fraud" in table.stdout and "@champion: v2" in table.stdout
    listed = json.loads(invoke("models", "list", "--filter", "tags.team = 'ml'", "--json").stdout)
    assert [m["name"] for m in listed] == ["churn"]
    assert listed[0]["aliases"] == {"champion": 2}
    assert "no registered models match" in invoke("models", "list", "-f", "name = 'x'").stdout


def test_show_and_versions(client: Client) -> None:
    shown = invoke("models", "show", "churn")
    assert shown.exit_code == 0
    assert "@champion" in shown.stdout and "team" in shown.stdout
    versions = json.loads(invoke("models", "versions", "churn", "--json").stdout)
    assert [(v["version"], v["aliases"]) for v in versions] == [(3, []), (2, ["champion"]), (1, [])]
    assert "/models/churn/3" in invoke("models", "versions", "churn").stdout


def test_transition_alias_and_history(client: Client) -> None:
    result = invoke("models", "transition", "churn", "3", "production", "--comment", "ship it")
    assert (result.exit_code, result.stdout.strip()) == (0, "churn version 3 is now in Production")
    invoke("models", "transition", "churn", "1", "Production")
    invoke("models", "transition", "churn", "2", "Production", "--archive-existing")
    stages = {v.version: v.current_stage.value for v in client.search_model_versions("name = 'churn'")}
    assert stages == {1: "Archived", 2: "Production", 3: "Archived"}
    assert invoke("models", "alias", "churn", "champion", "3", "-m", "rollback").stdout.strip() == (
        "models:/churn@champion -> version 3"
    )
    history = json.loads(invoke("models", "history", "churn", "--json").stdout)
    assert history[-1]["action"] == "model_alias.set"
    assert (history[-1]["old_value"], history[-1]["new_value"], history[-1]["comment"]) == (
        "2",
        "3",
        "rollback",
    )
    assert any(h["comment"] == "ship it" for h in history)
    assert "model_alias.set" in invoke("models", "history", "churn").stdout


def test_errors_exit_with_the_error_code(client: Client) -> None:
    unknown = CliRunner().invoke(cli, ["models", "show", "nope"])
    assert unknown.exit_code == 3
    assert "no registered model named 'nope'" in unknown.stderr
    bad_stage = CliRunner().invoke(cli, ["models", "transition", "churn", "1", "Prod"])
    assert bad_stage.exit_code == 2
    assert "None, Staging, Production, Archived" in bad_stage.stderr
    bad_alias = CliRunner().invoke(cli, ["models", "alias", "churn", "latest", "1"])
    assert bad_alias.exit_code == 2
    assert CliRunner().invoke(cli, ["models", "history", "nope"]).exit_code == 3


def _double(frame: Any) -> Any:
    return frame["x"] * 2


def test_predict_scores_a_file_with_a_registered_model(client: Client, tmp_path: Path) -> None:
    with loopml.start_run():
        info = loopml.log_model(_double, "doubler", input_example=pd.DataFrame({"x": [1.0, 2.0]}))
    version = loopml.register_model(info.model_uri, "doubler").version
    client.set_registered_model_alias("doubler", "champion", version)
    data = tmp_path / "rows.csv"
    data.write_text("x\n1\n2.5\n")
    result = invoke("models", "predict", "models:/doubler@champion", "--input", str(data))
    assert result.exit_code == 0
    assert json.loads(result.stdout) == [{"prediction": 2.0}, {"prediction": 5.0}]
    records = tmp_path / "rows.json"
    records.write_text(json.dumps([{"x": 3.0}]))
    out = tmp_path / "out.csv"
    args = ("models", "predict", f"models:/doubler/{version}", "-i", str(records), "-o", str(out))
    assert invoke(*args).exit_code == 0
    assert out.read_text().splitlines() == ["prediction", "6.0"]


def test_predict_names_the_bad_column(client: Client, tmp_path: Path) -> None:
    with loopml.start_run():
        info = loopml.log_model(_double, "doubler", input_example=pd.DataFrame({"x": [1.0, 2.0]}))
    loopml.register_model(info.model_uri, "doubler")
    data = tmp_path / "rows.csv"
    data.write_text("y\n1\n")
    result = CliRunner().invoke(cli, ["models", "predict", "models:/doubler/1", "-i", str(data)])
    assert result.exit_code == 2
    assert "'x'" in result.stderr
