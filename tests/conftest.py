"""Fixtures for services the suite talks to for real: PostgreSQL, moto's S3 server, and a
``loopml server`` process backed by PostgreSQL.

A test that needs a service skips with the reason when it is absent, and fails instead
when ``LOOPML_REQUIRE_SERVICES=1`` (CI).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

POSTGRES_ADMIN_URL = os.environ.get("LOOPML_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test")


def _require_services() -> bool:
    return os.environ.get("LOOPML_REQUIRE_SERVICES", "") not in ("", "0", "false")


def service_missing(reason: str) -> None:
    """Skip the test for a missing service, or fail it when CI requires services."""
    if _require_services():
        pytest.fail(f"LOOPML_REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes ~/.loopml or inherits a tracking URI from the environment."""
    home = tmp_path_factory.mktemp("loopml-home")
    for var in list(os.environ):
        if var.startswith("LOOPML_") and var not in ("LOOPML_REQUIRE_SERVICES", "LOOPML_TEST_POSTGRES"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("LOOPML_HOME", str(home))


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - the test extra installs it
        service_missing("psycopg is not installed")
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        service_missing(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {exc}")
    return POSTGRES_ADMIN_URL


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh, empty schema (dropped afterwards)."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{postgres_admin_url}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on loopback; the AWS variables point s3fs/boto at it."""
    port = _free_port()
    cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError as exc:  # pragma: no cover
        service_missing(f"cannot start moto's server: {exc}")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if proc.poll() is not None:
                service_missing("moto's server exited at start (is moto[server] installed?)")
            time.sleep(0.1)
    else:
        proc.kill()
        service_missing("moto's server did not start within 20 s")
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": url,
        "FSSPEC_S3_ENDPOINT_URL": url,
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield url
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    """A fresh bucket on the moto server; returns ``s3://bucket``."""
    import s3fs

    name = f"b-{uuid.uuid4().hex[:12]}"
    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_endpoint}, skip_instance_cache=True)
    fs.mkdir(name)
    return f"s3://{name}"


@pytest.fixture(scope="session")
def loopml_server_store(postgres_admin_url: str) -> Iterator[str]:
    """The store behind :func:`loopml_server`: a PostgreSQL schema of its own, migrated."""
    import psycopg

    from loopml.store.sql.migration import upgrade

    schema = f"server_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = f"{postgres_admin_url}?options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def server_env(home: Path) -> dict[str, str]:
    """The environment of a server or client subprocess: no LOOPML_* of the caller, its own home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
    env["LOOPML_HOME"] = str(home)
    return env


def wait_ready(
    url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0, headers: dict[str, str] | None = None
) -> bool:
    """Poll ``url``/ready until it answers 200; False when the process exits or time runs out.
    ``headers`` go with each poll (a token, for a server run with --auth)."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if httpx.get(f"{url}/ready", timeout=1.0, headers=headers).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return False


@dataclass(frozen=True)
class RunningServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


@contextmanager
def running_server(
    args: list[str], home: Path, *, headers: dict[str, str] | None = None
) -> Iterator[RunningServer]:
    """``loopml server ARGS --port <free>`` on 127.0.0.1 with LOOPML_HOME=home, once /ready
    answers (polled with ``headers``; the test fails with the server's log otherwise); SIGTERM on exit."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        service_missing(f"the server extra is not installed: {exc}")
    home.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "loopml", "server", *args, "--host", "127.0.0.1", "--port", str(port)]
    log = home / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=server_env(home))
    try:
        if not wait_ready(url, proc, headers=headers):
            pytest.fail(
                f"`loopml server` did not become ready within 30 s:\n{log.read_text()}", pytrace=False
            )
        yield RunningServer(url, proc, log)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="session")
def loopml_server(loopml_server_store: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``loopml server`` subprocess on a free 127.0.0.1 port over a migrated PostgreSQL
    schema (``loopml_server_store``); yields its URL once /ready answers, terminates it after."""
    home = tmp_path_factory.mktemp("server-home")
    args = ["--backend-store-uri", loopml_server_store, "--artifacts-destination", str(home / "artifacts")]
    with running_server([*args, "--no-access-log"], home) as server:
        yield server.url


@dataclass(frozen=True)
class AuthServer:
    """A ``loopml server --auth``: its URL, its database, and the token of its admin ``admin``."""

    url: str
    store_uri: str
    admin_token: str


@pytest.fixture(scope="session")
def loopml_auth_server(
    postgres_admin_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AuthServer]:
    """A real ``loopml server --auth`` subprocess over a migrated PostgreSQL schema of its own,
    whose admin ``admin`` was made by ``loopml server create-admin`` (a real subprocess too)."""
    import psycopg

    from loopml.store.sql.migration import upgrade

    schema = f"auth_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = f"{postgres_admin_url}?options=-csearch_path%3D{schema}"
    home = tmp_path_factory.mktemp("auth-server-home")
    try:
        upgrade(url)
        cmd = [sys.executable, "-m", "loopml", "server", "create-admin", "--username", "admin"]
        made = subprocess.run(
            [*cmd, "--backend-store-uri", url],
            capture_output=True,
            text=True,
            env=server_env(home),
            timeout=60,
        )
        assert made.returncode == 0, made.stderr
        token = made.stdout.strip()
        args = ["--backend-store-uri", url, "--artifacts-destination", str(home / "artifacts"), "--auth"]
        headers = {"Authorization": f"Bearer {token}"}
        with running_server([*args, "--no-access-log"], home, headers=headers) as server:
            yield AuthServer(server.url, url, token)
    finally:
        with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(scope="session")
def server_tools() -> SimpleNamespace:
    """Helpers for tests that start their own servers or client processes:
    ``running_server(args, home)``, ``server_env(home)``, ``free_port()``, ``service_missing(reason)``."""
    return SimpleNamespace(
        running_server=running_server,
        server_env=server_env,
        free_port=_free_port,
        service_missing=service_missing,
    )
