"""Authentication and permission checks of a server run with ``--auth`` (``create_app(auth=True)``).

1. :class:`Authentication` (ASGI middleware) runs before routing: every request but those of the
   public paths (``/health``) must carry ``Authorization: Bearer <token>`` of an active token,
   else 401 ``unauthenticated``. The token's user is kept in the request's scope (:data:`CALLER`).
   Routes that are not API routes (the docs) are checked here against their rule too.
2. :func:`authorize` (a dependency of every API route) applies the route's rule from
   :mod:`loopml.server.permissions`: 403 ``permission_denied`` when the caller lacks the level.
3. :func:`loopml.server.dependencies.get_store` hands endpoints the store as the caller sees it
   (:class:`loopml.server.scoped.ScopedStore`): lists filtered to what they may READ, their name
   as the actor of registry changes and the user of runs, MANAGE on what they create.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from ..entities import ResourceKind, User
from ..errors import InvalidInput, LoopmlError, NotFound, PermissionDenied, Unauthenticated
from ..store.base import Store
from .errors import error_response
from .permissions import (
    UI_PREFIX,
    Access,
    Locator,
    Rule,
    is_public_ui_path,
    is_ui_path,
    public_paths,
    rule_for,
)

__all__ = [
    "CALLER",
    "UI_TOKEN_COOKIE",
    "AppRoute",
    "Authentication",
    "Guard",
    "app_routes",
    "authorize",
    "caller_of",
    "install_auth",
]

#: The key of the authenticated :class:`~loopml.entities.User` in a request's ASGI scope.
CALLER = "loopml.caller"
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="loopml"'}
RUN_CACHE_SIZE = 10_000


#: The cookie the web UI keeps its API token in (set by ``/ui/login``; HttpOnly, SameSite=Strict).
UI_TOKEN_COOKIE = "loopml_token"
#: The header the UI's own scripts send with API calls: the cookie stands for the bearer token only
#: with it (another site's form cannot set it: no cross-site request forgery).
UI_HEADER = b"x-loopml-ui"


def bearer_token(scope: Scope) -> str:
    """The token of the ``Authorization: Bearer <token>`` header (or, for the web UI, of its
    cookie); Unauthenticated without one."""
    ui_token = _ui_token(scope)
    if ui_token is not None:
        return ui_token
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            header: str = bytes(value).decode("latin-1")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated(
                    "the Authorization header must be `Bearer <token>` (a loopml API token)"
                )
            return token.strip()
    raise Unauthenticated(
        "this loopml server requires an API token: send `Authorization: Bearer <token>` "
        "(loopml clients send LOOPML_TRACKING_TOKEN); an admin creates tokens with "
        "`loopml users token create USER`"
    )


def _ui_token(scope: Scope) -> str | None:
    """The UI cookie's token, for a UI page or for an API call made by the UI's scripts."""
    headers = dict(scope.get("headers", ()))
    if b"authorization" in headers:
        return None
    if not is_ui_path(scope["path"]) and headers.get(UI_HEADER) != b"1":
        return None
    from http.cookies import SimpleCookie

    cookies: SimpleCookie = SimpleCookie()
    try:
        cookies.load(bytes(headers.get(b"cookie", b"")).decode("latin-1"))
    except Exception:  # a malformed Cookie header: as if there were none
        return None
    found = cookies.get(UI_TOKEN_COOKIE)
    return found.value if found is not None and found.value else None


class Guard:
    """The permission checks of one app: the store, and the experiment of each run seen so far
    (a run never moves to another experiment, so the answer is kept, up to RUN_CACHE_SIZE runs)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._runs: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def experiment_of_run(self, run_id: str) -> str:
        with self._lock:
            found = self._runs.get(run_id)
            if found is not None:
                self._runs.move_to_end(run_id)
                return found
        experiment_id = self.store.get_run(run_id).info.experiment_id
        with self._lock:
            self._runs[run_id] = experiment_id
            if len(self._runs) > RUN_CACHE_SIZE:
                self._runs.popitem(last=False)
        return experiment_id

    def check(self, user: User, rule: Rule, value: str, what: str) -> None:
        """PermissionDenied unless ``user`` holds ``rule.level`` on the resource named ``value``;
        NotFound (what the route would answer) when the resource does not exist."""
        assert rule.kind is not None and rule.level is not None and rule.locate is not None
        resource_id = self.experiment_of_run(value) if rule.locate.run else value
        level = self.store.users.effective_level(user, rule.kind, resource_id)
        if level.allows(rule.level):
            return
        exists = self._exists(rule.kind, resource_id)
        if rule.creates and not exists:
            return
        if not exists:
            raise NotFound(f"no {rule.kind.value.replace('_', ' ')} {resource_id!r}", resource_id=resource_id)
        raise PermissionDenied(
            f"user {user.username!r} may not call {what}: it needs {rule.level.value} on "
            f"{rule.kind.value.replace('_', ' ')} {resource_id!r}, and they hold {level.value}; "
            "an admin grants it with `loopml permissions grant`",
            username=user.username,
            kind=rule.kind.value,
            resource_id=resource_id,
            needed=rule.level.value,
            held=level.value,
        )

    def _exists(self, kind: ResourceKind, resource_id: str) -> bool:
        try:
            if kind is ResourceKind.EXPERIMENT:
                self.store.get_experiment(resource_id)
            else:
                self.store.registry.get_registered_model(resource_id)
        except NotFound:
            return False
        return True


