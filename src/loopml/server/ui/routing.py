"""The router every UI module makes its pages on: under ``/ui``, outside the API's schema."""

from __future__ import annotations

from fastapi import APIRouter

from ..permissions import UI_PREFIX

__all__ = ["ui_router"]


def ui_router() -> APIRouter:
    """A router whose paths start with ``/ui`` (given in full on the route, as the permission
    checks read them), hidden from the OpenAPI schema."""
    return APIRouter(prefix=UI_PREFIX, include_in_schema=False)
