"""Flows and tasks through a real `loopml server` (backed by PostgreSQL) with nothing but
``LOOPML_TRACKING_URI=http://...``: the records arrive through ``POST /api/v1/records`` and read
back the same over HTTP and straight from the server's PostgreSQL store; crash detection,
retries and the task cache work through the server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import loopml
from loopml import Client, StateType, flow, task
from loopml.cache_policies import INPUTS
from loopml.store.http import HttpStore
from loopml.store.sql.store import SqlStore

pytestmark = pytest.mark.server

S = StateType

#: Whether ``square(7)`` fails (the first attempt of the flow) or not (its retry).
_SEVEN_FAILS = {"on": True}


@pytest.fixture
def through_server(loopml_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The fluent API (and @flow) pointed at the server, and nothing else changed."""
    from loopml.tracking.fluent import _client

    monkeypatch.setenv("LOOPML_TRACKING_URI", loopml_server)
    try:
        yield loopml_server
    finally:
        _client().close()  # this test's fluent client (its LOOPML_HOME is the test's own)


@pytest.fixture
def over_http(loopml_server: str) -> Iterator[Client]:
    client = Client(tracking_uri=loopml_server)
    assert isinstance(client.store, HttpStore)
    yield client
    client.close()


@pytest.fixture
def in_postgres(loopml_server_store: str) -> Iterator[Client]:
    """The server's own database, read directly."""
    client = Client(tracking_uri=loopml_server_store)
    assert isinstance(client.store, SqlStore)
    yield client
    client.close()


@task(retries=0)
def square(i: int) -> int:
    loopml.get_run_logger().info("squaring %d", i)
    if i == 7 and _SEVEN_FAILS["on"]:
        raise ValueError("seven is late")
    return i * i


@flow
def prepare(n: int) -> list[int]:
    loopml.get_run_logger().info("preparing %d items", n)
    return list(range(n))


@flow(persist_result=True)
def squares_through_server(n: int) -> int:
    items = prepare(n)  # a subflow
    values = [future.result() for future in square.map(items)]
    loopml.create_markdown_artifact(f"# total\n\n{sum(values)}", key="squares-total")
    return sum(values)


def test_a_flow_with_a_failing_task_and_a_subflow_is_recorded_through_the_server(
    through_server: str, over_http: Client, in_postgres: Client
) -> None:
    _SEVEN_FAILS["on"] = True
    failed = squares_through_server(10, return_state=True)
    assert failed.type is S.FAILED
    assert failed.flow_run_id is not None
    flow_run_id = failed.flow_run_id

    # over HTTP and straight from PostgreSQL: the same records
    run = over_http.get_flow_run(flow_run_id)
    assert run == in_postgres.get_flow_run(flow_run_id)
    assert (run.flow_name, run.state, run.parameters) == ("squares_through_server", S.FAILED, {"n": 10})
    assert run.error is not None and "seven is late" in run.error
    assert [s for s, _ in run.history] == [S.RUNNING, S.FAILED]

    tasks = over_http.get_task_runs(flow_run_id)
    assert tasks == in_postgres.get_task_runs(flow_run_id)
    assert len(tasks) == 10
    by_input = {t.parameters["i"]: t for t in tasks}
    assert sorted(by_input) == list(range(10))
    assert by_input[7].state is S.FAILED and "seven is late" in (by_input[7].error or "")
    assert all(by_input[i].state is S.COMPLETED for i in range(10) if i != 7)
    assert all(t.flow_run_id == flow_run_id and t.end_time is not None for t in tasks)

    (sub,) = over_http.store.orchestration.search_flow_runs(parent_flow_run_id=flow_run_id)
    assert sub == in_postgres.get_flow_run(sub.flow_run_id)
    assert (sub.flow_name, sub.state, sub.parameters) == ("prepare", S.COMPLETED, {"n": 10})

    logs = over_http.get_flow_run_logs(flow_run_id)
    assert logs == in_postgres.get_flow_run_logs(flow_run_id)
    assert sorted(log.message for log in logs if log.message.startswith("squaring")) == sorted(
        f"squaring {i}" for i in range(10)
    )
    task_logs = over_http.get_flow_run_logs(flow_run_id, task_run_id=by_input[3].task_run_id)
    assert [log.message for log in task_logs] == ["squaring 3"]
    assert [log.message for log in over_http.get_flow_run_logs(sub.flow_run_id)] == ["preparing 10 items"]

    # the retry runs again only what did not complete, and records it through the server
    _SEVEN_FAILS["on"] = False
    retried = over_http.retry_flow_run(flow_run_id)
    assert (retried.type, retried.result()) == (S.COMPLETED, sum(i * i for i in range(10)))
    run = in_postgres.get_flow_run(flow_run_id)
    assert (run.state, run.attempts, run.error) == (S.COMPLETED, 2, None)
    assert [s for s, _ in run.history] == [S.RUNNING, S.FAILED, S.RUNNING, S.COMPLETED]
    again = {t.parameters["i"]: t for t in over_http.get_task_runs(flow_run_id)}
    assert again == {t.parameters["i"]: t for t in in_postgres.get_task_runs(flow_run_id)}
    assert all(again[i] == by_input[i] for i in range(10) if i != 7)  # reused, untouched
    assert again[7].state is S.COMPLETED and again[7].task_run_id == by_input[7].task_run_id
    (artifact,) = over_http.get_run_artifacts(flow_run_id, key="squares-total")
    assert artifact.data == f"# total\n\n{sum(i * i for i in range(10))}"
    assert in_postgres.get_run_artifacts(key="squares-total") == [artifact]


