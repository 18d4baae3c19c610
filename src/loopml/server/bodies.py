"""Request bodies: JSON objects read into frozen dataclasses (entities or request shapes)
with :func:`loopml.codec.decode`; every problem is InvalidInput naming the field."""

from __future__ import annotations

import dataclasses
import functools
import typing
from typing import Any, TypeVar

import orjson
from fastapi import Body, Request

from .. import codec
from ..errors import InvalidInput

__all__ = ["JSON_OBJECT_BODY", "JsonBody", "OptionalJsonBody", "body_as", "read_json_object"]

T = TypeVar("T")

#: A JSON object body (FastAPI parses it; a body that is not an object is a 400 naming ``body``).
JsonBody = typing.Annotated[dict[str, Any], Body()]
#: The same, for endpoints whose body may be left out.
OptionalJsonBody = typing.Annotated[dict[str, Any] | None, Body()]
#: ``openapi_extra`` of an endpoint that reads its body with :func:`read_json_object`: the
#: OpenAPI schema then documents a JSON object body, as for ``JsonBody``.
JSON_OBJECT_BODY: dict[str, Any] = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}
}


async def read_json_object(request: Request, what: str = "the request body") -> dict[str, Any]:
    """The body as a JSON object, parsed with orjson: for the hot endpoints, where FastAPI's own
    body handling (``JsonBody``: parsing, validation, dependency solving) costs ~50 us a request.
    Not JSON, or not an object: InvalidInput naming the body."""
    raw = await request.body()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"{what} is not a JSON object: {exc}", field="body") from None
    if not isinstance(body, dict):
        raise InvalidInput(f"{what} must be a JSON object, got {type(body).__name__}", field="body")
    return body


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
