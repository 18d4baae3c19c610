"""The monitoring pages in a real browser against a real ``loopml server``, over monitoring runs
recorded by :func:`loopml.monitoring.monitor` from a real prediction log: the monitored models,
the drift-share and per-column charts, the latest report and every run's report."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from ui_testing import UiServer, screenshot

import loopml
from loopml.monitoring import MonitorResult, monitor
from loopml.serving.prediction_log import PredictionLog

END = datetime(2026, 11, 20, tzinfo=UTC)


def _frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tenure": rng.normal(0.0, 1.0, n) + shift,
            "spend": rng.lognormal(0.0, 0.5, n),
            "plan": rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2]),
        }
    )


def _register(name: str) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    X = _frame(3_000, seed=1)
    y = (X["tenure"] > 0.3).astype(int)
    prep = ColumnTransformer([("cat", OneHotEncoder(), ["plan"])], remainder="passthrough")
    model = Pipeline([("prep", prep), ("clf", LogisticRegression())]).fit(X, y)
    with loopml.start_run():
        loopml.log_model(model, "model", registered_model_name=name, training_data=_frame(10_000, seed=2))


def _log_days(root: str, name: str, days: list[pd.DataFrame]) -> None:
    log = PredictionLog(root, flush_rows=1_000)
    for i, frame in enumerate(days):
        day_start = END - timedelta(days=len(days) - i)
        stamps = day_start.timestamp() + np.linspace(60, 86_000, len(frame))
        log.append(
            model=name,
            version="1",
            request_ids=[f"{name}-{i}-{j}" for j in range(len(frame))],
            timestamps=stamps.tolist(),
            inputs=frame,
            outputs=(frame["tenure"] > 0.3).astype(int).tolist(),
            latencies_ms=[1.0] * len(frame),
        )
    log.close()


@pytest.fixture(scope="module")
def monitored(ui_server: UiServer) -> Iterator[list[MonitorResult]]:
    """``churn`` monitored twice (days 1-3, then days 3-4, the last day shifted), writing to the
    UI server's store through the fluent API; the results, oldest first."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOOPML_TRACKING_URI", ui_server.tracking_uri)
        patch.setenv("LOOPML_ARTIFACT_ROOT", str(ui_server.artifacts))
        _register("churn")
        _register("quiet")  # registered, never monitored
        root = str(ui_server.home / "predictions")
        days = [_frame(2_000, seed=10 + i) for i in range(3)] + [_frame(2_000, seed=20, shift=1.0)]
        _log_days(root, "churn", days)
        common = {"window": "1d", "prediction_log": root, "drift_share": 0.3}
        first = monitor("models:/churn/1", since="3d", until=END - timedelta(days=1), **common)
        second = monitor("models:/churn/1", since="2d", until=END, **common)
        yield [first, second]


def test_the_monitored_models_list_shows_the_latest_run(
    ui_server: UiServer, page: Any, monitored: list[MonitorResult]
) -> None:
    latest = monitored[-1]
    assert latest.drift_detected
    page.goto(f"{ui_server.url}/ui/monitoring")
    row = page.locator("tr[data-model='churn']")
    assert row.locator(".verdict").inner_text() == "drift"
    assert row.locator(".version").inner_text() == "v1"
    report = latest.latest
    assert report is not None and report.report is not None
    share = report.report.to_dict()["dataset"]["drift_share"]
    assert float(row.locator(".drift-share").inner_text()) == pytest.approx(share, rel=1e-5)
    assert page.locator("tr[data-model='quiet']").count() == 0
    assert "1 other registered model on this page has no monitoring runs" in page.inner_text("main")
    screenshot(page, "monitoring-list")
    row.locator("a.monitor-link").click()
    page.wait_for_url(f"{ui_server.url}/ui/monitoring/churn")


def test_the_model_page_draws_drift_over_time_and_embeds_the_latest_report(
    ui_server: UiServer, page: Any, monitored: list[MonitorResult]
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{ui_server.url}/ui/monitoring/churn")
    page.wait_for_selector("#drift-share-chart.js-plotly-plot .scatterlayer .trace")
    traces = page.evaluate(
        "() => document.getElementById('drift-share-chart').data.map(t => ({x: t.x, y: t.y}))"
    )
    # four windows (day 3 was monitored twice: the newer run's value is kept), by window start
    starts = [(END - timedelta(days=d)).strftime("%Y-%m-%d %H:%M:%S") for d in (4, 3, 2, 1)]
    assert traces[0]["x"] == starts
    assert traces[0]["y"][-1] > max(traces[0]["y"][:-1])
    columns = page.evaluate("() => document.getElementById('column-chart').data.map(t => t.name)")
    assert columns[0] == "tenure"  # sorted by latest score: the shifted column first
    assert set(columns) >= {"tenure", "spend", "plan"}
    assert page.inner_text("#latest-verdict") == "drift"
    assert "drift" in page.locator("tr[data-column='tenure']").inner_text()
    frame = page.frame_locator("#latest-report")
    frame.locator("text=tenure").first.wait_for()
    assert page.locator("tr[data-run]").count() == 2
    assert errors == []
    screenshot(page, "monitoring-model")


def test_every_run_links_to_its_report_and_run_page(
    ui_server: UiServer, page: Any, monitored: list[MonitorResult]
) -> None:
    page.goto(f"{ui_server.url}/ui/monitoring/churn")
    first = monitored[0].run_id
    row = page.locator(f"tr[data-run='{first}']")
    assert row.locator("a.run-link").get_attribute("href") == f"/ui/runs/{first}"
    report_url = row.locator("a.report-link").get_attribute("href")
    answer = httpx.get(ui_server.url + report_url)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    assert "sandbox" in answer.headers["content-security-policy"]
    assert "tenure" in answer.text and "<svg" in answer.text
    raw = httpx.get(ui_server.url + row.locator("a.raw-link").get_attribute("href"))
    assert raw.status_code == 200 and raw.content == answer.content
    with page.context.expect_page() as opened:
        row.locator("a.report-link").click()
    report_page = opened.value
    report_page.wait_for_load_state()
    assert "tenure" in report_page.inner_text("body")
    screenshot(report_page, "monitoring-report")


def test_unknown_models_and_runs_are_404_pages(
    ui_server: UiServer, page: Any, monitored: list[MonitorResult]
) -> None:
    answer = page.goto(f"{ui_server.url}/ui/monitoring/nothing-here")
    assert answer.status == 404
    page.click("text=← Back to monitoring")
    page.wait_for_url(f"{ui_server.url}/ui/monitoring")
    other = loopml.Client(tracking_uri=ui_server.tracking_uri, artifact_root=str(ui_server.artifacts))
    try:
        run = other.create_run(other.get_or_create_experiment("elsewhere").experiment_id)
    finally:
        other.close()
    assert httpx.get(f"{ui_server.url}/ui/monitoring/churn/report/{run.info.run_id}").status_code == 404
    quiet = page.goto(f"{ui_server.url}/ui/monitoring/quiet")
    assert quiet.status == 200 and "No monitoring runs for quiet" in page.inner_text("main")
