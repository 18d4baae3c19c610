"""The run-search filter language: what parses to what, and the errors (with positions) for what does not."""

from __future__ import annotations

import operator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopml.errors import InvalidFilter, InvalidInput
from loopml.store.filter import (
    ATTRIBUTES,
    And,
    Comparison,
    Expr,
    Field,
    Or,
    OrderKey,
    parse_filter,
    parse_order_by,
)
from loopml.store.paging import decode_page_token, encode_page_token


def M(key: str) -> Field:
    return Field("metric", key)


def P(key: str) -> Field:
    return Field("param", key)


def T(key: str) -> Field:
    return Field("tag", key)


def A(key: str) -> Field:
    return Field("attribute", key)


def parse(text: str) -> Expr:
    expr = parse_filter(text)
    assert expr is not None
    return expr


def error(text: str) -> InvalidFilter:
    with pytest.raises(InvalidFilter) as info:
        parse_filter(text)
    return info.value


# --------------------------------------------------------------------------- what parses


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t"])
def test_empty_filter_is_no_filter(text: str | None) -> None:
    assert parse_filter(text) is None


@pytest.mark.parametrize(
    ("text", "op", "value"),
    [
        ("metrics.acc = 0.5", "=", 0.5),
        ("metrics.acc != 0.5", "!=", 0.5),
        ("metrics.acc < 1", "<", 1.0),
        ("metrics.acc <= 1", "<=", 1.0),
        ("metrics.acc > -2", ">", -2.0),
        ("metrics.acc >= 1e-3", ">=", 0.001),
        ("metrics.acc IN (1, 2.5)", "IN", (1.0, 2.5)),
        ("metrics.acc not in (1)", "NOT IN", (1.0,)),
    ],
)
def test_metric_operators(text: str, op: str, value: object) -> None:
    assert parse(text) == Comparison(M("acc"), op, value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "op", "value"),
    [
        ("params.opt = 'adam'", "=", "adam"),
        ('params.opt != "adam"', "!=", "adam"),
        ("params.opt < 'b'", "<", "b"),
        ("params.opt <= 'b'", "<=", "b"),
        ("params.opt > 'b'", ">", "b"),
        ("params.opt >= 'b'", ">=", "b"),
        ("params.opt IN ('a', \"b\")", "IN", ("a", "b")),
        ("params.opt NOT IN ('a')", "NOT IN", ("a",)),
        ("params.opt LIKE 'ad%'", "LIKE", "ad%"),
        ("params.opt ILIKE 'AD_M'", "ILIKE", "AD_M"),
        ("params.opt like 'a'", "LIKE", "a"),
        ("params.opt iLike 'a'", "ILIKE", "a"),
        ("params.opt Not In ('a')", "NOT IN", ("a",)),
    ],
)
def test_param_operators(text: str, op: str, value: object) -> None:
    assert parse(text) == Comparison(P("opt"), op, value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("params.depth = 5", "5"),
        ("params.depth = 5.0", "5.0"),
        ("params.depth = -1e3", "-1e3"),
        ("params.depth = '5'", "5"),
    ],
)
def test_bare_number_on_param_means_its_text(text: str, value: str) -> None:
    assert parse(text) == Comparison(P("depth"), "=", value)


def test_bare_numbers_in_param_lists_keep_their_text() -> None:
    assert parse("tags.n IN (1, '2', 3.50)") == Comparison(T("n"), "IN", ("1", "2", "3.50"))
    assert parse("params.n NOT IN (07)") == Comparison(P("n"), "NOT IN", ("07",))


@pytest.mark.parametrize(
    ("text", "value"),
    [("1", 1.0), ("+1", 1.0), ("-0.5", -0.5), (".5", 0.5), ("5.", 5.0), ("1E3", 1000.0), ("2.5e+2", 250.0)],
)
def test_number_literals(text: str, value: float) -> None:
    assert parse(f"metrics.m = {text}") == Comparison(M("m"), "=", value)


