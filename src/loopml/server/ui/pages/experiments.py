"""The UI's experiments pages: ``/ui/experiments`` (the experiments the user may read) and
``/ui/experiments/{experiment_id}``, an experiment's runs table.

The runs table makes exactly one ``search_runs`` call per view, for one page of runs, so it stays
fast whatever the experiment holds (100,000 runs and more): the filter, the order and the paging
are the store's. Everything the table shows is in its URL (see :class:`RunsQuery`), so links,
reloads and back/forward keep it.

Paging: the store's page tokens. ``token`` is the current page's token; ``prev`` keeps a stack of
the tokens of the pages before it (comma-separated, ``.`` for the first page), so "Previous" needs
no second search. The stack keeps the last :data:`MAX_PREVIOUS` pages; deeper than that, "First
page" still leads back.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import QueryParams

from ....entities import Experiment, PermissionLevel, Run
from ....errors import InvalidFilter, InvalidInput, NotFound
from ....store.base import Store, ViewType
from ...auth import caller_of
from ...permissions import UI_PREFIX
from ...scoped import scoped
from ..access import EXPERIMENT, require
from ..routing import ui_router
from ..templating import error_page, render

__all__ = ["Column", "FilterProblem", "RunsQuery", "field_of", "router"]

router = ui_router()

PAGE_SIZES = (50, 100, 200)
#: Metric columns shown until the user chooses columns.
DEFAULT_METRIC_COLUMNS = 4
#: How many earlier pages "Previous" can walk back through.
MAX_PREVIOUS = 100
#: The token-stack entry that stands for the first page.
FIRST_PAGE = "."
COLUMN_KINDS = ("metrics", "params", "tags")
_BARE_KEY = re.compile(r"[A-Za-z0-9_.\-/]+")
_VIEWS: tuple[ViewType, ...] = ("active", "deleted", "all")


def field_of(kind: str, key: str) -> str:
    """``kind.key`` in the filter language, the key quoted with backticks where it must be."""
    if _BARE_KEY.fullmatch(key):
        return f"{kind}.{key}"
    escaped = key.replace("\\", "\\\\").replace("`", "\\`")
    return f"{kind}.`{escaped}`"


@dataclass(frozen=True)
class Column:
    """A chosen column of the runs table: a metric, a param or a tag (``name`` as in the URL)."""

    kind: str
    key: str

    @classmethod
    def parse(cls, name: str) -> Column | None:
        kind, _, key = name.strip().partition(".")
        kind = {"metric": "metrics", "param": "params", "tag": "tags"}.get(kind, kind)
        return cls(kind, key) if kind in COLUMN_KINDS and key else None

    @property
    def name(self) -> str:
        return f"{self.kind}.{self.key}"

    @property
    def field(self) -> str:
        return field_of(self.kind, self.key)

    @property
    def numeric(self) -> bool:
        return self.kind == "metrics"

    def value(self, run: Run) -> Any:
        found: dict[str, Any] = getattr(run.data, self.kind)
        return found.get(self.key)


@dataclass(frozen=True)
class RunsQuery:
    """What the runs table shows, read from and written to its URL's query string."""

    filter: str = ""
    order: str = ""
    view: ViewType = "active"
    size: int = PAGE_SIZES[0]
    token: str = ""
    previous: tuple[str, ...] = ()
    page: int = 1
    #: The chosen columns' names; None until the user chooses (then the defaults show).
    columns: tuple[str, ...] | None = None

    @classmethod
    def from_params(cls, params: QueryParams) -> RunsQuery:
        view = params.get("view", "active")
        size = _integer(params.get("size"), PAGE_SIZES[0])
        prev = params.get("prev", "")
        columns: tuple[str, ...] | None = None
        if params.get("chosen") or params.getlist("col"):
            parsed = (Column.parse(name) for name in params.getlist("col"))
            columns = tuple(dict.fromkeys(c.name for c in parsed if c is not None))
        return cls(
            filter=params.get("filter", "").strip(),
            order=params.get("order", "").strip(),
            view=view if view in _VIEWS else "active",
            size=size if size in PAGE_SIZES else PAGE_SIZES[0],
            token=params.get("token", ""),
            previous=tuple(t for t in prev.split(",") if t)[-MAX_PREVIOUS:],
            page=max(1, _integer(params.get("page"), 1)),
            columns=columns,
        )

    def first_page(self, **changes: Any) -> RunsQuery:
        """This view with ``changes``, from its first page."""
        return dataclasses.replace(self, token="", previous=(), page=1, **changes)

    def next_page(self, token: str) -> RunsQuery:
        stack = (*self.previous, self.token or FIRST_PAGE)[-MAX_PREVIOUS:]
        return dataclasses.replace(self, token=token, previous=stack, page=self.page + 1)

    def previous_page(self) -> RunsQuery | None:
        if not self.previous:
            return None
        token = self.previous[-1]
        return dataclasses.replace(
            self,
            token="" if token == FIRST_PAGE else token,
            previous=self.previous[:-1],
            page=max(1, self.page - 1),
        )

    def query_string(self) -> str:
        """``?...`` that reads back as this query (defaults left out)."""
        items: list[tuple[str, str]] = [("filter", self.filter), ("order", self.order)]
        items += [("view", self.view if self.view != "active" else "")]
        items += [("size", str(self.size) if self.size != PAGE_SIZES[0] else "")]
        items += [("token", self.token), ("prev", ",".join(self.previous))]
        items += [("page", str(self.page) if self.page > 1 else "")]
        if self.columns is not None:
            items += [("chosen", "1"), *(("col", name) for name in self.columns)]
        kept = [(k, v) for k, v in items if v]
        return "?" + urlencode(kept) if kept else "?"


