"""The web UI of ``loopml server`` (and ``loopml ui``): server-rendered Jinja2 pages under
``/ui``, a little hand-written JavaScript, charts drawn by plotly's bundled ``plotly.min.js``,
every asset served by loopml itself (works offline).

Pages read through the same Store as the REST API (as the signed-in user sees it); the actions a
page offers (a stage transition, an alias move) call the REST API, which enforces permissions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["UI_PREFIX", "install_ui"]

#: Where the pages live; ``/`` redirects here.
UI_PREFIX = "/ui"


def install_ui(app: FastAPI) -> None:
    """Add the pages, the assets and the sign-in page to ``app`` (needs the ``ui`` extra)."""
    from fastapi.responses import RedirectResponse

    from ...errors import MissingExtra
    from .templating import create_environment

    app.state.ui_gzip = {}  # compressed assets of this app (assets.py)
    try:
        app.state.ui_templates = create_environment()
    except ImportError as exc:
        raise MissingExtra("ui", module=exc.name or "jinja2") from None
    from .assets import router as assets
    from .pages import ROUTERS
    from .session import router as session

    for router in (assets, session, *ROUTERS):
        app.include_router(router)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(UI_PREFIX + "/", status_code=307)
