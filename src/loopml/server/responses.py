"""JSON answers built with :mod:`loopml.codec` (orjson): entities in, bytes out."""

from __future__ import annotations

from typing import Any

from fastapi import Response

from .. import codec

__all__ = ["json_response", "no_content"]


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """``value`` (an entity, a PagedList, a dict of them...) as an ``application/json`` answer."""
    return Response(codec.dumps(value), status_code=status, media_type="application/json", headers=headers)


def no_content() -> Response:
    """``204 No Content``: what a change that returns nothing answers."""
    return Response(status_code=204)
