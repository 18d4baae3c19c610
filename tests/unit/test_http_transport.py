"""The HTTP store's transport against a scripted server (httpx.MockTransport): errors, retries."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import orjson
import pytest

from loopml import AlreadyExists, Conflict, InvalidFilter, LoopmlError, MissingExtra, NotFound, StoreError
from loopml.errors import SchemaOutdated, error_class, error_from_wire
from loopml.store.http import transport as transport_module
from loopml.store.http.store import segment
from loopml.store.http.transport import Transport

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> Callable[[list[Handler | Exception]], Transport]:
    """A Transport whose server answers each request with the next item of a script
    (a handler, or an exception to raise as the connection failure); no real sleeping."""
    sent: list[httpx.Request] = []

    def make(script: list[Handler | Exception]) -> Transport:
        steps = iter(script)

        def handle(request: httpx.Request) -> httpx.Response:
            sent.append(request)
            step = next(steps)
            if isinstance(step, Exception):
                raise step
            return step(request)

        def new_client(base_url: str, headers: dict[str, str], timeout: float) -> httpx.Client:
            return httpx.Client(base_url=base_url, headers=headers, transport=httpx.MockTransport(handle))

        monkeypatch.setattr(transport_module, "_new_client", new_client)
        monkeypatch.setattr(transport_module.time, "sleep", lambda _s: None)
        t = Transport("http://server", token="s3cret", retries=3)
        t.sent = sent  # type: ignore[attr-defined]
        return t

    return make


def answer(status: int, body: object = None) -> Handler:
    return lambda _request: httpx.Response(status, content=b"" if body is None else orjson.dumps(body))


def error_body(code: str, message: str, **details: object) -> dict[str, object]:
    return {"error": {"code": code, "message": message, "details": details}}


def test_error_class_walks_the_tree() -> None:
    assert error_class("not_found") is NotFound
    assert error_class("invalid_filter") is InvalidFilter
    assert error_class("schema_outdated") is SchemaOutdated
    assert error_class("internal_error") is LoopmlError
    assert error_class("no_such_code") is None


def test_error_from_wire_rebuilds_subclasses_with_their_attributes() -> None:
    original = InvalidFilter("unexpected end", filter_string="a >", position=3, expected="a value")
    body = original.to_dict()["error"]
    rebuilt = error_from_wire(InvalidFilter, body["message"], body["details"])
    assert type(rebuilt) is InvalidFilter
    assert (str(rebuilt), rebuilt.position, rebuilt.expected) == (str(original), 3, "a value")
    extra = error_from_wire(MissingExtra, "install it", {"extra": "server", "module": "uvicorn"})
    assert extra.extra == "server" and extra.details == {"extra": "server", "module": "uvicorn"}


def test_json_in_and_out_with_the_token(scripted: Callable[..., Transport]) -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer s3cret"
        assert request.headers["content-type"] == "application/json"
        return httpx.Response(200, content=request.content)

    t = scripted([echo, answer(204)])
    assert t.request("POST", "/api/v1/x", json={"a": [1, "NaN"]}) == {"a": [1, "NaN"]}
    assert t.request("DELETE", "/api/v1/x") is None


def test_an_error_body_is_raised_as_the_same_class(scripted: Callable[..., Transport]) -> None:
    t = scripted([answer(404, error_body("not_found", "no run with id 'x'", run_id="x"))])
    with pytest.raises(NotFound, match="no run with id 'x'") as caught:
        t.request("GET", "/api/v1/runs/x")
    assert caught.value.details == {"run_id": "x"}


def test_an_unknown_code_or_a_foreign_body_maps_by_status(scripted: Callable[..., Transport]) -> None:
    t = scripted([answer(409, error_body("locked_by_proxy", "busy")), answer(404, ["not", "ours"])])
    with pytest.raises(Conflict, match="busy"):
        t.request("GET", "/a")
    with pytest.raises(NotFound, match="answered 404"):
        t.request("GET", "/b")


def test_idempotent_calls_retry_on_connection_errors_and_gateway_answers(
    scripted: Callable[..., Transport],
) -> None:
    t = scripted(
        [
            httpx.ReadError("reset"),
            answer(502, None),
            answer(503, error_body("store_error", "database down")),
            answer(200, {"ok": True}),
        ]
    )
    assert t.request("GET", "/x") == {"ok": True}
    assert len(t.sent) == 4  # type: ignore[attr-defined]


def test_retries_end_with_the_last_error(scripted: Callable[..., Transport]) -> None:
    t = scripted([httpx.ConnectError("refused")] * 4)
    with pytest.raises(StoreError, match="cannot reach the loopml server at http://server"):
        t.request("GET", "/x")
    assert len(t.sent) == 4  # type: ignore[attr-defined]


def test_errors_that_a_retry_cannot_cure_are_not_retried(scripted: Callable[..., Transport]) -> None:
    t = scripted([answer(503, error_body("schema_outdated", "run loopml db upgrade"))])
    with pytest.raises(SchemaOutdated, match="loopml db upgrade"):
        t.request("GET", "/x")
    assert len(t.sent) == 1  # type: ignore[attr-defined]


def test_non_idempotent_calls_retry_only_what_never_left(scripted: Callable[..., Transport]) -> None:
    t = scripted([httpx.ConnectError("refused"), answer(204), httpx.ReadError("reset")])
    assert t.request("POST", "/metrics", json={}, idempotent=False) is None  # sent again: never arrived
    with pytest.raises(StoreError, match="reset"):
        t.request("POST", "/metrics", json={}, idempotent=False)  # may have arrived: not sent twice
    assert len(t.sent) == 3  # type: ignore[attr-defined]
    t = scripted([answer(502)])
    with pytest.raises(StoreError, match="502"):
        t.request("POST", "/metrics", json={}, idempotent=False)


def test_a_retried_create_that_went_through_reads_back_its_result(scripted: Callable[..., Transport]) -> None:
    exists = answer(409, error_body("already_exists", "an experiment with id 'e1' already exists"))
    t = scripted([httpx.ReadTimeout("slow"), exists, exists])
    assert t.request("POST", "/experiments", json={}, on_duplicate=lambda _e: "stored") == "stored"
    with pytest.raises(AlreadyExists):  # a first attempt that clashes is the caller's error
        t.request("POST", "/experiments", json={}, on_duplicate=lambda _e: "stored")


def test_a_body_json_cannot_carry_is_invalid_input(scripted: Callable[..., Transport]) -> None:
    t = scripted([])
    with pytest.raises(LoopmlError, match="cannot be sent as JSON"):
        t.request("POST", "/x", json={"n": 2**70})


@pytest.mark.parametrize("key", ["train/loss", ".", "a b", "x?y#z", "..%2f"])
def test_path_segments_reach_the_server_whole(key: str) -> None:
    url = httpx.URL(f"http://h/api/v1/runs/r/metrics/{segment(key)}/history")
    from urllib.parse import unquote

    assert unquote(url.raw_path.decode()) == f"/api/v1/runs/r/metrics/{key}/history"


def test_a_client_on_an_http_uri_sends_the_token_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from loopml import Client
    from loopml.settings import load_settings

    monkeypatch.setenv("LOOPML_TRACKING_TOKEN", "tok-123")
    assert "tok-123" not in repr(load_settings())
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=orjson.dumps({"experiments": []}))

    def new_client(base_url: str, headers: dict[str, str], timeout: float) -> httpx.Client:
        return httpx.Client(base_url=base_url, headers=headers, transport=httpx.MockTransport(handle))

    monkeypatch.setattr(transport_module, "_new_client", new_client)
    client = Client(tracking_uri="https://loopml.example/prefix")
    assert client.get_experiment_by_name("churn") is None
    assert seen[0].headers["authorization"] == "Bearer tok-123"
    assert str(seen[0].url) == "https://loopml.example/prefix/api/v1/experiments?name=churn"
    with pytest.raises(LoopmlError, match="RegisteredModel"):  # the scripted answer is not one
        client.get_registered_model("churn")
    assert str(seen[1].url) == "https://loopml.example/prefix/api/v1/registered-models/churn"
    assert seen[1].headers["authorization"] == "Bearer tok-123"
    client.close()
