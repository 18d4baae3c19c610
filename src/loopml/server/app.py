"""The server application: :func:`create_app` wraps one Store in the REST API.

``loopml server`` runs :func:`app_from_env` in each uvicorn worker: it reads the backend store
URI and the artifacts destination from the settings (``LOOPML_BACKEND_STORE_URI``,
``LOOPML_ARTIFACTS_DESTINATION``, which the command sets), opens the store and builds the app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from .._version import __version__
from ..store.base import Store
from .auth import install_auth
from .errors import install_error_handlers
from .routes import ROUTERS

__all__ = ["app_from_env", "create_app"]

DESCRIPTION = """The REST API of a loopml server: experiments, runs, their params, metrics, tags,
histories, datasets and search; the model registry; flow and task records. Bodies and answers
are JSON; NaN and infinities travel as the strings "NaN", "Infinity" and "-Infinity". Every error answers
`{"error": {"code", "message", "details"}}` with the status of the loopml error."""


def create_app(
    store: Store,
    artifacts_destination: str,
    *,
    auth: Any = None,
    close_store: bool = False,
    ui: bool | None = None,
) -> FastAPI:
    """The FastAPI application serving ``store``; artifacts live under ``artifacts_destination``.

    With ``auth`` true every route but ``/health`` needs an API token and the permission its
    rule in :mod:`loopml.server.permissions` names (see :mod:`loopml.server.auth`). With ``close_store``
    the store is closed when the application shuts down (the app owns it). ``ui`` serves the
    web UI at ``/`` (default: when its extra, Jinja2 and plotly, is installed).
    """

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if close_store:
                store.close()

    app = FastAPI(
        title="loopml",
        version=__version__,
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.artifacts_destination = artifacts_destination
    app.state.auth = auth
    if auth:
        install_auth(app)  # before the routers and the error middleware: see install_auth
    install_error_handlers(app)
    for module in ROUTERS:
        app.include_router(module.router)
    if ui or (ui is None and _ui_installed()):
        from .ui import install_ui

        install_ui(app)
    return app


def _ui_installed() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("jinja2", "plotly"))


def app_from_env() -> FastAPI:
    """The app for the configured backend store and artifacts destination (uvicorn's factory)."""
    from ..settings import load_settings
    from ..store.resolver import open_store

    settings = load_settings()
    store = open_store(settings.resolved_backend_store_uri, busy_timeout_s=settings.sqlite_busy_timeout_s)
    return create_app(
        store, settings.resolved_artifacts_destination, auth=settings.server_auth, close_store=True
    )