def _integer(text: str | None, default: int) -> int:
    try:
        return int(text) if text else default
    except ValueError:
        return default


@dataclass(frozen=True)
class FilterProblem:
    """Why a search was refused, for the page: the message, and for a filter that does not parse
    the filter split around the error's position (``before``, ``at``, ``after``)."""

    message: str
    source: Literal["filter", "order", "other"]
    position: int | None = None
    text: str = ""

    @classmethod
    def of(cls, error: InvalidInput, query: RunsQuery) -> FilterProblem:
        headline = error.message.split(":\n", 1)[0]
        if not isinstance(error, InvalidFilter):
            return cls(headline, "other")
        text = str(error.details.get("filter", ""))
        source: Literal["filter", "order"] = "order" if text and text == query.order else "filter"
        return cls(headline, source, error.position, text)

    @property
    def before(self) -> str:
        return self.text[: self.position or 0]

    @property
    def at(self) -> str:
        position = self.position or 0
        return self.text[position : position + 1]

    @property
    def after(self) -> str:
        return self.text[(self.position or 0) + 1 :]


# ---- /ui/experiments --------------------------------------------------------------------------


@router.get("/experiments")
def experiments_page(request: Request, view: str = "active") -> Response:
    """The experiments the user may read, most recently updated first."""
    shown: ViewType = "deleted" if view == "deleted" else "active"
    store: Store = request.app.state.store
    user = caller_of(request)
    found = (scoped(store, user) if user else store).search_experiments(shown)
    found.sort(key=lambda e: (e.last_update_time or e.creation_time, e.name), reverse=True)
    return render(request, "experiments.html", section="experiments", experiments=found, view=shown)


# ---- /ui/experiments/{experiment_id} ------------------------------------------------------------


@router.get("/experiments/{experiment_id}")
def experiment_page(request: Request, experiment_id: str) -> Response:
    """One experiment's runs: one page of one search, as the URL's query asks."""
    store: Store = request.app.state.store
    try:
        require(request, PermissionLevel.READ, EXPERIMENT, experiment_id)
        experiment = store.get_experiment(experiment_id)
    except NotFound as exc:
        return error_page(
            request,
            404,
            message=exc.message,
            back=f"{UI_PREFIX}/experiments",
            back_label="experiments",
        )
    query = RunsQuery.from_params(request.query_params)
    runs, next_token, problem = _search(store, experiment, query)
    columns = chosen_columns(query, runs)
    return render(
        request,
        "experiment.html",
        section="experiments",
        experiment=experiment,
        query=query,
        runs=runs,
        problem=problem,
        columns=columns,
        available=available_columns(runs, columns),
        headers=_headers(query, columns),
        next_query=query.next_page(next_token) if next_token else None,
        previous_query=query.previous_page(),
        page_sizes=PAGE_SIZES,
        views=_VIEWS,
    )


