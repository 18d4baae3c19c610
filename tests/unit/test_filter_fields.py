"""parse_filter / parse_order_by with a caller's fields (the registry searches), defaults unchanged."""

from __future__ import annotations

import pytest

from loopml.errors import InvalidFilter
from loopml.store.filter import Comparison, Field, OrderKey, parse_filter, parse_order_by

VERSION_FIELDS = {
    "attributes": {"name", "version", "run_id", "current_stage"},
    "numeric_attributes": {"version"},
    "key_kinds": ("tag",),
}


def test_a_callers_numeric_attribute_compares_as_a_number() -> None:
    expr = parse_filter("version >= 2", **VERSION_FIELDS)
    assert expr == Comparison(Field("attribute", "version"), ">=", 2.0)
    assert isinstance(expr, Comparison) and expr.field.is_numeric
    with pytest.raises(InvalidFilter, match="attribute version is a number"):
        parse_filter("version = '2'", **VERSION_FIELDS)


def test_name_is_the_callers_attribute_not_the_run_name_alias() -> None:
    assert parse_filter("name = 'churn'", **VERSION_FIELDS) == Comparison(
        Field("attribute", "name"), "=", "churn"
    )
    assert parse_filter("name = 'r'") == Comparison(Field("attribute", "run_name"), "=", "r")


def test_only_the_callers_attributes_and_prefixes_are_accepted() -> None:
    with pytest.raises(InvalidFilter, match="unknown attribute 'status'") as info:
        parse_filter("status = 'x'", **VERSION_FIELDS)
    assert "or a key such as tags.status" in info.value.message
    assert "metrics.status" not in info.value.message
    with pytest.raises(InvalidFilter, match=r"metrics.<key> is not searchable here .*expected tags\."):
        parse_filter("metrics.acc > 1", **VERSION_FIELDS)
    with pytest.raises(InvalidFilter, match=r"params\.<key> is not searchable here"):
        parse_order_by(["params.lr"], **VERSION_FIELDS)


def test_order_by_with_a_callers_fields() -> None:
    keys = parse_order_by(["version DESC", "tags.team"], **VERSION_FIELDS)
    assert keys == [OrderKey(Field("attribute", "version"), True), OrderKey(Field("tag", "team"), False)]
    assert keys[0].field.is_numeric and not keys[1].field.is_numeric


def test_dataset_fields_parse_in_run_filters_only() -> None:
    assert parse_filter("datasets.name = 'iris'") == Comparison(Field("dataset", "name"), "=", "iris")
    assert parse_filter("dataset.context IN ('training', 'test')") == Comparison(
        Field("dataset", "context"), "IN", ("training", "test")
    )
    with pytest.raises(InvalidFilter, match="unknown dataset field 'rows'") as info:
        parse_filter("datasets.rows = '3'")
    assert info.value.position == len("datasets.")
    with pytest.raises(InvalidFilter, match="dataset fields are strings"):
        parse_filter("datasets.digest > 5")
    with pytest.raises(InvalidFilter, match="cannot sort"):
        parse_order_by(["datasets.name DESC"])
    with pytest.raises(InvalidFilter, match=r"datasets\.<key> is not searchable here"):
        parse_filter("datasets.name = 'x'", key_kinds=("tag",))
