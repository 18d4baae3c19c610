"""A real `loopml server` process: health, docs, the error answers, many clients at once, start-up checks."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from loopml import AlreadyExists, Client, Conflict, InvalidFilter, InvalidInput, NotFound

pytestmark = pytest.mark.server

API = "/api/v1"


@pytest.fixture
def http(loopml_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=loopml_server, timeout=10) as client:
        yield client


@pytest.fixture
def client(loopml_server: str, tmp_path: Path) -> Iterator[Client]:
    c = Client(tracking_uri=loopml_server, artifact_root=str(tmp_path / "artifacts"))
    yield c
    c.close()


def _error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    error: dict[str, object] = body["error"]
    return error


def test_health_ready_and_docs(http: httpx.Client) -> None:
    assert http.get("/health").json() == {"status": "ok"}
    assert http.get("/ready").json() == {"status": "ready"}
    docs = http.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    paths = http.get("/openapi.json").json()["paths"]
    assert {f"{API}/experiments", f"{API}/runs/search", f"{API}/runs/{{run_id}}/batch"} <= set(paths)


def test_not_found_is_404_with_the_error_body(http: httpx.Client, client: Client) -> None:
    error = _error(http.get(f"{API}/runs/nope"), 404, "not_found")
    assert error["message"] == "no run with id 'nope'" and error["details"] == {"run_id": "nope"}
    _error(http.get(f"{API}/no-such-route"), 404, "not_found")
    with pytest.raises(NotFound, match="no experiment with id 'missing'"):
        client.get_experiment("missing")


def test_invalid_input_is_400_naming_the_field(http: httpx.Client, client: Client) -> None:
    error = _error(http.post(f"{API}/experiments", json={"name": "  "}), 400, "invalid_input")
    assert "experiment name" in str(error["message"])
    error = _error(http.post(f"{API}/experiments", json={"nmae": "x"}), 400, "invalid_input")
    assert "'nmae'" in str(error["message"])
    error = _error(http.post(f"{API}/experiments", json=["not", "an", "object"]), 400, "invalid_input")
    assert "body" in str(error["message"])
    error = _error(http.get(f"{API}/experiments", params={"view": "some"}), 400, "invalid_input")
    assert "view" in str(error["message"])
    eid = client.create_experiment(f"e-{uuid.uuid4().hex}")
    error = _error(
        http.post(f"{API}/runs/search", json={"experiment_ids": [eid], "filter": "x ="}),
        400,
        "invalid_filter",
    )
    assert isinstance(error["details"], dict) and error["details"]["position"] == 0
    with pytest.raises(InvalidFilter) as caught:  # the client gets the same class, message and details
        client.search_runs([eid], "metrics.acc >")
    assert caught.value.position == 13 and "position 13" in str(caught.value)
    with pytest.raises(InvalidInput, match="must fit a 64-bit integer"):
        client.log_metric(client.create_run(eid).info.run_id, "m", 1.0, step=2**64)


def test_conflicts_are_409(http: httpx.Client, client: Client) -> None:
    name = f"e-{uuid.uuid4().hex}"
    eid = client.create_experiment(name)
    error = _error(http.post(f"{API}/experiments", json={"name": name}), 409, "already_exists")
    assert name in str(error["message"])
    run_id = client.create_run(eid).info.run_id
    client.log_param(run_id, "depth", 3)
    error = _error(
        http.post(f"{API}/runs/{run_id}/params", json={"key": "depth", "value": "4"}), 409, "conflict"
    )
    assert "'3'" in str(error["message"]) and "'4'" in str(error["message"])
    with pytest.raises(Conflict, match=r"'3'.*'5'"):
        client.log_param(run_id, "depth", 5)
    with pytest.raises(AlreadyExists):
        client.create_experiment(name)


def test_a_rest_client_may_leave_ids_and_times_to_the_server(http: httpx.Client) -> None:
    created = http.post(f"{API}/experiments", json={"name": f"curl-{uuid.uuid4().hex}"})
    assert created.status_code == 201
    experiment = created.json()
    assert experiment["artifact_location"] == f"loopml-artifacts:/{experiment['experiment_id']}"
    run = http.post(f"{API}/runs", json={"experiment_id": experiment["experiment_id"], "run_name": "r"})
    assert run.status_code == 201
    run_id = run.json()["info"]["run_id"]
    body = {"key": "loss", "value": "NaN", "timestamp": 1}
    assert http.post(f"{API}/runs/{run_id}/metrics", json=body).status_code == 204
    assert http.put(f"{API}/runs/{run_id}/tags/team%2Fowner", json={"value": "ana"}).status_code == 204
    assert http.post(f"{API}/runs/{run_id}/terminate").status_code == 204
    read = http.get(f"{API}/runs/{run_id}").json()
    assert read["info"]["status"] == "FINISHED" and read["info"]["end_time"] is not None
    assert read["data"] == {"metrics": {"loss": "NaN"}, "params": {}, "tags": {"team/owner": "ana"}}


@pytest.mark.parametrize("key", ["train/loss", ".", "a b", "x:y/./z", "-_."])
def test_keys_travel_whole_in_paths(client: Client, key: str) -> None:
    run_id = client.create_run(client.create_experiment(f"keys-{uuid.uuid4().hex}")).info.run_id
    client.log_metric(run_id, key, 2.5, step=3)
    assert client.get_metric_history(run_id, key).steps == [3]
    client.set_tag(run_id, key, "v")
    assert client.get_run(run_id).tags == {key: "v"}
    client.delete_tag(run_id, key)
    assert client.get_run(run_id).tags == {}


WRITER = textwrap.dedent(
    """
    import sys
    from loopml import Client

    url, run_id, key, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    client = Client(tracking_uri=url)
    for step in range(n):
        client.log_metric(run_id, key, step * 0.5, step=step, timestamp=1000 + step)
    client.close()
    """
)


@pytest.mark.slow
def test_eight_client_processes_lose_nothing(
    client: Client, loopml_server: str, tmp_path: Path, server_tools: SimpleNamespace
) -> None:
    eid = client.create_experiment(f"concurrent-{uuid.uuid4().hex}")
    run_id = client.create_run(eid).info.run_id
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    n, writers = 500, 8
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), loopml_server, run_id, f"p{i}", str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=server_tools.server_env(tmp_path / f"home-{i}"),
        )
        for i in range(writers)
    ]
    results = [(p.wait(120), p.stderr.read().decode() if p.stderr else "") for p in procs]
    for p in procs:
        for stream in (p.stdout, p.stderr):
            if stream is not None:
                stream.close()
    assert results == [(0, "")] * writers
    run = client.get_run(run_id)
    assert run.metrics == {f"p{i}": (n - 1) * 0.5 for i in range(writers)}
    for i in range(writers):
        history = client.get_metric_history(run_id, f"p{i}")
        assert history.steps == list(range(n))
        assert history.values == [s * 0.5 for s in range(n)]


def _start_refused(uri: str, home: Path, tools: SimpleNamespace) -> subprocess.CompletedProcess[str]:
    cmd = [
        sys.executable,
        "-m",
        "loopml",
        "server",
        "--backend-store-uri",
        uri,
        "--port",
        str(tools.free_port()),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=tools.server_env(home))


def test_an_old_postgres_schema_is_refused_before_binding(
    postgres_url: str, tmp_path: Path, server_tools: SimpleNamespace
) -> None:
    import sqlalchemy as sa
    from alembic import command

    from loopml.store.sql.engine import sqlalchemy_url
    from loopml.store.sql.migration import _config

    engine = sa.create_engine(sqlalchemy_url(postgres_url))
    with engine.begin() as conn:
        command.upgrade(_config(conn), "0004")
    engine.dispose()
    done = _start_refused(postgres_url, tmp_path, server_tools)
    assert done.returncode == 10
    assert "schema revision 0004" in done.stderr and "loopml db upgrade" in done.stderr
    assert "Uvicorn running" not in done.stderr + done.stdout  # it never bound the port


def test_an_empty_postgres_database_is_refused_too(
    postgres_url: str, tmp_path: Path, server_tools: SimpleNamespace
) -> None:
    done = _start_refused(postgres_url, tmp_path, server_tools)
    assert done.returncode == 10
    assert "an empty database" in done.stderr and "loopml db upgrade" in done.stderr


@pytest.mark.slow
def test_default_sqlite_store_with_two_workers_and_graceful_stop(
    tmp_path: Path, server_tools: SimpleNamespace
) -> None:
    home = tmp_path / "home"
    with server_tools.running_server(["--workers", "2"], home) as server:
        client = Client(tracking_uri=server.url, artifact_root=str(tmp_path / "artifacts"))
        run = client.create_run()  # the default experiment, created through the server
        client.log_batch(run.info.run_id, params={"a": 1}, tags={"t": "x"})
        assert client.get_run(run.info.run_id).params == {"a": "1"}
        client.close()
        server.process.terminate()
        assert server.process.wait(30) == 0, server.log.read_text()
    assert (home / "loopml.db").exists()  # the embedded SQLite store in LOOPML_HOME
    assert "Finished server process" in server.log.read_text()
