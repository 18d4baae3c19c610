"""``loopml users create|list|token create|list|revoke`` and ``loopml server create-admin``.

Server administration: these commands talk to the server's database directly (never through the
server), chosen by ``--backend-store-uri`` or ``--tracking-uri``, else LOOPML_BACKEND_STORE_URI,
else the embedded SQLite store. A new token is printed once, alone on stdout (so
``TOKEN=$(loopml users token create bob)`` captures it); everything else goes to stderr.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from . import CliState, pass_state, tracking_uri_option

if TYPE_CHECKING:
    from ..entities import ApiToken, IssuedToken
    from ..store.base import Store, UserStore

__all__ = ["admin_store_options", "create_admin", "open_admin_store", "open_users", "users"]

F = TypeVar("F", bound=Callable[..., Any])
_URI_KEY = "loopml.backend_store_uri"
DAY_MS = 86_400_000


def admin_store_options(command: F) -> F:
    """``--backend-store-uri`` (and ``--tracking-uri``) on an administration command."""

    def remember(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        if value is not None:
            ctx.find_root().meta[_URI_KEY] = value

    command = click.option(
        "--backend-store-uri",
        metavar="URI",
        default=None,
        expose_value=False,
        callback=remember,
        help="The server's database (sqlite:///PATH or postgresql://...). "
        "[default: --tracking-uri, else LOOPML_BACKEND_STORE_URI, else SQLite in LOOPML_HOME]",
    )(command)
    return tracking_uri_option(command)


def admin_store_uri(state: CliState) -> str:
    """The database these commands administer; a server URL is refused (users are not served)."""
    ctx = click.get_current_context()
    uri: str | None = ctx.find_root().meta.get(_URI_KEY) or _group_uri(ctx) or state.tracking_uri
    if uri is None:
        from ..settings import load_settings

        uri = load_settings().resolved_backend_store_uri
    if uri.startswith(("http://", "https://")):
        from ..errors import InvalidInput

        raise InvalidInput(
            f"{uri!r} is a server; users, tokens and permissions are administered on the server's "
            "database: pass --backend-store-uri sqlite:///PATH or postgresql://...",
            uri=uri,
        )
    return uri


def _group_uri(ctx: click.Context) -> str | None:
    """``loopml server --backend-store-uri URI create-admin``: the group's option."""
    parent = ctx.parent
    while parent is not None:
        value = parent.params.get("backend_store_uri")
        if value:
            return str(value)
        parent = parent.parent
    return None


def warn_without_admin(uri: str, busy_timeout_s: float) -> None:
    """On `loopml server --auth`: say so when no admin exists yet (nobody could get in)."""
    from ..store.resolver import open_store

    store = open_store(uri, busy_timeout_s=busy_timeout_s)
    try:
        admins = [u for u in store.users.list_users() if u.is_admin]
    finally:
        store.close()
    if not admins:
        click.echo(
            "warning: authentication is on and this store has no admin yet; create one with "
            "`loopml server create-admin --username NAME`",
            err=True,
        )


def open_admin_store(state: CliState) -> Store:
    """The administered database's store, closed when the command ends."""
    from ..settings import load_settings
    from ..store.resolver import open_store

    store = open_store(admin_store_uri(state), busy_timeout_s=load_settings().sqlite_busy_timeout_s)
    click.get_current_context().find_root().call_on_close(store.close)
    return store


def open_users(state: CliState) -> UserStore:
    """The UserStore of the administered database, closed when the command ends."""
    return open_admin_store(state).users


def _expiry(days: int | None) -> int | None:
    return None if days is None else time.time_ns() // 1_000_000 + days * DAY_MS


def _print_issued(issued: IssuedToken, what: str) -> None:
    from .output import format_time

    token = issued.token
    expires = f", expires {format_time(token.expires_time)}" if token.expires_time else ""
    click.echo(f"{what} (id {token.token_id}{expires}); it is shown this once:", err=True)
    click.echo(issued.secret)
    click.echo("clients send it as LOOPML_TRACKING_TOKEN", err=True)


_expires_option = click.option(
    "--expires-in-days",
    type=click.IntRange(1, None),
    default=None,
    metavar="N",
    help="The token stops working after N days. [default: never]",
)


# ---- loopml server create-admin -----------------------------------------------------------------