def test_string_escapes() -> None:
    assert parse(r"tags.t = 'it\'s'") == Comparison(T("t"), "=", "it's")
    assert parse(r'tags.t = "say \"hi\""') == Comparison(T("t"), "=", 'say "hi"')
    assert parse(r"tags.t = 'a\\b'") == Comparison(T("t"), "=", "a\\b")
    # other backslashes stay, so LIKE patterns keep their escapes
    assert parse(r"tags.t LIKE '50\%'") == Comparison(T("t"), "LIKE", "50\\%")
    assert parse("tags.t = 'and or ( ) , = \"'") == Comparison(T("t"), "=", 'and or ( ) , = "')


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("metrics.a.b = 1", M("a.b")),
        ("metric.loss = 1", M("loss")),
        ("metrics.val-loss/x_1 = 1", M("val-loss/x_1")),
        ("metrics.`val loss` = 1", M("val loss")),
        ('metrics."val loss" = 1', M("val loss")),
        ("metrics.`a\\`b` = 1", M("a`b")),
        ("metrics.0 = 1", M("0")),
        ("params.x = '1'", P("x")),
        ("param.x = '1'", P("x")),
        ("params.\"my.param\" = '1'", P("my.param")),
        ("tags.mlflow.runName = '1'", T("mlflow.runName")),
        ("tag.x = '1'", T("x")),
        ("tags.`a b` = '1'", T("a b")),
        ("status = '1'", A("status")),
        ("attributes.status = '1'", A("status")),
        ("attribute.status = '1'", A("status")),
        ("attr.status = '1'", A("status")),
        ("STATUS = '1'", A("status")),
        ("name = '1'", A("run_name")),
        ("attr.name = '1'", A("run_name")),
        ("run_name = '1'", A("run_name")),
        ("attributes.\"user_id\" = '1'", A("user_id")),
        ("start_time > 1", A("start_time")),
    ],
)
def test_fields(text: str, field: Field) -> None:
    expr = parse(text)
    assert isinstance(expr, Comparison)
    assert expr.field == field


@pytest.mark.parametrize("name", sorted(ATTRIBUTES))
def test_every_attribute_parses(name: str) -> None:
    value = "1" if name in ("start_time", "end_time") else "'x'"
    expr = parse(f"{name} = {value}")
    assert isinstance(expr, Comparison)
    assert expr.field == A(name)


def test_time_attributes_are_numbers_and_string_attributes_take_number_text() -> None:
    assert parse("end_time <= 1700000000000") == Comparison(A("end_time"), "<=", 1.7e12)
    assert parse("experiment_id = 0") == Comparison(A("experiment_id"), "=", "0")
    assert parse("run_id IN ('a', 'b')") == Comparison(A("run_id"), "IN", ("a", "b"))


a = Comparison(M("a"), "=", 1.0)
b = Comparison(M("b"), "=", 2.0)
c = Comparison(M("c"), "=", 3.0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.a = 1 and metrics.b = 2", And((a, b))),
        ("metrics.a = 1 AND metrics.b = 2 And metrics.c = 3", And((a, b, c))),
        ("metrics.a = 1 or metrics.b = 2", Or((a, b))),
        ("metrics.a = 1 or metrics.b = 2 and metrics.c = 3", Or((a, And((b, c))))),
        ("metrics.a = 1 and metrics.b = 2 OR metrics.c = 3", Or((And((a, b)), c))),
        ("(metrics.a = 1 or metrics.b = 2) and metrics.c = 3", And((Or((a, b)), c))),
        ("((metrics.a = 1))", a),
        ("(metrics.a = 1 and metrics.b = 2) and metrics.c = 3", And((a, b, c))),
        ("metrics.a=1 and(metrics.b=2)or metrics.c=3", Or((And((a, b)), c))),
    ],
)
def test_boolean_structure_and_precedence(text: str, expected: Expr) -> None:
    assert parse(text) == expected


def test_keys_are_case_sensitive_and_keywords_inside_keys_are_keys() -> None:
    assert parse("metrics.Loss = 1") == Comparison(M("Loss"), "=", 1.0)
    assert parse("metrics.and = 1 and tags.or = 'x'") == And(
        (Comparison(M("and"), "=", 1.0), Comparison(T("or"), "=", "x"))
    )


def test_ast_is_frozen_and_hashable() -> None:
    expr = parse("metrics.a = 1 and params.b IN ('x')")
    assert hash(expr) == hash(parse("metrics.a = 1 and params.b IN ('x')"))
    with pytest.raises(AttributeError):
        expr.items = ()  # type: ignore[misc, union-attr]


