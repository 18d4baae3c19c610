"""The experiments pages: the list, an experiment's runs table (sorting, the filter box and its
errors, the column chooser, server-side paging, selecting runs to compare), the 404 page, and
under --auth only what the user may read."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from ui_testing import UiServer, screenshot

from loopml import Metric
from loopml.entities import PermissionLevel, ResourceKind
from loopml.entities.user import EVERYONE

PAGE_SIZE = 50
RUNS = 120


@dataclass(frozen=True)
class Logged:
    """What the fixture logged: a small experiment of five runs and one of 120."""

    small: str
    big: str
    small_runs: dict[str, str]  # run name -> run id


@pytest.fixture(scope="module")
def logged(ui_server: UiServer) -> Iterator[Logged]:
    client = ui_server.client()
    try:
        small = client.create_experiment("ui-exp-small", tags={"team": "vision"})
        big = client.create_experiment("ui-exp-big")
        now = int(time.time() * 1000)
        names = {}
        for i, (acc, model) in enumerate(
            [(0.95, "rf"), (0.80, "gbm"), (0.92, "rf"), (0.70, "mlp"), (0.85, "gbm")]
        ):
            run = client.create_run(small, run_name=f"small-{i}", start_time=now - 1000 * (10 - i))
            points = [Metric("loss", 1.0 / (s + 1) + i / 10, now + s, s) for s in range(30)]
            client.log_batch(
                run.info.run_id,
                [Metric("accuracy", acc, now, 0), *points],
                {"model": model, "depth": str(3 + i)},
                {"owner": "ann"},
            )
            client.set_terminated(run.info.run_id)
            names[f"small-{i}"] = run.info.run_id
        for i in range(RUNS):
            run = client.create_run(big, run_name=f"big-{i:03d}", start_time=now - 100_000 + i)
            client.log_batch(run.info.run_id, [Metric("score", float(i), now, 0)])
        yield Logged(small, big, names)
    finally:
        client.close()


def _names(page: Any) -> list[str]:
    return page.locator("#runs tbody tr td:nth-child(2) a").all_inner_texts()


def test_the_list_shows_the_experiments_and_links_to_each(
    ui_server: UiServer, logged: Logged, page: Any
) -> None:
    page.goto(f"{ui_server.url}/ui/experiments")
    table = page.locator("#experiments")
    assert table.locator("text=ui-exp-small").count() == 1 and table.locator("text=ui-exp-big").count() == 1
    assert "team: vision" in table.locator("tr", has_text="ui-exp-small").inner_text()
    screenshot(page, "experiments-list")
    page.fill("#experiment-search", "big")
    assert page.locator("#experiments tr", has_text="ui-exp-small").is_hidden()
    page.click("text=ui-exp-big")
    assert page.url.endswith(f"/ui/experiments/{logged.big}")
    assert page.inner_text("h1").startswith("ui-exp-big")


def test_the_runs_table_shows_runs_with_their_metrics_and_sorts_by_a_header(
    ui_server: UiServer, logged: Logged, page: Any
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{ui_server.url}/ui/experiments/{logged.small}")
    assert sorted(_names(page)) == sorted(logged.small_runs)
    assert _names(page)[0] == "small-4"  # newest first by default
    row = page.locator("#runs tr", has_text="small-0")
    assert "0.95" in row.inner_text() and "FINISHED" in row.inner_text()
    assert page.locator("#runs thead th", has_text="accuracy").count() == 1  # a metric by default
    screenshot(page, "experiment-runs")

    page.click("#runs thead a.sort:text('accuracy')")
    page.wait_for_url("**order=metrics.accuracy*")
    assert _names(page) == ["small-0", "small-2", "small-4", "small-1", "small-3"]
    page.click("#runs thead a.sort:text('accuracy')")  # again: the other way
    page.wait_for_url("**ASC*")
    assert _names(page)[0] == "small-3"
    assert errors == []
    screenshot(page, "experiment-runs-sorted")


def test_the_filter_box_filters_and_shows_an_error_at_its_position(
    ui_server: UiServer, logged: Logged, page: Any
) -> None:
    page.goto(f"{ui_server.url}/ui/experiments/{logged.small}")
    page.fill("#filter", "metrics.accuracy > 0.9")
    page.press("#filter", "Enter")
    page.wait_for_url("**filter=*")
    assert sorted(_names(page)) == ["small-0", "small-2"]

    page.fill("#filter", "metrics.accuracy > and params.model = 'rf'")
    page.press("#filter", "Enter")
    page.wait_for_selector("#filter-error")
    error = page.inner_text("#filter-error")
    assert "unexpected 'and' at position 19" in error
    assert page.inner_text("#filter-error mark") == "a"  # the marker sits on the offending token
    assert page.input_value("#filter") == "metrics.accuracy > and params.model = 'rf'"
    assert page.evaluate("document.getElementById('filter').selectionStart") == 19
    assert page.locator("h1").inner_text().startswith("ui-exp-small")  # the page still renders
    screenshot(page, "experiment-filter-error")


def test_the_column_chooser_adds_a_param_column(ui_server: UiServer, logged: Logged, page: Any) -> None:
    page.goto(f"{ui_server.url}/ui/experiments/{logged.small}")
    assert page.locator("#runs thead th", has_text="model").count() == 0
    page.click("#column-chooser summary")
    page.check("#column-chooser input[value='params.model']")
    screenshot(page, "experiment-column-chooser")
    page.click("#column-chooser button:text('Apply')")
    page.wait_for_url("**col=params.model*")
    assert page.locator("#runs thead th", has_text="model").count() == 1
    assert "gbm" in page.locator("#runs tr", has_text="small-1").inner_text()
    page.reload()  # the columns live in the URL
    assert page.locator("#runs thead th", has_text="model").count() == 1


def test_paging_moves_through_the_runs_page_by_page(ui_server: UiServer, logged: Logged, page: Any) -> None:
    page.goto(f"{ui_server.url}/ui/experiments/{logged.big}")
    first = _names(page)
    assert len(first) == PAGE_SIZE and first[0] == f"big-{RUNS - 1:03d}"
    page.click("a[rel=next]")
    page.wait_for_url("**token=*")
    second = _names(page)
    assert len(second) == PAGE_SIZE and second[0] == f"big-{RUNS - 1 - PAGE_SIZE:03d}"
    assert "runs 51\N{EN DASH}100" in page.inner_text(".pager")
    page.click("a[rel=next]")
    assert len(_names(page)) == RUNS - 2 * PAGE_SIZE
    assert page.locator(".pager span.disabled", has_text="Next").count() == 1
    screenshot(page, "experiment-last-page")
    page.click("a[rel=prev]")
    assert _names(page) == second
    page.select_option("select[name=size]", "200")
    page.click("#filter-form button[type=submit]")
    assert len(_names(page)) == RUNS


def test_selecting_runs_and_compare_opens_the_compare_page(
    ui_server: UiServer, logged: Logged, page: Any
) -> None:
    page.goto(f"{ui_server.url}/ui/experiments/{logged.small}")
    assert page.is_disabled("#compare-button")
    page.check(f"input[value='{logged.small_runs['small-0']}']")
    page.check(f"input[value='{logged.small_runs['small-1']}']")
    assert "2 selected" in page.inner_text("#compare-count")
    page.click("#compare-button")
    page.wait_for_url("**/ui/compare?runs=*")
    assert set(page.url.split("runs=")[1].split(",")) == {
        logged.small_runs["small-0"],
        logged.small_runs["small-1"],
    }
    page.wait_for_selector(".history-chart .scatterlayer .trace")
    assert page.locator("#params-diff tr.differs", has_text="model").count() == 1


def test_an_unknown_experiment_is_a_404_page_with_a_link_back(ui_server: UiServer, page: Any) -> None:
    answer = page.goto(f"{ui_server.url}/ui/experiments/no-such-experiment")
    assert answer.status == 404
    assert "no-such-experiment" in page.inner_text(".error-page")
    screenshot(page, "experiment-404")
    page.click("text=← Back to experiments")
    assert page.url.endswith("/ui/experiments")


def test_under_auth_a_user_sees_only_the_experiments_they_may_read(
    loopml_auth_server: Any, page: Any
) -> None:
    from loopml.store.resolver import open_store

    store = open_store(loopml_auth_server.store_uri)
    try:
        users = store.users
        stamp = uuid.uuid4().hex[:12]
        hidden = store.create_experiment(f"h{stamp}", f"ui-secret-{stamp}", "/tmp/none").experiment_id
        shown = store.create_experiment(f"s{stamp}", f"ui-open-{stamp}", "/tmp/none").experiment_id
        reader = users.create_user(f"reader-{stamp}")
        # Nobody but admins may see the secret experiment (its own default); the reader may read the other.
        users.set_permission(EVERYONE, ResourceKind.EXPERIMENT, hidden, PermissionLevel.NONE)
        users.set_permission(reader.username, ResourceKind.EXPERIMENT, shown, PermissionLevel.READ)
        secret = users.create_token(reader.username).secret
        now = int(time.time() * 1000)
        runs = [
            store.create_run(run_id=uuid.uuid4().hex, experiment_id=e, run_name=f"r-{e}", start_time=now)
            for e in (hidden, shown, shown)
        ]
    finally:
        store.close()
    page.goto(f"{loopml_auth_server.url}/ui/login?next=/ui/experiments")
    page.fill("#token", secret)
    page.click("button[type=submit]")
    page.wait_for_url("**/ui/experiments")
    listed = page.inner_text("main")
    assert f"ui-open-{stamp}" in listed and f"ui-secret-{stamp}" not in listed
    screenshot(page, "experiments-list-auth")
    answer = page.goto(f"{loopml_auth_server.url}/ui/experiments/{hidden}")
    assert answer.status == 404 and "← Back to experiments" in page.inner_text("main")
    assert page.goto(f"{loopml_auth_server.url}/ui/experiments/{shown}").status == 200
    assert page.locator("#runs tbody tr[data-run-id]").count() == 2
    readable = ",".join(r.info.run_id for r in runs[1:])
    assert page.goto(f"{loopml_auth_server.url}/ui/compare?runs={readable}").status == 200
    answer = page.goto(f"{loopml_auth_server.url}/ui/compare?runs={runs[0].info.run_id},{readable}")
    assert answer.status == 404 and runs[0].info.run_id in page.inner_text(".error-page")
