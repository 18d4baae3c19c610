"""Fixtures for services the suite talks to for real: PostgreSQL and moto's S3 server.

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
