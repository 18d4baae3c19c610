"""Run search compiled to SQL: the runs a filter, an order and a page select, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopml.store.filter import And, Comparison, Expr, Field, Or, parse_filter, parse_order_by
from loopml.store.sql import schema
from loopml.store.sql.query import fetch_run_rows, search_runs_query

NAN = math.nan
INF = math.inf

# run_id: (experiment, name, status, start, end, lifecycle, user, parent)
RUNS: dict[str, tuple[str, str, str, int, int | None, str, str, str | None]] = {
    "r1": ("1", "alpha", "FINISHED", 1000, 2000, "active", "alice", None),
    "r2": ("1", "beta", "FAILED", 2000, None, "active", "bob", "r1"),
    "r3": ("1", "gamma", "RUNNING", 3000, None, "active", "alice", None),
    "r4": ("1", "Alpha2", "FINISHED", 3000, 4000, "active", "carol", "r1"),
    "r5": ("1", "deleted", "FINISHED", 5000, 6000, "deleted", "alice", None),
    "r6": ("2", "other", "FINISHED", 500, 600, "active", "alice", None),
}
PARAMS = {
    "r1": {"lr": "0.1", "depth": "5", "opt": "Adam"},
    "r2": {"lr": "0.01", "depth": "10", "opt": "adam"},
    "r3": {"lr": "0.1"},
    "r4": {"depth": "7"},
    "r5": {"lr": "0.1"},
    "r6": {"lr": "0.1"},
}
TAGS = {
    "r1": {"team": "vision", "note": "Hello World", "pct": "50%"},
    "r2": {"team": "nlp", "pct": "500", "note": "café_1"},
    "r4": {"team": "vision", "note": "a\\b"},
    "r5": {"team": "vision"},
    "r6": {"team": "vision"},
}
METRICS = {
    "r1": {"acc": 0.9, "loss": 0.3},
    "r2": {"acc": 0.7, "loss": NAN},
    "r3": {"acc": 0.8, "big": INF},
    "r4": {"loss": 0.5},
    "r5": {"acc": 0.99},
    "r6": {"acc": 0.95},
}


def _create(engine: sa.Engine) -> None:
    schema.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            schema.experiments.insert(),
            [
                {
                    "experiment_id": e,
                    "name": f"exp{e}",
                    "artifact_location": f"/a/{e}",
                    "lifecycle_stage": "active",
                    "creation_time": 0,
                    "last_update_time": 0,
                }
                for e in ("1", "2")
            ],
        )
        conn.execute(
            schema.runs.insert(),
            [
                {
                    "run_id": run_id,
                    "experiment_id": exp,
                    "name": name,
                    "status": status,
                    "start_time": start,
                    "end_time": end,
                    "lifecycle_stage": stage,
                    "artifact_uri": f"s3://bucket/{run_id}",
                    "user_id": user,
                    "source": "train.py",
                    "parent_run_id": parent,
                }
                for run_id, (exp, name, status, start, end, stage, user, parent) in RUNS.items()
            ],
        )
        conn.execute(
            schema.params.insert(),
            [{"run_id": r, "key": k, "value": v} for r, kv in PARAMS.items() for k, v in kv.items()],
        )
        conn.execute(
            schema.tags.insert(),
            [{"run_id": r, "key": k, "value": v} for r, kv in TAGS.items() for k, v in kv.items()],
        )
        conn.execute(
            schema.latest_metrics.insert(),
            [
                {
                    "run_id": r,
                    "key": k,
                    "value": None if math.isnan(v) else v,
                    "step": 0,
                    "timestamp": 0,
                }
                for r, kv in METRICS.items()
                for k, v in kv.items()
            ],
        )


def _sqlite_engine() -> sa.Engine:
    engine = sa.create_engine("sqlite://")

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA case_sensitive_like=ON")  # as the store's SQLite engine does

    return engine


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        engine = _sqlite_engine()
    else:
        url: str = request.getfixturevalue("postgres_url")
        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    _create(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def search(
    engine: sa.Engine,
    filter_string: str | None = None,
    order_by: Sequence[str] = (),
    *,
    experiment_ids: Sequence[str] = ("1",),
    stages: Sequence[str] = ("active",),
    offset: int = 0,
    limit: int = 100,
) -> list[str]:
    args = (experiment_ids, parse_filter(filter_string), parse_order_by(order_by), stages, offset, limit)
    with engine.connect() as conn:
        single = [row.run_id for row in conn.execute(search_runs_query(*args))]
        paged = [row.run_id for row in fetch_run_rows(conn, *args)]
    assert paged == single, "the segmented search must agree with the single statement"
    return paged


# Default order: start_time DESC, then run_id ASC (r3 and r4 both start at 3000).
ALL = ["r3", "r4", "r2", "r1"]

FILTER_CASES = [
    (None, ALL),
    # metrics (a NaN never matches, a missing key never matches)
    ("metrics.acc > 0.75", ["r3", "r1"]),
    ("metrics.acc >= 0.7 and metrics.acc <= 0.8", ["r3", "r2"]),
    ("metrics.acc = 0.8", ["r3"]),
    ("metrics.acc < 0.8", ["r2"]),
    ("metrics.acc IN (0.7, 0.9)", ["r2", "r1"]),
    ("metrics.acc NOT IN (0.7)", ["r3", "r1"]),
    ("metrics.loss != 0.3", ["r4"]),
    ("metrics.loss >= 0", ["r4", "r1"]),
    ("metrics.loss = 0", []),
    ("metrics.big > 1e308", ["r3"]),
    ("metrics.`acc` > 0 and metric.acc < 1", ["r3", "r2", "r1"]),
    ("metrics.nope > 0", []),
    # params: strings; a bare number is its text
    ("params.lr = '0.1'", ["r3", "r1"]),
    ("params.lr = 0.1", ["r3", "r1"]),
    ("params.lr = 0.10", []),
    ("params.depth != '5'", ["r4", "r2"]),
    ("params.depth IN ('5', 7)", ["r4", "r1"]),
    ("params.depth NOT IN ('5')", ["r4", "r2"]),
    ("params.depth < '7'", ["r2", "r1"]),
    ("params.depth >= '5'", ["r4", "r1"]),
    ("params.opt = 'adam'", ["r2"]),
    ("params.opt LIKE 'a%'", ["r2"]),
    ("params.opt LIKE 'A%'", ["r1"]),
    ("params.opt ILIKE 'a%'", ["r2", "r1"]),
    ("params.opt ILIKE 'ADAM'", ["r2", "r1"]),
    # tags, LIKE wildcards and escapes
    ("tags.team = 'vision'", ["r4", "r1"]),
    ("tags.note LIKE '%World'", ["r1"]),
    ("tags.note LIKE '%world'", []),
    ("tags.note ILIKE '%world'", ["r1"]),
    ("tags.note LIKE 'caf_\\_1'", ["r2"]),
    ("tags.note LIKE 'caf%'", ["r2"]),
    ("tags.note LIKE '%\\\\\\\\%'", ["r4"]),
    ("tags.note = 'a\\\\b'", ["r4"]),
    ("tags.pct LIKE '50%'", ["r2", "r1"]),
    ("tags.pct LIKE '50\\%'", ["r1"]),
    ("tags.pct LIKE '5_0'", ["r2"]),
    ("tags.pct LIKE '5\\_0'", []),
    # attributes
    ("status = 'FINISHED'", ["r4", "r1"]),
    ("status != 'FINISHED'", ["r3", "r2"]),
    ("attributes.status IN ('RUNNING', 'FAILED')", ["r3", "r2"]),
    ("run_name LIKE 'alpha%'", ["r1"]),
    ("name ILIKE 'alpha%'", ["r4", "r1"]),
    ("run_name >= 'a'", ["r3", "r2", "r1"]),
    ("run_name < 'a'", ["r4"]),
    ("run_id IN ('r1', 'r5', 'r6')", ["r1"]),
    ("user_id = 'alice'", ["r3", "r1"]),
    ("experiment_id = 1", ALL),
    ("artifact_uri LIKE 's3://bucket/r_'", ALL),
    ("source != 'train.py'", []),
    ("parent_run_id = 'r1'", ["r4", "r2"]),
    ("parent_run_id != 'r1'", []),
    ("parent_run_id NOT IN ('x')", ["r4", "r2"]),
    ("end_time > 1500", ["r4", "r1"]),
    ("end_time != 2000", ["r4"]),
    ("end_time NOT IN (2000)", ["r4"]),
    ("end_time = 1500.5", []),
    ("end_time != 1500.5", ["r4", "r1"]),
    ("end_time < 2000.5", ["r1"]),
    ("start_time IN (1000, 3000, 1.5)", ["r3", "r4", "r1"]),
    ("start_time IN (1.5, 1e30)", []),
    ("start_time NOT IN (1.5)", ALL),
    ("start_time > 1e30", []),
    ("start_time < 1e30", ALL),
    ("start_time >= 2e3", ["r3", "r4", "r2"]),
    # and / or / parentheses
    ("user_id = 'alice' and metrics.acc > 0.85", ["r1"]),
    ("user_id = 'alice' or params.depth = '7'", ["r3", "r4", "r1"]),
    ("metrics.acc < 0.75 or metrics.loss > 0.4 and tags.team = 'vision'", ["r4", "r2"]),
    ("(metrics.acc < 0.75 or metrics.loss > 0.4) and tags.team = 'nlp'", ["r2"]),
    ("params.lr = '0.1' and params.lr != '0.1'", []),
    ("params.lr = '0.1' or params.lr != '0.1'", ["r3", "r2", "r1"]),
]


def test_filters(engine: sa.Engine) -> None:
    # One test per backend, not one per case: a fresh PostgreSQL schema costs half a second.
    wrong = {}
    for filter_string, expected in FILTER_CASES:
        found = search(engine, filter_string)
        if found != expected:
            wrong[filter_string] = {"found": found, "expected": expected}
    assert wrong == {}


def test_experiments_and_lifecycle_scope_the_search(engine: sa.Engine) -> None:
    assert search(engine, experiment_ids=["1", "2"]) == ["r3", "r4", "r2", "r1", "r6"]
    assert search(engine, stages=["active", "deleted"]) == ["r5", "r3", "r4", "r2", "r1"]
    assert search(engine, stages=["deleted"]) == ["r5"]
    assert search(engine, experiment_ids=[]) == []
    assert search(engine, "metrics.acc > 0.9", experiment_ids=["1", "2"], stages=["active", "deleted"]) == [
        "r5",
        "r6",
    ]


ORDER_CASES = [
    ([], ALL),
    (["metrics.acc"], ["r2", "r3", "r1", "r4"]),
    (["metrics.acc DESC"], ["r1", "r3", "r2", "r4"]),
    # NaN (r2) and missing (r3) last in both directions, then the tie-breakers
    (["metrics.loss ASC"], ["r1", "r4", "r3", "r2"]),
    (["metrics.loss DESC"], ["r4", "r1", "r3", "r2"]),
    (["metrics.loss DESC", "metrics.acc ASC"], ["r4", "r1", "r2", "r3"]),
    (["params.depth"], ["r2", "r1", "r4", "r3"]),
    (["params.depth DESC"], ["r4", "r1", "r2", "r3"]),
    (["tags.team DESC", "start_time ASC"], ["r1", "r4", "r2", "r3"]),
    (["end_time"], ["r1", "r4", "r3", "r2"]),
    (["end_time DESC"], ["r4", "r1", "r3", "r2"]),
    (["run_name"], ["r4", "r1", "r2", "r3"]),
    (["name DESC"], ["r3", "r2", "r1", "r4"]),
    (["start_time ASC"], ["r1", "r2", "r3", "r4"]),
    (["start_time DESC"], ["r3", "r4", "r2", "r1"]),
    (["status", "metrics.acc DESC"], ["r2", "r1", "r4", "r3"]),
    (["parent_run_id"], ["r4", "r2", "r3", "r1"]),
    (["run_id DESC"], ["r4", "r3", "r2", "r1"]),
]


def test_order(engine: sa.Engine) -> None:
    wrong = {}
    for order_by, expected in ORDER_CASES:
        found = search(engine, order_by=order_by)
        if found != expected:
            wrong[", ".join(order_by)] = {"found": found, "expected": expected}
    assert wrong == {}
    # sorting and filtering on the same keys: the sort joins aliases, the filter uncorrelated subqueries
    assert search(engine, "metrics.acc > 0.75", ["metrics.acc"]) == ["r3", "r1"]
    assert search(engine, "params.depth != '7'", ["params.depth DESC", "metrics.acc"]) == ["r1", "r2"]
    assert search(engine, "tags.team = 'vision'", ["tags.team", "tags.team DESC"]) == ["r4", "r1"]


def test_pages_cover_the_ordered_runs_exactly_once(engine: sa.Engine) -> None:
    wrong = {}
    for order_by, expected in ORDER_CASES:
        pages = [search(engine, order_by=order_by, offset=offset, limit=2) for offset in (0, 2, 4)]
        pages.append(search(engine, order_by=order_by, offset=1, limit=1))
        if pages != [expected[:2], expected[2:4], [], expected[1:2]]:
            wrong[", ".join(order_by)] = {"pages": pages, "expected": expected}
    assert wrong == {}


@pytest.mark.postgres
def test_postgres_compares_strings_by_code_point_whatever_the_column_collation(
    postgres_url: str,
) -> None:
    """A locale collation sorts 'alpha' before 'Alpha2'; the search must not."""
    engine = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        _create(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql('ALTER TABLE runs ALTER COLUMN name TYPE varchar(250) COLLATE "en-x-icu"')
            conn.exec_driver_sql(
                'ALTER TABLE params ALTER COLUMN value TYPE varchar(6000) COLLATE "en-x-icu"'
            )
            locale_order = conn.exec_driver_sql(
                "SELECT run_id FROM runs WHERE experiment_id = '1' ORDER BY name"
            )
            assert [row[0] for row in locale_order][:2] == ["r1", "r4"]  # the locale does differ
        assert search(engine, order_by=["run_name"]) == ["r4", "r1", "r2", "r3"]
        assert search(engine, "run_name >= 'a'") == ["r3", "r2", "r1"]
        assert search(engine, "params.opt < 'a'") == ["r1"]
        assert search(engine, order_by=["params.opt DESC"]) == ["r2", "r1", "r3", "r4"]
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- differential property


def _like(pattern: str, text: str) -> bool:
    regex, chars = [], iter(pattern)
    for ch in chars:
        if ch == "\\":
            regex.append(re.escape(next(chars)))
        else:
            regex.append({"%": ".*", "_": "."}.get(ch, re.escape(ch)))
    return re.fullmatch("".join(regex), text, re.DOTALL) is not None


_COLUMNS = ["run_id", "run_name", "status", "start_time", "end_time", "user_id", "experiment_id"]


def _field_value(run_id: str, field: Field) -> Any:
    if field.kind == "metric":
        value = METRICS.get(run_id, {}).get(field.key)
        return None if value is None or math.isnan(value) else value
    if field.kind in ("param", "tag"):
        return (PARAMS if field.kind == "param" else TAGS).get(run_id, {}).get(field.key)
    exp, name, status, start, end, _stage, user, parent = RUNS[run_id]
    attributes = {"run_id": run_id, "run_name": name, "status": status, "start_time": start}
    attributes |= {"end_time": end, "user_id": user, "experiment_id": exp, "parent_run_id": parent}
    return attributes[field.key]


def matches(run_id: str, expr: Expr) -> bool:
    """The reference semantics, in Python."""
    if isinstance(expr, And):
        return all(matches(run_id, item) for item in expr.items)
    if isinstance(expr, Or):
        return any(matches(run_id, item) for item in expr.items)
    actual, op, value = _field_value(run_id, expr.field), expr.op, expr.value
    if actual is None:
        return False
    if op == "IN":
        return actual in value  # type: ignore[operator]
    if op == "NOT IN":
        return actual not in value  # type: ignore[operator]
    if op == "LIKE":
        return _like(str(value), actual)
    if op == "ILIKE":
        return _like(str(value).lower(), actual.lower())
    compare = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    return bool(compare[op](actual, value))


_numbers = st.sampled_from([-1.0, 0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 1000.0, 2000.0, 2500.5, 3000.0, INF])
_texts = st.sampled_from(
    ["0.1", "5", "10", "7", "adam", "Adam", "vision", "nlp", "a", "alpha", "FINISHED", "r1"]
)
_patterns = st.text(alphabet="aAd%_\\lpvi5", max_size=5).filter(
    lambda s: (len(s) - len(s.rstrip("\\"))) % 2 == 0
)
_fields = st.sampled_from(
    [Field("metric", k) for k in ("acc", "loss", "big")]
    + [Field("param", k) for k in ("lr", "depth", "opt")]
    + [Field("tag", k) for k in ("team", "note", "pct")]
    + [Field("attribute", k) for k in _COLUMNS]
)


@st.composite
def comparisons(draw: st.DrawFn) -> Comparison:
    field = draw(_fields)
    ops = ["=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN"]
    if not field.is_numeric:
        ops += ["LIKE", "ILIKE"]
    op = draw(st.sampled_from(ops))
    literal: st.SearchStrategy[Any] = _numbers if field.is_numeric else _texts
    if op in ("LIKE", "ILIKE"):
        literal = _patterns
    if op in ("IN", "NOT IN"):
        return Comparison(field, op, tuple(draw(st.lists(literal, min_size=1, max_size=3))))
    return Comparison(field, op, draw(literal))


_exprs = st.recursive(
    comparisons(),
    lambda inner: st.one_of(
        st.builds(And, st.lists(inner, min_size=2, max_size=3).map(tuple)),
        st.builds(Or, st.lists(inner, min_size=2, max_size=3).map(tuple)),
    ),
    max_leaves=5,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(expr=_exprs)
def test_sql_agrees_with_the_reference_semantics(engine: sa.Engine, expr: Expr) -> None:
    query = search_runs_query(["1"], expr, [], ["active"], 0, 100)
    with engine.connect() as conn:
        found = [row.run_id for row in conn.execute(query)]
    assert found == [run_id for run_id in ALL if matches(run_id, expr)]
