"""``loopml ui``: the web UI on a local store, for one person (a real subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import httpx

import loopml


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
    env["LOOPML_HOME"] = str(home)
    return env


def test_loopml_ui_serves_the_local_store(tmp_path: Path, server_tools: SimpleNamespace) -> None:
    store = f"sqlite:///{(tmp_path / 'mine.db').as_posix()}"
    client = loopml.Client(tracking_uri=store, artifact_root=str(tmp_path / "artifacts"))
    client.create_experiment("seen-in-the-ui")
    client.close()
    port = server_tools.free_port()
    command = [sys.executable, "-m", "loopml", "ui", "--tracking-uri", store, "--port", str(port)]
    proc = subprocess.Popen(command, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                answer = httpx.get(f"{url}/", follow_redirects=False, timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "loopml ui did not start"
                time.sleep(0.1)
        assert answer.status_code == 307 and answer.headers["location"] == "/ui/"
        assert httpx.get(f"{url}/ui/static/loopml.css").status_code == 200
        assert httpx.get(f"{url}/api/v1/experiments").json()["experiments"][-1]["name"] == "seen-in-the-ui"
    finally:
        proc.terminate()
        proc.wait(30)
        if proc.stdout:
            proc.stdout.close()


def test_loopml_ui_refuses_a_remote_store(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "loopml", "ui", "--tracking-uri", "http://example.test:5000"]
    done = subprocess.run(
        command, env=_env(tmp_path), capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert "serves its UI at http://example.test:5000/" in done.stderr
