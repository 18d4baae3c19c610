"""Checks on every name and value before anything is written (the edge of the store)."""

from __future__ import annotations

import functools
import numbers
import operator
import re
from collections.abc import Mapping
from typing import Any

from ..errors import InvalidInput

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_NAME_LENGTH = 250
MAX_BATCH_SIZE = 100_000
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # the range of every integer column

_KEY_RE = re.compile(r"^[A-Za-z0-9_\-. /:]+$")


@functools.lru_cache(maxsize=4096)
def is_valid_key(key: str) -> bool:
    """Whether ``key`` passes :func:`check_key` (cached: keys repeat)."""
    return (
        0 < len(key) <= MAX_KEY_LENGTH
        and _KEY_RE.match(key) is not None
        and not key.startswith("/")
        and ".." not in key.split("/")
    )


def check_key(key: Any, what: str = "key") -> str:
    """Keys: 1-250 of letters, digits, ``_ - . / : space``; no ``..`` segment, no leading ``/``."""
    if type(key) is str and is_valid_key(key):  # the hot path: a key seen before
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
    """``value`` as an int that fits a 64-bit integer column."""
    if type(value) is int:
        number = value
    elif isinstance(value, bool):
        raise InvalidInput(f"{name} must be an integer, got {value!r}")
    else:
        try:
            number = operator.index(value)
        except TypeError:
            raise InvalidInput(f"{name} must be an integer, got {value!r} ({type(value).__name__})") from None
    if not INT64_MIN <= number <= INT64_MAX:
        raise InvalidInput(f"{name} must fit a 64-bit integer, got {number}")
    return number


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


_ALIAS_RE = re.compile(r"[A-Za-z_-][A-Za-z0-9_-]*")
_VERSION_FORM_RE = re.compile(r"[vV]\d+")


def check_model_name(name: Any) -> str:
    """Registered model names: 1-250 characters, no ``/`` or ``@`` (they end a name in ``models:/`` URIs)."""
    check_name(name, "registered model name")
    if "/" in name or "@" in name or name != name.strip():
        raise InvalidInput(
            f"registered model name {name!r} must not contain '/' or '@' nor start or end with a space",
            name=name,
        )
    return str(name)


def check_alias(alias: Any) -> str:
    """Aliases: letters, digits, ``_`` and ``-``, not starting with a digit, not ``latest`` or ``v<n>``."""
    if not isinstance(alias, str) or not _ALIAS_RE.fullmatch(alias) or len(alias) > MAX_NAME_LENGTH:
        raise InvalidInput(
            f"invalid alias {alias!r}: use letters, digits, '_' and '-', not starting with a digit "
            f"(at most {MAX_NAME_LENGTH} characters)",
            alias=repr(alias),
        )
    if alias.lower() == "latest" or _VERSION_FORM_RE.fullmatch(alias):
        raise InvalidInput(
            f"invalid alias {alias!r}: 'latest' and v<number> are reserved for versions in models:/ URIs",
            alias=alias,
        )
    return alias


def model_version(version: Any) -> int:
    """A version number: a positive integer (or its text, as typed on a command line)."""
    if isinstance(version, str) and version.strip().isdigit():
        version = int(version)
    number = integer("version", version)
    if number < 1:
        raise InvalidInput(f"version must be a positive integer, got {version!r}", version=repr(version))
    return number


_EVENT_TYPE_RE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
#: Event types the registry writes itself, with its audit history: nobody else may add them.
_REGISTRY_EVENT_PREFIXES = ("registered_model.", "model_version.", "model_alias.")
MAX_EVENT_PAYLOAD_BYTES = 64 * 1024


def event_type(kind: Any) -> str:
    """An event type: dotted lowercase words (``drift.detected``), not one the registry writes."""
    if not isinstance(kind, str) or len(kind) > 64 or not _EVENT_TYPE_RE.fullmatch(kind):
        raise InvalidInput(
            f"invalid event type {kind!r}: use dotted lowercase words such as 'drift.detected' "
            "(at most 64 characters)",
            type=repr(kind),
        )
    if kind.startswith(_REGISTRY_EVENT_PREFIXES):
        raise InvalidInput(f"event type {kind!r} is the registry's own: it records it with each change")
    return kind


def event_payload(payload: Any) -> dict[str, Any]:
    """An event's payload: a JSON object of at most :data:`MAX_EVENT_PAYLOAD_BYTES` bytes."""
    import orjson

    if not isinstance(payload, Mapping):
        raise InvalidInput(f"an event payload must be a JSON object, got {type(payload).__name__}")
    try:
        text = orjson.dumps(dict(payload), option=orjson.OPT_SERIALIZE_NUMPY)
    except TypeError as e:
        raise InvalidInput(f"an event payload must be JSON: {e}") from None
    if len(text) > MAX_EVENT_PAYLOAD_BYTES:
        raise InvalidInput(
            f"an event payload has {len(text)} bytes; the limit is {MAX_EVENT_PAYLOAD_BYTES}", size=len(text)
        )
    body: dict[str, Any] = orjson.loads(text)
    return body
