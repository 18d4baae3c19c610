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
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from ..entities import DatasetInput, Experiment, FileInfo, Run
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
    "input_to_dict",
    "inputs_table",
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


def rank_keys(runs: Sequence[Run], attr: str, first: Sequence[str] = ()) -> list[str]:
    """Every key of ``attr`` (``metrics`` or ``params``) the runs have, most useful first.

    Keys named in ``--order-by`` come first, then the keys most runs have (ties by name).
    """
    counts: Counter[str] = Counter()
    for run in runs:
        counts.update(getattr(run, attr).keys())
    ranked = [k for k in dict.fromkeys(first) if k in counts]
    return ranked + sorted((k for k in counts if k not in ranked), key=lambda k: (-counts[k], k))


@dataclass(frozen=True)
class RunColumns:
    """The columns ``runs list`` shows, and how many metric and param columns it leaves out."""

    fixed: list[str]
    metrics: list[str]
    params: list[str]
    hidden_metrics: int
    hidden_params: int


def _column_width(header: str, cells: Iterable[str]) -> int:
    """Rendered width of a column: its widest cell, one space each side, one border."""
    return max([len(header), *(len(c) for c in cells)]) + 3


def plan_run_columns(runs: Sequence[Run], order_by: Sequence[str], width: int) -> RunColumns:
    """Pick the metric then param columns that fit in ``width`` next to the fixed columns.

    At most MAX_METRIC_COLUMNS and MAX_PARAM_COLUMNS; a key named in ``--order-by`` is always shown.
    On a narrow terminal, start time then duration give way so that id, name and status stay readable.
    """
    ranked = {
        "metrics": rank_keys(runs, "metrics", _order_by_keys(order_by, "metrics")),
        "params": rank_keys(runs, "params", _order_by_keys(order_by, "params")),
    }
    widths = {header: _column_width(header, cells) for header, cells in _fixed_cells(runs)}
    # room for at least the first metric column (or param column), before start time and duration
    first = next(((attr, keys[0]) for attr, keys in ranked.items() if keys), None)
    reserve = _key_column_width(runs, *first) if first else 0
    for optional in _OPTIONAL_FIXED:
        if 1 + sum(widths.values()) + reserve > width:
            del widths[optional]
    used = 1 + sum(widths.values())
    chosen: dict[str, list[str]] = {"metrics": [], "params": []}
    full = False  # once a column does not fit, only --order-by keys are added
    for attr, limit in (("metrics", MAX_METRIC_COLUMNS), ("params", MAX_PARAM_COLUMNS)):
        required = _order_by_keys(order_by, attr)
        for key in ranked[attr][:limit]:
            needed = _key_column_width(runs, attr, key)
            full = full or used + needed > width
            if full and key not in required:
                continue
            chosen[attr].append(key)
            used += needed
    return RunColumns(
        fixed=list(widths),
        metrics=chosen["metrics"],
        params=chosen["params"],
        hidden_metrics=len(ranked["metrics"]) - len(chosen["metrics"]),
        hidden_params=len(ranked["params"]) - len(chosen["params"]),
    )


def _key_column_width(runs: Sequence[Run], attr: str, key: str) -> int:
    return _column_width(key, (format_value(getattr(r, attr)[key]) for r in runs if key in getattr(r, attr)))


def _fixed_cells(runs: Sequence[Run]) -> list[tuple[str, list[str]]]:
    """The columns every run has: header and plain cell texts."""
    return [
        ("run id", [r.info.run_id for r in runs]),
        ("name", [r.info.run_name for r in runs]),
        ("status", [str(r.info.status) for r in runs]),
        ("start time", [format_time(r.info.start_time) for r in runs]),
        ("duration", [format_duration(r.info.start_time, r.info.end_time) for r in runs]),
    ]


_OPTIONAL_FIXED = ("start time", "duration")
_STATUS_STYLE = {"FINISHED": "green", "RUNNING": "yellow", "FAILED": "red", "KILLED": "red"}


def runs_table(
    runs: Sequence[Run], *, order_by: Sequence[str] = (), title: str = "", width: int = PIPE_WIDTH
) -> Table:
    """Run id, name, status, start, duration, then the metric and param columns that fit ``width``."""
    from rich.table import Table

    columns = plan_run_columns(runs, order_by, width)
    caption = None
    if columns.hidden_metrics or columns.hidden_params:
        caption = (
            f"{columns.hidden_metrics} metric and {columns.hidden_params} param column(s) not shown: "
            "use `loopml runs show RUN_ID` or --json"
        )
    table = Table(title=title or None, title_justify="left", caption=caption, caption_justify="left")
    fixed = [(h, cells) for h, cells in _fixed_cells(runs) if h in columns.fixed]
    for header, _cells in fixed:
        table.add_column(
            header,
            style="cyan" if header == "run id" else "",
            no_wrap=header != "name",
            justify="right" if header == "duration" else "left",
        )
    for key in columns.metrics:
        table.add_column(_text(key, "magenta"), justify="right")
    for key in columns.params:
        table.add_column(_text(key, "blue"))
    for row, run in enumerate(runs):
        cells = [_text(values[row]) for _header, values in fixed]
        cells[1].stylize("bold")
        cells[2].stylize(_STATUS_STYLE.get(str(run.info.status), ""))
        cells += [_text(run.metrics[k]) if k in run.metrics else _text("-", "dim") for k in columns.metrics]
        cells += [_text(run.params[k]) if k in run.params else _text("-", "dim") for k in columns.params]
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


def input_to_dict(item: DatasetInput) -> dict[str, Any]:
    d = item.dataset
    return {
        "context": item.context,
        "name": d.name,
        "digest": d.digest,
        "source": d.source,
        "source_type": d.source_type,
        "num_rows": d.num_rows,
        "num_columns": d.num_columns,
        "schema": d.schema,
        "profile": d.profile,
    }


DIGEST_SHOWN = 12


def inputs_table(inputs: Sequence[DatasetInput], title: str = "Inputs") -> Table:
    """The datasets a run used: context, name, digest (first 12 characters), size and source."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", box=None, padding=(0, 2, 0, 1))
    for header in ("context", "name", "digest", "rows", "columns", "source"):
        table.add_column(
            header, overflow="fold", justify="right" if header in ("rows", "columns") else "left"
        )
    for item in inputs:
        d = item.dataset
        cells = [item.context, d.name, d.digest[:DIGEST_SHOWN], d.num_rows, d.num_columns, d.source]
        table.add_row(*(_text("-" if c is None else c) for c in cells))
    if not inputs:
        table.add_row(_text("(none)", "dim"), *(_text("") for _ in range(5)))
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
