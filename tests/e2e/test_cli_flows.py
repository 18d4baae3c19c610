"""``loopml flows ...`` and ``loopml cache clear`` end to end (each test has its own LOOPML_HOME)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import loopml
from loopml import flow, task
from loopml.cache_policies import INPUTS
from loopml.cli.main import cli


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@task
def square(x: int) -> int:
    loopml.get_run_logger().info("squaring %d", x)
    return x * x


@flow
def report(n: int) -> int:
    total = sum(square.map(range(n)).result())
    loopml.create_markdown_artifact(f"# Report\n\ntotal **{total}**", key="report")
    return total


@flow
def broken() -> None:
    square(2)
    raise ValueError("the data is late")


def test_list_and_show_flow_runs() -> None:
    done = report(3, return_state=True)
    failed = broken(return_state=True)
    listed = invoke("flows", "runs", "list")
    assert listed.exit_code == 0
    assert "report" in listed.stdout and "COMPLETED" in listed.stdout and "FAILED" in listed.stdout
    rows = json.loads(invoke("flows", "runs", "list", "--state", "failed", "--json").stdout)
    assert [r["flow_run_id"] for r in rows] == [failed.flow_run_id]
    rows = json.loads(invoke("flows", "runs", "list", "--flow", "report", "--json").stdout)
    assert [(r["flow_run_id"], r["state"], r["parameters"]) for r in rows] == [
        (done.flow_run_id, "COMPLETED", {"n": 3})
    ]

    shown = invoke("flows", "runs", "show", done.flow_run_id or "")
    assert shown.exit_code == 0
    assert "3 task run(s)" in shown.stdout and "square-2" in shown.stdout
    assert "squaring 2" in shown.stdout  # the logs
    assert "artifact report (markdown)" in shown.stdout and "total" in shown.stdout
    data = json.loads(invoke("flows", "runs", "show", done.flow_run_id or "", "--json").stdout)
    assert sorted(t["name"] for t in data["task_runs"]) == ["square-0", "square-1", "square-2"]
    assert {t["state"] for t in data["task_runs"]} == {"COMPLETED"}
    assert data["artifacts"][0]["data"] == "# Report\n\ntotal **5**"

    failed_shown = invoke("flows", "runs", "show", failed.flow_run_id or "")
    assert "ValueError: the data is late" in failed_shown.stdout


def test_show_an_unknown_flow_run_is_not_found() -> None:
    result = CliRunner().invoke(cli, ["flows", "runs", "show", "nope"])
    assert result.exit_code == 3
    assert "nope" in result.stderr


def test_retry_resumes_a_failed_flow_run_from_the_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "nightly.py"
    script.write_text(
        textwrap.dedent(
            """
            from pathlib import Path
            from loopml import flow, task

            HERE = Path(__file__).parent

            @task(persist_result=True)
            def extract() -> int:
                with (HERE / "extracted.txt").open("a") as f:
                    f.write("x\\n")
                return 20

            @task
            def load(x: int) -> int:
                if not (HERE / "fixed").exists():
                    raise RuntimeError("the warehouse is down")
                return x + 1

            @flow
            def nightly() -> int:
                return load(extract())

            if __name__ == "__main__":
                nightly()
            """
        )
    )
    first = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=False)
    assert first.returncode != 0 and "the warehouse is down" in first.stderr
    (run,) = loopml.Client().search_flow_runs(flow_name="nightly")
    assert run.state.value == "FAILED"

    (tmp_path / "fixed").touch()
    monkeypatch.chdir(tmp_path)
    retried = invoke("flows", "retry", run.flow_run_id)
    assert retried.exit_code == 0
    assert f"flow run {run.flow_run_id}: Completed" in retried.stdout
    assert (tmp_path / "extracted.txt").read_text() == "x\n"  # extract's persisted result was reused
    again = loopml.Client().get_flow_run(run.flow_run_id)
    assert again.state.value == "COMPLETED" and again.attempts == 2


def test_cache_clear_forgets_cached_results() -> None:
    calls: list[int] = []

    @task(cache_policy=INPUTS)
    def slow_square(x: int) -> int:
        calls.append(x)
        return x * x

    @flow
    def twice() -> list[str]:
        return [slow_square(3, return_state=True).name for _ in range(2)]

    assert twice() == ["Completed", "Cached"]
    cleared = invoke("cache", "clear", "--task", "slow_square")
    assert cleared.exit_code == 0 and "removed 1 cache entry" in cleared.stdout
    assert twice() == ["Completed", "Cached"]  # ran again after the clear
    assert calls == [3, 3]
    assert "removed 0 cache entries" in invoke("cache", "clear", "--flow", "nope").stdout
