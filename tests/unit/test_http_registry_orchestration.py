"""HttpRegistry and HttpOrchestration against a scripted server (httpx.MockTransport): what is
sent, how paths are encoded, and which calls are sent again after a failure."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import orjson
import pytest

from loopml import AlreadyExists, InvalidInput, NotFound, StoreError
from loopml.entities import FlowRun, LogRecord, RunArtifact, StateType, TaskRun
from loopml.store.http import transport as transport_module
from loopml.store.http.orchestration import HttpOrchestration
from loopml.store.http.registry import HttpRegistry
from loopml.store.http.transport import Transport

Handler = Callable[[httpx.Request], httpx.Response]
S = StateType


@pytest.fixture
def sent() -> list[httpx.Request]:
    return []


@pytest.fixture
def scripted(
    monkeypatch: pytest.MonkeyPatch, sent: list[httpx.Request]
) -> Callable[[list[Handler | Exception]], Transport]:
    """A Transport whose server answers each request with the next item of the script (a
    handler, or an exception raised as the connection failure); no real sleeping."""

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
        return Transport("http://server", retries=3)

    return make


def answer(status: int, body: object = None) -> Handler:
    return lambda _request: httpx.Response(status, content=b"" if body is None else orjson.dumps(body))


def error(status: int, code: str, message: str) -> Handler:
    return answer(status, {"error": {"code": code, "message": message, "details": {}}})


VERSION = {
    "name": "churn v2",
    "version": 3,
    "source": "runs:/r/model",
    "storage_location": "/a/r/model",
    "run_id": "r",
    "current_stage": "Production",
    "description": "",
    "creation_time": 1,
    "last_update_time": 2,
    "user_id": "ana",
    "tags": {},
    "aliases": ["champion"],
}
MODEL = {
    "name": "churn v2",
    "description": "d",
    "creation_time": 1,
    "last_update_time": 1,
    "tags": {"t": "1"},
}


def test_names_keys_and_aliases_are_one_path_segment_and_the_actor_a_query_parameter(
    scripted: Callable[..., Transport], sent: list[httpx.Request]
) -> None:
    registry = HttpRegistry(scripted([answer(204), answer(200, VERSION), answer(204)]))
    registry.set_model_version_tag("churn v2", 3, "team/owner.x", "ml", actor="ana")
    moved = registry.transition_model_version_stage("churn v2", 3, "production", comment="ship", actor="ana")
    assert (moved.version, moved.current_stage, moved.aliases) == (3, "Production", ("champion",))
    registry.delete_registered_model_alias("..", "champion")
    paths = [r.url.raw_path.decode() for r in sent]
    assert paths == [
        "/api/v1/registered-models/churn%20v2/versions/3/tags/team%2Fowner%2Ex?actor=ana",
        "/api/v1/registered-models/churn%20v2/versions/3/stage?actor=ana",
        "/api/v1/registered-models/%2E%2E/aliases/champion",
    ]
    assert orjson.loads(sent[1].content) == {
        "stage": "production",
        "archive_existing_versions": False,
        "comment": "ship",
    }


def test_names_no_model_can_have_are_answered_here_as_the_store_would(
    scripted: Callable[..., Transport], sent: list[httpx.Request]
) -> None:
    registry = HttpRegistry(scripted([]))
    with pytest.raises(InvalidInput, match="must not contain '/'"):
        registry.create_model_version("a/b", "/m", "/m")
    with pytest.raises(NotFound, match="no registered model named 'a/b'"):
        registry.get_registered_model("a/b")
    with pytest.raises(InvalidInput, match="version must be a positive integer"):
        registry.get_model_version("churn", 0)
    orchestration = HttpOrchestration(scripted([]))
    with pytest.raises(NotFound, match="no flow run with id 'a/b'"):
        orchestration.get_task_runs("a/b")
    with pytest.raises(InvalidInput, match=r"parameters of task run t1 must hold JSON values"):
        orchestration.write_records(
            [TaskRun("t1", "f1", "n", "k", "0", S.RUNNING, parameters={"x": object()})]
        )
    assert sent == []


def test_a_registry_change_is_not_sent_again_once_it_may_have_arrived(
    scripted: Callable[..., Transport], sent: list[httpx.Request]
) -> None:
    registry = HttpRegistry(scripted([httpx.ReadTimeout("slow"), answer(200, VERSION)]))
    with pytest.raises(StoreError, match="cannot reach the loopml server"):
        registry.transition_model_version_stage("churn v2", 3, "Production")
    assert len(sent) == 1  # a second transition would record a second change and event
    assert registry.get_model_version("churn v2", 3).version == 3


def test_a_change_that_was_never_sent_is_sent_again(
    scripted: Callable[..., Transport], sent: list[httpx.Request]
) -> None:
    registry = HttpRegistry(scripted([httpx.ConnectError("refused"), answer(201, VERSION)]))
    assert registry.create_model_version("churn v2", "runs:/r/model", "/a/r/model", run_id="r").version == 3
    assert len(sent) == 2


def test_a_retried_model_create_returns_what_its_first_attempt_stored(
    scripted: Callable[..., Transport], sent: list[httpx.Request]
) -> None:
    duplicate = error(409, "already_exists", "a registered model named 'churn v2' already exists")
    registry = HttpRegistry(scripted([httpx.ReadTimeout("slow"), duplicate, answer(200, MODEL)]))
    model = registry.create_registered_model("churn v2", description="d", tags={"t": 1})
    assert (model.name, model.tags) == ("churn v2", {"t": "1"})
    assert [r.method for r in sent] == ["POST", "POST", "GET"]
    # someone else's model of that name (another description): the clash is reported
    registry = HttpRegistry(scripted([httpx.ReadTimeout("slow"), duplicate, answer(200, MODEL)]))
    with pytest.raises(AlreadyExists):
        registry.create_registered_model("churn v2", description="other")


def test_records_go_in_one_request_and_are_sent_again_after_a_transient_failure(
    scripted: Callable[..., Transport], sent: list[httpx.Request]
) -> None:
    down = error(503, "store_error", "the database is unreachable")
    orchestration = HttpOrchestration(scripted([httpx.ReadTimeout("slow"), down, answer(204)]))
    task_run = TaskRun(
        "t1", "f1", "train", "m:train", "0", S.COMPLETED, 5, 9, 1, history=((S.RUNNING, 5), (S.COMPLETED, 9))
    )
    log = LogRecord("f1", 6, 20, "hello", task_run_id="t1")
    artifact = RunArtifact("a1", "link", "https://example.com", 7, flow_run_id="f1")
    orchestration.write_records([task_run], [log], [artifact])
    assert len(sent) == 3 and {r.url.path for r in sent} == {"/api/v1/records"}
    body = orjson.loads(sent[-1].content)
    assert body["task_runs"][0]["history"] == [["RUNNING", 5], ["COMPLETED", 9]]
    assert body["logs"] == [
        {
            "flow_run_id": "f1",
            "timestamp": 6,
            "level": 20,
            "message": "hello",
            "task_run_id": "t1",
            "logger": "",
        }
    ]
    assert body["artifacts"][0]["artifact_id"] == "a1"


def test_a_retried_flow_run_create_finds_its_first_attempt(
    scripted: Callable[..., Transport], sent: list[httpx.Request]
) -> None:
    run = FlowRun("f1", "etl", "brave-fox", S.RUNNING, 5, history=((S.RUNNING, 5),))
    stored = orjson.dumps(run)
    duplicate = error(409, "already_exists", "a flow run with id 'f1' already exists")
    orchestration = HttpOrchestration(
        scripted([httpx.ReadTimeout("slow"), duplicate, lambda _r: httpx.Response(200, content=stored)])
    )
    orchestration.create_flow_run(run)
    assert [(r.method, r.url.path) for r in sent] == [
        ("POST", "/api/v1/flow-runs"),
        ("POST", "/api/v1/flow-runs"),
        ("GET", "/api/v1/flow-runs/f1"),
    ]


def test_clearing_the_cache_is_not_sent_again_once_it_may_have_arrived(
    scripted: Callable[..., Transport], sent: list[httpx.Request]
) -> None:
    orchestration = HttpOrchestration(scripted([httpx.ReadTimeout("slow")]))
    with pytest.raises(StoreError):
        orchestration.clear_cache(flow_name="etl")
    assert len(sent) == 1  # a second attempt would answer 0 removed
