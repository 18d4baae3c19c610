"""``/ui/``: where the UI starts — the experiments list."""

from __future__ import annotations

from fastapi.responses import RedirectResponse

from ...permissions import UI_PREFIX
from ..routing import ui_router

__all__ = ["router"]

router = ui_router()


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse(f"{UI_PREFIX}/experiments", status_code=307)
