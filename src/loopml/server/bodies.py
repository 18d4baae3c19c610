"""Request bodies: JSON objects read into frozen dataclasses (entities or request shapes)
with :func:`loopml.codec.decode`; every problem is InvalidInput naming the field."""

from __future__ import annotations

import dataclasses
import functools
import typing
from typing import Any, TypeVar

from fastapi import Body

from .. import codec
from ..errors import InvalidInput

__all__ = ["JsonBody", "OptionalJsonBody", "body_as"]

T = TypeVar("T")

#: A JSON object body (FastAPI parses it; a body that is not an object is a 400 naming ``body``).
JsonBody = typing.Annotated[dict[str, Any], Body()]
#: The same, for endpoints whose body may be left out.
OptionalJsonBody = typing.Annotated[dict[str, Any] | None, Body()]


@functools.cache
def _hints(kind: type) -> dict[str, Any]:
    return typing.get_type_hints(kind)


def body_as(kind: type[T], body: dict[str, Any], what: str = "the request body") -> T:
    """``body`` as an instance of the dataclass ``kind``: missing and unknown fields, and values
    of the wrong type, are InvalidInput naming the field."""
    fields = {f.name: f for f in dataclasses.fields(kind)}  # type: ignore[arg-type]
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise InvalidInput(
            f"{what} has unknown field(s) {', '.join(map(repr, unknown))}; expected: {', '.join(fields)}",
            fields=unknown,
        )
    missing = [
        name
        for name, f in fields.items()
        if name not in body and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise InvalidInput(f"{what} lacks the field(s) {', '.join(map(repr, missing))}", fields=missing)
    hints = _hints(typing.cast(type, kind))
    values = {}
    for name, value in body.items():
        try:
            values[name] = codec.decode(hints[name], value)
        except InvalidInput as exc:
            raise InvalidInput(f"field {name!r} of {what}: {exc.message}", field=name) from None
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise InvalidInput(
                f"field {name!r} of {what} has a value of the wrong shape: {value!r:.200} ({exc})", field=name
            ) from None
    return kind(**values)
