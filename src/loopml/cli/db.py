"""``loopml db upgrade|current``: the schema of a SQL metadata store.

These commands never build a Client: a Client refuses a database whose schema is
outdated, which is exactly the database ``db upgrade`` is for.
"""

from __future__ import annotations

import click

from . import CliState, pass_state, tracking_uri_option

__all__ = ["db"]


@click.group()
def db() -> None:
    """Inspect and upgrade the schema of a SQL metadata store."""


def resolve_uri(state: CliState, uri: str | None) -> str:
    """The URI argument, else the group's --tracking-uri, else the settings; only SQL URIs."""
    if uri is None:
        from ..settings import load_settings

        uri = load_settings(tracking_uri=state.tracking_uri).resolved_tracking_uri
    if not uri.startswith(("sqlite:", "postgresql:", "postgresql+", "postgres:")):
        from ..errors import InvalidInput

        raise InvalidInput(
            f"{uri!r} is not a SQL database URI; `loopml db` works on sqlite:///PATH or "
            "postgresql://... (for a loopml server, upgrade the server's own database)",
            uri=uri,
        )
    return uri


def display_uri(uri: str) -> str:
    """The URI with any password masked."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(uri).render_as_string(hide_password=True)
    except ArgumentError:
        return uri


@db.command("upgrade")
@click.argument("uri", required=False)
@tracking_uri_option
@pass_state
def upgrade_db(state: CliState, uri: str | None) -> None:
    """Upgrade the schema of the database at URI to this loopml's revision.

    URI defaults to --tracking-uri, else the configured tracking URI. A new database is created.
    """
    from ..store.sql.migration import upgrade

    url = resolve_uri(state, uri)
    before, after = upgrade(url)
    shown = display_uri(url)
    if before == after:
        click.echo(f"{shown}: already at revision {after}")
    else:
        click.echo(f"{shown}: upgraded from {before or '(empty)'} to {after}")


@db.command("current")
@click.argument("uri", required=False)
@tracking_uri_option
@pass_state
def current_db(state: CliState, uri: str | None) -> None:
    """Print the schema revision of the database at URI (``none`` for an empty database)."""
    from ..store.sql.migration import current_revision

    revision = current_revision(resolve_uri(state, uri))
    click.echo(revision if revision is not None else "none")
