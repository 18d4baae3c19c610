"""The UI's Jinja2 environment (autoescaped templates from the package) and :func:`render`."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..._version import __version__

if TYPE_CHECKING:
    from fastapi import Request
    from fastapi.responses import HTMLResponse
    from jinja2 import Environment

__all__ = ["create_environment", "error_page", "render"]


def create_environment() -> Environment:
    """The environment of one app: templates from ``loopml/server/ui/templates``, autoescaped."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("loopml.server.ui", "templates"),
        autoescape=select_autoescape(["html", "xml"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        {"when": format_time, "duration": format_duration, "num": format_number, "short": short_id}
    )
    env.globals.update({"version": __version__})
    return env


#: Every page loads only what loopml serves: nothing from another site (an image a Markdown
#: artifact points at elsewhere stays unloaded), and no site may frame the UI.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self' 'unsafe-inline' 'unsafe-eval'; connect-src 'self'; frame-src 'self'; "
        "frame-ancestors 'self'; base-uri 'self'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """``template`` rendered with ``context`` plus what every page uses: the request, the
    signed-in user (None without authentication), whether the server authenticates, the
    UI prefix; an HTML answer with ``status_code``."""
    from fastapi.responses import HTMLResponse

    from ..auth import caller_of
    from . import UI_PREFIX

    env: Environment = request.app.state.ui_templates
    common = {"request": request, "user": caller_of(request), "auth": bool(request.app.state.auth)}
    page = env.get_template(template).render({"ui": UI_PREFIX, "section": None, **common, **context})
    return HTMLResponse(page, status_code=status_code, headers={"Cache-Control": "no-store", **PAGE_HEADERS})


#: The heading of an error page by status.
ERROR_TITLES = {400: "Bad request", 401: "Sign in first", 403: "Not allowed", 404: "Not found"}


def error_page(
    request: Request,
    status: int,
    message: str,
    *,
    back: str | None = None,
    back_label: str | None = None,
    title: str | None = None,
    **context: Any,
) -> HTMLResponse:
    """The error page: ``status``, a title, ``message``, and a link ``back`` (to the UI's start
    when None) labelled "Back to <back_label>"."""
    return render(
        request,
        "error.html",
        status,
        status=status,
        title=title or ERROR_TITLES.get(status, "Error"),
        message=message,
        back=back,
        back_label=back_label,
        **context,
    )


def format_time(ms: int | float | None) -> str:
    """Milliseconds since the epoch as ``2026-11-28 05:30:00`` (UTC); ``—`` for None."""
    if ms is None:
        return "—"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def format_duration(ms: int | float | None) -> str:
    """A duration in milliseconds as ``850 ms``, ``12.3 s``, ``4 min 05 s``, ``2 h 03 min``."""
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_number(value: Any) -> str:
    """A metric value with 6 significant digits; NaN and infinities spelled out."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "—" if value is None else str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return f"{value:.6g}"


def short_id(value: str | None, length: int = 8) -> str:
    return "—" if not value else value[:length]
