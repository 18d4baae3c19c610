"""Monitoring a served model: reference profiles stored with model versions, the prediction log
read back by window, monitoring runs, drift.detected events and reports (real SQLite store, real
Parquet prediction log, real scoring server)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

import loopml
from loopml import InvalidInput, NotFound
from loopml.monitoring import Profile, load_reference, monitor
from loopml.monitoring.reference import REFERENCE_TAG
from loopml.serving.background import serve_in_thread
from loopml.serving.options import ServeOptions
from loopml.serving.prediction_log import PredictionLog

FEATURES = ["x1", "x2", "x3", "segment"]
END = datetime(2026, 11, 20, tzinfo=UTC)


def _frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x1": rng.normal(0.0, 1.0, n) + shift,
            "x2": rng.lognormal(0.0, 0.5, n),
            "x3": rng.uniform(-1.0, 1.0, n),
            "segment": rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2]),
        }
    )


def _register(training_data: object = None, name: str = "churn") -> loopml.ModelVersion:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X = _frame(5_000, seed=1)
    y = (X["x1"] + (X["segment"] == "a") > 0.5).astype(int)
    prep = ColumnTransformer(
        [("num", StandardScaler(), ["x1", "x2", "x3"]), ("cat", OneHotEncoder(), ["segment"])]
    )
    model = Pipeline([("prep", prep), ("clf", LogisticRegression())]).fit(X, y)
    with loopml.start_run():
        info = loopml.log_model(
            model, "model", input_example=X.head(), registered_model_name=name, training_data=training_data
        )
    version = info.registered_model_version
    assert version is not None
    loopml.Client().set_registered_model_alias(name, "champion", version.version)
    return version


def _log_days(root: str, days: list[pd.DataFrame]) -> None:
    """One frame per day before END, logged as the server logs them (the last day is the newest)."""
    log = PredictionLog(root, flush_rows=1_000)
    for i, frame in enumerate(days):
        day_start = END - timedelta(days=len(days) - i)
        stamps = day_start.timestamp() + np.linspace(60, 86_000, len(frame))
        log.append(
            model="churn",
            version="1",
            request_ids=[f"r{i}-{j}" for j in range(len(frame))],
            timestamps=stamps.tolist(),
            inputs=frame,
            outputs=(frame["x1"] > 0.5).astype(int).tolist(),
            latencies_ms=[1.0] * len(frame),
        )
    log.close()


def test_a_shift_on_the_last_day_is_found_recorded_and_announced(tmp_path: Path) -> None:
    _register(training_data=_frame(20_000, seed=2))
    root = str(tmp_path / "predictions")
    _log_days(root, [_frame(4_000, seed=10), _frame(4_000, seed=11), _frame(4_000, seed=12, shift=0.8)])

    page = tmp_path / "report" / "drift.html"
    result = monitor(
        "models:/churn@champion",
        since="3d",
        window="1d",
        until=END,
        prediction_log=root,
        report=page,
        drift_share=0.25,  # one feature of four is enough to call the dataset drifted
    )

    assert [w.rows for w in result.windows] == [4_000, 4_000, 4_000]
    assert [w.drift_detected for w in result.windows] == [False, False, True]
    latest = result.latest
    assert latest is not None and latest.report is not None
    columns = latest.report.to_dict()["columns"]
    assert columns["x1"]["drift_detected"] is True
    assert all(columns[c]["drift_detected"] is False for c in ("x2", "x3", "segment"))
    assert result.drift_detected and latest.versions == ("1",)
    # the monitoring run: one metric point per window, stepped by the window's start
    client = loopml.Client()
    history = client.get_metric_history(result.run_id, "drift.x1")
    assert [p.step for p in history] == [int(w.window.start.timestamp()) for w in result.windows]
    assert history[-1].value > 0.5 > max(p.value for p in list(history)[:-1])
    share = [p.value for p in client.get_metric_history(result.run_id, "drift_share")]
    assert share[-1] > share[0]
    run = client.get_run(result.run_id)
    assert run.data.params["model_uri"] == "models:/churn@champion"
    assert run.data.tags["loopml.monitor.model"] == "churn"
    names = {f.path for f in client.list_artifacts(result.run_id)}
    assert {"drift_report.html", "drift_report.json", "windows"} <= names
    assert len(client.list_artifacts(result.run_id, "windows")) == 3
    # the event, on the version, with what an automation needs
    event = next(e for e in client.get_events(types=["drift.detected"]) if e.id == result.event_id)
    assert event.subject == "models:/churn/1"
    assert event.payload["run_id"] == result.run_id and "x1" in event.payload["drifted_columns"]
    # the report written where asked: a self-contained page naming the drifted column
    html = page.read_text()
    assert "x1" in html and "<svg" in html and "http://" not in html and "https://" not in html


def test_prediction_drift_compares_the_models_outputs_on_the_reference_sample(tmp_path: Path) -> None:
    _register(training_data=_frame(20_000, seed=2))
    root = str(tmp_path / "predictions")
    _log_days(root, [_frame(4_000, seed=12, shift=1.5)])
    result = monitor("models:/churn/1", since="1d", until=END, prediction_log=root)
    assert result.latest is not None and result.latest.report is not None
    prediction = result.latest.report.to_dict()["dataset"]["prediction"]
    assert prediction is not None and prediction["drift_detected"] is True
    without = monitor("models:/churn/1", since="1d", until=END, prediction_log=root, prediction_drift=False)
    assert without.latest is not None and without.latest.report is not None
    assert without.latest.report.to_dict()["dataset"]["prediction"] is None


def test_no_drift_and_empty_windows_add_no_event(tmp_path: Path) -> None:
    _register(training_data=_frame(20_000, seed=2))
    root = str(tmp_path / "predictions")
    _log_days(root, [_frame(3_000, seed=20), _frame(0, seed=21), _frame(3_000, seed=22)])
    start = max((e.id for e in loopml.Client().get_events()), default=0)
    result = monitor("models:/churn@champion", since="3d", window="1d", until=END, prediction_log=root)
    assert [w.rows for w in result.windows] == [3_000, 0, 3_000]
    assert result.windows[1].report is None and not result.drift_detected and result.event_id is None
    assert loopml.Client().get_events(after_id=start, types=["drift.detected"]) == []


def test_log_reference_tags_the_version_and_wins_over_the_models_own(tmp_path: Path) -> None:
    version = _register(training_data=_frame(5_000, seed=2))
    own = load_reference("models:/churn/1")
    assert own.n_rows == 5_000
    assert load_reference(f"runs:/{version.run_id}/model").n_rows == 5_000  # the model's own file
    uri = loopml.log_reference(_frame(7_000, seed=3), model_uri="models:/churn@champion")
    assert uri.startswith(f"runs:/{version.run_id}/")
    assert loopml.Client().get_model_version("churn", 1).tags[REFERENCE_TAG] == uri
    found = load_reference("models:/churn/1")
    assert isinstance(found, Profile) and found.n_rows == 7_000
    assert load_reference(uri).n_rows == 7_000
    assert load_reference(f"runs:/{version.run_id}").n_rows == 7_000


def test_log_reference_inside_a_run_and_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "train.parquet"
    _frame(3_000, seed=4).to_parquet(path)
    with loopml.start_run() as run:
        uri = loopml.log_reference(str(path))
    assert uri == f"runs:/{run.info.run_id}/reference/profile.parquet"
    assert load_reference(uri).n_rows == 3_000


def test_missing_references_and_bad_input_are_clear(tmp_path: Path) -> None:
    _register()
    with pytest.raises(NotFound, match=r"has no reference profile; log one with loopml.log_reference"):
        monitor("models:/churn@champion", prediction_log=str(tmp_path))
    with pytest.raises(InvalidInput, match="give a models:/ URI"):
        monitor("runs:/abc/model")
    loopml.log_reference(_frame(100, 1), model_uri="models:/churn/1")
    with pytest.raises(InvalidInput, match=r"invalid since 'yesterday'"):
        monitor("models:/churn/1", since="yesterday")
    with pytest.raises(InvalidInput, match="at most 1000"):
        monitor("models:/churn/1", since="30d", window="1m")
    with pytest.raises(InvalidInput, match="no active run"):
        loopml.log_reference(_frame(100, 1))
    with pytest.raises(NotFound):
        load_reference(tmp_path / "nothing.parquet")


def test_monitoring_what_a_real_server_logged(tmp_path: Path) -> None:
    _register(training_data=_frame(10_000, seed=2))
    root = str(tmp_path / "predictions")
    options = ServeOptions(prediction_log_root=root)
    shifted = _frame(600, seed=30, shift=2.0)
    with serve_in_thread(["models:/churn@champion"], options) as url, httpx.Client(base_url=url) as http:
        for chunk in range(0, len(shifted), 50):
            body = {"records": json.loads(shifted.iloc[chunk : chunk + 50].to_json(orient="records"))}
            assert http.post("/predict", json=body).status_code == 200
    result = monitor("models:/churn@champion", since="1h", prediction_log=root, drift_share=0.25)
    assert result.latest is not None and result.latest.rows == 600
    assert result.drift_detected
    assert result.latest.report is not None
    assert result.latest.report.to_dict()["columns"]["x1"]["drift_detected"] is True


def test_monitoring_through_a_loopml_server(
    loopml_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Reference, version, monitoring run, report artifacts and the event all go through a real
    `loopml server` (PostgreSQL behind it)."""
    import uuid

    from loopml.tracking.fluent import _client

    monkeypatch.setenv("LOOPML_TRACKING_URI", loopml_server)
    try:
        version = _register(name=f"remote-churn-{uuid.uuid4().hex[:8]}")
        name = version.name
        loopml.log_reference(_frame(8_000, seed=2), model_uri=f"models:/{name}/{version.version}")
        root = str(tmp_path / "predictions")
        _log_days(root, [_frame(3_000, seed=12, shift=1.0)])
        nothing = monitor(f"models:/{name}@champion", since="1d", until=END, prediction_log=root)
        assert nothing.latest is None and nothing.event_id is None  # the log holds "churn" only
        result = monitor(
            f"models:/{name}@champion",
            since="1d",
            until=END,
            prediction_log=root,
            served_name="churn",
            drift_share=0.25,
        )
        assert result.drift_detected and result.event_id is not None
        client = loopml.Client()
        assert {f.path for f in client.list_artifacts(result.run_id)} >= {
            "drift_report.html",
            "drift_report.json",
        }
        event = next(e for e in client.get_events(types=["drift.detected"]) if e.id == result.event_id)
        assert event.subject == f"models:/{name}/{version.version}"
        client.close()
    finally:
        _client().close()
