"""Rendering for the ``loopml`` command: rich tables for people, JSON for programs.

Every value a user stored (names, params, tags) is wrapped in :class:`rich.text.Text`, so a
``[`` in a run name is printed as typed and never read as rich markup. When stdout is not a
terminal (a pipe, a file, a test) tables are rendered at their natural width instead of being
squeezed into 80 columns, so ``loopml runs list | grep`` sees whole values; ``COLUMNS`` still
wins when set.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from ..entities import Experiment, FileInfo, Run
    from ..errors import LoopmlError

__all__ = [
    "MAX_METRIC_COLUMNS",
    "MAX_PARAM_COLUMNS",
    "artifacts_table",
    "experiment_to_dict",
    "experiments_table",
    "format_duration",
    "format_time",
    "format_value",
    "key_value_table",
    "print_error",
    "print_json",
    "run_to_dict",
    "runs_table",
    "stderr_console",
    "stdout_console",
]

MAX_METRIC_COLUMNS = 8
MAX_PARAM_COLUMNS = 4
PIPE_WIDTH = 1000


def stdout_console() -> Console:
    """The console for results; wide when stdout is not a terminal (see the module docstring)."""
    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = PIPE_WIDTH
    return console


def stderr_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def print_error(error: LoopmlError) -> None:
    """``error: <message>`` in red on stderr; the message is printed as is, never as markup."""
    from rich.text import Text

    line = Text("error: ", style="bold red")
    line.append(error.message, style="red")
    stderr_console().print(line, soft_wrap=True)


def print_json(data: Any) -> None:
    """Plain, indented JSON on stdout (no colour, no wrapping): meant for ``jq`` and scripts."""
    import click

    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str, allow_nan=True))


# ---------------------------------------------------------------------------------------------- values


def format_time(ms: int | None) -> str:
    """A timestamp in milliseconds since the epoch, as local time to the second."""
    if not ms:
        return "-"
    return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def format_duration(start_ms: int | None, end_ms: int | None, *, now_ms: int | None = None) -> str:
    """``0.4s``, ``12.3s``, ``4m 05s``, ``2h 03m``; a running run counts up to now."""
    if not start_ms:
        return "-"
    end = end_ms if end_ms is not None else (now_ms if now_ms is not None else int(time.time() * 1000))
    seconds = max(0, end - start_ms) / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def format_value(value: object) -> str:
    """Floats with 4 decimals (``0.9500``), whole floats as ints, very large or small ones in
    scientific notation (``1.235e+06``); other values as ``str``."""
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if value == int(value) and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.4g}" if abs(value) >= 1e5 or abs(value) < 1e-3 else f"{value:.4f}"
    return str(value)


def _text(value: object, style: str = "") -> Text:
    from rich.text import Text

    return Text(format_value(value), style=style)


# ---------------------------------------------------------------------------------------- experiments


def experiment_to_dict(exp: Experiment) -> dict[str, Any]:
    return {
        "experiment_id": exp.experiment_id,
        "name": exp.name,
        "artifact_location": exp.artifact_location,
        "lifecycle_stage": str(exp.lifecycle_stage),
        "creation_time": exp.creation_time,
        "last_update_time": exp.last_update_time,
        "tags": dict(exp.tags),
    }


def experiments_table(experiments: Sequence[Experiment], *, show_stage: bool) -> Table:
    from rich.table import Table

    table = Table(title=f"{len(experiments)} experiment(s)", title_justify="left")
    table.add_column("id", no_wrap=True, style="cyan")
    table.add_column("name", style="bold")
    if show_stage:
        table.add_column("stage")
    table.add_column("created", no_wrap=True)
    table.add_column("artifact location", overflow="fold")
    for exp in experiments:
        cells = [_text(exp.experiment_id), _text(exp.name)]
        if show_stage:
            cells.append(_text(exp.lifecycle_stage))
        cells += [_text(format_time(exp.creation_time)), _text(exp.artifact_location)]
        table.add_row(*cells)
    return table


# ----------------------------------------------------------------------------------------------- runs


def run_to_dict(run: Run, artifacts: Iterable[FileInfo] | None = None) -> dict[str, Any]:
    info = run.info
    data: dict[str, Any] = {
        "info": {
            "run_id": info.run_id,
            "run_name": info.run_name,
            "experiment_id": info.experiment_id,
            "status": str(info.status),
            "start_time": info.start_time,
            "end_time": info.end_time,
            "lifecycle_stage": str(info.lifecycle_stage),
            "artifact_uri": info.artifact_uri,
            "user_id": info.user_id,
            "source": info.source,
            "parent_run_id": info.parent_run_id,
        },
        "params": dict(run.params),
        "metrics": dict(run.metrics),
        "tags": dict(run.tags),
    }
    if artifacts is not None:
        data["artifacts"] = [
            {"path": f.path, "is_dir": f.is_dir, "file_size": f.file_size} for f in artifacts
        ]
    return data


def _order_by_keys(order_by: Sequence[str], prefix: str) -> list[str]:
    """``["metrics.acc DESC", "params.C"]`` -> the keys under ``prefix`` (``acc`` for ``metrics``)."""
    keys = []
    for clause in order_by:
        field = clause.strip().split()[0] if clause.strip() else ""
        entity, _, key = field.partition(".")
        if entity in (prefix, prefix.rstrip("s")) and key:
            keys.append(key.strip("`\"'"))
    return keys


def pick_columns(
    runs: Sequence[Run], attr: str, limit: int, first: Sequence[str] = ()
) -> tuple[list[str], int]:
    """The keys to show for ``attr`` (``metrics`` or ``params``) and how many were left out.

    Keys named in ``--order-by`` come first, then the keys most runs have (ties by name).
    """
    counts: Counter[str] = Counter()
    for run in runs:
        counts.update(getattr(run, attr).keys())
    chosen = [k for k in dict.fromkeys(first) if k in counts]
    rest = sorted((k for k in counts if k not in chosen), key=lambda k: (-counts[k], k))
    chosen += rest[: max(0, limit - len(chosen))]
    return chosen, len(counts) - len(chosen)


_STATUS_STYLE = {"FINISHED": "green", "RUNNING": "yellow", "FAILED": "red", "KILLED": "red"}


def runs_table(runs: Sequence[Run], *, order_by: Sequence[str] = (), title: str = "") -> Table:
    """Run id, name, status, start, duration, then a few metric and param columns."""
    from rich.table import Table

    metric_keys, hidden_metrics = pick_columns(
        runs, "metrics", MAX_METRIC_COLUMNS, _order_by_keys(order_by, "metrics")
    )
    param_keys, hidden_params = pick_columns(
        runs, "params", MAX_PARAM_COLUMNS, _order_by_keys(order_by, "params")
    )
    caption = ""
    if hidden_metrics or hidden_params:
        caption = (
            f"{hidden_metrics} metric and {hidden_params} param column(s) not shown: "
            "use `loopml runs show RUN_ID` or --json"
        )
    table = Table(title=title or None, title_justify="left", caption=caption or None, caption_justify="left")
    table.add_column("run id", no_wrap=True, style="cyan")
    longest_name = max((len(r.info.run_name) for r in runs), default=4)
    table.add_column("name", style="bold", min_width=min(longest_name, 24))
    table.add_column("status", no_wrap=True)
    table.add_column("start time", no_wrap=True)
    table.add_column("duration", no_wrap=True, justify="right")
    for key in metric_keys:
        table.add_column(_text(key, "magenta"), justify="right")
    for key in param_keys:
        table.add_column(_text(key, "blue"))
    for run in runs:
        info = run.info
        cells = [
            _text(info.run_id),
            _text(info.run_name),
            _text(info.status, _STATUS_STYLE.get(str(info.status), "")),
            _text(format_time(info.start_time)),
            _text(format_duration(info.start_time, info.end_time)),
        ]
        cells += [_text(run.metrics[k]) if k in run.metrics else _text("-", "dim") for k in metric_keys]
        cells += [_text(run.params[k]) if k in run.params else _text("-", "dim") for k in param_keys]
        table.add_row(*cells)
    return table


def key_value_table(title: str, items: dict[str, Any] | Sequence[tuple[str, Any]]) -> Table:
    """A two-column table (key, value) sorted as given; used by ``runs show``."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2, 0, 1))
    table.add_column("key", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    rows = items.items() if isinstance(items, dict) else items
    for key, value in rows:
        table.add_row(_text(key), _text(value))
    if not rows:
        table.add_row(_text("(none)", "dim"), _text(""))
    return table


def artifacts_table(artifacts: Sequence[FileInfo]) -> Table:
    from rich.table import Table

    table = Table(title="Artifacts", title_justify="left", show_header=False, box=None, padding=(0, 2, 0, 1))
    table.add_column("path", overflow="fold")
    table.add_column("size", justify="right", no_wrap=True)
    for f in artifacts:
        size = "dir" if f.is_dir else format_size(f.file_size)
        table.add_row(_text(f.path + ("/" if f.is_dir else "")), _text(size))
    if not artifacts:
        table.add_row(_text("(none)", "dim"), _text(""))
    return table


def format_size(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover
