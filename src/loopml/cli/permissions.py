"""``loopml permissions grant|revoke|list|default``: who may READ, EDIT or MANAGE an experiment or
a registered model on a loopml server run with --auth. Like ``loopml users``, these commands
work on the server's database (see :mod:`loopml.cli.users`).

USER may be ``*``: every user without a grant of their own (the resource's own default).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from . import CliState, pass_state
from .users import admin_store_options, open_admin_store

if TYPE_CHECKING:
    from ..entities import ResourceKind
    from ..store.base import Store

__all__ = ["permissions"]

F = TypeVar("F", bound=Callable[..., Any])
LEVELS = ("READ", "EDIT", "MANAGE", "NONE")


def _resource_options(command: F) -> F:
    command = click.option(
        "--model", "model", metavar="NAME", default=None, help="A registered model, by name."
    )(command)
    return click.option(
        "--experiment", "experiment", metavar="ID", default=None, help="An experiment, by id (or name)."
    )(command)


def _resource(store: Store, experiment: str | None, model: str | None) -> tuple[ResourceKind, str]:
    """The resource named by exactly one of --experiment / --model; it must exist."""
    from ..entities import ResourceKind
    from ..errors import InvalidInput, NotFound

    if (experiment is None) == (model is None):
        raise InvalidInput("name exactly one resource: --experiment ID or --model NAME")
    if model is not None:
        return ResourceKind.REGISTERED_MODEL, store.registry.get_registered_model(model).name
    assert experiment is not None
    try:
        return ResourceKind.EXPERIMENT, store.get_experiment(experiment).experiment_id
    except NotFound:
        named = store.get_experiment_by_name(experiment)
        if named is None:
            raise NotFound(f"no experiment with id or name {experiment!r}", experiment=experiment) from None
        return ResourceKind.EXPERIMENT, named.experiment_id


def _level_argument(command: F) -> F:
    return click.argument("level", type=click.Choice(LEVELS, case_sensitive=False))(command)


@click.group()
def permissions() -> None:
    """Permissions (READ, EDIT, MANAGE) on experiments and registered models of a server with --auth."""


@permissions.command("grant")
@click.argument("user")
@_resource_options
@_level_argument
@admin_store_options
@pass_state
def grant(state: CliState, user: str, experiment: str | None, model: str | None, level: str) -> None:
    """Give USER the LEVEL on one experiment or registered model (replaces their previous level).

    READ: see it; EDIT: also add to and change it; MANAGE: also delete it. NONE withholds it.
    """
    from ..entities import PermissionLevel

    store = open_admin_store(state)
    kind, resource_id = _resource(store, experiment, model)
    granted = store.users.set_permission(user, kind, resource_id, PermissionLevel.parse(level))
    who = "every user without a grant of their own" if user == "*" else repr(user)
    click.echo(f"{who} now holds {granted.level.value} on {kind.value} {resource_id!r}")


@permissions.command("revoke")
@click.argument("user")
@_resource_options
@admin_store_options
@pass_state
def revoke(state: CliState, user: str, experiment: str | None, model: str | None) -> None:
    """Take back USER's own grant on one experiment or registered model (they fall back to its default)."""
    store = open_admin_store(state)
    kind, resource_id = _resource(store, experiment, model)
    store.users.delete_permission(user, kind, resource_id)
    click.echo(f"{user!r} holds no grant of their own on {kind.value} {resource_id!r} any more")


@permissions.command("list")
@click.option("--user", default=None, help="Only this user's grants (`*`: the resources' own defaults).")
@_resource_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@admin_store_options
@pass_state
def list_permissions(
    state: CliState, user: str | None, experiment: str | None, model: str | None, as_json: bool
) -> None:
    """List grants, of everyone or of one user / one resource; and the server's default level."""
    from .output import print_json, stdout_console

    store = open_admin_store(state)
    kind = resource_id = None
    if experiment is not None or model is not None:
        kind, resource_id = _resource(store, experiment, model)
    found = store.users.list_permissions(username=user, kind=kind, resource_id=resource_id)
    default = store.users.get_default_level()
    if as_json:
        rows = [
            {"user": p.username, "kind": p.kind.value, "resource": p.resource_id, "level": p.level.value}
            for p in found
        ]
        print_json({"default": default.value, "permissions": rows})
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title=f"{len(found)} grant(s); default level for new resources: {default.value}", title_justify="left"
    )
    for column in ("user", "kind", "resource", "level"):
        table.add_column(column)
    for p in found:
        table.add_row(Text(p.username), p.kind.value, Text(p.resource_id), p.level.value)
    stdout_console().print(table)


@permissions.command("default")
@click.argument("level", required=False, type=click.Choice(LEVELS, case_sensitive=False))
@admin_store_options
@pass_state
def default(state: CliState, level: str | None) -> None:
    """Print, or set to LEVEL, what every other user holds on experiments and models created from now on.

    The creator gets MANAGE. NONE makes new resources private to their creator (and admins).
    Resources created earlier keep the default they were created with.
    """
    from ..entities import PermissionLevel

    users_store = open_admin_store(state).users
    if level is None:
        click.echo(users_store.get_default_level().value)
        return
    users_store.set_default_level(PermissionLevel.parse(level))
    click.echo(f"new experiments and registered models: {level.upper()} for every user but their creator")
