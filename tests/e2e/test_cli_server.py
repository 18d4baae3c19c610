"""``loopml models ...`` and ``loopml flows runs ...`` with ``--tracking-uri http://...``: the
same commands against a real `loopml server` (backed by PostgreSQL)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner, Result

import loopml
from loopml import flow, task
from loopml.cli.main import cli

pytestmark = pytest.mark.server


@pytest.fixture
def server(loopml_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The server's URL. Model files are written by the client to a directory the command
    reads too (``LOOPML_ARTIFACT_ROOT``): artifacts do not travel through the server yet."""
    monkeypatch.setenv("LOOPML_ARTIFACT_ROOT", str(tmp_path / "shared-artifacts"))
    return loopml_server


@contextmanager
def fluent_api_on(server: str) -> Iterator[None]:
    """The fluent API (and @flow) on the server for a while; the commands get only --tracking-uri."""
    from loopml.tracking.fluent import _client

    with pytest.MonkeyPatch.context() as env:
        env.setenv("LOOPML_TRACKING_URI", server)
        try:
            yield
        finally:
            _client().close()


def invoke(server: str, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--tracking-uri", server])


def _double(frame: Any) -> Any:
    return frame["x"] * 2


def test_models_commands_through_the_server(server: str, tmp_path: Path) -> None:
    name = f"doubler-{uuid.uuid4().hex[:8]}"
    with fluent_api_on(server):
        with loopml.start_run():
            info = loopml.log_model(_double, "model", input_example=pd.DataFrame({"x": [1.0, 2.0]}))
        loopml.register_model(info.model_uri, name, tags={"team": "ml"})
        loopml.register_model(info.model_uri, name)

    listed = invoke(server, "models", "list", "--filter", f"name = '{name}'", "--json")
    assert listed.exit_code == 0, listed.stderr
    assert [m["name"] for m in json.loads(listed.stdout)] == [name]
    versions = json.loads(invoke(server, "models", "versions", name, "--json").stdout)
    assert [v["version"] for v in versions] == [2, 1]

    moved = invoke(server, "models", "transition", name, "1", "production", "-m", "ship it")
    assert (moved.exit_code, moved.stdout.strip()) == (0, f"{name} version 1 is now in Production")
    aliased = invoke(server, "models", "alias", name, "champion", "2", "-m", "newer")
    assert aliased.stdout.strip() == f"models:/{name}@champion -> version 2"
    shown = invoke(server, "models", "show", name)
    assert shown.exit_code == 0 and "@champion" in shown.stdout and "team" not in shown.stdout
    history = json.loads(invoke(server, "models", "history", name, "--json").stdout)
    assert [(h["action"], h["comment"]) for h in history[-2:]] == [
        ("model_version.stage_transitioned", "ship it"),
        ("model_alias.set", "newer"),
    ]

    data = tmp_path / "rows.csv"
    data.write_text("x\n1\n2.5\n")
    scored = invoke(server, "models", "predict", f"models:/{name}@champion", "--input", str(data))
    assert scored.exit_code == 0, scored.stderr
    assert json.loads(scored.stdout) == [{"prediction": 2.0}, {"prediction": 5.0}]

    unknown = invoke(server, "models", "show", f"nope-{name}")
    assert unknown.exit_code == 3 and f"no registered model named 'nope-{name}'" in unknown.stderr
    bad_stage = invoke(server, "models", "transition", name, "1", "Prod")
    assert bad_stage.exit_code == 2 and "None, Staging, Production, Archived" in bad_stage.stderr


@task
def add_one(x: int) -> int:
    loopml.get_run_logger().info("adding one to %d", x)
    return x + 1


def test_flows_runs_list_and_show_through_the_server(server: str) -> None:
    name = f"counting-{uuid.uuid4().hex[:8]}"

    @flow(name=name)
    def counting(n: int) -> int:
        return sum(f.result() for f in add_one.map(range(n)))

    @flow(name=name)
    def failing() -> None:
        add_one(1)
        raise ValueError("the data is late")

    with fluent_api_on(server):
        done = counting(3, return_state=True)
        failed = failing(return_state=True)

    rows = json.loads(invoke(server, "flows", "runs", "list", "--flow", name, "--json").stdout)
    assert [(r["flow_run_id"], r["state"]) for r in rows] == [
        (failed.flow_run_id, "FAILED"),
        (done.flow_run_id, "COMPLETED"),
    ]
    only_failed = invoke(server, "flows", "runs", "list", "--flow", name, "--state", "failed", "--json")
    assert [r["flow_run_id"] for r in json.loads(only_failed.stdout)] == [failed.flow_run_id]
    table = invoke(server, "flows", "runs", "list", "--flow", name)
    assert table.exit_code == 0 and "COMPLETED" in table.stdout and "FAILED" in table.stdout

    shown = invoke(server, "flows", "runs", "show", done.flow_run_id or "")
    assert shown.exit_code == 0, shown.stderr
    assert "3 task run(s)" in shown.stdout and "adding one to 2" in shown.stdout
    details = json.loads(invoke(server, "flows", "runs", "show", failed.flow_run_id or "", "--json").stdout)
    assert (details["state"], len(details["task_runs"])) == ("FAILED", 1)
    assert "the data is late" in details["error"]
    missing = invoke(server, "flows", "runs", "show", "0" * 32)
    assert missing.exit_code == 3 and "no flow run with id" in missing.stderr


def test_experiments_runs_and_cache_commands_through_the_server(server: str) -> None:
    experiment = f"cli-{uuid.uuid4().hex[:8]}"
    created = invoke(server, "experiments", "create", experiment)
    assert created.exit_code == 0, created.output
    listed = json.loads(invoke(server, "experiments", "list", "--json").stdout)
    assert experiment in [e["name"] for e in listed]
    with fluent_api_on(server):
        found = loopml.get_experiment_by_name(experiment)
        assert found is not None
        with loopml.start_run(experiment_id=found.experiment_id, run_name="through-http") as run:
            loopml.log_params({"alpha": 0.5})
            loopml.log_metric("auc", 0.91)
            loopml.log_text("hello", "notes/hello.txt")
    runs = json.loads(invoke(server, "runs", "list", "--experiment", experiment, "--json").stdout)
    assert [(r["info"]["run_id"], r["metrics"]["auc"], r["params"]["alpha"]) for r in runs] == [
        (run.info.run_id, 0.91, "0.5")
    ]
    shown = invoke(server, "runs", "show", run.info.run_id)
    assert shown.exit_code == 0 and "through-http" in shown.stdout and "notes/hello.txt" in shown.stdout
    cleared = invoke(server, "cache", "clear", "--task", f"never-{experiment}")
    assert cleared.exit_code == 0 and "removed 0 cache entries" in cleared.stdout
    missing = invoke(server, "runs", "show", "0" * 32)
    assert missing.exit_code == 3 and "0" * 32 in missing.stderr
