"""``loopml server``: the REST API on uvicorn, over the same Store as the embedded mode.

The command checks the backend store first (an outdated PostgreSQL schema ends it with
``loopml db upgrade``'s hint, before any port is bound), then hands the settings to uvicorn's
workers through the environment (``LOOPML_BACKEND_STORE_URI``, ``LOOPML_ARTIFACTS_DESTINATION``):
each worker builds its app with ``loopml.server.app:app_from_env``. ``loopml server`` is a group,
so subcommands (``loopml server create-admin``) can be added beside it.
"""

from __future__ import annotations

import os

import click

__all__ = ["server"]

APP_FACTORY = "loopml.server.app:app_from_env"
#: Seconds an idle keep-alive connection stays open (clients drop theirs after 4 s).
KEEP_ALIVE_S = 30
#: Seconds in-flight requests get to finish after SIGTERM / Ctrl-C.
GRACEFUL_SHUTDOWN_S = 30


@click.group(invoke_without_command=True)
@click.option(
    "--backend-store-uri",
    metavar="URI",
    default=None,
    help="Metadata store: sqlite:///PATH or postgresql://... "
    "[default: LOOPML_BACKEND_STORE_URI, else SQLite in LOOPML_HOME]",
)
@click.option(
    "--artifacts-destination",
    metavar="URL",
    default=None,
    help="Where artifacts go: a directory or an fsspec URL (s3://...) "
    "[default: LOOPML_ARTIFACTS_DESTINATION, else LOOPML_HOME/artifacts]",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(0, 65535), help="Port.")
@click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(1, None), help="Worker processes."
)
@click.option("--access-log/--no-access-log", default=True, show_default=True, help="Log every request.")
@click.option(
    "--auth/--no-auth",
    default=None,
    help="Require API tokens and check permissions (see `loopml server create-admin`). "
    "[default: LOOPML_SERVER_AUTH, else off]",
)
@click.pass_context
def server(
    ctx: click.Context,
    backend_store_uri: str | None,
    artifacts_destination: str | None,
    host: str,
    port: int,
    workers: int,
    access_log: bool,
    auth: bool | None,
) -> None:
    """Run the loopml server: the REST API (docs at /docs), /health and /ready.

    Clients reach it with LOOPML_TRACKING_URI=http://HOST:PORT. A PostgreSQL store must be
    upgraded first (loopml db upgrade URI); the embedded SQLite store upgrades itself.
    """
    if ctx.invoked_subcommand is not None:
        return
    from ..settings import load_settings

    settings = load_settings(
        backend_store_uri=backend_store_uri, artifacts_destination=artifacts_destination, server_auth=auth
    )
    uri = settings.resolved_backend_store_uri
    check_store(uri, settings.sqlite_busy_timeout_s)
    if settings.server_auth:
        from .users import warn_without_admin

        warn_without_admin(uri, settings.sqlite_busy_timeout_s)
    os.environ["LOOPML_SERVER_AUTH"] = "1" if settings.server_auth else "0"
    os.environ["LOOPML_BACKEND_STORE_URI"] = uri
    os.environ["LOOPML_ARTIFACTS_DESTINATION"] = settings.resolved_artifacts_destination
    run_uvicorn(host=host, port=port, workers=workers, access_log=access_log)


def check_store(uri: str, busy_timeout_s: float) -> None:
    """Open the store once here: SchemaOutdated (and any StoreError) ends the command now,
    with its message, before uvicorn binds the port; an embedded SQLite store is upgraded."""
    from ..store.resolver import open_store

    open_store(uri, busy_timeout_s=busy_timeout_s).close()


def run_uvicorn(*, host: str, port: int, workers: int, access_log: bool) -> None:
    try:
        import fastapi  # noqa: F401  (the workers import it: fail here, with the extra to install)
        import uvicorn
    except ImportError as exc:
        from ..errors import MissingExtra

        raise MissingExtra("server", module=exc.name or "uvicorn") from None
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        log_level="info",
    )
