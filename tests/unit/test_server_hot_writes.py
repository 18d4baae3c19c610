"""The hot write routes (``log_metric``, ``log_batch``: coroutines that read their own body) in
process, over an SQLite store: stored values, bad bodies, large batches, the OpenAPI schema."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from loopml.server.app import create_app
from loopml.server.routes.runs import INLINE_BATCH_VALUES
from loopml.store.base import Store
from loopml.store.resolver import open_store

API = "/api/v1"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'loopml.db'}")
    yield s
    s.close()


def calls(store: Store, *requests: tuple[str, str, dict[str, Any]]) -> list[httpx.Response]:
    app = create_app(store, "/tmp/artifacts")

    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [await client.request(method, path, **kwargs) for method, path, kwargs in requests]

    return asyncio.run(go())


def new_run(store: Store) -> str:
    store.create_experiment("e1", "e", "/tmp/artifacts/e1")
    return store.create_run(run_id="r" * 32, experiment_id="e1", run_name="r", start_time=1).info.run_id


def test_metrics_and_batches_small_and_large_are_stored(store: Store) -> None:
    run_id = new_run(store)
    big = INLINE_BATCH_VALUES + 50  # goes to the thread pool
    points = [{"key": "loss", "value": i / 2, "timestamp": 1000 + i, "step": i} for i in range(big)]
    answers = calls(
        store,
        ("POST", f"{API}/runs/{run_id}/metrics", {"json": {"key": "acc", "value": "NaN", "timestamp": 5}}),
        ("POST", f"{API}/runs/{run_id}/batch", {"json": {"params": [{"key": "p", "value": "1"}]}}),
        (
            "POST",
            f"{API}/runs/{run_id}/batch",
            {"json": {"metrics": points, "tags": [{"key": "t", "value": "v"}]}},
        ),
    )
    assert [a.status_code for a in answers] == [204, 204, 204]
    run = store.get_run(run_id)
    assert run.params == {"p": "1"} and run.tags["t"] == "v"
    assert run.metrics["acc"] != run.metrics["acc"]  # NaN travelled as "NaN"
    assert store.get_metric_history(run_id, "loss").steps == list(range(big))


@pytest.mark.parametrize(
    ("path", "content", "expected"),
    [
        ("metrics", b"[1, 2]", "must be a JSON object, got list"),
        ("metrics", b"{not json", "is not a JSON object"),
        ("metrics", b"", "is not a JSON object"),
        ("metrics", b'{"key": "m", "value": 1.0}', "lacks the field(s) 'timestamp'"),
        ("batch", b'"text"', "must be a JSON object, got str"),
        ("batch", b'{"metrics": [{"key": "m"}]}', "field 'metrics' of the batch"),
    ],
)
def test_bad_bodies_are_400_invalid_input(store: Store, path: str, content: bytes, expected: str) -> None:
    run_id = new_run(store)
    (answer,) = calls(store, ("POST", f"{API}/runs/{run_id}/{path}", {"content": content}))
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_input" and expected in error["message"]


def test_an_unknown_or_finished_run_keeps_its_error(store: Store) -> None:
    run_id = new_run(store)
    store.set_terminated(run_id, "FINISHED", 2)  # type: ignore[arg-type]
    metric = {"key": "m", "value": 1.0, "timestamp": 1}
    gone, finished = calls(
        store,
        ("POST", f"{API}/runs/nope/metrics", {"json": metric}),
        ("POST", f"{API}/runs/{run_id}/batch", {"json": {"metrics": [metric]}}),
    )
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "not_found")
    assert (finished.status_code, finished.json()["error"]["code"]) == (409, "conflict")


def test_the_openapi_schema_documents_their_json_bodies(store: Store) -> None:
    (schema,) = calls(store, ("GET", "/openapi.json", {}))
    paths = schema.json()["paths"]
    for path in (f"{API}/runs/{{run_id}}/metrics", f"{API}/runs/{{run_id}}/batch"):
        body = paths[path]["post"]["requestBody"]
        assert body["content"]["application/json"]["schema"] == {"type": "object"}
