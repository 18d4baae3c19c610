"""The run-search filter language, parsed into a small immutable AST.

A filter reads like the WHERE clause of SQL over a run's fields::

    metrics.accuracy > 0.9 and params.model = 'cnn' and tags.`team name` ILIKE 'vision%'

Grammar (keywords are case-insensitive, ``and`` binds tighter than ``or``)::

    filter     := or_expr | <empty>
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := primary ("and" primary)*
    primary    := "(" or_expr ")" | comparison
    comparison := field op value
    field      := prefix "." key | prefix "." quoted_key | attribute
    op         := "=" | "!=" | "<" | "<=" | ">" | ">=" | "IN" | "NOT IN" | "LIKE" | "ILIKE"
    value      := literal | "(" literal ("," literal)* ")"      (the list only after IN / NOT IN)

This module only parses; it imports nothing heavy. A backend compiles the AST
(:mod:`loopml.store.sql.query` for SQL). Every error is an :class:`~loopml.errors.InvalidFilter`
naming the 0-based position of the offending token and what was expected there.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from dataclasses import field as _field
from typing import Literal, NoReturn

from loopml.errors import InvalidFilter

__all__ = [
    "ATTRIBUTES",
    "DATASET_FIELDS",
    "NUMERIC_ATTRIBUTES",
    "OPERATORS",
    "RUN_KEY_KINDS",
    "And",
    "Comparison",
    "Expr",
    "Field",
    "Or",
    "OrderKey",
    "parse_filter",
    "parse_order_by",
]

FieldKind = Literal["metric", "param", "tag", "attribute", "dataset"]

#: Run attributes a filter or an order_by may name (bare or as ``attributes.<name>``).
ATTRIBUTES = frozenset(
    {
        "run_id",
        "run_name",
        "status",
        "start_time",
        "end_time",
        "user_id",
        "experiment_id",
        "artifact_uri",
        "parent_run_id",
        "source",
    }
)
#: Attributes holding numbers (milliseconds since the epoch); all others are strings.
NUMERIC_ATTRIBUTES = frozenset({"start_time", "end_time"})

_ATTRIBUTE_ALIASES = {"name": "run_name"}
_PREFIXES: dict[str, FieldKind] = {
    "metrics": "metric",
    "metric": "metric",
    "params": "param",
    "param": "param",
    "tags": "tag",
    "tag": "tag",
    "attributes": "attribute",
    "attribute": "attribute",
    "attr": "attribute",
    "datasets": "dataset",
    "dataset": "dataset",
}

#: What ``datasets.<field>`` may name: a run matches when one of its inputs has the value.
DATASET_FIELDS = frozenset({"name", "digest", "context"})

#: The comparison operators, as normalized in :attr:`Comparison.op`.
OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN", "LIKE", "ILIKE")
_LIST_OPS = frozenset({"IN", "NOT IN"})
_PATTERN_OPS = frozenset({"LIKE", "ILIKE"})
_KEYWORDS = frozenset({"and", "or", "in", "not", "like", "ilike"})

_EXPECT_FIELD = "a field: metrics.<key>, params.<key>, tags.<key> or an attribute such as status"
_EXPECT_OP = "a comparison operator (=, !=, <, <=, >, >=, IN, NOT IN, LIKE, ILIKE)"
_EXPECT_VALUE = "a value: a quoted string or a number"
_EXPECT_NUMBER = "a number"
_EXPECT_STRING = "a quoted string"
_EXPECT_KEY = "a key such as metrics.loss, or a key in backticks or double quotes: metrics.`val loss`"


@dataclass(frozen=True, slots=True)
class Field:
    """What a comparison or a sort looks at: ``Field("metric", "loss")``, ``Field("attribute", "status")``."""

    kind: FieldKind
    key: str
    #: set by the parser for an attribute of a caller's numeric set (``version`` of model versions)
    numeric: bool = _field(default=False, compare=False)

    @property
    def is_numeric(self) -> bool:
        """Metrics and the time attributes compare as numbers; everything else as strings."""
        return (
            self.numeric
            or self.kind == "metric"
            or (self.kind == "attribute" and self.key in NUMERIC_ATTRIBUTES)
        )


#: The key prefixes a run search accepts (``datasets.<field>`` in filters only, never in order_by).
RUN_KEY_KINDS: frozenset[FieldKind] = frozenset({"metric", "param", "tag", "dataset"})


@dataclass(frozen=True, slots=True)
class _Fields:
    """What a search may name: its attributes, which of them are numbers, its key prefixes."""

    attributes: frozenset[str] = ATTRIBUTES
    numeric: frozenset[str] = NUMERIC_ATTRIBUTES
    key_kinds: frozenset[FieldKind] = RUN_KEY_KINDS


def _fields(
    attributes: Collection[str] | None,
    numeric_attributes: Collection[str] | None,
    key_kinds: Collection[FieldKind] | None,
) -> _Fields:
    return _Fields(
        ATTRIBUTES if attributes is None else frozenset(attributes),
        NUMERIC_ATTRIBUTES if numeric_attributes is None else frozenset(numeric_attributes),
        RUN_KEY_KINDS if key_kinds is None else frozenset(key_kinds),
    )


@dataclass(frozen=True, slots=True)
class Comparison:
    """``field op value``; ``op`` is upper case, ``value`` a tuple for IN and NOT IN.

    Numeric fields carry floats, string fields carry strings (a bare number compared with a
    param, a tag or a string attribute becomes its text as written: ``5`` is ``"5"``).
    """

    field: Field
    op: str
    value: float | str | tuple[float | str, ...]


@dataclass(frozen=True, slots=True)
class And:
    """All of ``items`` hold (at least two items; nested ANDs are flattened)."""

    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """Any of ``items`` holds (at least two items; nested ORs are flattened)."""

    items: tuple[Expr, ...]


Expr = Comparison | And | Or


@dataclass(frozen=True, slots=True)
class OrderKey:
    """One ``order_by`` item: ``metrics.loss DESC`` is ``OrderKey(Field("metric", "loss"), True)``."""

    field: Field
    descending: bool


# --------------------------------------------------------------------------- tokens

TokenKind = Literal["word", "string", "number", "op", "(", ")", ",", "end"]


@dataclass(frozen=True, slots=True)
class _Token:
    kind: TokenKind
    text: str  # a string's value without quotes; a number or a word as written
    pos: int
    end: int
    quote: str = ""  # the quote character of a string token

    def describe(self) -> str:
        if self.kind == "end":
            return "end of filter"
        if self.kind == "string":
            return f"string {self.quote}{self.text}{self.quote}"
        return repr(self.text)


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-/]*")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_NUMBER_TAIL = re.compile(r"[A-Za-z0-9_.]")
_OPERATOR = re.compile(r"==|!=|<=|>=|=|<|>")
_QUOTES = "'\"`"
_PUNCTUATION: dict[str, TokenKind] = {"(": "(", ")": ")", ",": ","}


def _fail(text: str, position: int, message: str, expected: str = "") -> NoReturn:
    raise InvalidFilter(message, filter_string=text, position=position, expected=expected)


def _read_quoted(text: str, start: int) -> tuple[str, int]:
    """The unescaped content of the quoted run starting at ``start``, and the offset after it.

    A backslash escapes the quote character and a backslash; any other backslash stays as
    it is, so LIKE patterns keep their ``\\%`` and ``\\_``.
    """
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in (quote, "\\"):
            out.append(text[i + 1])
            i += 2
        elif ch == quote:
            return "".join(out), i + 1
        elif ch == "\0":
            _fail(text, i, "NUL character inside quoted text")
        else:
            out.append(ch)
            i += 1
    _fail(text, start, "unterminated quoted text", f"a closing {quote}")


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in _PUNCTUATION:
            tokens.append(_Token(_PUNCTUATION[ch], ch, i, i + 1))
            i += 1
        elif ch in _QUOTES:
            value, end = _read_quoted(text, i)
            tokens.append(_Token("string", value, i, end, quote=ch))
            i = end
        elif m := _OPERATOR.match(text, i):
            if m.group() == "==":
                _fail(text, i, "unknown operator '=='", "'=' to test equality")
            tokens.append(_Token("op", m.group(), i, m.end()))
            i = m.end()
        elif m := _WORD.match(text, i):
            tokens.append(_Token("word", m.group(), i, m.end()))
            i = m.end()
        elif m := _NUMBER.match(text, i):
            if m.end() < n and _NUMBER_TAIL.match(text, m.end()):
                _fail(text, i, "malformed number", _EXPECT_NUMBER)
            tokens.append(_Token("number", m.group(), i, m.end()))
            i = m.end()
        else:
            _fail(text, i, f"unexpected character {ch!r}", _EXPECT_FIELD if not tokens else "")
    tokens.append(_Token("end", "", n, n))
    return tokens


# --------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, text: str, fields: _Fields) -> None:
        self.text = text
        self.fields = fields
        self.tokens = _tokenize(text)
        self.i = 0

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def kind(self) -> TokenKind:
        return self.tokens[self.i].kind

    def advance(self) -> _Token:
        tok = self.tokens[self.i]
        if tok.kind != "end":
            self.i += 1
        return tok

    def fail(self, tok: _Token, message: str, expected: str = "") -> NoReturn:
        _fail(self.text, tok.pos, message, expected)

    def at_keyword(self, *words: str) -> bool:
        return self.kind() == "word" and self.tok.text.lower() in words

    # ---- boolean structure

    def parse_or(self) -> Expr:
        items = [self.parse_and()]
        while self.at_keyword("or"):
            self.advance()
            items.append(self.parse_and())
        return _combine(Or, items)

    def parse_and(self) -> Expr:
        items = [self.parse_primary()]
        while self.at_keyword("and"):
            self.advance()
            items.append(self.parse_primary())
        return _combine(And, items)

    def parse_primary(self) -> Expr:
        if self.kind() == "(":
            opening = self.advance()
            expr = self.parse_or()
            if self.kind() != ")":
                if self.kind() == "end":
                    self.fail(self.tok, f"unbalanced '(' (opened at offset {opening.pos})", "')'")
                self.fail(self.tok, f"unexpected {self.tok.describe()}", "'and', 'or' or ')'")
            self.advance()
            return expr
        return self.parse_comparison()

    # ---- comparisons

    def parse_comparison(self) -> Comparison:
        field = self.parse_field()
        op_tok = self.tok
        op = self.parse_operator()
        if op in _PATTERN_OPS and field.is_numeric:
            self.fail(
                op_tok,
                f"{op} does not apply to the number {_describe(field)}",
                "=, !=, <, <=, >, >=, IN or NOT IN",
            )
        if op in _LIST_OPS:
            value: float | str | tuple[float | str, ...] = self.parse_list(field, op)
        else:
            if self.kind() == "(":
                self.fail(self.tok, f"a list of values needs IN or NOT IN, not {op}", _EXPECT_VALUE)
            value = self.parse_literal(field, op)
        return Comparison(field, op, value)

    def parse_operator(self) -> str:
        tok = self.tok
        if tok.kind == "op":
            self.advance()
            return tok.text
        if self.at_keyword("in", "like", "ilike"):
            self.advance()
            return tok.text.upper()
        if self.at_keyword("not"):
            self.advance()
            if not self.at_keyword("in"):
                self.fail(self.tok, f"unexpected {self.tok.describe()} after NOT", "IN")
            self.advance()
            return "NOT IN"
        self.fail(tok, f"unexpected {tok.describe()}", _EXPECT_OP)

    def parse_list(self, field: Field, op: str) -> tuple[float | str, ...]:
        if self.kind() != "(":
            self.fail(self.tok, f"{op} needs a parenthesized list of values", "'(' starting a list of values")
        self.advance()
        if self.kind() == ")":
            self.fail(self.tok, f"the list after {op} is empty", _EXPECT_VALUE)
        values = [self.parse_literal(field, op)]
        while self.kind() == ",":
            self.advance()
            values.append(self.parse_literal(field, op))
        if self.kind() != ")":
            self.fail(self.tok, f"unexpected {self.tok.describe()} in the list after {op}", "',' or ')'")
        self.advance()
        return tuple(values)

    def parse_literal(self, field: Field, op: str) -> float | str:
        tok = self.tok
        if tok.kind not in ("string", "number"):
            self.fail(tok, f"unexpected {tok.describe()}", _EXPECT_VALUE)
        self.advance()
        if tok.quote == "`":
            self.fail(tok, "backticks quote keys, not values", "a value in single or double quotes")
        if field.is_numeric:
            if tok.kind == "string":
                self.fail(
                    tok,
                    f"{_describe(field)} is a number and cannot be compared with a {tok.describe()}",
                    "a number",
                )
            return float(tok.text)
        if op in _PATTERN_OPS and tok.kind == "string" and _ends_with_escape(tok.text):
            self.fail(
                tok,
                f"the {op} pattern ends with an escaping backslash, which has nothing to escape",
                "four backslashes at the end of the quoted pattern to match one backslash",
            )
        if tok.kind == "number":
            if op in _PATTERN_OPS:
                self.fail(tok, f"{op} needs a quoted pattern", _EXPECT_STRING)
            if op not in ("=", "!=", "IN", "NOT IN"):
                kinds = {
                    "param": "params are strings",
                    "tag": "tags are strings",
                    "dataset": "dataset fields are strings",
                }
                self.fail(
                    tok,
                    f"{kinds.get(field.kind, 'a string attribute')}: "
                    f"{op} compares {_describe(field)} as text, not as a number",
                    f"a quoted string such as '{tok.text}'",
                )
        return tok.text

    # ---- fields

    def parse_field(self) -> Field:
        tok = self.tok
        if tok.kind != "word" or tok.text.lower() in _KEYWORDS:
            self.fail(tok, f"unexpected {tok.describe()}", _EXPECT_FIELD)
        self.advance()
        prefix, dot, key = tok.text.partition(".")
        if not dot:
            return self.attribute(tok, tok.text, tok.pos)
        kind = _PREFIXES.get(prefix.lower())
        if kind is None:
            self.fail(
                tok,
                f"unknown field prefix {prefix!r}",
                "metrics., params., tags. or attributes. before the key",
            )
        key_pos = tok.pos + len(prefix) + 1
        if not key:
            nxt = self.tok
            if nxt.kind != "string" or nxt.pos != tok.end or nxt.quote == "'":
                _fail(self.text, tok.end, f"missing key after {tok.text!r}", _EXPECT_KEY)
            self.advance()
            key, key_pos = nxt.text, nxt.pos
            if not key:
                self.fail(nxt, "empty key", _EXPECT_KEY)
        if kind == "attribute":
            return self.attribute(tok, key, key_pos)
        if kind not in self.fields.key_kinds:
            self.fail(tok, f"{prefix}.<key> is not searchable here", self.key_prefixes() + " before the key")
        if kind == "dataset" and key not in DATASET_FIELDS:
            _fail(
                self.text,
                key_pos,
                f"unknown dataset field {key!r}",
                "datasets.name, datasets.digest or datasets.context",
            )
        return Field(kind, key)

    def key_prefixes(self) -> str:
        names = {"metric": "metrics.", "param": "params.", "tag": "tags.", "dataset": "datasets."}
        kinds = ("metric", "param", "tag", "dataset")
        return ", ".join(names[k] for k in kinds if k in self.fields.key_kinds)

    def attribute(self, tok: _Token, name: str, pos: int) -> Field:
        attributes = self.fields.attributes
        aliases = {a: k for a, k in _ATTRIBUTE_ALIASES.items() if k in attributes and a not in attributes}
        key = aliases.get(name.lower(), name.lower())
        if key not in attributes:
            expected = "one of the attributes " + ", ".join(sorted({*attributes, *aliases}))
            if tok.text == name:  # a bare word: perhaps a key without its prefix
                names = {"metric": "metrics", "param": "params", "tag": "tags"}
                keys = [
                    f"{names[k]}.{name}" for k in ("metric", "param", "tag") if k in self.fields.key_kinds
                ]
                if keys:
                    listed = ", ".join(keys[:-1]) + " or " + keys[-1] if len(keys) > 1 else keys[0]
                    expected += f", or a key such as {listed}"
            _fail(self.text, pos, f"unknown attribute {name!r}", expected)
        return Field("attribute", key, numeric=key in self.fields.numeric)

    def expect_end(self, expected: str) -> None:
        if self.kind() != "end":
            if self.kind() == ")":
                self.fail(self.tok, "unbalanced ')'", expected)
            self.fail(self.tok, f"unexpected {self.tok.describe()}", expected)


def _ends_with_escape(pattern: str) -> bool:
    return (len(pattern) - len(pattern.rstrip("\\"))) % 2 == 1


def _describe(field: Field) -> str:
    prefix = {
        "metric": "metrics",
        "param": "params",
        "tag": "tags",
        "attribute": "attribute",
        "dataset": "datasets",
    }[field.kind]
    return f"{prefix}.{field.key}" if field.kind != "attribute" else f"attribute {field.key}"


def _combine(cls: type[And] | type[Or], items: list[Expr]) -> Expr:
    if len(items) == 1:
        return items[0]
    flat: list[Expr] = []
    for item in items:
        flat.extend(item.items if isinstance(item, cls) else (item,))
    return cls(tuple(flat))


def parse_filter(
    text: str | None,
    *,
    attributes: Collection[str] | None = None,
    numeric_attributes: Collection[str] | None = None,
    key_kinds: Collection[FieldKind] | None = None,
) -> Expr | None:
    """Parse a search filter; ``None`` for an empty or blank one (no filtering).

    ``attributes`` (and its subset ``numeric_attributes``) and ``key_kinds`` say what the
    filter may name; the defaults are a run search's (registry searches pass their own).
    Raises :class:`~loopml.errors.InvalidFilter` naming the position of the problem.
    """
    if text is None or not text.strip():
        return None
    parser = _Parser(text, _fields(attributes, numeric_attributes, key_kinds))
    expr = parser.parse_or()
    parser.expect_end("'and', 'or' or the end of the filter")
    return expr


def parse_order_by(
    items: Sequence[str] | None,
    *,
    attributes: Collection[str] | None = None,
    numeric_attributes: Collection[str] | None = None,
    key_kinds: Collection[FieldKind] | None = None,
) -> list[OrderKey]:
    """Parse ``order_by`` items such as ``"metrics.loss DESC"``, ``"start_time"``, ``"params.`a b` ASC"``.

    Each item is a field and an optional ``ASC`` (the default) or ``DESC``. An error names the
    item (as the filter string) and the position inside it.
    """
    fields = _fields(attributes, numeric_attributes, key_kinds)
    keys: list[OrderKey] = []
    for item in items or ():
        if not item.strip():
            _fail(item, 0, "empty order_by item", _EXPECT_FIELD)
        parser = _Parser(item, fields)
        start = parser.tok
        field = parser.parse_field()
        if field.kind == "dataset":
            parser.fail(
                start,
                "a run may use several datasets: datasets.<field> filters runs but cannot sort them",
                "metrics.<key>, params.<key>, tags.<key> or an attribute",
            )
        descending = False
        if parser.at_keyword("asc", "desc"):
            descending = parser.advance().text.lower() == "desc"
        parser.expect_end("ASC, DESC or the end of the order_by item")
        keys.append(OrderKey(field, descending))
    return keys
