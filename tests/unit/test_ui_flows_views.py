"""What the flow pages show, shaped from records: the compact task list, log pages, artifacts
rendered safely (markdown without raw HTML, tables, links that cannot run script), the cache of
finished flow runs' task runs."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest

from loopml.entities import FlowRun, LogRecord, RunArtifact, StateType, TaskRun
from loopml.server.ui.pages.flow_cache import TaskRunCache
from loopml.server.ui.pages.flow_views import artifact_views, log_page, safe_href, task_list

S = StateType


def _flow(state: StateType = S.COMPLETED, end: int | None = 2_000) -> FlowRun:
    return FlowRun("f1", "etl", "etl-1", state, start_time=1_000, end_time=end)


def _task(i: int, state: StateType = S.COMPLETED, **kw: Any) -> TaskRun:
    return TaskRun(f"t{i}", "f1", f"step-{i}", "m:step", str(i), state, **kw)


def test_task_list_is_compact_times_after_the_flow_start() -> None:
    tasks = [
        _task(0, start_time=1_100, end_time=1_300, attempts=1),
        _task(1, S.CACHED, start_time=1_200, end_time=1_201, attempts=0, cache_key="k"),
        _task(
            2,
            S.FAILED,
            start_time=1_300,
            end_time=1_900,
            attempts=3,
            error="Traceback...\n  x\nValueError: boom\n",
        ),
        _task(3, S.CANCELLED),
    ]
    body = orjson.loads(task_list(_flow(), tasks, now=5_000))
    assert body["span"] == 1_000 and body["deps"] == {}
    states = body["states"]
    rows = body["tasks"]
    assert rows[0] == ["step-0", states.index("COMPLETED"), 100, 300, 1, 0, ""]
    assert rows[1][5] == 2  # a cache hit
    assert rows[2][1] == states.index("FAILED") and rows[2][4] == 3 and rows[2][6] == "ValueError: boom"
    assert rows[3][2:4] == [None, None]
    running = orjson.loads(task_list(_flow(S.RUNNING, end=None), tasks, now=5_000))
    assert running["span"] == 4_000  # up to now


def test_log_pages_filter_by_level_and_text_and_name_the_task() -> None:
    logs = [
        LogRecord("f1", 1, logging.INFO, "starting", logger="loopml.flow"),
        LogRecord("f1", 2, logging.WARNING, "slow source", task_run_id="t0"),
        LogRecord("f1", 3, logging.ERROR, "Bad row 7", task_run_id="t0"),
        LogRecord("f1", 4, 7, "very low"),  # a level no library names (uvicorn names 5 TRACE)
    ]
    names = {"t0": "extract-0"}
    every = log_page(logs, names)
    assert every.total == 4 and [line[1] for line in every.lines] == ["INFO", "WARNING", "ERROR", "7"]
    errors = log_page(logs, names, min_level=logging.ERROR)
    assert errors.total == 1 and errors.lines[0][3:] == ["extract-0", "Bad row 7"]
    assert log_page(logs, names, text="bad ROW").total == 1
    assert log_page(logs, names, text="loopml.flow").lines[0][4] == "starting"
    paged = log_page(logs, names, offset=2, limit=1)
    assert (paged.total, paged.offset, paged.lines[0][4]) == (4, 2, "Bad row 7")
    assert log_page(logs, names, offset=99).offset == 3  # past the end: the last line
    assert orjson.loads(log_page([], names).as_json()) == {"total": 0, "offset": 0, "lines": []}


def _art(kind: str, data: str, task: str | None = None) -> RunArtifact:
    return RunArtifact("a", kind, data, 0, key="k", flow_run_id="f1", task_run_id=task)


def test_markdown_is_rendered_without_raw_html_or_script_links() -> None:
    text = "# Title\n\n<script>alert(1)</script> [x](javascript:alert(1)) **bold**\n\n|a|b|\n|-|-|\n|1|2|"
    (view,) = artifact_views([_art("markdown", text)], {})
    html = str(view.html)
    assert "<h1>Title</h1>" in html and "<strong>bold</strong>" in html and "<table>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html


@pytest.mark.parametrize(
    ("table", "header", "rows"),
    [
        ([{"a": 1, "b": "x"}, {"a": 2, "c": None}], ["a", "b", "c"], [["1", "x", ""], ["2", "", ""]]),
        ({"a": [1, 2], "b": ["<i>", True]}, ["a", "b"], [["1", "<i>"], ["2", "true"]]),
        ([[1, 2], [3, 4]], [], [["1", "2"], ["3", "4"]]),
    ],
)
def test_tables_of_records_columns_or_rows(table: Any, header: list[str], rows: list[list[str]]) -> None:
    from html.parser import HTMLParser

    class Cells(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.th: list[str] = []
            self.rows: list[list[str]] = []
            self.cell: str | None = None

        def handle_starttag(self, tag: str, attrs: Any) -> None:
            if tag == "tr":
                self.rows.append([])
            if tag in ("td", "th"):
                self.cell = ""

        def handle_data(self, data: str) -> None:
            if self.cell is not None:
                self.cell += data

        def handle_endtag(self, tag: str) -> None:
            if tag == "th":
                self.th.append(self.cell or "")
            elif tag == "td":
                self.rows[-1].append(self.cell or "")
            if tag in ("td", "th"):
                self.cell = None

    (view,) = artifact_views([_art("table", orjson.dumps(table).decode(), task="t0")], {"t0": "load-0"})
    parsed = Cells()
    parsed.feed(str(view.html))
    assert parsed.th == header and [r for r in parsed.rows if r] == rows
    assert "<i>" not in str(view.html) and view.task_name == "load-0"


def test_links_are_made_only_for_web_addresses() -> None:
    assert safe_href("https://example.org/x?a=1") == "https://example.org/x?a=1"
    assert safe_href("/ui/runs/abc") == "/ui/runs/abc"
    for bad in (
        "javascript:alert(1)",
        " JavaScript:alert(1)",
        "data:text/html,x",
        "//evil.test/",
        "s3://b/k",
    ):
        assert safe_href(bad) is None, bad
    good, bad = artifact_views(
        [
            _art("link", orjson.dumps({"link": "https://example.org", "link_text": "dash"}).decode()),
            _art("link", orjson.dumps({"link": "javascript:alert(1)", "link_text": None}).decode()),
        ],
        {},
    )
    assert "<a href='https://example.org'" in str(good.html) and ">dash</a>" in str(good.html)
    assert "<a" not in str(bad.html) and "javascript:alert(1)" in str(bad.html)


class _Store:
    def __init__(self) -> None:
        self.reads = 0

    def get_task_runs(self, flow_run_id: str) -> list[TaskRun]:
        self.reads += 1
        return [_task(0, start_time=1_100, end_time=1_200)]


def test_finished_flow_runs_task_runs_are_read_once_running_ones_every_time() -> None:
    cache, store = TaskRunCache(keep=1), _Store()
    done = _flow()
    assert cache.get(store, done).names == {"t0": "step-0"}
    cache.get(store, done)
    assert store.reads == 1
    retried = FlowRun("f1", "etl", "etl-1", S.COMPLETED, start_time=1_000, end_time=3_000, attempts=2)
    cache.get(store, retried)
    assert store.reads == 2  # another end: read afresh
    running = _flow(S.RUNNING, end=None)
    cache.get(store, running)
    cache.get(store, running)
    assert store.reads == 4
    other = FlowRun("f2", "etl", "etl-2", S.COMPLETED, start_time=1_000, end_time=2_000)
    cache.get(store, other)
    cache.get(store, retried)  # keep=1: f1 was dropped for f2
    assert store.reads == 6
