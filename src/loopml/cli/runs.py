"""``loopml runs list|show``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from . import CliState, pass_state, tracking_uri_option

if TYPE_CHECKING:
    from .. import Client
    from ..entities import FileInfo

__all__ = ["runs"]

MAX_ARTIFACTS_SHOWN = 1000


@click.group()
def runs() -> None:
    """Search and inspect runs."""


def resolve_experiment_ids(client: Client, experiment: str | None) -> list[str]:
    """``--experiment`` as a name (tried first) or an id; without it, every active experiment."""
    if experiment is None:
        return [e.experiment_id for e in client.search_experiments(view="active")]
    by_name = client.get_experiment_by_name(experiment)
    if by_name is not None:
        return [by_name.experiment_id]
    from ..errors import NotFound

    try:
        return [client.get_experiment(experiment).experiment_id]
    except NotFound:
        raise NotFound(
            f"no experiment named or with id {experiment!r}; `loopml experiments list` shows them",
            experiment=experiment,
        ) from None


@runs.command("list")
@click.option("--experiment", "-e", metavar="NAME_OR_ID", help="Only this experiment (default: all active).")
@click.option(
    "--filter",
    "-f",
    "filter_string",
    metavar="FILTER",
    default="",
    help="""A search filter, e.g. "metrics.accuracy > 0.9 and params.model = 'rf'".""",
)
@click.option(
    "--order-by",
    "-o",
    multiple=True,
    metavar="CLAUSE",
    help='Sort key, repeatable, e.g. "metrics.accuracy DESC". Default: newest first.',
)
@click.option(
    "--max-results",
    "-n",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="At most this many runs.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@tracking_uri_option
@pass_state
def list_runs(
    state: CliState,
    experiment: str | None,
    filter_string: str,
    order_by: tuple[str, ...],
    max_results: int,
    as_json: bool,
) -> None:
    """List runs as a table: id, name, status, start, duration and the main metrics and params."""
    from .output import print_json, run_to_dict, runs_table, stdout_console

    client = state.client()
    experiment_ids = resolve_experiment_ids(client, experiment)
    found = client.search_runs(
        experiment_ids,
        filter_string=filter_string,
        order_by=list(order_by) or None,
        max_results=max_results,
    )
    if as_json:
        print_json([run_to_dict(r) for r in found])
        return
    console = stdout_console()
    if not found:
        console.print("no runs" + (f" match {filter_string!r}" if filter_string else ""), markup=False)
        return
    more = " (more match: raise --max-results)" if getattr(found, "token", None) else ""
    table = runs_table(found, order_by=order_by, title=f"{len(found)} run(s){more}", width=console.width)
    console.print(table)


def list_all_artifacts(client: Client, run_id: str, limit: int = MAX_ARTIFACTS_SHOWN) -> list[FileInfo]:
    """Every artifact of a run, depth first (directories before their content), at most ``limit``."""
    result: list[FileInfo] = []
    pending: list[str | None] = [None]
    while pending and len(result) < limit:
        path = pending.pop()
        entries = sorted(client.list_artifacts(run_id, path), key=lambda f: f.path)
        for entry in entries:
            result.append(entry)
            if entry.is_dir:
                pending.append(entry.path)
    result.sort(key=lambda f: f.path)
    return result[:limit]


@runs.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@tracking_uri_option
@pass_state
def show_run(state: CliState, run_id: str, as_json: bool) -> None:
    """Show a run: its info, params, latest metrics, tags, inputs (datasets) and artifacts."""
    from .output import (
        artifacts_table,
        format_duration,
        format_time,
        input_to_dict,
        inputs_table,
        key_value_table,
        print_json,
        run_to_dict,
        stdout_console,
    )

    client = state.client()
    run = client.get_run(run_id)
    inputs = client.get_run_inputs(run_id)
    artifacts = list_all_artifacts(client, run_id)
    if as_json:
        print_json({**run_to_dict(run, artifacts), "inputs": [input_to_dict(i) for i in inputs]})
        return
    info = run.info
    overview = [
        ("run id", info.run_id),
        ("name", info.run_name),
        ("experiment id", info.experiment_id),
        ("status", info.status),
        ("start time", format_time(info.start_time)),
        ("end time", format_time(info.end_time)),
        ("duration", format_duration(info.start_time, info.end_time)),
        ("artifact uri", info.artifact_uri),
    ]
    overview += [("user", info.user_id)] if info.user_id else []
    overview += [("source", info.source)] if info.source else []
    overview += [("parent run id", info.parent_run_id)] if info.parent_run_id else []
    if info.lifecycle_stage != "active":
        overview.append(("lifecycle stage", info.lifecycle_stage))
    console = stdout_console()
    console.print(key_value_table("Run", overview))
    for title, values in (("Params", run.params), ("Metrics", run.metrics), ("Tags", run.tags)):
        console.print()
        console.print(key_value_table(title, dict(sorted(values.items()))))
    console.print()
    console.print(inputs_table(inputs))
    console.print()
    console.print(artifacts_table(artifacts))
