"""The server app in process (httpx's ASGI transport) over stores that fail on purpose."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest

from loopml import NotFound, StoreError
from loopml.server.app import create_app


class BrokenStore:
    """Answers every tracking call with the failure it was given."""

    uri = "broken://"

    def __init__(self, failure: Exception) -> None:
        self.failure = failure

    def __getattr__(self, name: str) -> Any:
        def fail(*_args: Any, **_kwargs: Any) -> Any:
            raise self.failure

        return fail


def call(store: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    app = create_app(store, "/tmp/artifacts")

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(go())


def test_a_bug_is_500_internal_error_logged_but_not_shown(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="loopml.server"):
        response = call(BrokenStore(RuntimeError("password=hunter2")), "GET", "/api/v1/runs/r1")
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "internal_error" and "RuntimeError" in error["message"]
    assert "hunter2" not in response.text
    logged = [r for r in caplog.records if r.exc_info and isinstance(r.exc_info[1], RuntimeError)]
    assert len(logged) == 1 and "GET /api/v1/runs/r1" in logged[0].getMessage()


def test_loopml_errors_keep_their_status_and_details_json_cannot_carry_become_text() -> None:
    response = call(
        BrokenStore(NotFound("no run with id 'r1'", run_id="r1", at=object())), "GET", "/api/v1/runs/r1"
    )
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found" and error["details"]["run_id"] == "r1"
    assert error["details"]["at"].startswith("<object object")


def test_ready_is_503_when_the_store_fails_and_health_does_not_ask_it() -> None:
    store = BrokenStore(StoreError("connection refused"))
    assert call(store, "GET", "/health").json() == {"status": "ok"}
    response = call(store, "GET", "/ready")
    assert response.status_code == 503
    assert response.json()["error"] == {"code": "store_error", "message": "connection refused", "details": {}}
    response = call(BrokenStore(ValueError("odd")), "GET", "/ready")
    assert response.status_code == 503 and "ValueError" in response.json()["error"]["message"]


def test_a_wrong_method_is_405_with_the_error_body() -> None:
    response = call(BrokenStore(RuntimeError()), "PUT", "/api/v1/runs/search")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