def test_flow_runs_search_and_the_task_cache_through_the_server(
    through_server: str, over_http: Client, in_postgres: Client
) -> None:
    calls: list[int] = []
    name = f"cached-{uuid.uuid4().hex[:8]}"

    @task(cache_policy=INPUTS)
    def slow_double(x: int) -> int:
        calls.append(x)
        return 2 * x

    @flow(name=name)
    def doubles(n: int) -> int:
        return sum(f.result() for f in slow_double.map(range(n)))

    first = doubles(3, return_state=True)
    second = doubles(3, return_state=True)
    assert first.result() == second.result() == 6
    assert sorted(calls) == [0, 1, 2]  # the second run took every value from the cache
    assert second.flow_run_id is not None
    states = {t.state for t in over_http.get_task_runs(second.flow_run_id)}
    assert states == {S.CACHED}
    found = over_http.search_flow_runs(flow_name=name)
    assert [r.flow_run_id for r in found] == [second.flow_run_id, first.flow_run_id]
    assert found == in_postgres.search_flow_runs(flow_name=name)
    assert over_http.clear_cache(flow_name=name) == 3
    doubles(3)
    assert sorted(calls) == [0, 0, 1, 1, 2, 2]


KILLED_FLOW = """
    import os
    import signal
    import time
    from pathlib import Path

    from loopml import flow, task

    HERE = Path(__file__).parent
    KILLED = HERE / "killed-once"

    @task
    def step(i: int) -> int:
        if i == 3 and not KILLED.exists():  # the first time only: the retry must get through
            KILLED.write_text("")
            time.sleep(0.5)  # the recorder sends the completed task runs meanwhile
            os.kill(os.getpid(), signal.SIGKILL)
        return i * i

    @flow(persist_result=True)
    def killed_pipeline(n: int) -> int:
        return sum(step(i) for i in range(n))
"""


def test_a_killed_flow_run_is_crashed_when_read_through_the_server_and_a_retry_resumes_it(
    through_server: str, over_http: Client, in_postgres: Client, tmp_path: Path
) -> None:
    (tmp_path / "killedflow.py").write_text(textwrap.dedent(KILLED_FLOW))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}

    def python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-c", code, *args]
        return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)

    killed = python("import killedflow; killedflow.killed_pipeline(5)")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    (run,) = over_http.search_flow_runs(flow_name="killed_pipeline")
    assert run.state is S.CRASHED  # the server saw that the process is gone
    assert "is gone" in (run.error or "")
    tasks = over_http.get_task_runs(run.flow_run_id)
    assert [t.state for t in tasks] == [S.COMPLETED] * 3 + [S.CRASHED]
    assert in_postgres.get_flow_run(run.flow_run_id) == run

    retry = python(
        "import sys, loopml\n"
        "state = loopml.Client().retry_flow_run(sys.argv[1])\n"
        "print(state.name, state.result())",
        run.flow_run_id,
    )
    assert retry.returncode == 0, retry.stderr
    assert retry.stdout.split() == ["Completed", str(sum(i * i for i in range(5)))]
    run = in_postgres.get_flow_run(run.flow_run_id)
    assert [s for s, _ in run.history] == [S.RUNNING, S.CRASHED, S.RUNNING, S.COMPLETED]
    assert [t.state for t in over_http.get_task_runs(run.flow_run_id)] == [S.COMPLETED] * 5
