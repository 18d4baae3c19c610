"""The pure parts of the experiments and compare pages: the runs table's URL state and paging
stack, filter-language field names, the filter error's marker, run ids of a compare link, the
params diff and the downsampling of long histories."""

from __future__ import annotations

import math

import pytest
from starlette.datastructures import QueryParams

from loopml.errors import InvalidFilter, InvalidInput
from loopml.server.ui.pages.compare import diff_rows, downsample, run_ids
from loopml.server.ui.pages.experiments import (
    FIRST_PAGE,
    MAX_PREVIOUS,
    Column,
    FilterProblem,
    RunsQuery,
    field_of,
    split_order,
)
from loopml.store.filter import parse_filter, parse_order_by


def _read(query: RunsQuery) -> RunsQuery:
    return RunsQuery.from_params(QueryParams(query.query_string().lstrip("?")))


def test_a_runs_query_reads_back_from_its_own_query_string() -> None:
    query = RunsQuery(
        filter="metrics.`val loss` < 0.5 and params.model = 'rf'",
        order="metrics.`val loss` DESC",
        view="all",
        size=200,
        token="eyJvZmZzZXQiOjUwfQ",
        previous=(FIRST_PAGE,),
        page=2,
        columns=("params.model", "metrics.val loss", "tags.team"),
    )
    assert _read(query) == query
    assert RunsQuery().query_string() == "?"
    assert _read(RunsQuery(columns=())).columns == ()  # chosen: none, not the defaults


def test_bad_query_values_fall_back_to_the_defaults() -> None:
    query = RunsQuery.from_params(QueryParams("size=7&view=gone&page=-3&col=bogus&col=params.x"))
    assert (query.size, query.view, query.page) == (50, "active", 1)
    assert query.columns == ("params.x",)
    assert RunsQuery.from_params(QueryParams("size=abc")).size == 50


def test_next_and_previous_walk_a_stack_of_page_tokens() -> None:
    first = RunsQuery(filter="status = 'FINISHED'")
    second = first.next_page("t2")
    third = second.next_page("t3")
    assert (third.token, third.previous, third.page) == ("t3", (FIRST_PAGE, "t2"), 3)
    back = third.previous_page()
    assert back is not None and (back.token, back.previous, back.page) == ("t2", (FIRST_PAGE,), 2)
    start = back.previous_page()
    assert start is not None and (start.token, start.previous, start.page) == ("", (), 1)
    assert start.previous_page() is None
    assert third.first_page(order="start_time ASC") == RunsQuery(filter=first.filter, order="start_time ASC")


def test_the_token_stack_keeps_the_last_pages_only() -> None:
    query = RunsQuery()
    for n in range(MAX_PREVIOUS + 10):
        query = query.next_page(f"t{n}")
    assert len(query.previous) == MAX_PREVIOUS and query.page == MAX_PREVIOUS + 11
    assert len(_read(query).previous) == MAX_PREVIOUS


@pytest.mark.parametrize(
    ("kind", "key", "field"),
    [
        ("metrics", "accuracy", "metrics.accuracy"),
        ("metrics", "val.loss/x-1", "metrics.val.loss/x-1"),
        ("params", "learning rate", "params.`learning rate`"),
        ("tags", "a:b", "tags.`a:b`"),
    ],
)
def test_column_fields_are_quoted_where_the_filter_language_needs_it(kind: str, key: str, field: str) -> None:
    assert field_of(kind, key) == field
    (order,) = parse_order_by([f"{field} DESC"])  # the store takes it back
    assert order.field.key == key


def test_columns_parse_from_their_url_names() -> None:
    assert Column.parse("metric.acc") == Column("metrics", "acc")
    assert Column.parse("params.learning rate") == Column("params", "learning rate")
    assert Column.parse("nothing.x") is None and Column.parse("params.") is None


def test_split_order_names_the_field_and_the_direction() -> None:
    assert split_order("metrics.`val loss` DESC") == ("metrics.`val loss`", "DESC")
    assert split_order("start_time") == ("attributes.start_time", "ASC")
    assert split_order("attributes.status asc") == ("attributes.status", "ASC")


def _problem(filter_string: str, order: str = "") -> FilterProblem:
    try:
        parse_filter(filter_string)
        parse_order_by([order] if order else None)
    except InvalidFilter as exc:
        return FilterProblem.of(exc, RunsQuery(filter=filter_string, order=order))
    raise AssertionError("the filter parsed")


def test_a_filter_error_is_split_around_its_position() -> None:
    problem = _problem("metrics.accuracy > and params.model = 'rf'")
    assert problem.source == "filter" and problem.position == 19
    assert problem.message.startswith("unexpected 'and' at position 19") and "\n" not in problem.message
    assert (problem.before, problem.at, problem.after) == (
        "metrics.accuracy > ",
        "a",
        "nd params.model = 'rf'",
    )
    at_end = _problem("metrics.acc")
    assert (at_end.before, at_end.at, at_end.after) == ("metrics.acc", "", "")
    order = _problem("", "metrics.acc DOWN")
    assert order.source == "order" and order.at == "D"
    other = FilterProblem.of(InvalidInput("invalid page token 'x': pass back..."), RunsQuery())
    assert other.source == "other" and other.position is None


def test_compare_links_name_runs_once_each_in_order() -> None:
    assert run_ids(["a,b", "c", " b , ,d"]) == ["a", "b", "c", "d"]
    assert run_ids([]) == []


def test_the_params_diff_marks_the_keys_whose_values_differ() -> None:
    rows = diff_rows([{"lr": "0.1", "seed": "1"}, {"lr": "0.2", "seed": "1"}, {"seed": "1", "x": "y"}])
    assert [(r.key, r.values, r.differs) for r in rows] == [
        ("lr", ("0.1", "0.2", None), True),
        ("seed", ("1", "1", "1"), False),
        ("x", (None, None, "y"), True),
    ]
    (metric,) = diff_rows([{"m": 0.5}, {"m": float("nan")}, {"m": 0.9}])
    assert metric.extremes == (0.5, 0.9)


def test_a_short_history_is_kept_as_it_is_without_nan() -> None:
    xs, ys = downsample([0, 1, 2], [1.0, float("nan"), math.inf])
    assert xs == [0, 1, 2] and ys == [1.0, None, None]


def test_a_long_history_keeps_each_buckets_lowest_and_highest_point() -> None:
    n = 100_000
    values = [math.sin(i / 1000) for i in range(n)]
    values[54_321] = 50.0  # a spike survives
    values[77_777] = float("nan")
    xs, ys = downsample(list(range(n)), values, max_points=1000)
    assert 900 <= len(xs) <= 1000
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    assert 54_321 in xs and max(ys) == 50.0
    assert min(ys) == pytest.approx(-1.0, abs=1e-3) and all(math.isfinite(y) for y in ys)
    assert all(ys[i] == values[x] for i, x in enumerate(xs))
