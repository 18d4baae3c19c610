"""The scoring server over real HTTP: uvicorn on 127.0.0.1 in a thread, models from a real registry."""

from __future__ import annotations

import gc
import re
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import loopml
from loopml.errors import NotReady
from loopml.serving.background import serve_in_thread
from loopml.serving.options import ServeOptions
from loopml.serving.prediction_log import read_predictions
from loopml.serving.served_model import ServedSpec, parse_spec

COLUMNS = ["a", "b"]


def training_data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(200, 2)), columns=COLUMNS)
    return x, (x["a"] + x["b"] > 0).to_numpy().astype(int)


def register_classifier(name: str, *, flip: bool = False) -> int:
    """Register a logistic regression under ``name`` (``flip``: trained on inverted labels)."""
    x, y = training_data()
    model = LogisticRegression().fit(x, 1 - y if flip else y)
    with loopml.start_run():
        loopml.log_model(model, "model", input_example=x.head(), registered_model_name=name)
    versions = loopml.Client().registry.search_model_versions(f"name = '{name}'")
    return max(v.version for v in versions)


class Flaky(loopml.models.PythonModel):
    """Doubles ``x``; raises on 13; sleeps ``delay`` seconds per call (to make batches form)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    def predict(self, context: Any, model_input: pd.DataFrame) -> Any:
        if self.delay:
            time.sleep(self.delay)
        if (model_input["x"] == 13).any():
            raise ValueError("13 is unlucky")
        return model_input["x"] * 2


def save_flaky(tmp_path: Path, delay: float = 0.0) -> str:
    path = tmp_path / f"flaky-{delay}"
    loopml.save_model(Flaky(delay), path, input_example=pd.DataFrame({"x": [1.0]}))
    return str(path)


@contextmanager
def serving(specs: Sequence[ServedSpec], options: ServeOptions | None = None) -> Iterator[httpx.Client]:
    """A real uvicorn server in a thread; yields a client once every model is loaded."""
    options = options or ServeOptions(log_predictions=False, poll_interval_s=0.2)
    with serve_in_thread(specs, options) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client


def split(rows: list[list[float]]) -> dict[str, Any]:
    return {"columns": COLUMNS, "data": rows}


@pytest.fixture
def clf(loopml_store: loopml.Client) -> str:
    register_classifier("clf")
    return "models:/clf/1"


def test_every_payload_shape_predicts_what_the_model_predicts(clf: str) -> None:
    x, _ = training_data()
    head = x.head(5)
    expected = loopml.load_model(clf).predict(head).tolist()
    records = head.to_dict(orient="records")
    rows = head.to_numpy().tolist()
    with serving([parse_spec(clf)]) as client:
        bodies = {
            "/predict": [{"records": records}, split(rows), {"instances": rows}, {"instances": records}],
            "/invocations": [
                {"dataframe_split": split(rows)},
                {"dataframe_records": records},
                {"instances": records},
                {"inputs": {c: head[c].tolist() for c in COLUMNS}},
                {"inputs": rows},
            ],
        }
        for path, docs in bodies.items():
            for doc in docs:
                answer = client.post(path, json=doc)
                assert answer.status_code == 200, (path, doc, answer.text)
                got = answer.json()
                assert got["predictions"] == expected
                assert got["model"] == {"name": "clf", "version": "1"}
                assert answer.headers["x-request-id"] == got["request_id"]
        proba = client.post("/predict", json={**split(rows), "probabilities": True}).json()
        assert proba["classes"] == [0, 1]
        np.testing.assert_allclose(proba["probabilities"], loopml.load_model(clf).predict_proba(head))
        given = client.post("/predict", json=split(rows), headers={"x-request-id": "abc-1"})
        assert given.json()["request_id"] == "abc-1"


def test_bad_requests_get_4xx_naming_the_problem_and_the_server_keeps_serving(clf: str) -> None:
    options = ServeOptions(log_predictions=False, max_body_bytes=2000)
    with serving([parse_spec(clf)], options) as client:
        missing = client.post("/predict", json={"columns": ["a"], "data": [[1.0]]})
        assert missing.status_code == 400
        assert "lacks 1 required column(s): 'b' (double)" in missing.json()["error"]["message"]
        wrong = client.post("/predict", json=split([[1.0, "x"]]))
        assert wrong.status_code == 400
        assert "'b' expects double, data[0] has a string ('x')" in wrong.json()["error"]["message"]
        not_json = client.post("/predict", content=b"{oops", headers={"content-type": "application/json"})
        assert not_json.status_code == 400
        assert "not JSON" in not_json.json()["error"]["message"]
        big = client.post("/predict", json=split([[1.0, 2.0]] * 200))
        assert big.status_code == 413
        assert "at most 2000" in big.json()["error"]["message"]
        chunked = client.post(
            "/predict", content=iter([b'{"columns": ["a", "b"], "data": [', b"[1, 2]," * 400])
        )
        assert chunked.status_code == 413
        assert client.post("/predict", json=split([[1.0, 2.0]])).status_code == 200
        assert client.post("/models/nope/predict", json=split([[1.0, 2.0]])).status_code == 404
        metrics = client.get("/metrics").text
        assert re.search(
            r'loopml_serving_errors_total\{code="invalid_input",model="clf",version="1"\} 3\.0', metrics
        )
        assert re.search(r'loopml_serving_errors_total\{code="payload_too_large",model="clf"', metrics)


def test_a_model_error_is_a_500_with_the_request_id_and_spares_the_rest_of_its_batch(
    loopml_store: loopml.Client, tmp_path: Path
) -> None:
    spec = ServedSpec(save_flaky(tmp_path, delay=0.05), "flaky", max_batch_size=64, max_latency_ms=20)
    with serving([spec]) as client:
        bad = client.post("/predict", json={"records": [{"x": 13.0}]})
        assert bad.status_code == 500
        error = bad.json()
        assert error["error"]["code"] == "model_error"
        assert "13 is unlucky" in error["error"]["message"]
        assert error["request_id"] == bad.headers["x-request-id"]
        # concurrent requests share batches; the bad one fails alone
        results: dict[float, int] = {}

        def call(x: float) -> None:
            results[x] = client.post("/predict", json={"records": [{"x": x}]}).status_code

        threads = [threading.Thread(target=call, args=(float(x),)) for x in range(8, 18)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == {float(x): (500 if x == 13 else 200) for x in range(8, 18)}
        assert client.post("/predict", json={"records": [{"x": 2.0}]}).json()["predictions"] == [4.0]


def test_concurrent_requests_are_batched_and_a_lone_request_does_not_wait(
    loopml_store: loopml.Client, tmp_path: Path
) -> None:
    spec = ServedSpec(save_flaky(tmp_path, delay=0.02), "slow", max_batch_size=32, max_latency_ms=2000)
    with serving([spec]) as client:
        t0 = time.perf_counter()
        assert client.post("/predict", json={"records": [{"x": 1.0}]}).status_code == 200
        assert time.perf_counter() - t0 < 1.0  # far below max_latency_ms: nothing else was arriving
        answers: list[Any] = []

        def call(x: float) -> None:
            answers.append(client.post("/predict", json={"records": [{"x": x}, {"x": x + 0.5}]}).json())

        threads = [threading.Thread(target=call, args=(float(x),)) for x in range(100, 124)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(a["predictions"][0] for a in answers) == [2.0 * x for x in range(100, 124)]
        assert all(a["predictions"][1] == a["predictions"][0] + 1 for a in answers)
        metrics = client.get("/metrics").text
        calls = float(
            re.search(r'loopml_serving_batch_rows_count\{model="slow",version=""\} (\S+)', metrics)[1]
        )
        rows = float(re.search(r'loopml_serving_batch_rows_sum\{model="slow",version=""\} (\S+)', metrics)[1])
        assert rows == 1 + 48
        assert calls < 1 + 24  # some requests shared a model call


def test_hot_swap_under_load_fails_no_request_and_switches_version(loopml_store: loopml.Client) -> None:
    register_classifier("churn")
    loopml_store.set_registered_model_alias("churn", "champion", 1)
    register_classifier("churn", flip=True)
    options = ServeOptions(log_predictions=False, poll_interval_s=0.1)
    with serving([parse_spec("models:/churn@champion")], options) as client:
        assert client.get("/metadata").json()["models"][0]["version"] == "1"
        seen: list[tuple[int, str | None]] = []
        stop = threading.Event()

        def load() -> None:
            with httpx.Client(base_url=str(client.base_url), timeout=30) as own:
                while not stop.is_set():
                    r = own.post("/predict", json=split([[0.5, 0.5]]))
                    seen.append((r.status_code, r.json().get("model", {}).get("version")))

        workers = [threading.Thread(target=load) for _ in range(4)]
        for w in workers:
            w.start()
        time.sleep(0.3)
        loopml_store.set_registered_model_alias("churn", "champion", 2)
        deadline = time.monotonic() + 20
        while not any(v == "2" for _s, v in seen[-20:]):
            assert time.monotonic() < deadline, "the server never switched to version 2"
            time.sleep(0.05)
        time.sleep(0.2)
        stop.set()
        for w in workers:
            w.join()
    statuses = {s for s, _v in seen}
    assert statuses == {200}, f"failed requests during the swap: {statuses}"
    versions = [v for _s, v in seen]
    first_new = versions.index("2")
    assert set(versions[:first_new]) == {"1"}
    assert versions[-1] == "2"
    assert len(seen) > 20


def test_several_models_each_at_its_own_path(clf: str, tmp_path: Path) -> None:
    flaky = f"double={save_flaky(tmp_path)}"
    with serving([parse_spec(clf), parse_spec(flaky)]) as client:
        assert client.post("/models/clf/predict", json=split([[1.0, 1.0]])).json()["predictions"] == [1]
        doubled = client.post("/models/double/invocations", json={"dataframe_records": [{"x": 3.0}]})
        assert doubled.json()["predictions"] == [6.0]
        ambiguous = client.post("/predict", json=split([[1.0, 1.0]]))
        assert ambiguous.status_code == 400
        assert "serves 2 models (clf, double)" in ambiguous.json()["error"]["message"]
        names = [m["name"] for m in client.get("/metadata").json()["models"]]
        assert names == ["clf", "double"]


def test_health_ready_metadata_and_metrics(clf: str) -> None:
    with serving([parse_spec(clf)]) as client:
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/ready").json()["models"][0] == {
            "name": "clf",
            "uri": clf,
            "ready": True,
            "version": "1",
            "error": None,
        }
        for _ in range(3):
            client.post("/predict", json=split([[1.0, 2.0], [3.0, 4.0]]))
        meta = client.get("/models/clf/metadata").json()
        assert meta["version"] == "1"
        assert meta["flavor"] == "sklearn"
        assert [c["name"] for c in meta["signature"]["inputs"]] == COLUMNS
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["loaded_at"])
        metrics = client.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        text = metrics.text
        assert 'loopml_serving_requests_total{model="clf",status="200",version="1"} 3.0' in text
        assert 'loopml_serving_predictions_total{model="clf",version="1"} 6.0' in text
        assert 'loopml_serving_model_info{follows="",model="clf",version="1"} 1.0' in text
        assert "loopml_serving_request_seconds_bucket" in text


def test_a_model_that_cannot_load_is_reported_not_ready(loopml_store: loopml.Client) -> None:
    spec = parse_spec("models:/ghost@champion")
    with (
        pytest.raises(NotReady, match="could not load ghost: NotFound"),
        serve_in_thread([spec], ServeOptions(log_predictions=False)),
    ):
        pass
    options = ServeOptions(log_predictions=False)
    with serve_in_thread([spec], options, require_ready=False) as url, httpx.Client(base_url=url) as client:
        deadline = time.monotonic() + 20
        while client.get("/ready").json()["models"][0]["error"] is None:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert "ghost" in ready.json()["models"][0]["error"]
        answer = client.post("/predict", json=split([[1.0, 2.0]]))
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == "not_ready"
        assert "loading failed: NotFound" in answer.json()["error"]["message"]
        assert client.get("/health").status_code == 200


class GcWitness(loopml.models.PythonModel):
    """Answers whether Python's cyclic garbage collector was on while it loaded."""

    def load_context(self, context: Any) -> None:
        self.gc_on_at_load = gc.isenabled()

    def predict(self, context: Any, model_input: pd.DataFrame) -> Any:
        return [self.gc_on_at_load] * len(model_input)


