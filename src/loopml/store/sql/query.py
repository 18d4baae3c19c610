"""Compile a run search (filter AST, order_by, paging) into one SQLAlchemy Core ``SELECT``.

The same Core code runs on SQLite and PostgreSQL; where the two differ by default the
query pins the behaviour:

* A metric, param or tag condition is a correlated ``EXISTS (SELECT 1 FROM t WHERE
  t.run_id = runs.run_id AND key = :k AND value <op> :v)``, answered by the ``(run_id, key)``
  primary key, so a search reads no more rows than it needs to fill its page. A run
  without the key never matches, not even ``!=`` or ``NOT IN``. A NaN metric never matches.
* A ``datasets.name|digest|context`` condition is a correlated ``EXISTS`` over ``run_inputs``
  joined to ``datasets``: the run used some dataset that matches. Each condition is its own
  ``EXISTS``, so ``datasets.name = 'a' and datasets.context = 'test'`` may match two inputs.
* When the first order key is a metric, param or tag, :func:`fetch_run_rows` reads the runs
  that have it by walking the ``(key, value)`` index in order (a page of the best 1,000 of
  100,000 runs touches a few thousand rows), then the runs without it.
* ``LIKE`` is case-sensitive: PostgreSQL's is, and the SQLite store turns on
  ``PRAGMA case_sensitive_like`` on every connection. ``ILIKE`` is ``lower(x) LIKE lower(p)``
  on both. Both use ``\\`` as the escape character (PostgreSQL's default, not SQLite's).
* Strings order and compare (``<``, ``>``) by code point: SQLite's BINARY collation, and
  ``COLLATE "C"`` on PostgreSQL, whatever the database's locale.
* Missing values (and NaN metrics) sort last in both directions; ``start_time DESC,
  run_id ASC`` always end the ORDER BY so pages never overlap or skip.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from loopml.store.filter import And, Comparison, Expr, Or, OrderKey
from loopml.store.sql.schema import datasets, latest_metrics, params, run_inputs, runs, tags

__all__ = ["fetch_run_rows", "search_runs_query"]

_KEY_TABLES = {"metric": latest_metrics, "param": params, "tag": tags}
_ATTRIBUTE_COLUMNS: dict[str, sa.Column[Any]] = {
    "run_id": runs.c.run_id,
    "run_name": runs.c.name,
    "status": runs.c.status,
    "start_time": runs.c.start_time,
    "end_time": runs.c.end_time,
    "user_id": runs.c.user_id,
    "experiment_id": runs.c.experiment_id,
    "artifact_uri": runs.c.artifact_uri,
    "parent_run_id": runs.c.parent_run_id,
    "source": runs.c.source,
}
_OPERATORS = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_DATASET_COLUMNS: dict[str, sa.Column[Any]] = {
    "name": datasets.c.name,
    "digest": datasets.c.digest,
    "context": run_inputs.c.context,
}
_ORDERED = frozenset({"<", "<=", ">", ">="})
_INT64 = 2**63
_LIKE_ESCAPE = "\\"


def _base(
    from_clause: sa.FromClause, experiment_ids: Sequence[str], expr: Expr | None, stages: Sequence[str]
) -> sa.Select[Any]:
    stmt = (
        sa.select(*runs.c)
        .select_from(from_clause)
        .where(runs.c.experiment_id.in_(list(experiment_ids)))
        .where(runs.c.lifecycle_stage.in_(list(stages)))
    )
    return stmt if expr is None else stmt.where(_condition(expr))


def fetch_run_rows(
    conn: sa.Connection,
    experiment_ids: Sequence[str],
    expr: Expr | None,
    order_by: Sequence[OrderKey],
    lifecycle_stages: Sequence[str],
    offset: int,
    limit: int,
) -> list[Any]:
    """The rows of ``runs`` on one search page, in the order of :func:`search_runs_query`.

    Ordering by a metric, param or tag reads in two segments: the runs that have a value
    (in index order, stopping at the page's end), then, if the page is not full, the runs
    without one (and NaN metrics), which always sort last.
    """
    if not order_by or order_by[0].field.kind == "attribute":
        query = search_runs_query(experiment_ids, expr, order_by, lifecycle_stages, offset, limit)
        return list(conn.execute(query).all())
    first, rest = order_by[0], order_by[1:]
    table = _KEY_TABLES[first.field.kind]
    alias = table.alias("order_0")
    has_value = [alias.c.key == first.field.key]
    if first.field.kind == "metric":
        has_value.append(alias.c.value.is_not(None))  # NaN is stored as NULL
    driving = _DrivingJoin(alias, runs, alias.c.run_id == runs.c.run_id)
    value: ColumnElement[Any] = alias.c.value if first.field.is_numeric else _code_point_order(alias.c.value)
    present_from, present_order = _joined_order(driving, rest, start=1)
    present = _base(present_from, experiment_ids, expr, lifecycle_stages).where(*has_value)
    page = list(
        conn.execute(
            present.order_by(value.desc() if first.descending else value.asc(), *present_order)
            .offset(offset)
            .limit(limit)
        ).all()
    )
    if len(page) == limit:
        return page
    if page:
        n_present = offset + len(page)
    else:
        n_present = int(conn.execute(sa.select(sa.func.count()).select_from(present.subquery())).scalar_one())
    lacking = ~sa.exists().where(alias.c.run_id == runs.c.run_id, *has_value)
    missing_from, missing_order = _joined_order(runs, rest, start=1)
    missing = _base(missing_from, experiment_ids, expr, lifecycle_stages).where(lacking)
    tail = conn.execute(
        missing.order_by(*missing_order).offset(max(0, offset - n_present)).limit(limit - len(page))
    ).all()
    return page + list(tail)


def _joined_order(
    from_clause: sa.FromClause, order_by: Sequence[OrderKey], *, start: int
) -> tuple[sa.FromClause, list[ColumnElement[Any]]]:
    ordering: list[ColumnElement[Any]] = []
    for index, key in enumerate(order_by, start=start):
        from_clause, terms = _order_terms(from_clause, key, index)
        ordering.extend(terms)
    return from_clause, [*ordering, runs.c.start_time.desc(), runs.c.run_id.asc()]


def search_runs_query(
    experiment_ids: Sequence[str],
    expr: Expr | None,
    order_by: Sequence[OrderKey],
    lifecycle_stages: Sequence[str],
    offset: int,
    limit: int,
) -> sa.Select[Any]:
    """The runs (all columns of ``runs``, in table order) of a search page, as one statement.

    ``order_by`` keys come first, then ``start_time DESC, run_id ASC`` as tie-breakers.
    """
    from_clause, ordering = _joined_order(runs, order_by, start=0)
    stmt = _base(from_clause, experiment_ids, expr, lifecycle_stages)
    return stmt.order_by(*ordering).offset(offset).limit(limit)


# --------------------------------------------------------------------------- filter


def _condition(expr: Expr) -> ColumnElement[bool]:
    if isinstance(expr, And):
        return sa.and_(*(_condition(item) for item in expr.items))
    if isinstance(expr, Or):
        return sa.or_(*(_condition(item) for item in expr.items))
    return _comparison(expr)


def _comparison(comparison: Comparison) -> ColumnElement[bool]:
    field = comparison.field
    if field.kind == "attribute":
        column = _ATTRIBUTE_COLUMNS[field.key]
        if field.is_numeric:
            return _compare_integer(column, comparison.op, comparison.value)
        return _compare(column, comparison.op, comparison.value, numeric=False)
    if field.kind == "dataset":
        # Some input of the run matches: run_inputs (run_id first in its key) joined to datasets.
        matched = _compare(_DATASET_COLUMNS[field.key], comparison.op, comparison.value, numeric=False)
        return sa.exists().where(
            run_inputs.c.run_id == runs.c.run_id, run_inputs.c.dataset_id == datasets.c.dataset_id, matched
        )
    table = _KEY_TABLES[field.kind]
    conditions = [table.c.key == field.key]
    if field.kind == "metric":
        conditions.append(table.c.value.is_not(None))  # NaN (stored as NULL) never matches
    conditions.append(_compare(table.c.value, comparison.op, comparison.value, numeric=field.is_numeric))
    # Correlated, so a search that stops at its LIMIT reads only the rows it returns.
    return sa.exists().where(table.c.run_id == runs.c.run_id, *conditions)


def _compare(column: ColumnElement[Any], op: str, value: Any, *, numeric: bool) -> ColumnElement[bool]:
    """``column <op> value``; strings order by code point."""
    if op == "IN":
        return column.in_(list(value))
    if op == "NOT IN":
        return column.not_in(list(value))
    if op == "LIKE":
        # Case-sensitive on SQLite too: the store's connections set PRAGMA case_sensitive_like=ON.
        return column.like(value, escape=_LIKE_ESCAPE)
    if op == "ILIKE":
        return sa.func.lower(column).like(sa.func.lower(value), escape=_LIKE_ESCAPE)
    if op in _ORDERED and not numeric:
        column = _code_point_order(column)
    return cast(ColumnElement[bool], _OPERATORS[op](column, value))


def _compare_integer(column: ColumnElement[Any], op: str, value: Any) -> ColumnElement[bool]:
    """Compare a BIGINT column (start_time, end_time) with parsed floats.

    Equality with a value no BIGINT can hold (1.5, 1e30) is false, so such values are
    dropped; a range bound that is not one is bound as a float.
    """
    if op in ("IN", "NOT IN"):
        candidates = [v for v in (_as_int64(x) for x in value) if v is not None]
        if not candidates:
            return sa.false() if op == "IN" else column.is_not(None)
        return _compare(column, op, candidates, numeric=True)
    exact = _as_int64(value)
    if exact is not None:
        return _compare(column, op, exact, numeric=True)
    if op == "=":
        return sa.false()
    if op == "!=":
        return column.is_not(None)
    return _compare(column, op, sa.literal(value, sa.Float(precision=53)), numeric=True)


def _as_int64(value: float) -> int | None:
    if value.is_integer() and -_INT64 <= value < _INT64:
        return int(value)
    return None


# --------------------------------------------------------------------------- order


def _order_terms(
    from_clause: sa.FromClause, key: OrderKey, index: int
) -> tuple[sa.FromClause, list[ColumnElement[Any]]]:
    """The ORDER BY terms of one key, and the FROM clause joined with what they read."""
    field = key.field
    missing: ColumnElement[bool] | None
    if field.kind == "attribute":
        column: ColumnElement[Any] = _ATTRIBUTE_COLUMNS[field.key]
        missing = column.is_(None) if _ATTRIBUTE_COLUMNS[field.key].nullable else None
    else:
        # One alias per key: (run_id, key) is the primary key, so the join adds no rows.
        alias = _KEY_TABLES[field.kind].alias(f"order_{index}")
        from_clause = from_clause.outerjoin(
            alias, sa.and_(alias.c.run_id == runs.c.run_id, alias.c.key == field.key)
        )
        column = alias.c.value
        # A missing key and a NaN metric (stored as NULL) tie, last; the tie-breakers decide.
        missing = alias.c.value.is_(None)
    if not field.is_numeric:
        column = _code_point_order(column)
    terms: list[ColumnElement[Any]] = []
    if missing is not None:
        terms.append(sa.case((missing, 1), else_=0).asc())
    terms.append(column.desc() if key.descending else column.asc())
    return from_clause, terms


# --------------------------------------------------------------------------- join order


class _DrivingJoin(sa.Join):
    """An inner join read left to right: ``CROSS JOIN`` on SQLite, whose planner otherwise
    prefers the runs index and sorts every run of the experiment; a plain JOIN elsewhere."""

    inherit_cache = True


@compiles(_DrivingJoin)
def _compile_driving_join(element: _DrivingJoin, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.visit_join(element, **kw))  # type: ignore[no-untyped-call]


@compiles(_DrivingJoin, "sqlite")
def _compile_driving_join_sqlite(element: _DrivingJoin, compiler: SQLCompiler, **kw: Any) -> str:
    kw["asfrom"] = True
    left = element.left._compiler_dispatch(compiler, **kw)
    right = element.right._compiler_dispatch(compiler, **kw)
    kw.pop("asfrom")
    assert element.onclause is not None
    on = element.onclause._compiler_dispatch(compiler, **kw)
    return f"{left} CROSS JOIN {right} ON {on}"


# --------------------------------------------------------------------------- collation


class _CodePointOrder(FunctionElement[str]):
    """A string expression compared by code point: ``x COLLATE "C"`` on PostgreSQL.

    SQLite compares with BINARY (byte order of UTF-8, which is code point order) unless a
    column says otherwise, so there it is the expression itself.
    """

    name = "code_point_order"
    inherit_cache = True
    type = sa.String()


def _code_point_order(column: ColumnElement[Any]) -> ColumnElement[str]:
    return _CodePointOrder(column)


@compiles(_CodePointOrder)
def _compile_code_point_order(element: _CodePointOrder, compiler: SQLCompiler, **kw: Any) -> str:
    (inner,) = element.clauses
    return compiler.process(inner, **kw)


@compiles(_CodePointOrder, "postgresql")
def _compile_code_point_order_pg(element: _CodePointOrder, compiler: SQLCompiler, **kw: Any) -> str:
    (inner,) = element.clauses
    return f'({compiler.process(inner, **kw)} COLLATE "C")'
