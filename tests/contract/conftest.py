from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopml import Client


@pytest.fixture(scope="session")
def migrated_postgres(postgres_admin_url: str) -> Iterator[str]:
    """One migrated schema for the session; each test starts from empty tables."""
    import psycopg

    from loopml.store.sql.migration import upgrade

    schema = f"contract_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = f"{postgres_admin_url}?options=-csearch_path%3D{schema}"
    upgrade(url)
    try:
        yield url
    finally:
        with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _truncate(url: str) -> None:
    import psycopg

    from loopml.store.sql.schema import metadata

    tables = ", ".join(t.name for t in metadata.sorted_tables)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {tables} CASCADE")


#: Every backend the contract runs on: embedded SQLite, embedded PostgreSQL, and over HTTP
#: through a real ``loopml server`` process backed by PostgreSQL.
BACKENDS = ("sqlite", "postgres", "http")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Each test taking ``store_uri`` runs once per backend; ``@pytest.mark.backends("sqlite",
    "postgres")`` (on a test or a module) narrows the list."""
    if "store_uri" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("backends")
        names = marker.args if marker is not None else BACKENDS
        unknown = set(names) - set(BACKENDS)
        if unknown:
            raise pytest.UsageError(f"unknown backends {sorted(unknown)} on {metafunc.definition.nodeid}")
        metafunc.parametrize("store_uri", names, indirect=True)


@pytest.fixture
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The tracking URI of this test's backend, with empty tables."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'loopml.db'}"
    if request.param == "http":
        server: str = request.getfixturevalue("loopml_server")
        _truncate(request.getfixturevalue("loopml_server_store"))
        return server
    url: str = request.getfixturevalue("migrated_postgres")
    _truncate(url)
    return url


@pytest.fixture
def database_uri(request: pytest.FixtureRequest, store_uri: str) -> str:
    """The SQL database holding this test's data (behind the server for ``http``)."""
    if store_uri.startswith("http"):
        url: str = request.getfixturevalue("loopml_server_store")
        return url
    return store_uri


@pytest.fixture
def client(store_uri: str, tmp_path: Path) -> Iterator[Client]:
    c = Client(tracking_uri=store_uri, artifact_root=str(tmp_path / "artifacts"))
    yield c
    c.close()


@pytest.fixture
def experiment_id(client: Client) -> str:
    return client.create_experiment("contract")


@pytest.fixture
def run_id(client: Client, experiment_id: str) -> str:
    return client.create_run(experiment_id, run_name="r").info.run_id