@pytest.mark.parametrize("pause", [True, False])
def test_the_garbage_collector_can_pause_while_models_load(tmp_path: Path, pause: bool) -> None:
    path = tmp_path / "witness"
    loopml.save_model(GcWitness(), path, input_example=pd.DataFrame({"x": [1.0]}))
    options = ServeOptions(log_predictions=False, pause_gc_while_loading=pause)
    frozen_before = gc.get_freeze_count()
    try:
        with serving([parse_spec(str(path))], options) as client:
            answer = client.post("/predict", json={"records": [{"x": 1.0}]})
            assert answer.json()["predictions"] == [not pause]
            assert gc.isenabled()  # back on once loaded
            assert (gc.get_freeze_count() > frozen_before) is pause
    finally:
        gc.unfreeze()  # the rest of the test session collects as usual


def test_every_prediction_lands_in_the_prediction_log(clf: str, tmp_path: Path) -> None:
    root = tmp_path / "predictions"
    options = ServeOptions(prediction_log_root=root.as_posix(), poll_interval_s=0)
    sent: list[str] = []
    with serving([parse_spec(clf)], options) as client:
        for i in range(5):
            answer = client.post("/predict", json=split([[float(i), 1.0], [2.0, float(i)]]))
            sent.append(answer.json()["request_id"])
    logged = read_predictions(root.as_posix(), model="clf")
    assert len(logged) == 10
    assert sorted(set(logged["loopml_request_id"])) == sorted(sent)
    assert set(logged["loopml_version"]) == {"1"}
    assert sorted(logged["a"]) == sorted([float(i) for i in range(5)] + [2.0] * 5)
    assert (logged["loopml_latency_ms"] > 0).all()
    assert [p.name for p in root.iterdir()] == ["model=clf"]