# --------------------------------------------------------------------------- errors

OP_EXPECTED = "a comparison operator (=, !=, <, <=, >, >=, IN, NOT IN, LIKE, ILIKE)"


@pytest.mark.parametrize(
    ("text", "position", "in_message", "in_expected"),
    [
        # missing or unknown pieces
        ("metrics.a", 9, "end of filter", OP_EXPECTED),
        ("metrics.a 1", 10, "'1'", OP_EXPECTED),
        ("metrics.a == 1", 10, "'=='", "'=' to test equality"),
        ("metrics.a =", 11, "end of filter", "a quoted string or a number"),
        ("metrics.a = and", 12, "'and'", "a quoted string or a number"),
        ("metrics.a NOT 1", 14, "after NOT", "IN"),
        ("metrics.a = (1)", 12, "needs IN or NOT IN", "a value"),
        ("= 1", 0, "'='", "a field"),
        ("and metrics.a = 1", 0, "'and'", "a field"),
        ("'x' = 1", 0, "string 'x'", "a field"),
        ("foo.a = 1", 0, "unknown field prefix 'foo'", "metrics., params., tags."),
        ("metrics. = 1", 8, "missing key after 'metrics.'", "a key"),
        ("metrics.'a' = 1", 8, "missing key", "backticks or double quotes"),
        ("metrics.`` = 1", 8, "empty key", "a key"),
        ("acc > 1", 0, "unknown attribute 'acc'", "or a key such as metrics.acc, params.acc or tags.acc"),
        ("attributes.bogus = 'x'", 11, "unknown attribute 'bogus'", "run_name"),
        ("status = `x`", 9, "backticks quote keys", "single or double quotes"),
        # trailing garbage and parentheses
        ("metrics.a = 1 metrics.b = 2", 14, "'metrics.b'", "'and', 'or' or the end of the filter"),
        ("metrics.a = 1 and", 17, "end of filter", "a field"),
        ("metrics.a = 1)", 13, "unbalanced ')'", "the end of the filter"),
        ("(metrics.a = 1", 14, "unbalanced '(' (opened at offset 0)", "')'"),
        ("((metrics.a = 1)", 16, "unbalanced '(' (opened at offset 0)", "')'"),
        ("(metrics.a = 1 metrics.b = 2)", 15, "'metrics.b'", "'and', 'or' or ')'"),
        ("()", 1, "')'", "a field"),
        # lexical errors
        ("tags.t = 'abc", 9, "unterminated", "a closing '"),
        ('tags.t = "abc\\"', 9, "unterminated", 'a closing "'),
        ("metrics.`abc = 1", 8, "unterminated", "a closing `"),
        ("metrics.a = 1 ; drop", 14, "unexpected character ';'", ""),
        ("metrics.a = 1.2.3", 12, "malformed number", "a number"),
        ("metrics.a = 5abc", 12, "malformed number", "a number"),
        ("metrics.a = -", 12, "unexpected character '-'", ""),
        ("tags.t = 'a\0'", 11, "NUL character", ""),
        # lists
        ("params.p IN ()", 13, "the list after IN is empty", "a value"),
        ("params.p NOT IN ()", 17, "the list after NOT IN is empty", "a value"),
        ("params.p IN 'a'", 12, "needs a parenthesized list", "'('"),
        ("params.p IN ('a',)", 17, "')'", "a value"),
        ("params.p IN ('a' 'b')", 17, "in the list after IN", "',' or ')'"),
        ("params.p IN ('a'", 16, "end of filter", "',' or ')'"),
    ],
)
def test_syntax_errors(text: str, position: int, in_message: str, in_expected: str) -> None:
    err = error(text)
    assert err.position == position
    assert in_message in err.message
    assert in_expected in err.expected
    assert f"at position {position}" in err.message
    assert err.details["filter"] == text


