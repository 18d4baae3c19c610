"""``loopml serve`` as a user runs it: a real process, real HTTP, stopped with SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pandas as pd
import pytest

import loopml
from loopml.serving.prediction_log import read_predictions

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def doubler(loopml_store: loopml.Client) -> str:
    with loopml.start_run():
        # a lambda travels by value: the server process cannot import this test module
        loopml.log_model(
            lambda frame: frame["x"] * 2,
            "model",
            input_example=pd.DataFrame({"x": [1.0]}),
            registered_model_name="dbl",
        )
    loopml_store.set_registered_model_alias("dbl", "champion", 1)
    return "models:/dbl@champion"


@contextmanager
def loopml_serve(*args: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = _free_port()
    log = Path(os.environ["LOOPML_HOME"]) / f"serve-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "loopml", "serve", *args, "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                ready = httpx.get(f"{url}/ready")
            except httpx.TransportError:
                ready = None
            if ready is not None and ready.status_code == 200:
                break
            errors = [m["error"] for m in ready.json()["models"] if m["error"]] if ready is not None else []
            assert not errors, errors
            assert time.monotonic() < deadline, "loopml serve did not become ready"
            time.sleep(0.05)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)


def test_serve_predicts_and_flushes_its_prediction_log_at_shutdown(doubler: str, tmp_path: Path) -> None:
    root = tmp_path / "predictions"
    with loopml_serve(doubler, "--prediction-log", root.as_posix()) as (url, proc):
        answer = httpx.post(f"{url}/predict", json={"records": [{"x": 1.5}, {"x": 2}]})
        assert answer.status_code == 200
        assert answer.json()["predictions"] == [3.0, 4.0]
        assert answer.json()["model"] == {"name": "dbl", "version": "1"}
        mlflow_style = httpx.post(
            f"{url}/invocations", json={"dataframe_split": {"columns": ["x"], "data": [[5]]}}
        )
        assert mlflow_style.json()["predictions"] == [10.0]
        proc.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught
        assert proc.wait(30) in (0, -signal.SIGTERM)
    logged = read_predictions(root.as_posix(), model="dbl")
    assert sorted(logged["x"]) == [1.5, 2.0, 5.0]
    assert sorted(logged["loopml_prediction"]) == [3.0, 4.0, 10.0]


def test_serve_with_two_workers(doubler: str) -> None:
    # each worker loads the model before it takes connections: no request meets an unready one
    with loopml_serve(doubler, "--workers", "2", "--no-log-predictions") as (url, _proc):
        for x in range(20):
            assert httpx.post(f"{url}/predict", json={"instances": [[float(x)]]}).json()["predictions"] == [
                2.0 * x
            ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["models:/"], "malformed model URI 'models:/'"),
        (["models:/dbl@champion", "--batch", "other=8:1"], "invalid --batch 'other=8:1'"),
        (["a=models:/dbl/1", "a=models:/dbl/1"], "two served models answer to the same name ['a']"),
    ],
)
def test_bad_arguments_end_the_command_before_it_listens(
    loopml_store: loopml.Client, args: list[str], message: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "loopml", "serve", *args, "--port", str(_free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