@click.command("create-admin")
@click.option("--username", required=True, help="The admin's user name.")
@_expires_option
@admin_store_options
@pass_state
def create_admin(state: CliState, username: str, expires_in_days: int | None) -> None:
    """Create an admin user and an API token for them; the token is printed once.

    Admins pass every permission check of a server run with --auth.
    """
    users_store = open_users(state)
    user = users_store.create_user(username, is_admin=True)
    issued = users_store.create_token(
        user.username, expires_time=_expiry(expires_in_days), note="create-admin"
    )
    _print_issued(issued, f"admin {user.username!r} created with an API token")


# ---- loopml users -------------------------------------------------------------------------------


@click.group()
def users() -> None:
    """Users and API tokens of a loopml server run with --auth (on its database)."""


@users.command("create")
@click.argument("username")
@click.option("--admin", is_flag=True, help="An admin: passes every permission check.")
@admin_store_options
@pass_state
def create_user(state: CliState, username: str, admin: bool) -> None:
    """Create the user USERNAME (then give them a token: loopml users token create USERNAME)."""
    user = open_users(state).create_user(username, is_admin=admin)
    kind = "admin" if user.is_admin else "user"
    click.echo(f"{kind} {user.username!r} created; next: loopml users token create {user.username}")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@admin_store_options
@pass_state
def list_users(state: CliState, as_json: bool) -> None:
    """List users, with how many active tokens each holds."""
    from .output import format_time, print_json, stdout_console

    users_store = open_users(state)
    found = users_store.list_users()
    now = time.time_ns() // 1_000_000
    active: dict[str, int] = {}
    for token in users_store.list_tokens():
        active[token.username] = active.get(token.username, 0) + token.is_active(now)
    if as_json:
        print_json(
            [
                {
                    "username": u.username,
                    "is_admin": u.is_admin,
                    "creation_time": u.creation_time,
                    "active_tokens": active.get(u.username, 0),
                }
                for u in found
            ]
        )
        return
    from rich.table import Table
    from rich.text import Text

    console = stdout_console()
    if not found:
        console.print("no users; create the first admin with: loopml server create-admin --username NAME")
        return
    table = Table(title=f"{len(found)} user(s)", title_justify="left")
    for column in ("username", "admin", "created", "active tokens"):
        table.add_column(column)
    for u in found:
        table.add_row(
            Text(u.username),
            "yes" if u.is_admin else "",
            format_time(u.creation_time),
            str(active.get(u.username, 0)),
        )
    console.print(table)


@users.group("token")
def token() -> None:
    """Create, list and revoke API tokens."""


@token.command("create")
@click.argument("username")
@_expires_option
@click.option("--note", default="", help="What the token is for (shown in `token list`).")
@admin_store_options
@pass_state
def create_token(state: CliState, username: str, expires_in_days: int | None, note: str) -> None:
    """Create an API token for USERNAME; it is printed once, alone on stdout."""
    issued = open_users(state).create_token(username, expires_time=_expiry(expires_in_days), note=note)
    _print_issued(issued, f"API token for {username!r} created")


def _token_state(token: ApiToken, now: int) -> str:
    from .output import format_time

    if token.revoked_time is not None:
        return f"revoked {format_time(token.revoked_time)}"
    if token.expires_time is not None:
        verb = "expires" if token.expires_time > now else "expired"
        return f"{verb} {format_time(token.expires_time)}"
    return "active"


@token.command("list")
@click.argument("username", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@admin_store_options
@pass_state
def list_tokens(state: CliState, username: str | None, as_json: bool) -> None:
    """List API tokens (of USERNAME, else of everyone): ids, first characters, state."""
    import dataclasses

    from .output import format_time, print_json, stdout_console

    found = open_users(state).list_tokens(username)
    if as_json:
        print_json([dataclasses.asdict(t) for t in found])
        return
    from rich.table import Table
    from rich.text import Text

    now = time.time_ns() // 1_000_000
    table = Table(title=f"{len(found)} token(s)", title_justify="left")
    for column in ("id", "user", "token", "created", "state", "note"):
        table.add_column(column)
    for t in found:
        table.add_row(
            t.token_id,
            Text(t.username),
            f"{t.prefix}...",
            format_time(t.creation_time),
            _token_state(t, now),
            Text(t.note),
        )
    stdout_console().print(table)


@token.command("revoke")
@click.argument("token_id")
@admin_store_options
@pass_state
def revoke_token(state: CliState, token_id: str) -> None:
    """Revoke the API token TOKEN_ID (see `loopml users token list`): refused from the next request on."""
    revoked = open_users(state).revoke_token(token_id)
    click.echo(f"token {revoked.token_id} ({revoked.prefix}...) of {revoked.username!r} revoked")
