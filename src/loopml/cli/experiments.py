"""``loopml experiments list|create``."""

from __future__ import annotations

from typing import Literal

import click

from . import CliState, pass_state, tracking_uri_option

__all__ = ["experiments"]


@click.group()
def experiments() -> None:
    """List and create experiments."""


@experiments.command("list")
@click.option(
    "--view",
    type=click.Choice(["active", "deleted", "all"]),
    default="active",
    show_default=True,
    help="Which experiments: active ones, deleted ones, or both.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@tracking_uri_option
@pass_state
def list_experiments(state: CliState, view: Literal["active", "deleted", "all"], as_json: bool) -> None:
    """List experiments."""
    from .output import experiment_to_dict, experiments_table, print_json, stdout_console

    found = state.client().search_experiments(view=view)
    if as_json:
        print_json([experiment_to_dict(e) for e in found])
        return
    console = stdout_console()
    if not found:
        console.print(f"no {view} experiments" if view != "all" else "no experiments")
        return
    console.print(experiments_table(found, show_stage=view != "active"))


@experiments.command("create")
@click.argument("name")
@click.option(
    "--artifact-location",
    metavar="URL",
    default=None,
    help="Where the runs' artifacts go (a path or fsspec URL). Default: <artifact root>/<experiment id>.",
)
@tracking_uri_option
@pass_state
def create_experiment(state: CliState, name: str, artifact_location: str | None) -> None:
    """Create an experiment called NAME and print its id."""
    experiment_id = state.client().create_experiment(name, artifact_location=artifact_location)
    click.echo(experiment_id)