def _search(
    store: Store, experiment: Experiment, query: RunsQuery
) -> tuple[list[Run], str | None, FilterProblem | None]:
    """One page of runs and the next page's token, or no runs and why the search was refused."""
    try:
        page = store.search_runs(
            [experiment.experiment_id],
            filter_string=query.filter or None,
            order_by=[query.order] if query.order else None,
            view=query.view,
            max_results=query.size,
            page_token=query.token or None,
        )
    except InvalidInput as exc:
        return [], None, FilterProblem.of(exc, query)
    return list(page), page.token, None


def chosen_columns(query: RunsQuery, runs: Sequence[Run]) -> list[Column]:
    """The columns the query names, or the first few metrics the page's runs have."""
    if query.columns is not None:
        return [c for c in (Column.parse(name) for name in query.columns) if c is not None]
    keys = sorted({key for run in runs for key in run.data.metrics})
    return [Column("metrics", key) for key in keys[:DEFAULT_METRIC_COLUMNS]]


def available_columns(runs: Iterable[Run], chosen: Sequence[Column]) -> dict[str, list[str]]:
    """Per kind, the keys the page's runs have (and those chosen), sorted: the chooser's list."""
    found: dict[str, set[str]] = {kind: set() for kind in COLUMN_KINDS}
    for run in runs:
        found["metrics"].update(run.data.metrics)
        found["params"].update(run.data.params)
        found["tags"].update(run.data.tags)
    for column in chosen:
        found[column.kind].add(column.key)
    return {kind: sorted(keys) for kind, keys in found.items()}


@dataclass(frozen=True)
class Header:
    """A column header: its label, and when the store can sort by it, the link that does and the
    arrow showing the current order."""

    label: str
    url: str | None = None
    arrow: str = ""
    numeric: bool = False
    title: str = ""


_FIXED = (
    ("Run", "attributes.run_name", "ASC", False),
    ("Status", "attributes.status", "ASC", False),
    ("Started", "attributes.start_time", "DESC", False),
    ("Duration", None, "", True),
    ("User", "attributes.user_id", "ASC", False),
)


def _headers(query: RunsQuery, columns: Sequence[Column]) -> list[Header]:
    fixed = [_header(query, label, field, first, numeric) for label, field, first, numeric in _FIXED]
    chosen = [
        _header(query, c.key, c.field, "DESC" if c.numeric else "ASC", c.numeric, c.name) for c in columns
    ]
    return fixed + chosen


def _header(
    query: RunsQuery, label: str, field: str | None, first: str, numeric: bool, title: str = ""
) -> Header:
    if field is None:
        return Header(label, numeric=numeric, title=title)
    current, direction = split_order(query.order or "attributes.start_time DESC")
    if current != field:
        order = f"{field} {first}"
        return Header(label, query.first_page(order=order).query_string(), "", numeric, title)
    flipped = "ASC" if direction == "DESC" else "DESC"
    arrow = "▼" if direction == "DESC" else "▲"
    return Header(label, query.first_page(order=f"{field} {flipped}").query_string(), arrow, numeric, title)


def split_order(order: str) -> tuple[str, str]:
    """``("metrics.acc", "DESC")`` from ``metrics.acc DESC``; bare attributes get their prefix."""
    head, _, last = order.strip().rpartition(" ")
    field, direction = (head.strip(), last.upper()) if last.upper() in ("ASC", "DESC") else (order, "ASC")
    if "." not in field.split("`", 1)[0]:
        field = f"attributes.{field}"
    return field, direction
