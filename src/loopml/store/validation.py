"""Checks on every name and value before anything is written (the edge of the store)."""

from __future__ import annotations

import functools
import numbers
import operator
import re
from typing import Any

from ..errors import InvalidInput

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_NAME_LENGTH = 250
MAX_BATCH_SIZE = 100_000

_KEY_RE = re.compile(r"^[A-Za-z0-9_\-. /:]+$")


@functools.lru_cache(maxsize=4096)
def _valid_key(key: str) -> bool:
    return (
        0 < len(key) <= MAX_KEY_LENGTH
        and _KEY_RE.match(key) is not None
        and not key.startswith("/")
        and ".." not in key.split("/")
    )


def check_key(key: Any, what: str = "key") -> str:
    """Keys: 1-250 of letters, digits, ``_ - . / : space``; no ``..`` segment, no leading ``/``."""
    if type(key) is str and _valid_key(key):  # the hot path: a key seen before
        return key
    if not isinstance(key, str):
        raise InvalidInput(f"{what} must be a string, got {type(key).__name__} {key!r}", key=repr(key))
    if not key:
        raise InvalidInput(f"{what} must not be empty", key=key)
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            f"{what} {key[:40]!r}... is {len(key)} characters long; the limit is {MAX_KEY_LENGTH}", key=key
        )
    if not _KEY_RE.match(key):
        raise InvalidInput(
            f"{what} {key!r} contains a forbidden character; use letters, digits and _ - . / : or space",
            key=key,
        )
    if key.startswith("/") or ".." in key.split("/"):
        raise InvalidInput(f"{what} {key!r} must not start with '/' or contain a '..' segment", key=key)
    return key


def check_name(name: Any, what: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"{what} must be a non-empty string, got {name!r}", value=repr(name))
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"{what} {name[:40]!r}... is longer than {MAX_NAME_LENGTH} characters")
    return name


def metric_value(key: str, value: Any) -> float:
    """A metric value: any real number (int, float, numpy scalar); bools and strings are refused."""
    if type(value) is float:
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInput(
            f"metric {key!r} got a non-numeric value {value!r} ({type(value).__name__}); metrics are numbers",
            key=key,
            value=repr(value),
        )
    return float(value)


def integer(name: str, value: Any) -> int:
    if type(value) is int:
        return value
    if isinstance(value, bool):
        raise InvalidInput(f"{name} must be an integer, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise InvalidInput(f"{name} must be an integer, got {value!r} ({type(value).__name__})") from None


def param_value(key: str, value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_PARAM_VALUE_LENGTH:
        raise InvalidInput(
            f"param {key!r} value is {len(text)} characters long; the limit is {MAX_PARAM_VALUE_LENGTH}",
            key=key,
        )
    return text


def tag_value(key: str, value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_TAG_VALUE_LENGTH:
        raise InvalidInput(
            f"tag {key!r} value is {len(text)} characters long; the limit is {MAX_TAG_VALUE_LENGTH}", key=key
        )
    return text
