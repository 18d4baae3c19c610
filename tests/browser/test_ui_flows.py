"""The flows pages: the flow runs list with its filters and paging, a flow run's page (header,
tracking run, task-run timeline and table, logs with level filter and search, artifacts), a
2,000-task flow run paged, and the 404 page of an unknown flow run."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from ui_testing import UiServer, screenshot

import loopml
from loopml import flow, task


@dataclass(frozen=True)
class FlowFixture:
    etl: str  # a completed flow run with a tracking run, logs, artifacts and a subflow
    broken: str  # a failed one
    big: str  # 2,000 task runs
    tracking_run_id: str


@task
def extract(day: str) -> list[int]:
    loopml.get_run_logger().info("extracting %s", day)
    return [1, 2, 3]


@task
def transform(value: int) -> int:
    if value == 3:
        loopml.get_run_logger().warning("value %d is odd-looking", value)
    return value * 10


@task
def load(values: list[int]) -> int:
    logger = loopml.get_run_logger()
    logger.error("load saw a bad row (kept going)")
    loopml.create_table_artifact([{"value": v, "ok": v < 30} for v in values], key="loaded-rows")
    return sum(values)


@flow
def refresh_dims(region: str) -> str:
    loopml.get_run_logger().info("refreshing dims of %s", region)
    return region


@flow(name="etl", experiment="ui-flows")
def etl(day: str = "2026-11-27") -> int:
    rows = extract(day)
    values = [transform(v) for v in rows]
    total = load(values)
    refresh_dims("eu")
    loopml.create_markdown_artifact(f"# Report {day}\n\nloaded **{total}** <b>rows</b>", key="etl-report")
    loopml.create_link_artifact("https://example.org/dash", "the dashboard", key="dash")
    loopml.create_link_artifact("javascript:alert(1)", "not a link", key="bad-link")
    return total


@task
def step(i: int) -> int:
    return i


@flow(name="broken")
def broken() -> None:
    step(1)
    raise RuntimeError("the source is down")


@flow(name="big-fanout")
def big_fanout(n: int) -> int:
    return sum(step(i) for i in range(n))


@pytest.fixture(scope="module")
def flows(ui_server: UiServer) -> Iterator[FlowFixture]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOOPML_TRACKING_URI", ui_server.tracking_uri)
        patch.setenv("LOOPML_ARTIFACT_ROOT", str(ui_server.artifacts))
        patch.setenv("LOOPML_RESULT_STORAGE", str(ui_server.home / "results"))
        done = etl(return_state=True)
        failed = broken(return_state=True)
        big = big_fanout(2000, return_state=True)
    client = ui_server.client()
    try:
        record = client.get_flow_run(done.flow_run_id)
        assert record.tracking_run_id is not None
        yield FlowFixture(done.flow_run_id, failed.flow_run_id, big.flow_run_id, record.tracking_run_id)
    finally:
        client.close()


def _shot(page: Any, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar where it belongs in a full-page shot
    screenshot(page, name)


def _open(page: Any, url: str) -> None:
    answer = page.goto(url)
    assert answer.status == 200, answer.status
    page.wait_for_selector("#flow-run[data-ready='1']")


def test_the_flow_runs_list_filters_by_state_and_flow(
    ui_server: UiServer, flows: FlowFixture, page: Any
) -> None:
    page.goto(f"{ui_server.url}/ui/flows")
    rows = page.locator("#flow-runs tbody tr")
    states = rows.evaluate_all("rs => rs.map(r => r.dataset.state)")
    assert {"COMPLETED", "FAILED"} <= set(states)
    assert page.locator(f"a.run-link[href='/ui/flows/{flows.etl}']").count() == 1
    screenshot(page, "flows-list")

    page.check("input[name=state][value=FAILED]")
    page.click("#flow-filters button[type=submit]")
    page.wait_for_url(re.compile(r".*/ui/flows\?.*state=FAILED"))
    states = rows.evaluate_all("rs => rs.map(r => r.dataset.state)")
    assert states and set(states) == {"FAILED"}
    assert page.locator(f"a.run-link[href='/ui/flows/{flows.broken}']").count() == 1
    assert page.locator(f"a.run-link[href='/ui/flows/{flows.etl}']").count() == 0
    screenshot(page, "flows-list-failed")

    page.goto(f"{ui_server.url}/ui/flows?flow=big-fanout")
    assert rows.count() == 1 and "big-fanout" in rows.first.inner_text()

    page.goto(f"{ui_server.url}/ui/flows?state=NOPE")
    assert "NOPE" in page.inner_text("#filter-error")


def test_a_flow_run_page_shows_timeline_tasks_logs_artifacts_and_tracking_run(
    ui_server: UiServer, flows: FlowFixture, page: Any
) -> None:
    _open(page, f"{ui_server.url}/ui/flows/{flows.etl}")
    assert "etl" in page.inner_text("h1") and "COMPLETED" in page.inner_text("h1")
    tracking = page.locator("#tracking-run a")
    assert tracking.get_attribute("href") == f"/ui/runs/{flows.tracking_run_id}"
    assert page.locator("#parameters").inner_text().count("2026-11-27") == 1
    assert "refresh_dims" in page.inner_text("#subflows")

    # the timeline: one bar per task run (extract, 3 x transform, load), the table the same
    assert page.locator("#timeline svg rect.bar").count() == 5
    assert page.locator("#timeline svg rect.bar[data-state=COMPLETED]").count() == 5
    names = page.locator("#tasks tbody tr td:nth-child(2)").all_inner_texts()
    assert len(names) == 5 and names[0].startswith("extract") and names[-1].startswith("load")

    # logs: every level, then ERROR and above only, then a search
    logs = page.locator("#logs tbody tr.log-line")
    page.wait_for_function("document.querySelectorAll('#logs tbody tr.log-line').length >= 3")
    levels = set(logs.evaluate_all("rs => rs.map(r => r.dataset.level)"))
    assert {"INFO", "WARNING", "ERROR"} <= levels
    page.select_option("#log-level", "ERROR")
    page.wait_for_function(
        "[...document.querySelectorAll('#logs tbody tr.log-line')].every(r => r.dataset.level == 'ERROR')"
    )
    assert logs.count() == 1 and "bad row" in logs.first.inner_text()
    page.select_option("#log-level", "")
    page.fill("#log-search", "extracting")
    page.wait_for_function("document.querySelectorAll('#logs tbody tr.log-line').length == 1")
    assert "extracting 2026-11-27" in logs.first.inner_text()
    page.fill("#log-search", "")
    page.wait_for_function("document.querySelectorAll('#logs tbody tr.log-line').length >= 3")

    # artifacts: markdown rendered (raw HTML stays text), a table, a link; no javascript: link
    markdown = page.locator(".artifact-markdown .artifact-body")
    assert markdown.locator("h1").inner_text() == "Report 2026-11-27"
    assert markdown.locator("strong").inner_text() == "60"  # 10 + 20 + 30
    assert markdown.locator("b").count() == 0 and "<b>rows</b>" in markdown.inner_text()
    table = page.locator(".artifact-table table, table.artifact-table")
    assert table.locator("th").all_inner_texts() == ["value", "ok"]
    assert table.locator("tbody tr").count() == 3
    link = page.locator(".artifact-link a")
    assert link.count() == 1 and link.get_attribute("href") == "https://example.org/dash"
    assert link.inner_text() == "the dashboard"
    assert page.locator("a[href^='javascript']").count() == 0
    _shot(page, "flow-run")


def test_a_failed_flow_run_shows_its_error_and_a_state_filter_on_tasks(
    ui_server: UiServer, flows: FlowFixture, page: Any
) -> None:
    _open(page, f"{ui_server.url}/ui/flows/{flows.broken}")
    assert "FAILED" in page.inner_text("h1")
    assert "the source is down" in page.inner_text(".flow-error")
    assert "—" in page.inner_text("#tracking-run")
    page.select_option("#task-state", "COMPLETED")
    assert page.locator("#tasks tbody tr[data-state=COMPLETED]").count() == 1
    _shot(page, "flow-run-failed")


def test_a_2000_task_flow_run_opens_with_the_first_page_of_tasks(
    ui_server: UiServer, flows: FlowFixture, page: Any
) -> None:
    _open(page, f"{ui_server.url}/ui/flows/{flows.big}")
    assert "2,000 task runs" in page.inner_text("#timeline-count")
    table = page.locator("#tasks tbody tr")
    assert table.count() == 200
    assert "1\u2013200 of 2,000" in page.inner_text("#task-where")
    # the timeline draws the rows in view, not 2,000 bars
    drawn = page.locator("#timeline svg rect.bar").count()
    assert 10 < drawn < 100
    page.check("#timeline-zoom")  # the time axis fitted to the rows in view
    _shot(page, "flow-run-2000-tasks")

    page.click("#task-pager [data-go=next]")
    assert "201\u2013400 of 2,000" in page.inner_text("#task-where")
    assert table.first.locator("td").first.inner_text() == "201"
    page.locator("#timeline .tl-scroll").evaluate("s => { s.scrollTop = s.scrollHeight; }")
    page.wait_for_function(
        "[...document.querySelectorAll('#timeline .tl-label')].some(t => t.textContent.endsWith('-1999'))"
    )

    page.fill("#task-search", "step-199")  # step-199, step-1990..1999
    page.wait_for_function("document.querySelectorAll('#tasks tbody tr').length == 11")
    assert page.locator("#timeline svg rect.bar").count() == 11


@flow(name="fan-in")
def fan_in() -> int:
    parts = [step.submit(i) for i in range(3)]
    total = load.submit(parts)
    step.submit(99, wait_for=[total])
    return total.result()


def test_dependencies_between_task_runs_are_drawn(ui_server: UiServer, page: Any) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOOPML_TRACKING_URI", ui_server.tracking_uri)
        patch.setenv("LOOPML_RESULT_STORAGE", str(ui_server.home / "results"))
        run = fan_in(return_state=True)
    _open(page, f"{ui_server.url}/ui/flows/{run.flow_run_id}")
    # three parts into load, load before the last step: four curves
    page.wait_for_selector("#timeline svg path.dep")
    assert page.locator("#timeline svg path.dep").count() == 4
    assert "no dependencies recorded" not in page.inner_text("#timeline-legend")
    _shot(page, "flow-run-dependencies")


def test_an_unknown_flow_run_is_a_404_page_with_a_link_back(ui_server: UiServer, page: Any) -> None:
    answer = page.goto(f"{ui_server.url}/ui/flows/no-such-flow-run")
    assert answer.status == 404
    assert "404" in page.inner_text("h1") and "no-such-flow-run" in page.inner_text(".message")
    screenshot(page, "flow-run-404")
    page.click("text=← Back to flow runs")
    page.wait_for_url(f"{ui_server.url}/ui/flows")
