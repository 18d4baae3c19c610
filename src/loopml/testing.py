"""A pytest plugin for loopml users: an isolated, temporary tracking store per test.

Installed with loopml (entry point ``pytest11``); use the fixtures in your tests::

    def test_training(loopml_store):
        train()                       # code that calls loopml.log_metric(...)
        runs = loopml_store.search_runs([loopml_store.default_experiment().experiment_id])
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .tracking.client import Client


@pytest.fixture
def loopml_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    """A Client on a fresh SQLite store in ``tmp_path``; the fluent API points at it too."""
    from .tracking.client import Client
    from .tracking.fluent import _active_runs

    home = tmp_path / "loopml"
    uri = f"sqlite:///{(home / 'loopml.db').as_posix()}"
    monkeypatch.setenv("LOOPML_HOME", str(home))
    monkeypatch.setenv("LOOPML_TRACKING_URI", uri)
    monkeypatch.setenv("LOOPML_ARTIFACT_ROOT", str(home / "artifacts"))
    monkeypatch.delenv("LOOPML_EXPERIMENT_ID", raising=False)
    monkeypatch.delenv("LOOPML_EXPERIMENT_NAME", raising=False)
    token = _active_runs.set(())
    client = Client(uri, str(home / "artifacts"))
    try:
        yield client
    finally:
        _active_runs.reset(token)
        client.close()
