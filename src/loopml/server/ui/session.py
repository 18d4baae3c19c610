"""Signing in to the UI of a server run with ``--auth``: ``/ui/login`` takes an API token (the
same tokens API clients use), checks it and keeps it in an HttpOnly cookie; ``/ui/logout``
forgets it. Without authentication both pages send the visitor on to the UI."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ...errors import Unauthenticated
from ..auth import UI_TOKEN_COOKIE
from ..permissions import UI_PREFIX
from .routing import ui_router
from .templating import render

__all__ = ["router"]

router = ui_router()
COOKIE_MAX_AGE_S = 7 * 86_400


@router.get("/login")
def login_page(request: Request, next: str = "") -> Response:
    if not request.app.state.auth:
        return RedirectResponse(_local(next), status_code=303)
    return render(request, "login.html", next=_local(next), error=None)


@router.post("/login")
async def login(request: Request) -> Response:
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    token = (form.get("token") or [""])[0].strip()
    target = _local((form.get("next") or [""])[0])
    if not request.app.state.auth:
        return RedirectResponse(target, status_code=303)
    try:
        if not token:
            raise Unauthenticated(
                "paste an API token (an admin creates one with `loopml users token create`)"
            )
        await run_in_threadpool(request.app.state.store.users.authenticate, token)
    except Unauthenticated as exc:
        return render(request, "login.html", status_code=401, next=target, error=exc.message)
    answer = RedirectResponse(target, status_code=303)
    answer.set_cookie(
        UI_TOKEN_COOKIE,
        token,
        max_age=COOKIE_MAX_AGE_S,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return answer


@router.post("/logout")
def logout() -> Response:
    answer = RedirectResponse(f"{UI_PREFIX}/login", status_code=303)
    answer.delete_cookie(UI_TOKEN_COOKIE, path="/")
    return answer


def _local(target: str) -> str:
    """Only a path of the UI itself: never an open redirect to another site."""
    if target.startswith(UI_PREFIX + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return UI_PREFIX + "/"
