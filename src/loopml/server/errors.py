"""Every failure answers ``{"error": {"code", "message", "details"}}``.

- a :class:`~loopml.errors.LoopmlError`: its own body and ``http_status``;
- a request FastAPI cannot validate (a missing query parameter, a body that is not a JSON
  object): 400 ``invalid_input`` naming the field;
- an HTTP error of the routing (no such route 404, wrong method 405): its status;
- anything else: 500 ``internal_error``, with the traceback in the server's log (never in the answer).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import codec
from ..errors import LoopmlError
from .responses import json_response

__all__ = ["error_response", "install_error_handlers"]

logger = logging.getLogger("loopml.server")

_HTTP_CODES = {
    400: "invalid_input",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
}


def error_response(error: LoopmlError, headers: dict[str, str] | None = None) -> Response:
    """The answer for ``error``; details that JSON cannot carry are sent as text."""
    body = error.to_dict()
    try:
        return Response(
            codec.dumps(body), status_code=error.http_status, media_type="application/json", headers=headers
        )
    except TypeError:
        body["error"]["details"] = {k: _carried(v) for k, v in error.details.items()}
        return json_response(body, error.http_status, headers)


def _carried(value: Any) -> Any:
    """``value`` if JSON carries it, else its repr."""
    try:
        codec.dumps(value)
    except TypeError:
        return repr(value)
    return value


def _body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


async def _loopml_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoopmlError)
    if exc.http_status >= 500:
        logger.error("%s %s failed: %s", request.method, request.url.path, exc.message)
    page = _ui_page(request, exc.http_status, exc.message)
    return page if page is not None else error_response(exc)


def _ui_page(request: Request, status: int, message: str) -> Response | None:
    """An HTML error page for a page of the web UI (None for the API)."""
    from .permissions import is_ui_path

    if not is_ui_path(request.url.path) or getattr(request.app.state, "ui_templates", None) is None:
        return None
    from .ui.templating import error_page

    return error_page(request, status, message)


def _where(location: Any) -> str:
    return ".".join(str(part) for part in location) if isinstance(location, list | tuple) else str(location)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = [{"field": _where(e.get("loc", ())), "message": str(e.get("msg", ""))} for e in exc.errors()]
    text = "; ".join(f"{p['field']}: {p['message']}" for p in problems) or "the request is not valid"
    return json_response(_body("invalid_input", f"invalid request: {text}", {"errors": problems}), 400)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = f"{exc.detail}: {request.method} {request.url.path}"
    page = _ui_page(request, exc.status_code, f"There is no page at {request.url.path}.")
    if page is not None:
        return page
    return json_response(_body(code, message), exc.status_code, dict(exc.headers or {}))


class InternalErrors:
    """ASGI middleware: an exception no handler took becomes a 500 ``internal_error`` answer,
    logged once with its traceback (when the answer had not started yet)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            logger.exception("internal error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            message = (
                f"internal server error ({type(exc).__name__}) on {scope.get('method')} "
                f"{scope.get('path')}; the server's log has the details"
            )
            await json_response(_body("internal_error", message), 500)(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(LoopmlError, _loopml_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_middleware(InternalErrors)
