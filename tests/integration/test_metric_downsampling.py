"""``GET /api/v1/runs/{run_id}/metrics/{key}/history?max_points=N``: a long history cut down on
the server to N points that keep its shape; without ``max_points`` every point, as before."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from loopml import Client
from loopml.entities import Metric
from loopml.server.app import create_app

N = 30_000


@dataclass(frozen=True)
class Served:
    client: Client
    artifacts: str
    run_id: str

    def get(self, path: str, **params: object) -> httpx.Response:
        app = create_app(self.client.store, self.artifacts, ui=False)

        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                return await http.get(path, params=params)

        return asyncio.run(go())


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    client = Client(tracking_uri=f"sqlite:///{tmp_path / 'loopml.db'}", artifact_root=str(tmp_path / "a"))
    run_id = client.create_run(run_name="long").run_id
    values = [math.cos(i / 500) for i in range(N)]
    values[777], values[20_000], values[5] = 42.0, -42.0, math.nan
    client.log_batch(run_id, [Metric("loss", v, 1_000 + i, i) for i, v in enumerate(values)])
    client.log_metric(run_id, "short", 0.5, step=3, timestamp=99)
    yield Served(client, str(tmp_path / "a"), run_id)
    client.close()


def test_max_points_cuts_a_long_history_keeping_its_extremes(served: Served) -> None:
    answer = served.get(f"/api/v1/runs/{served.run_id}/metrics/loss/history", max_points=500)
    assert answer.status_code == 200
    body = answer.json()
    assert body["key"] == "loss" and body["total_points"] == N and body["non_finite_points"] == 1
    assert len(body["values"]) <= 500 and len(body["steps"]) == len(body["timestamps"]) == len(body["values"])
    assert max(body["values"]) == 42.0 and min(body["values"]) == -42.0
    assert body["steps"][0] == 0 and body["steps"][-1] == N - 1 and 5 not in body["steps"]
    assert body["steps"] == sorted(body["steps"])
    assert all(t == s + 1_000 for s, t in zip(body["steps"], body["timestamps"], strict=True))


def test_without_max_points_every_point_comes_back_as_before(served: Served) -> None:
    body = served.get(f"/api/v1/runs/{served.run_id}/metrics/loss/history").json()
    assert set(body) == {"key", "values", "steps", "timestamps"}
    assert len(body["values"]) == N and body["values"][5] == "NaN"
    short = served.get(f"/api/v1/runs/{served.run_id}/metrics/short/history", max_points=100).json()
    assert short == {
        "key": "short",
        "steps": [3],
        "timestamps": [99],
        "values": [0.5],
        "total_points": 1,
        "non_finite_points": 0,
    }


@pytest.mark.parametrize("bad", ["3", "0", "-5", "2000000", "many"])
def test_a_bad_budget_is_400(served: Served, bad: str) -> None:
    answer = served.get(f"/api/v1/runs/{served.run_id}/metrics/loss/history", max_points=bad)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_input" and "max_points" in answer.text


def test_an_unknown_run_is_still_404(served: Served) -> None:
    answer = served.get("/api/v1/runs/nope/metrics/loss/history", max_points=100)
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
