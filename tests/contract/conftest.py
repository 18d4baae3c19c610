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


@pytest.fixture(params=["sqlite", "postgres"])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same contract runs against every backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'loopml.db'}"
    url: str = request.getfixturevalue("migrated_postgres")
    _truncate(url)
    return url


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
