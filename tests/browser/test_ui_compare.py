"""The compare-runs page: the params diff (differing values marked, the "only differing" toggle),
the latest metrics, the overlaid metric histories (a long one downsampled), params against a
metric, and the 400/404 pages of a bad link."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from ui_testing import UiServer, screenshot

from loopml import Metric

LONG_HISTORY = 20_000


@dataclass(frozen=True)
class Runs:
    ids: list[str]
    experiment_id: str


@pytest.fixture(scope="module")
def runs(ui_server: UiServer) -> Iterator[Runs]:
    client = ui_server.client()
    try:
        experiment = client.create_experiment("ui-compare")
        now = int(time.time() * 1000)
        ids = []
        for i, (lr, model) in enumerate([("0.1", "rf"), ("0.01", "rf"), ("0.001", "gbm")]):
            run = client.create_run(experiment, run_name=f"cmp-{i}")
            steps = LONG_HISTORY if i == 0 else 50
            loss = [Metric("loss", 1.0 / (s + 1) + 0.1 * i, now + s, s) for s in range(steps)]
            acc = [Metric("accuracy", 0.5 + 0.01 * s + 0.05 * i, now + s, s) for s in range(20)]
            client.log_batch(run.info.run_id, [*loss, *acc], {"lr": lr, "model": model, "seed": "42"})
            client.set_terminated(run.info.run_id)
            ids.append(run.info.run_id)
        yield Runs(ids, experiment)
    finally:
        client.close()


def test_the_compare_page_diffs_params_and_overlays_histories(
    ui_server: UiServer, runs: Runs, page: Any
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{ui_server.url}/ui/compare?runs={','.join(runs.ids)}")
    assert page.inner_text("h1") == "Compare 3 runs"
    diff = page.locator("#params-diff")
    assert diff.locator("tr.differs", has_text="lr").count() == 1
    assert diff.locator("tr.differs", has_text="model").count() == 1
    assert diff.locator("tr.same", has_text="seed").count() == 1
    assert diff.locator("tr", has_text="model").locator("td.differs").count() == 3

    page.check("#only-differs")
    assert diff.locator("tr", has_text="seed").is_hidden()
    assert diff.locator("tr", has_text="model").is_visible()

    metrics = page.locator("#metrics-diff tr", has_text="accuracy").inner_text()
    assert "0.69" in metrics and "0.79" in metrics  # the latest values (step 19)

    page.wait_for_selector("[data-key='accuracy'] .scatterlayer .trace")
    assert page.locator("[data-key='accuracy'] .scatterlayer .trace").count() == 3
    assert page.locator("[data-key='loss'] .scatterlayer .trace").count() == 3
    page.wait_for_selector("#parcoords .parcoords")
    assert page.locator("#scatter .scatterlayer .points path").count() == 3
    page.check("#log-scale")
    assert page.evaluate("document.querySelector(\"[data-key='loss']\").layout.yaxis.type") == "log"
    assert errors == []
    screenshot(page, "compare")


def test_a_long_history_is_drawn_downsampled(ui_server: UiServer, runs: Runs, page: Any) -> None:
    page.goto(f"{ui_server.url}/ui/compare?runs={','.join(runs.ids)}&metric=loss")
    page.wait_for_selector("[data-key='loss'] .scatterlayer .trace")
    assert page.locator(".history-chart").count() == 1
    points = page.evaluate("document.querySelector(\"[data-key='loss']\").data.map((t) => t.x.length)")
    assert 500 <= points[0] <= 1000 and points[1:] == [50, 50]


def test_the_chart_picker_changes_the_charts(ui_server: UiServer, runs: Runs, page: Any) -> None:
    page.goto(f"{ui_server.url}/ui/compare?runs={','.join(runs.ids)}&metric=loss")
    page.check("#chart-form input[value='accuracy']")
    page.wait_for_url("**metric=accuracy*")
    page.wait_for_selector("[data-key='accuracy'] .scatterlayer .trace")
    assert page.locator(".history-chart").count() == 2


def test_a_bad_link_gives_an_error_page_with_a_way_back(ui_server: UiServer, runs: Runs, page: Any) -> None:
    answer = page.goto(f"{ui_server.url}/ui/compare?runs={runs.ids[0]},nonexistent-run")
    assert answer.status == 404 and "nonexistent-run" in page.inner_text(".error-page")
    screenshot(page, "compare-404")
    page.click("text=← Back to experiments")
    assert page.url.endswith("/ui/experiments")
    one = httpx.get(f"{ui_server.url}/ui/compare", params={"runs": runs.ids[0]})
    assert one.status_code == 400 and "2 to 50 runs" in one.text
    # a form without JavaScript sends one runs= per box: the same page
    both = httpx.get(f"{ui_server.url}/ui/compare", params=[("runs", runs.ids[0]), ("runs", runs.ids[1])])
    assert both.status_code == 200 and "Compare 2 runs" in both.text