@pytest.mark.parametrize(
    ("text", "position", "in_message", "in_expected"),
    [
        ("metrics.a = 'x'", 12, "metrics.a is a number and cannot be compared with a string 'x'", "a number"),
        ("metrics.a IN (1, 'x')", 17, "metrics.a is a number", "a number"),
        ("start_time > '2024-01-01'", 13, "attribute start_time is a number", "a number"),
        (
            "metrics.a LIKE '1%'",
            10,
            "LIKE does not apply to the number metrics.a",
            "=, !=, <, <=, >, >=, IN or NOT IN",
        ),
        ("end_time ILIKE '1%'", 9, "ILIKE does not apply to the number attribute end_time", "=, !="),
        ("params.depth < 5", 15, "params are strings: < compares params.depth as text", "a quoted string"),
        ("params.depth >= 5", 16, "params are strings", "a quoted string such as '5'"),
        ("tags.t > 1", 9, "tags are strings: > compares tags.t as text", "a quoted string such as '1'"),
        ("status <= 1", 10, "a string attribute: <= compares attribute status as text", "'1'"),
        ("params.p LIKE 5", 14, "LIKE needs a quoted pattern", "a quoted string"),
        ("params.p LIKE 'a\\\\'", 14, "ends with an escaping backslash", "four backslashes"),
    ],
)
def test_type_errors(text: str, position: int, in_message: str, in_expected: str) -> None:
    err = error(text)
    assert err.position == position
    assert in_message in err.message
    assert in_expected in err.expected


def test_error_is_an_invalid_input_with_a_pointer() -> None:
    err = error("metrics.a >> 1")
    assert isinstance(err, InvalidInput)
    assert err.http_status == 400
    assert err.message.endswith("metrics.a >> 1\n           ^")


def test_unknown_attribute_lists_the_valid_ones() -> None:
    err = error("attr.colour = 'red'")
    for name in ATTRIBUTES:
        assert name in err.expected


# --------------------------------------------------------------------------- order_by


def test_order_by() -> None:
    assert parse_order_by(None) == []
    assert parse_order_by([]) == []
    assert parse_order_by(
        ["metrics.m1 DESC", "start_time", "params.`a b` ASC", "tags.t desc", "attr.name asc"]
    ) == [
        OrderKey(M("m1"), True),
        OrderKey(A("start_time"), False),
        OrderKey(P("a b"), False),
        OrderKey(T("t"), True),
        OrderKey(A("run_name"), False),
    ]


@pytest.mark.parametrize(
    ("item", "position", "in_message", "in_expected"),
    [
        ("metrics.m1 DOWN", 11, "'DOWN'", "ASC, DESC or the end"),
        ("metrics.m1 DESC ASC", 16, "'ASC'", "ASC, DESC or the end"),
        ("  ", 0, "empty order_by item", "a field"),
        ("DESC", 0, "unknown attribute 'DESC'", "start_time"),
        ("bogus.x", 0, "unknown field prefix 'bogus'", "metrics."),
        ("params.`a b ASC", 7, "unterminated", "a closing `"),
        ("metrics.m1 = 1", 11, "'='", "ASC, DESC"),
    ],
)
def test_order_by_errors(item: str, position: int, in_message: str, in_expected: str) -> None:
    with pytest.raises(InvalidFilter) as info:
        parse_order_by(["start_time", item])
    assert info.value.position == position
    assert in_message in info.value.message
    assert in_expected in info.value.expected
    assert info.value.details["filter"] == item


# --------------------------------------------------------------------------- page tokens


@pytest.mark.parametrize("offset", [0, 1, 1000, 2**40])
def test_page_token_round_trip(offset: int) -> None:
    token = encode_page_token(offset)
    assert token.replace("-", "").replace("_", "").isalnum()
    assert decode_page_token(token) == offset


def test_no_page_token_is_the_first_page() -> None:
    assert decode_page_token(None) == 0
    assert decode_page_token("") == 0


@pytest.mark.parametrize(
    "token",
    [
        "not a token",
        "abc!",
        "x",
        "eyJvZmZzZXQiOi0xfQ",  # {"offset":-1}
        "eyJvZmZzZXQiOiIxIn0",  # {"offset":"1"}
        "eyJvZmZzZXQiOnRydWV9",  # {"offset":true}
        "bnVsbA",  # null
        "e30",  # {}
        "A" * 300,
    ],
)
def test_bad_page_token(token: str) -> None:
    with pytest.raises(InvalidInput, match="invalid page token") as info:
        decode_page_token(token)
    assert repr(token) in info.value.message
    assert info.value.details["page_token"] == token


