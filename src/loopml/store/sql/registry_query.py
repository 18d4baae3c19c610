"""Registry searches: a filter AST and order_by keys over registered models or model versions,
compiled to one Core ``SELECT`` with the same semantics as run search (see ``query.py``):
a missing tag never matches, strings compare by code point, missing values sort last.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from ...entities import ModelStage
from ...errors import InvalidInput
from ..filter import And, Comparison, Expr, Or, OrderKey, parse_filter, parse_order_by
from . import schema as t
from .query import _code_point_order, _compare, _compare_integer

__all__ = ["MODELS", "VERSIONS", "SearchSpec", "search_query"]


@dataclass(frozen=True)
class SearchSpec:
    """What one registry search reads: its table, attributes, tags and default order."""

    table: sa.Table
    columns: dict[str, sa.Column[Any]]
    numeric: frozenset[str]
    tags: sa.Table
    tag_join: Callable[[Any], ColumnElement[bool]]
    tie_breakers: tuple[ColumnElement[Any], ...]

    def parse(self, filter_string: str | None, order_by: Sequence[str] | None) -> tuple[Any, list[OrderKey]]:
        options: dict[str, Any] = {
            "attributes": self.columns.keys(),
            "numeric_attributes": self.numeric,
            "key_kinds": ("tag",),
        }
        return parse_filter(filter_string, **options), parse_order_by(order_by, **options)


_m, _v = t.registered_models.c, t.model_versions.c

MODELS = SearchSpec(
    table=t.registered_models,
    columns={
        "name": _m.name,
        "description": _m.description,
        "creation_time": _m.creation_time,
        "last_update_time": _m.last_update_time,
    },
    numeric=frozenset({"creation_time", "last_update_time"}),
    tags=t.registered_model_tags,
    tag_join=lambda tags: tags.c.name == _m.name,
    tie_breakers=(_code_point_order(_m.name).asc(),),
)

VERSIONS = SearchSpec(
    table=t.model_versions,
    columns={
        "name": _v.name,
        "version": _v.version,
        "run_id": _v.run_id,
        "current_stage": _v.current_stage,
        "source": _v.source,
        "creation_time": _v.creation_time,
        "last_update_time": _v.last_update_time,
    },
    numeric=frozenset({"version", "creation_time", "last_update_time"}),
    tags=t.model_version_tags,
    tag_join=lambda tags: (tags.c.name == _v.name) & (tags.c.version == _v.version),
    tie_breakers=(_code_point_order(_v.name).asc(), _v.version.desc()),
)


def search_query(
    spec: SearchSpec, expr: Expr | None, order_by: Sequence[OrderKey], offset: int, limit: int
) -> sa.Select[Any]:
    """The rows of one page: ``order_by`` keys, then the spec's tie-breakers (a total order)."""
    from_clause: sa.FromClause = spec.table
    ordering: list[ColumnElement[Any]] = []
    for index, key in enumerate(order_by):
        from_clause, terms = _order_terms(spec, from_clause, key, index)
        ordering.extend(terms)
    stmt = sa.select(*spec.table.c).select_from(from_clause)
    if expr is not None:
        stmt = stmt.where(_condition(spec, expr))
    return stmt.order_by(*ordering, *spec.tie_breakers).offset(offset).limit(limit)


def _condition(spec: SearchSpec, expr: Expr) -> ColumnElement[bool]:
    if isinstance(expr, And):
        return sa.and_(*(_condition(spec, item) for item in expr.items))
    if isinstance(expr, Or):
        return sa.or_(*(_condition(spec, item) for item in expr.items))
    return _comparison(spec, expr)


def _comparison(spec: SearchSpec, comparison: Comparison) -> ColumnElement[bool]:
    field, op, value = comparison.field, comparison.op, comparison.value
    if field.kind == "tag":
        tags = spec.tags
        return sa.exists().where(
            spec.tag_join(tags), tags.c.key == field.key, _compare(tags.c.value, op, value, numeric=False)
        )
    column = spec.columns[field.key]
    if field.is_numeric:
        return _compare_integer(column, op, value)
    if field.key == "current_stage" and op in ("=", "!=", "IN", "NOT IN"):
        value = _canonical_stages(value)
    return _compare(column, op, value, numeric=False)


def _canonical_stages(value: Any) -> Any:
    """``current_stage = 'production'`` means Production: stages are matched in any case."""
    if isinstance(value, tuple):
        return tuple(_canonical_stages(v) for v in value)
    try:
        return ModelStage.parse(str(value)).value
    except InvalidInput:
        return value


def _order_terms(
    spec: SearchSpec, from_clause: sa.FromClause, key: OrderKey, index: int
) -> tuple[sa.FromClause, list[ColumnElement[Any]]]:
    field = key.field
    missing: ColumnElement[bool] | None = None
    if field.kind == "tag":
        alias = spec.tags.alias(f"order_{index}")
        from_clause = from_clause.outerjoin(alias, sa.and_(spec.tag_join(alias), alias.c.key == field.key))
        column: ColumnElement[Any] = alias.c.value
        missing = alias.c.value.is_(None)
    else:
        attribute = spec.columns[field.key]
        column = attribute
        missing = attribute.is_(None) if attribute.nullable else None
    if not field.is_numeric:
        column = _code_point_order(column)
    terms: list[ColumnElement[Any]] = []
    if missing is not None:
        terms.append(sa.case((missing, 1), else_=0).asc())
    terms.append(column.desc() if key.descending else column.asc())
    return from_clause, terms
