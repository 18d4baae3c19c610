"""``loopml flows runs list|show``, ``loopml flows retry`` and ``loopml cache clear``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from . import CliState, pass_state, tracking_uri_option

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..entities import FlowRun, LogRecord, RunArtifact, TaskRun

__all__ = ["cache", "flows"]

_STATE_STYLES = {
    "COMPLETED": "green",
    "CACHED": "cyan",
    "FAILED": "red",
    "CRASHED": "red",
    "TIMED_OUT": "red",
    "CANCELLED": "yellow",
    "RUNNING": "blue",
    "RETRYING": "yellow",
    "PENDING": "dim",
}


@click.group()
def flows() -> None:
    """Inspect and retry flow runs."""


@flows.group("runs")
def flow_runs() -> None:
    """List and show flow runs."""


def flow_run_to_dict(run: FlowRun) -> dict[str, Any]:
    return {
        "flow_run_id": run.flow_run_id,
        "flow_name": run.flow_name,
        "name": run.name,
        "state": run.state.value,
        "start_time": run.start_time,
        "end_time": run.end_time,
        "parameters": run.parameters,
        "tags": list(run.tags),
        "parent_flow_run_id": run.parent_flow_run_id,
        "tracking_run_id": run.tracking_run_id,
        "attempts": run.attempts,
        "host": run.host,
        "pid": run.pid,
        "error": run.error,
    }


def task_run_to_dict(run: TaskRun) -> dict[str, Any]:
    return {
        "task_run_id": run.task_run_id,
        "name": run.name,
        "task_key": run.task_key,
        "state": run.state.value,
        "start_time": run.start_time,
        "end_time": run.end_time,
        "attempts": run.attempts,
        "cache_key": run.cache_key,
        "result_ref": run.result_ref,
        "parameters": run.parameters,
        "history": [[state.value, at] for state, at in run.history],
        "error": run.error,
    }


def _state_text(state: str) -> Any:
    from rich.text import Text

    return Text(state, style=_STATE_STYLES.get(state, ""))


@flow_runs.command("list")
@click.option("--flow", "flow_name", metavar="NAME", help="Only runs of this flow.")
@click.option(
    "--state", "states", multiple=True, metavar="STATE", help="Only runs in this state (repeatable)."
)
@click.option("--max-results", "-n", type=click.IntRange(min=1, max=1000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@tracking_uri_option
@pass_state
def list_flow_runs(
    state: CliState, flow_name: str | None, states: tuple[str, ...], max_results: int, as_json: bool
) -> None:
    """List flow runs, newest first."""
    from rich.table import Table

    from .output import format_duration, format_time, print_json, stdout_console

    client = state.client()
    found = client.search_flow_runs(flow_name=flow_name, states=list(states) or None, max_results=max_results)
    if as_json:
        print_json([flow_run_to_dict(r) for r in found])
        return
    console = stdout_console()
    if not found:
        console.print("no flow runs", markup=False)
        return
    table = Table(title=f"{len(found)} flow run(s)", title_justify="left")
    for header in ("id", "flow", "name", "state", "start", "duration", "attempts"):
        table.add_column(header, no_wrap=header in ("id", "state"))
    for run in found:
        table.add_row(
            run.flow_run_id,
            run.flow_name,
            run.name,
            _state_text(run.state.value),
            format_time(run.start_time),
            format_duration(run.start_time, run.end_time),
            str(run.attempts),
        )
    console.print(table)


@flow_runs.command("show")
@click.argument("flow_run_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@tracking_uri_option
@pass_state
def show_flow_run(state: CliState, flow_run_id: str, as_json: bool) -> None:
    """Show a flow run: its task runs with states and durations, then its logs and artifacts."""
    from .output import print_json, stdout_console

    client = state.client()
    run = client.get_flow_run(flow_run_id)
    tasks = client.get_task_runs(flow_run_id)
    logs = client.get_flow_run_logs(flow_run_id)
    artifacts = client.get_run_artifacts(flow_run_id)
    if as_json:
        print_json(
            {
                **flow_run_to_dict(run),
                "task_runs": [task_run_to_dict(t) for t in tasks],
                "logs": [
                    {
                        "timestamp": r.timestamp,
                        "level": r.level,
                        "task_run_id": r.task_run_id,
                        "message": r.message,
                    }
                    for r in logs
                ],
                "artifacts": [
                    {"artifact_id": a.artifact_id, "key": a.key, "type": a.type, "data": a.data}
                    for a in artifacts
                ],
            }
        )
        return
    console = stdout_console()
    console.print(_flow_run_table(run))
    console.print(_task_runs_table(tasks))
    if run.error:
        console.print("[bold red]error[/]")
        console.print(run.error, markup=False, highlight=False)
    _print_logs(console, logs)
    _print_artifacts(console, artifacts)


def _flow_run_table(run: FlowRun) -> Any:
    from .output import format_duration, format_time, key_value_table

    return key_value_table(
        "Flow run",
        {
            "id": run.flow_run_id,
            "flow": run.flow_name,
            "name": run.name,
            "state": run.state.value,
            "start": format_time(run.start_time),
            "duration": format_duration(run.start_time, run.end_time),
            "attempts": run.attempts,
            "parameters": run.parameters,
            "tracking run": run.tracking_run_id or "",
            "parent flow run": run.parent_flow_run_id or "",
            "host / pid": f"{run.host} / {run.pid}",
        },
    )


def _task_runs_table(tasks: Sequence[TaskRun]) -> Any:
    from rich.table import Table

    from .output import format_duration

    table = Table(title=f"{len(tasks)} task run(s)", title_justify="left")
    for header in ("task run", "id", "state", "duration", "attempts", "cache"):
        table.add_column(header, no_wrap=header in ("id", "state"))
    for task_run in tasks:
        table.add_row(
            task_run.name,
            task_run.task_run_id,
            _state_text(task_run.state.value),
            format_duration(task_run.start_time, task_run.end_time),
            str(task_run.attempts),
            "hit" if task_run.state.value == "CACHED" else "",
        )
    return table


def _print_logs(console: Any, logs: Sequence[LogRecord]) -> None:
    from .output import format_time

    if logs:
        console.print(f"[bold]logs[/] ({len(logs)})")
    for record in logs:
        line = f"{format_time(record.timestamp)} {_level(record.level):8} {record.message}"
        console.print(line, markup=False, highlight=False)


def _print_artifacts(console: Any, artifacts: Sequence[RunArtifact]) -> None:
    for artifact in artifacts:
        console.print(f"[bold]artifact[/] {artifact.key or artifact.artifact_id} ({artifact.type})")
        if artifact.type == "markdown":
            from rich.markdown import Markdown

            console.print(Markdown(artifact.data))
        else:
            console.print(artifact.data, markup=False, highlight=False)


def _level(level: int) -> str:
    import logging

    return logging.getLevelName(level)


@flows.command("retry")
@click.argument("flow_run_id")
@tracking_uri_option
@pass_state
def retry(state: CliState, flow_run_id: str) -> None:
    """Re-run a failed or crashed flow run here, from its failure.

    Task calls that completed with a persisted result (persist_result=True, or a cache policy)
    are not run again. The flow must be importable from this directory by its entrypoint.
    """
    import os
    import sys

    from .output import stdout_console

    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # the flow's module, as `python script.py` would find it
    final = state.client().retry_flow_run(flow_run_id)
    stdout_console().print(f"flow run {flow_run_id}: {final.name}", markup=False)
    if not final.is_completed():
        raise SystemExit(1)


@click.group()
def cache() -> None:
    """Manage the task cache."""


@cache.command("clear")
@click.option("--flow", "flow_name", metavar="NAME", help="Only entries written by this flow.")
@click.option(
    "--task", "task_name", metavar="NAME", help="Only entries of this task (name or module:qualname)."
)
@tracking_uri_option
@pass_state
def clear(state: CliState, flow_name: str | None, task_name: str | None) -> None:
    """Forget cached task results; the next calls run their tasks again."""
    from .output import stdout_console

    removed = state.client().clear_cache(flow_name=flow_name, task=task_name)
    stdout_console().print(f"removed {removed} cache entr{'y' if removed == 1 else 'ies'}", markup=False)
