"""The embedded store under stress: many writer processes, and a writer killed mid-loop."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from loopml import Client

WRITERS = 8
METRICS_PER_WRITER = 600


def _writer(uri: str, run_id: str, index: int, start: mp.synchronize.Event) -> None:
    client = Client(tracking_uri=uri)
    start.wait(30)
    for step in range(METRICS_PER_WRITER):
        client.log_metric(run_id, f"w{index}", float(step), step=step)
    client.log_batch(run_id, params={f"writer{index}": index})


def test_eight_processes_write_at_once_without_errors_or_losses(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'shared.db'}"
    client = Client(tracking_uri=uri)
    run_id = client.create_run(client.create_experiment("stress")).info.run_id
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_writer, args=(uri, run_id, i, start)) for i in range(WRITERS)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(240)
    assert [p.exitcode for p in procs] == [0] * WRITERS  # no "database is locked", no error of any kind
    run = client.get_run(run_id)
    assert run.params == {f"writer{i}": str(i) for i in range(WRITERS)}
    for i in range(WRITERS):
        history = client.get_metric_history(run_id, f"w{i}")
        assert history.steps == list(range(METRICS_PER_WRITER))
        assert run.metrics[f"w{i}"] == METRICS_PER_WRITER - 1


_KILLED_WRITER = """
import sys
from loopml import Client
client = Client(tracking_uri=sys.argv[1])
run_id = sys.argv[2]
step = 0
while True:
    client.log_metric(run_id, "loss", float(step), step=step)
    print(step, flush=True)  # printed only after log_metric returned
    step += 1
"""


def test_every_returned_log_metric_survives_sigkill(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'killed.db'}"
    client = Client(tracking_uri=uri)
    run_id = client.create_run(client.create_experiment("kill")).info.run_id
    acknowledged = []
    with subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, uri, run_id], stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while len(acknowledged) < 300 and time.monotonic() < deadline:
            acknowledged.append(int(proc.stdout.readline()))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    stored = set(Client(tracking_uri=uri).get_metric_history(run_id, "loss").steps)
    assert len(acknowledged) == 300
    assert set(acknowledged) <= stored
