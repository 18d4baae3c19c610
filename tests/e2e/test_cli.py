"""The ``loopml`` command, end to end: click's CliRunner in process, and real subprocesses.

Every test gets its own ``LOOPML_HOME`` (tests/conftest.py), so ``loopml`` without
``--tracking-uri`` reads the same temporary store the ``client`` fixture writes to.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import loopml
from loopml import Client
from loopml.cli.main import cli
from loopml.entities import Metric


@dataclass(frozen=True)
class Store:
    """A store holding two experiments and three finished runs with known values."""

    client: Client
    experiment_id: str
    other_experiment_id: str
    run_ids: dict[str, str]  # run name -> run id


def _finished_run(client: Client, experiment_id: str, name: str, acc: float, lr: str) -> str:
    run = client.create_run(experiment_id, run_name=name, tags={"team": "vision"})
    run_id = run.info.run_id
    client.log_param(run_id, "lr", lr)
    client.log_param(run_id, "model", f"{name}-model")
    for step, loss in enumerate([0.9, 0.5, 0.25]):
        client.log_metric(run_id, "loss", loss, step=step)
    client.log_metric(run_id, "acc", acc)
    client.log_text(run_id, f"report of {name}\n", "report.txt")
    client.log_dict(run_id, {"lr": lr}, "config/params.json")
    client.set_terminated(run_id, "FINISHED")
    return run_id


@pytest.fixture
def store() -> Iterator[Store]:
    client = Client()  # LOOPML_HOME is a fresh temporary directory
    exp = client.create_experiment("vision")
    other = client.create_experiment("nlp")
    run_ids = {
        "alpha": _finished_run(client, exp, "alpha", 0.81, "0.1"),
        "beta": _finished_run(client, exp, "beta", 0.93, "0.01"),
        "gamma": _finished_run(client, exp, "gamma", 0.87, "0.001"),
        "delta": _finished_run(client, other, "delta", 0.5, "1.0"),
    }
    yield Store(client, exp, other, run_ids)
    client.close()


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _names_in_order(output: str, names: list[str]) -> list[str]:
    return sorted(names, key=output.index)


# --------------------------------------------------------------------------------------------- basics


def test_version_prints_loopml_and_python_versions() -> None:
    result = invoke("version")
    assert result.exit_code == 0
    assert f"loopml {loopml.__version__}" in result.stdout
    assert f"Python {platform.python_version()}" in result.stdout
    assert invoke("--version").stdout.strip() == f"loopml, version {loopml.__version__}"


def test_help_lists_the_command_groups() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("experiments", "runs", "db", "demo", "version", "--tracking-uri"):
        assert command in result.stdout


def test_usage_error_exits_2() -> None:
    result = CliRunner().invoke(cli, ["runs", "list", "--max-results", "0"])
    assert result.exit_code == 2
    assert "--max-results" in result.stderr


# ---------------------------------------------------------------------------------------- experiments


def test_experiments_create_prints_the_id_and_list_shows_it() -> None:
    result = invoke("experiments", "create", "churn", "--artifact-location", "memory://churn-artifacts")
    assert result.exit_code == 0
    experiment_id = result.stdout.strip()
    exp = Client().get_experiment(experiment_id)
    assert exp.name == "churn"
    assert exp.artifact_location == "memory://churn-artifacts"

    table = invoke("experiments", "list")
    assert "churn" in table.stdout
    assert experiment_id in table.stdout
    listed = json.loads(invoke("experiments", "list", "--json").stdout)
    assert [e["name"] for e in listed if e["experiment_id"] == experiment_id] == ["churn"]


def test_experiments_list_views(store: Store) -> None:
    store.client.delete_experiment(store.other_experiment_id)
    active = {e["name"] for e in json.loads(invoke("experiments", "list", "--json").stdout)}
    deleted = {
        e["name"] for e in json.loads(invoke("experiments", "list", "--view", "deleted", "--json").stdout)
    }
    everything = json.loads(invoke("experiments", "list", "--view", "all", "--json").stdout)
    assert "vision" in active
    assert "nlp" not in active
    assert deleted == {"nlp"}
    assert {e["name"]: e["lifecycle_stage"] for e in everything}["nlp"] == "deleted"
    assert "deleted" in invoke("experiments", "list", "--view", "all").stdout


def test_experiments_create_duplicate_exits_4_with_the_message() -> None:
    assert invoke("experiments", "create", "dup").exit_code == 0
    result = invoke("experiments", "create", "dup")
    assert result.exit_code == 4
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert "dup" in result.stderr


# ---------------------------------------------------------------------------------------------- runs


def test_runs_list_shows_names_metrics_and_params(store: Store) -> None:
    result = invoke("runs", "list", "--experiment", "vision")
    assert result.exit_code == 0
    out = result.stdout
    assert "3 run(s)" in out
    for name, run_id in store.run_ids.items():
        assert (name in out) is (name != "delta")
        assert (run_id in out) is (name != "delta")
    for header in ("run id", "status", "start time", "duration", "acc", "loss", "lr", "model"):
        assert header in out
    assert "FINISHED" in out
    assert "0.93" in out
    assert "0.001" in out
    assert "0.25" in out  # the latest value of loss


def test_empty_store_says_so() -> None:
    assert invoke("experiments", "list").stdout == "no active experiments\n"
    assert invoke("runs", "list").stdout == "no runs\n"
    assert json.loads(invoke("runs", "list", "--json").stdout) == []


def test_runs_list_filter_matching_nothing(store: Store) -> None:
    result = invoke("runs", "list", "--filter", "metrics.acc > 0.99")
    assert result.exit_code == 0
    assert result.stdout == "no runs match 'metrics.acc > 0.99'\n"


def test_runs_list_without_experiment_searches_every_active_experiment(store: Store) -> None:
    out = invoke("runs", "list").stdout
    assert "4 run(s)" in out
    assert all(name in out for name in store.run_ids)


def test_runs_list_experiment_by_id(store: Store) -> None:
    runs = json.loads(invoke("runs", "list", "--experiment", store.other_experiment_id, "--json").stdout)
    assert [r["info"]["run_name"] for r in runs] == ["delta"]


def test_runs_list_order_by_filter_and_max_results(store: Store) -> None:
    result = invoke("runs", "list", "-e", "vision", "--order-by", "metrics.acc DESC")
    assert _names_in_order(result.stdout, ["alpha", "beta", "gamma"]) == ["beta", "gamma", "alpha"]

    ascending = json.loads(invoke("runs", "list", "-e", "vision", "-o", "metrics.acc ASC", "--json").stdout)
    assert [r["info"]["run_name"] for r in ascending] == ["alpha", "gamma", "beta"]
    assert ascending[0]["metrics"] == {"acc": 0.81, "loss": 0.25}
    assert ascending[0]["params"] == {"lr": "0.1", "model": "alpha-model"}
    assert ascending[0]["tags"]["team"] == "vision"

    filtered = json.loads(
        invoke("runs", "list", "--filter", "metrics.acc > 0.85", "-o", "params.lr", "--json").stdout
    )
    assert [r["info"]["run_name"] for r in filtered] == ["gamma", "beta"]

    top = invoke("runs", "list", "-e", "vision", "-o", "metrics.acc DESC", "--max-results", "1")
    assert "1 run(s) (more match" in top.stdout
    assert "beta" in top.stdout
    assert "gamma" not in top.stdout


def test_runs_list_limits_metric_columns(store: Store) -> None:
    wide = store.client.create_run(store.experiment_id, run_name="wide").info.run_id
    store.client.log_batch(wide, [Metric(f"m{i:02d}", float(i), 0, 0) for i in range(12)])
    store.client.set_terminated(wide)
    out = invoke("runs", "list", "-e", "vision", "-o", "metrics.m09 DESC").stdout
    header = next(line for line in out.splitlines() if "run id" in line)
    assert "m09" in header  # the --order-by key always gets its column
    assert "acc" in header  # then the keys most runs have
    assert "m05" not in header  # 8 metric columns at most: m09, acc, loss, m00 ... m04
    assert "m04" in header
    assert "6 metric and 0 param column(s) not shown" in out
    assert "wide" in out


def test_runs_list_fits_a_narrow_terminal(store: Store) -> None:
    result = CliRunner(env={"COLUMNS": "90"}).invoke(
        cli, ["runs", "list", "-e", "vision", "-o", "metrics.acc DESC"]
    )
    lines = result.stdout.splitlines()
    assert all(len(line) <= 90 for line in lines)
    header = next(line for line in lines if "run id" in line)
    assert "name" in header
    assert "acc" in header  # the --order-by key stays
    assert "start time" not in header  # gives way to it
    assert all(store.run_ids[name] in result.stdout for name in ("alpha", "beta", "gamma"))
    assert "loss" in header  # acc and loss fit in 90 columns, the params do not
    assert "0 metric and 2 param column(s) not shown" in result.stdout


def test_runs_list_unknown_experiment_exits_3() -> None:
    result = invoke("runs", "list", "--experiment", "no-such-experiment")
    assert result.exit_code == 3
    assert "error: no experiment named or with id 'no-such-experiment'" in result.stderr


def test_runs_list_malformed_filter_exits_2_naming_the_position(store: Store) -> None:
    result = invoke("runs", "list", "--filter", "metrics.acc > and params.lr = '0.1'")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert "position 14" in result.stderr
    # the pointer line marks the offending token under the echoed filter
    lines = result.stderr.splitlines()
    echoed = lines.index("metrics.acc > and params.lr = '0.1'")
    assert lines[echoed + 1] == " " * 14 + "^"


def test_runs_show_prints_info_params_metrics_tags_and_artifacts(store: Store) -> None:
    run_id = store.run_ids["beta"]
    result = invoke("runs", "show", run_id)
    assert result.exit_code == 0
    out = result.stdout
    for expected in (run_id, "beta", "FINISHED", store.experiment_id, "Params", "0.01", "beta-model"):
        assert expected in out
    for expected in ("Metrics", "acc", "0.93", "loss", "0.25", "Tags", "team", "vision"):
        assert expected in out
    assert "report.txt" in out
    assert "config/params.json" in out
    assert "15 B" in out  # len("report of beta\n")


def test_runs_show_json(store: Store) -> None:
    run_id = store.run_ids["gamma"]
    shown = json.loads(invoke("runs", "show", run_id, "--json").stdout)
    assert shown["info"]["run_id"] == run_id
    assert shown["info"]["status"] == "FINISHED"
    assert shown["info"]["end_time"] >= shown["info"]["start_time"]
    assert shown["params"] == {"lr": "0.001", "model": "gamma-model"}
    assert shown["metrics"] == {"acc": 0.87, "loss": 0.25}
    artifacts = {a["path"]: a for a in shown["artifacts"]}
    assert set(artifacts) == {"config", "config/params.json", "report.txt"}
    assert artifacts["config"]["is_dir"] is True
    assert artifacts["report.txt"]["file_size"] == len("report of gamma\n")


def test_runs_show_unknown_run_exits_3() -> None:
    result = invoke("runs", "show", "0123456789abcdef0123456789abcdef")
    assert result.exit_code == 3
    assert result.stderr.startswith("error: ")
    assert "0123456789abcdef0123456789abcdef" in result.stderr


def test_tracking_uri_on_the_group_or_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uri = f"sqlite:///{(tmp_path / 'elsewhere.db').as_posix()}"
    other = Client(tracking_uri=uri)
    run = other.create_run(other.create_experiment("far"), run_name="far-run")
    other.set_terminated(run.info.run_id)
    other.close()
    assert "far-run" in invoke("--tracking-uri", uri, "runs", "list").stdout
    assert "far-run" in invoke("runs", "list", "--tracking-uri", uri).stdout
    assert "far-run" not in invoke("runs", "list").stdout  # the default store is another one
    monkeypatch.setenv("LOOPML_TRACKING_URI", uri)
    assert "far-run" in invoke("runs", "list").stdout


# ------------------------------------------------------------------------------------------------ db


def test_db_upgrade_then_current(tmp_path: Path) -> None:
    from loopml.store.sql.schema import SCHEMA_REVISION

    uri = f"sqlite:///{(tmp_path / 'fresh.db').as_posix()}"
    assert invoke("db", "current", uri).stdout.strip() == "none"
    first = invoke("db", "upgrade", uri)
    assert first.exit_code == 0
    assert first.stdout.strip() == f"{uri}: upgraded from (empty) to {SCHEMA_REVISION}"
    assert invoke("db", "current", uri).stdout.strip() == SCHEMA_REVISION
    again = invoke("db", "upgrade", uri)
    assert again.stdout.strip() == f"{uri}: already at revision {SCHEMA_REVISION}"


def test_db_commands_default_to_the_tracking_uri(tmp_path: Path) -> None:
    from loopml.store.sql.schema import SCHEMA_REVISION

    uri = f"sqlite:///{(tmp_path / 'via-option.db').as_posix()}"
    assert "upgraded from (empty)" in invoke("--tracking-uri", uri, "db", "upgrade").stdout
    assert invoke("db", "current", "--tracking-uri", uri).stdout.strip() == SCHEMA_REVISION


def test_db_upgrade_refuses_a_non_sql_uri() -> None:
    result = invoke("db", "upgrade", "http://localhost:5000")
    assert result.exit_code == 2
    assert "'http://localhost:5000' is not a SQL database URI" in result.stderr


# ------------------------------------------------------------------------------------- subprocesses


def _run(*args: str, env_home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
    env["LOOPML_HOME"] = str(env_home)
    env["COLUMNS"] = "250"
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=120, check=False)


def _loopml_script() -> str:
    script = Path(sys.executable).with_name("loopml")
    if not script.exists():  # pragma: no cover - the package is installed in the venv
        pytest.skip(f"the loopml console script is not installed next to {sys.executable}")
    return str(script)


def test_python_dash_m_loopml_version(tmp_path: Path) -> None:
    proc = _run(sys.executable, "-m", "loopml", "version", env_home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"loopml {loopml.__version__} (Python {platform.python_version()}")


def test_loopml_script_runs_list_and_errors(store: Store, tmp_path: Path) -> None:
    uri = store.client.tracking_uri
    script = _loopml_script()
    proc = _run(
        script, "runs", "list", "--tracking-uri", uri, "--order-by", "metrics.acc DESC", env_home=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert _names_in_order(proc.stdout, ["alpha", "beta", "gamma", "delta"]) == [
        "beta",
        "gamma",
        "alpha",
        "delta",
    ]

    bad = _run(script, "runs", "list", "--tracking-uri", uri, "--filter", "metrics.acc >", env_home=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: ")
    assert "position" in bad.stderr
    assert "Traceback" not in bad.stderr

    missing = _run(script, "runs", "show", "--tracking-uri", uri, "nope", env_home=tmp_path)
    assert missing.returncode == 3
    assert missing.stderr.startswith("error: ")


def test_help_does_not_import_heavy_modules(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from loopml.cli.main import cli\n"
        "try:\n"
        "    cli(['--help'], prog_name='loopml')\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('pandas', 'sklearn', 'sqlalchemy', 'numpy', 'matplotlib', 'alembic')\n"
        "print('HEAVY', sorted(m for m in heavy if m in sys.modules))\n"
    )
    proc = _run(sys.executable, "-c", code, env_home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout
