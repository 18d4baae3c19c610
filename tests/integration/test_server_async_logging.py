"""LOOPML_ASYNC_LOGGING=true against a real `loopml server`: values queued, batched, all stored."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

import loopml
from loopml import Client, Conflict, RunStatus
from loopml.store.http import HttpStore

pytestmark = pytest.mark.server


@pytest.fixture
def client(loopml_server: str, tmp_path: Path) -> Iterator[Client]:
    c = Client(tracking_uri=loopml_server, artifact_root=str(tmp_path / "artifacts"))
    yield c
    c.close()


@pytest.fixture
def async_fluent(loopml_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The fluent API on the server with asynchronous logging; the id of a fresh experiment."""
    monkeypatch.setenv("LOOPML_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LOOPML_ASYNC_LOGGING", "true")
    monkeypatch.delenv("LOOPML_EXPERIMENT_ID", raising=False)
    monkeypatch.delenv("LOOPML_EXPERIMENT_NAME", raising=False)
    loopml.set_tracking_uri(loopml_server)
    return loopml.create_experiment(f"async-{uuid.uuid4().hex}")


def queued(run: loopml.ActiveRun) -> bool:
    """Whether the run's store logs asynchronously."""
    store = run.client.store
    return isinstance(store, HttpStore) and store._queue is not None


def test_every_value_is_stored_when_the_run_ends(async_fluent: str, client: Client) -> None:
    n = 2500
    with loopml.start_run(experiment_id=async_fluent) as run:
        assert queued(run)
        for step in range(n):
            loopml.log_metric("loss", 1.0 / (step + 1), step=step)
            if step % 100 == 0:
                loopml.log_metric("lr", 0.1 * 0.9 ** (step // 100), step=step)
        loopml.log_param("layers", 4)
        loopml.log_param("optimizer", "adam")
        loopml.set_tag("stage", "training")
        loopml.set_tag("stage", "done")  # the later value wins, as in synchronous mode
    stored = client.get_run(run.info.run_id)
    assert stored.info.status == RunStatus.FINISHED
    assert stored.params == {"layers": "4", "optimizer": "adam"}
    assert stored.tags["stage"] == "done"
    history = client.get_metric_history(run.info.run_id, "loss")
    assert history.steps == list(range(n))
    assert history.values == [1.0 / (s + 1) for s in range(n)]
    assert client.get_metric_history(run.info.run_id, "lr").steps == list(range(0, n, 100))


def test_reads_see_the_values_queued_before_them(async_fluent: str, client: Client) -> None:
    with loopml.start_run(experiment_id=async_fluent) as run:
        loopml.log_metric("m", 1.5, step=7)
        loopml.set_tag("t", "v")
        data = run.data  # a read through the same store: it waits for the queue first
        assert data.metrics == {"m": 1.5} and data.tags["t"] == "v"


EXITER = textwrap.dedent(
    """
    import sys
    import loopml

    run = loopml.start_run(experiment_id=sys.argv[1])
    for step in range(3000):
        loopml.log_metric("loss", step * 0.5, step=step)
    loopml.log_param("seed", 7)
    loopml.set_tag("stage", "a")
    loopml.set_tag("stage", "b")
    print(run.info.run_id)
    # no end_run: the process exits with values still queued
    """
)


def test_values_are_sent_when_a_process_exits_without_ending_its_run(
    loopml_server: str, client: Client, tmp_path: Path, server_tools: SimpleNamespace
) -> None:
    eid = client.create_experiment(f"exit-{uuid.uuid4().hex}")
    script = tmp_path / "exiter.py"
    script.write_text(EXITER)
    env = server_tools.server_env(tmp_path / "home")
    env.update(LOOPML_TRACKING_URI=loopml_server, LOOPML_ASYNC_LOGGING="true")
    done = subprocess.run(
        [sys.executable, str(script), eid], capture_output=True, text=True, timeout=120, env=env, check=False
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    run = client.get_run(done.stdout.strip())
    assert run.info.status == RunStatus.RUNNING  # not ended, but every value is there
    assert run.params == {"seed": "7"} and run.tags["stage"] == "b"
    history = client.get_metric_history(run.info.run_id, "loss")
    assert history.steps == list(range(3000))
    assert history.values == [s * 0.5 for s in range(3000)]


def test_a_param_changed_in_the_background_is_raised_at_the_next_call(
    async_fluent: str, client: Client
) -> None:
    run = loopml.start_run(experiment_id=async_fluent)
    run_id = run.info.run_id
    loopml.log_param("lr", "0.1")
    loopml.log_metric("m", 1.0, step=0)
    loopml.log_param("lr", "0.2")  # Conflict on the server, some ms from now
    loopml.log_metric("m", 2.0, step=1)
    deadline = time.monotonic() + 30
    with pytest.raises(Conflict) as caught:  # noqa: PT012
        step = 2
        while time.monotonic() < deadline:  # the next log_metric after the send failed raises
            loopml.log_metric("m", float(step), step=step)
            step += 1
            time.sleep(0.01)
    message = str(caught.value)
    assert f"param 'lr' of run {run_id} was logged as '0.1'; it cannot be changed to '0.2'" in message
    assert "1 param of run" in message and "were not stored" in message
    loopml.end_run()
    stored = client.get_run(run_id)
    assert stored.params == {"lr": "0.1"} and stored.info.status == RunStatus.FINISHED
    # only the refused param was lost: every metric point, before and after it, is stored,
    # the one of the call that raised included
    assert client.get_metric_history(run_id, "m").steps == list(range(step + 1))


def test_a_background_error_is_raised_at_flush_and_the_run_still_ends(
    async_fluent: str, client: Client
) -> None:
    run = loopml.start_run(experiment_id=async_fluent)
    loopml.log_param("lr", "0.1")
    loopml.log_param("lr", "0.3")
    with pytest.raises(Conflict, match=r"it cannot be changed to '0\.3'"):
        loopml.end_run()  # run end flushes: the error comes out there
    stored = client.get_run(run.info.run_id)
    assert stored.info.status == RunStatus.FINISHED and stored.params == {"lr": "0.1"}