def test_encode_rejects_negative_offset() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        encode_page_token(-1)


# --------------------------------------------------------------------------- properties

_keys = st.builds(operator.add, st.sampled_from("aZ"), st.text(alphabet="abcXYZ019_.-/", max_size=7))
_quoted_keys = st.text(alphabet="ab c.\"'`\\", min_size=1, max_size=6)
_strings = st.text(alphabet="aZ 0%_\\'\"`()=,é中", max_size=8)
_numbers = st.floats(allow_nan=False, allow_infinity=False, width=64)


@st.composite
def comparisons(draw: st.DrawFn) -> Comparison:
    kind = draw(st.sampled_from(["metric", "param", "tag", "attribute"]))
    if kind == "attribute":
        key = draw(st.sampled_from(sorted(ATTRIBUTES)))
    else:
        key = draw(st.one_of(_keys, _quoted_keys))
    field = Field(kind, key)  # type: ignore[arg-type]
    if field.is_numeric:
        op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN"]))
        literal: st.SearchStrategy[float | str] = _numbers
    else:
        op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN", "LIKE", "ILIKE"]))
        literal = _strings
        if op in ("LIKE", "ILIKE"):
            literal = _strings.filter(lambda s: (len(s) - len(s.rstrip("\\"))) % 2 == 0)
    if op in ("IN", "NOT IN"):
        return Comparison(field, op, tuple(draw(st.lists(literal, min_size=1, max_size=3))))
    return Comparison(field, op, draw(literal))


exprs = st.recursive(
    comparisons(),
    lambda inner: st.one_of(
        st.builds(And, st.lists(inner, min_size=2, max_size=3).map(tuple)),
        st.builds(Or, st.lists(inner, min_size=2, max_size=3).map(tuple)),
    ),
    max_leaves=8,
)


def _quote(text: str, quote: str) -> str:
    return quote + text.replace("\\", "\\\\").replace(quote, "\\" + quote) + quote


def _render_literal(value: float | str) -> str:
    return repr(value) if isinstance(value, float) else _quote(value, "'")


def render(expr: Expr) -> str:
    """Text for an AST, parenthesizing every group, with random keyword case."""
    if isinstance(expr, And):
        return " AnD ".join(f"({render(item)})" for item in expr.items)
    if isinstance(expr, Or):
        return " oR ".join(f"({render(item)})" for item in expr.items)
    prefix = {"metric": "metrics.", "param": "params.", "tag": "tags.", "attribute": ""}[expr.field.kind]
    key = expr.field.key
    if expr.field.kind != "attribute" and not all(ch.isalnum() or ch in "_.-/" for ch in key):
        key = _quote(key, "`")
    value = expr.value
    rendered = (
        "(" + ", ".join(map(_render_literal, value)) + ")"
        if isinstance(value, tuple)
        else _render_literal(value)
    )
    return f"{prefix}{key} {expr.op.lower()} {rendered}"


def _flatten(expr: Expr) -> Expr:
    """The AST the parser builds: nested groups of the same kind merged."""
    if isinstance(expr, Comparison):
        return expr
    items: list[Expr] = []
    for item in map(_flatten, expr.items):
        items.extend(item.items if type(item) is type(expr) else (item,))
    return type(expr)(tuple(items))


@settings(max_examples=60)
@given(exprs)
def test_rendered_filters_parse_back_to_the_same_ast(expr: Expr) -> None:
    assert parse(render(expr)) == _flatten(expr)


@settings(max_examples=30)
@given(comparisons(), comparisons())
def test_and_binds_tighter_than_or(x: Comparison, y: Comparison) -> None:
    text = f"{render(x)} or {render(y)} and {render(x)}"
    assert parse(text) == Or((x, And((y, x))))
    assert parse(f"{render(x)} and {render(y)}") == And((x, y))


@given(st.text(alphabet="metrics.ab ()'\"`=<>!,01.e-+andorinotlike\\%", max_size=40))
def test_any_text_parses_or_fails_with_a_position_inside_it(text: str) -> None:
    try:
        parse_filter(text)
    except InvalidFilter as err:
        position, message = err.position, err.message
    else:
        return
    assert 0 <= position <= len(text)
    assert f"at position {position}" in message
