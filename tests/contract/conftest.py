from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from loopml import Client


@pytest.fixture(params=["sqlite", "postgres"])
def store_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same contract runs against every backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'loopml.db'}"
    url: str = request.getfixturevalue("postgres_url")
    from loopml.store.sql.migration import upgrade

    upgrade(url)
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
