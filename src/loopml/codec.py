"""Entities as JSON and back: the one wire format of the server and the HTTP store.

:func:`encode` turns any entity (a frozen dataclass, an enum, a :class:`PagedList`, a
:class:`MetricHistory`, and containers of them) into JSON-able values; :func:`decode` reads
them back into the type it is given, driven by the dataclasses' type hints, so a new entity
field travels without new code. Floats that JSON cannot hold (NaN, ±inf) travel as the
strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import math
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from .entities import MetricHistory, PagedList
from .errors import InvalidInput

__all__ = ["decode", "dumps", "encode", "loads"]

_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _float(value: float) -> float | str:
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def encode(value: Any) -> Any:
    """JSON-able values of an entity (or a list, tuple, dict of them)."""
    if value is None or isinstance(value, bool | int | str):
        return value.value if isinstance(value, enum.Enum) else value
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, MetricHistory):
        return {
            "key": value.key,
            "values": [_float(v) for v in value.values],
            "steps": value.steps,
            "timestamps": value.timestamps,
        }
    if isinstance(value, PagedList):
        return {"items": [encode(v) for v in value], "token": value.token}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def decode(kind: Any, data: Any) -> Any:
    """``data`` (from :func:`encode`) read back as ``kind``: an entity class, ``list[X]``,
    ``PagedList[X]``, ``tuple[X, ...]``, ``dict[str, X]``, ``X | None``, an enum or a scalar."""
    if kind is Any or kind is object:
        return data
    origin = typing.get_origin(kind)
    args = typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if data is None:
            return None
        options = [a for a in args if a is not type(None)]
        return decode(options[0], data) if len(options) == 1 else data
    if kind is MetricHistory:
        return MetricHistory(
            data["key"],
            values=[_SPECIAL_FLOATS[v] if isinstance(v, str) else v for v in data["values"]],
            steps=list(data["steps"]),
            timestamps=list(data["timestamps"]),
        )
    if origin is PagedList:
        return PagedList([decode(args[0], v) for v in data["items"]], data.get("token"))
    if origin in (list, Sequence):
        return [decode(args[0] if args else Any, v) for v in data]
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode(args[0], v) for v in data)
        return tuple(decode(a, v) for a, v in zip(args, data, strict=True)) if args else tuple(data)
    if origin in (dict, Mapping):
        value_kind = args[1] if len(args) == 2 else Any
        return {k: decode(value_kind, v) for k, v in data.items()}
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return _decode_dataclass(kind, data)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind(data)
    if kind is float:
        return _SPECIAL_FLOATS[data] if isinstance(data, str) and data in _SPECIAL_FLOATS else float(data)
    if kind is int and isinstance(data, int) and not isinstance(data, bool):
        return data
    if kind is str and isinstance(data, str):
        return data
    if kind is bool and isinstance(data, bool):
        return data
    if kind in (int, str, bool):
        raise InvalidInput(f"expected {kind.__name__}, got {data!r}")
    return data


@functools.cache
def _hints(kind: type) -> dict[str, Any]:
    return typing.get_type_hints(kind)


def _decode_dataclass(kind: type, data: Any) -> Any:
    if not isinstance(data, Mapping):
        raise InvalidInput(f"expected an object for {kind.__name__}, got {type(data).__name__}")
    hints = _hints(kind)
    values = {}
    for f in dataclasses.fields(kind):
        if f.name in data:
            values[f.name] = decode(hints[f.name], data[f.name])
    try:
        return kind(**values)
    except TypeError as exc:
        raise InvalidInput(f"{kind.__name__}: {exc}") from None


def dumps(value: Any) -> bytes:
    """``encode`` then orjson."""
    import orjson

    return orjson.dumps(encode(value))


def loads(kind: Any, text: bytes | str) -> Any:
    """orjson then ``decode``."""
    import orjson

    return decode(kind, orjson.loads(text))
