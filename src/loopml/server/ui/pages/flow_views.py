"""What the flow pages show, shaped from the orchestration records: the compact task list the
timeline and the task table draw (one small array per task run, fast at 10,000 tasks), pages of
logs filtered by level and text, and run artifacts rendered as HTML (markdown without raw HTML,
tables, safe links)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from ....entities import FlowRun, LogRecord, RunArtifact, StateType, TaskRun

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markupsafe import Markup

__all__ = [
    "LOG_LEVELS",
    "MAX_TABLE_ROWS",
    "ArtifactView",
    "LogPage",
    "artifact_views",
    "log_page",
    "task_list",
]

#: The level filter's choices: "at least this level".
LOG_LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
}
#: A table artifact shows at most this many rows (the rest is counted).
MAX_TABLE_ROWS = 500
_STATES = [s.value for s in StateType]
_ERROR_CHARS = 300


# ---- task runs: one compact row each -----------------------------------------------------------------


def task_list(flow_run: FlowRun, task_runs: Sequence[TaskRun], now: int) -> bytes:
    """The task runs as compact JSON: times are ms after the flow run's start, states indices
    into ``states``; a task is ``[name, state, start, end, attempts, cache, error]`` where
    ``cache`` is 2 for a hit, 1 for a miss (a cache key without a hit), 0 without a cache policy
    and ``error`` the last line of the error (its exception). ``deps`` maps a task's index to the
    indices of the task runs it waited for, where those are recorded."""
    t0 = flow_run.start_time
    index = {tr.task_run_id: i for i, tr in enumerate(task_runs)}
    rows = []
    deps: dict[str, list[int]] = {}
    for i, tr in enumerate(task_runs):
        start = None if tr.start_time is None else tr.start_time - t0
        end = None if tr.end_time is None else tr.end_time - t0
        cache = 2 if tr.state is StateType.CACHED else 1 if tr.cache_key else 0
        rows.append([tr.name, _STATES.index(tr.state), start, end, tr.attempts, cache, _last_line(tr.error)])
        upstream = [index[u] for u in _upstream_ids(tr) if u in index]
        if upstream:
            deps[str(i)] = upstream
    end = flow_run.end_time if flow_run.end_time is not None else now
    body = {"states": _STATES, "span": max(end - t0, 1), "tasks": rows, "deps": deps}
    return orjson.dumps(body)


def _upstream_ids(task_run: TaskRun) -> Sequence[str]:
    """The task runs this one waited for (its future arguments and ``wait_for``)."""
    return task_run.upstream_task_run_ids


def _last_line(error: str | None) -> str:
    if not error:
        return ""
    lines = [line for line in error.strip().splitlines() if line.strip()]
    text = lines[-1].strip() if lines else ""
    return text if len(text) <= _ERROR_CHARS else text[: _ERROR_CHARS - 1] + "…"


# ---- logs ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogPage:
    """One page of the log lines that pass the filters, and how many pass in all."""

    total: int
    offset: int
    lines: list[list[Any]]  # [timestamp ms, level name, logger, task run name, message]

    def as_json(self) -> bytes:
        return orjson.dumps({"total": self.total, "offset": self.offset, "lines": self.lines})


def log_page(
    logs: Sequence[LogRecord],
    task_names: dict[str, str],
    *,
    min_level: int = 0,
    text: str = "",
    offset: int = 0,
    limit: int = 100,
) -> LogPage:
    """The lines at ``min_level`` or above whose message or logger contains ``text`` (any case),
    from ``offset``, at most ``limit`` of them."""
    needle = text.strip().lower()
    passing = [
        r
        for r in logs
        if r.level >= min_level and (not needle or needle in r.message.lower() or needle in r.logger.lower())
    ]
    offset = max(0, min(offset, len(passing) - 1 if passing else 0))
    lines = [
        [r.timestamp, _level_name(r.level), r.logger, task_names.get(r.task_run_id or "", ""), r.message]
        for r in passing[offset : offset + limit]
    ]
    return LogPage(len(passing), offset, lines)


def _level_name(level: int) -> str:
    name = logging.getLevelName(level)
    return name if isinstance(name, str) and not name.startswith("Level ") else str(level)


# ---- run artifacts -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArtifactView:
    """A run artifact ready for the page: ``html`` is safe markup (markdown, a table, a link)."""

    artifact: RunArtifact
    html: Markup
    task_name: str | None


def artifact_views(artifacts: Sequence[RunArtifact], task_names: dict[str, str]) -> list[ArtifactView]:
    """Each artifact rendered by its type (an unknown type shows its data as text)."""
    render = {"markdown": _markdown_html, "table": _table_html, "link": _link_html}
    views = []
    for artifact in artifacts:
        html = render.get(artifact.type, _text_html)(artifact.data)
        name = task_names.get(artifact.task_run_id) if artifact.task_run_id else None
        views.append(ArtifactView(artifact, html, name))
    return views


@functools.cache
def _markdown() -> MarkdownIt:
    from markdown_it import MarkdownIt

    # html off: raw HTML in the text is shown as text; links to javascript: & co. are not made
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(["table", "strikethrough"])


def _markdown_html(data: str) -> Markup:
    from markupsafe import Markup

    return Markup(_markdown().render(data))  # markdown-it escapes all text (html=False)


def _text_html(data: str) -> Markup:
    from markupsafe import Markup, escape

    return Markup("<pre class='artifact-text'>{}</pre>").format(escape(data))


def _table_html(data: str) -> Markup:
    """A table artifact: records (a header of their keys), columns (a dict), or bare rows."""
    from markupsafe import Markup

    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return _text_html(data)
    header, rows = _table_rows(value)
    if rows is None:
        return _text_html(data)
    shown = rows[:MAX_TABLE_ROWS]
    html = Markup("<table class='grid artifact-table'>")
    if header:
        html += Markup("<thead><tr>") + Markup("").join(Markup("<th>{}</th>").format(h) for h in header)
        html += Markup("</tr></thead>")
    html += Markup("<tbody>")
    for row in shown:
        html += Markup("<tr>") + Markup("").join(Markup("<td>{}</td>").format(_cell(c)) for c in row)
        html += Markup("</tr>")
    html += Markup("</tbody></table>")
    if len(rows) > len(shown):
        html += Markup("<p class='muted'>{} more rows not shown</p>").format(len(rows) - len(shown))
    return html


def _table_rows(value: Any) -> tuple[list[str], list[list[Any]] | None]:
    if isinstance(value, dict):
        header = [str(k) for k in value]
        columns = [v if isinstance(v, list) else [v] for v in value.values()]
        length = max((len(c) for c in columns), default=0)
        return header, [[c[i] if i < len(c) else None for c in columns] for i in range(length)]
    if not isinstance(value, list):
        return [], None
    if value and all(isinstance(r, dict) for r in value):
        header = list(dict.fromkeys(k for r in value for k in r))
        return header, [[r.get(k) for k in header] for r in value]
    return [], [r if isinstance(r, list) else [r] for r in value]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


_SAFE_SCHEMES = frozenset({"http", "https", "mailto", "ftp"})


def safe_href(link: str) -> str | None:
    """``link`` when a browser may follow it (http(s), mailto, ftp, or a path on this server),
    else None: ``javascript:``, ``data:`` and the like are shown as text only."""
    parts = urlsplit(link.strip())
    if parts.scheme:
        return link.strip() if parts.scheme.lower() in _SAFE_SCHEMES else None
    return link.strip() if link.strip().startswith("/") and not link.strip().startswith("//") else None


def _link_html(data: str) -> Markup:
    from markupsafe import Markup

    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        value = {"link": data}
    link = str(value.get("link") or "") if isinstance(value, dict) else str(value)
    text = (value.get("link_text") if isinstance(value, dict) else None) or link
    href = safe_href(link)
    if href is None:
        plain = Markup("<p class='artifact-link'>{} <span class='muted mono'>{}</span></p>")
        return plain.format(text, "" if text == link else f"({link}: not a web link)")
    anchor = Markup("<p class='artifact-link'><a href='{}' rel='noopener noreferrer'>{}</a></p>")
    return anchor.format(href, text)