def test_no_prediction_log_when_turned_off(clf: str, tmp_path: Path) -> None:
    root = tmp_path / "predictions"
    options = ServeOptions(log_predictions=False, prediction_log_root=root.as_posix())
    with serving([parse_spec(clf)], options) as client:
        assert client.post("/predict", json=split([[1.0, 1.0]])).status_code == 200
    assert not root.exists()


@pytest.mark.server
def test_serving_follows_a_registry_behind_a_loopml_server(
    loopml_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The models, their files and the alias all come through a real `loopml server` (PostgreSQL)."""
    from loopml.tracking.fluent import _client

    monkeypatch.setenv("LOOPML_TRACKING_URI", loopml_server)
    name = f"remote-{uuid.uuid4().hex[:8]}"
    try:
        first = register_classifier(name)
        second = register_classifier(name, flip=True)
        client = loopml.Client()
        client.set_registered_model_alias(name, "champion", first)
        options = ServeOptions(log_predictions=False, poll_interval_s=0.1)
        with serving([parse_spec(f"models:/{name}@champion")], options) as http:
            body = split([[2.0, 2.0]])
            before = http.post("/predict", json=body).json()
            assert before["model"]["version"] == str(first)
            client.set_registered_model_alias(name, "champion", second)
            deadline = time.monotonic() + 20
            while (after := http.post("/predict", json=body).json())["model"]["version"] != str(second):
                assert time.monotonic() < deadline, after
                time.sleep(0.05)
            assert after["predictions"] != before["predictions"]  # version 2 learned flipped labels
        client.close()
    finally:
        _client().close()
