"""The UI's flows pages."""

from __future__ import annotations

from ..routing import ui_router

__all__ = ["router"]

router = ui_router()