def caller_of(request: Request) -> User | None:
    """The authenticated user of ``request`` (None on a server without authentication)."""
    user: User | None = request.scope.get(CALLER)
    return user


async def _located(locate: Locator, request: Request) -> str:
    if locate.source == "path":
        value: Any = request.path_params.get(locate.name)
    elif locate.source == "query":
        value = request.query_params.get(locate.name)
    else:
        try:
            body = await request.json()
        except ValueError:
            body = None
        value = body.get(locate.name) if isinstance(body, dict) else None
    if locate.artifact:
        return _experiment_of_artifact(value)
    if not isinstance(value, str) or not value:
        where = {"path": "path parameter", "query": "query parameter", "body": "request body's field"}
        raise InvalidInput(
            f"the {where[locate.source]} {locate.name!r} is missing or not a non-empty string",
            field=locate.name,
        )
    return value


def _experiment_of_artifact(path: Any) -> str:
    """The experiment id an artifact path starts with, normalized as the artifact routes
    normalize it (a path they would refuse is refused here first, with the same 400)."""
    from ..artifacts.paths import safe_relpath

    rel = safe_relpath(path if isinstance(path, str) else "")
    if not rel:
        raise PermissionDenied(
            "only admins may list the root of the artifacts destination; "
            "give a path that starts with an experiment id"
        )
    return rel.split("/", 1)[0]


async def authorize(request: Request) -> None:
    """The route's rule for the caller (a dependency of every API route of an app with auth)."""
    route = request.scope.get("route")
    path = route.path if isinstance(route, APIRoute) else request.url.path
    rule = rule_for(request.method, path)
    if rule.access is Access.PUBLIC:
        return
    user = caller_of(request)
    if user is None:  # pragma: no cover - the middleware lets no such request through
        raise Unauthenticated("this request carries no authenticated user")
    if user.is_admin or rule.access is Access.SIGNED_IN:
        return
    what = f"{request.method} {path}"
    if rule.access is Access.ADMIN:
        raise PermissionDenied(f"only admins may call {what}", username=user.username)
    assert rule.locate is not None
    value = await _located(rule.locate, request)
    guard: Guard = request.app.state.auth_guard
    await run_in_threadpool(guard.check, user, rule, value, what)


class Authentication:
    """ASGI middleware: resolve the bearer token to its user, or answer 401 (see the module doc)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.public = public_paths()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in self.public or is_public_ui_path(path):
            await self.app(scope, receive, send)
            return
        fastapi_app: FastAPI = scope["app"]
        try:
            token = bearer_token(scope)
            user = await run_in_threadpool(fastapi_app.state.store.users.authenticate, token)
            if not user.is_admin:
                _check_other_routes(fastapi_app, scope, user)
        except LoopmlError as exc:
            if exc.http_status == 401 and is_ui_path(path):  # a page: to the sign-in page
                await _to_sign_in(scope)(scope, receive, send)
                return
            headers = CHALLENGE if exc.http_status == 401 else None
            await error_response(exc, headers)(scope, receive, send)
            return
        scope[CALLER] = user
        await self.app(scope, receive, send)


def _to_sign_in(scope: Scope) -> Any:
    from urllib.parse import quote

    from starlette.responses import RedirectResponse

    query = scope.get("query_string", b"").decode("latin-1")
    target = scope["path"] + (f"?{query}" if query else "")
    return RedirectResponse(f"{UI_PREFIX}/login?next={quote(target, safe='')}", status_code=303)


@dataclass(frozen=True)
class AppRoute:
    """One route of an app: its path template, methods, and whether it is an API route."""

    path: str
    methods: frozenset[str]
    route: BaseRoute
    is_api: bool


def app_routes(app: FastAPI) -> list[AppRoute]:
    """Every route of ``app``, the routes of included routers too, whichever way this FastAPI
    keeps them (copied into ``app.routes``, or behind included-router entries since 0.16x)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI: included routes are copied
        flat: list[tuple[Any, BaseRoute]] = [(r, r) for r in app.routes]
    else:
        flat = [(c, c.original_route) for c in iter_route_contexts(app.routes)]
    found = []
    for view, original in flat:
        path = getattr(view, "path", None)
        if path is None:
            continue
        methods = frozenset(getattr(view, "methods", None) or ())
        found.append(AppRoute(str(path), methods, original, isinstance(original, APIRoute)))
    return found


def _check_other_routes(app: FastAPI, scope: Scope, user: User) -> None:
    """The rule of a route that is not an API route (no dependency runs there): only PUBLIC and
    SIGNED_IN rules can be met without a resource, anything else is for admins."""
    others: list[AppRoute] | None = getattr(app.state, "auth_other_routes", None)
    if others is None:  # the routes are all in place by the first request
        others = app.state.auth_other_routes = [r for r in app_routes(app) if not r.is_api]
    for route in others:
        match, _child = route.route.matches(scope)
        if match is Match.FULL:
            rule = rule_for(scope["method"], route.path)
            if rule.access not in (Access.PUBLIC, Access.SIGNED_IN):
                raise PermissionDenied(
                    f"only admins may call {scope['method']} {route.path}", username=user.username
                )
            return


def install_auth(app: FastAPI) -> None:
    """Turn authentication on: the middleware, the check on every API route, the guard.

    Call before the routers are included (the check is a dependency of the app's router) and
    before the error middleware is added (so it stays the outermost)."""
    app.state.auth_guard = Guard(app.state.store)
    app.router.dependencies.append(Depends(authorize))
    app.add_middleware(Authentication)
