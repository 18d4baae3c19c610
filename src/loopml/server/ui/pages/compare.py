"""The UI's compare-runs page."""

from __future__ import annotations

from ..routing import ui_router

__all__ = ["router"]

router = ui_router()
