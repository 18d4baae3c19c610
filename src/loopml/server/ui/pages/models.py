"""The registry's pages: ``/ui/models`` (the registered models the user may read, a page at a
time) and ``/ui/models/{name}`` (a model's versions with their stages, aliases and lineage, its
audit history as a timeline, and — for users holding EDIT — the forms that transition a stage,
move an alias and edit descriptions; those call the REST API, which enforces permissions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse

from ....entities import ModelChange, ModelStage, ModelVersion, PermissionLevel
from ....errors import InvalidInput, NotFound
from ....store.paging import decode_page_token, encode_page_token
from ...auth import caller_of
from ...permissions import UI_PREFIX
from ...scoped import scoped
from ..access import EXPERIMENT, MODEL, allowed, level_of, require
from ..routing import ui_router
from ..templating import error_page, render

if TYPE_CHECKING:
    from ....store.base import RegistryStore, Store

__all__ = ["Page", "filter_quote", "page_links", "router"]

router = ui_router()

#: Rows per page of the models list and of a model's versions.
MODELS_PER_PAGE = 50
VERSIONS_PER_PAGE = 50
#: The newest history entries a model page shows unless asked for all of them.
HISTORY_SHOWN = 100


@dataclass(frozen=True)
class Page:
    """Where a page of a paged search is: its first row (0-based) and the links around it."""

    first: int
    previous_url: str | None
    next_url: str | None

    def label(self, shown: int, noun: str) -> str:
        if shown == 0:
            return f"no {noun}"
        return f"{noun} {self.first + 1}\u2013{self.first + shown}"


def page_links(path: str, token: str | None, next_token: str | None, size: int, **query: str) -> Page:
    """The previous and next links of a page reached with ``token`` (tokens are offsets, so the
    previous page's token is computed, not remembered)."""
    first = decode_page_token(token)
    kept = {k: v for k, v in query.items() if v}

    def url(offset_token: str | None) -> str:
        params = {**kept, **({"page": offset_token} if offset_token else {})}
        return f"{path}?{urlencode(params)}" if params else path

    previous = None
    if first > 0:
        before = max(0, first - size)
        previous = url(encode_page_token(before) if before else None)
    return Page(first, previous, url(next_token) if next_token else None)


def filter_quote(value: str) -> str:
    """``value`` as a quoted string of the search filter language."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def user_store(request: Request) -> Store:
    """The app's store as the signed-in user sees it (lists answer only what they may read)."""
    store: Store = request.app.state.store
    user = caller_of(request)
    return scoped(store, user) if user else store


# ---- /ui/models -----------------------------------------------------------------------------------


@router.get("/models")
def models_list(request: Request, filter: str = "", page: str = "") -> HTMLResponse:
    """The registered models the user may read: name, latest version per stage, aliases,
    description, last update; filtered with the search language, a page at a time."""
    registry = user_store(request).registry
    error = None
    try:
        found = registry.search_registered_models(filter or None, None, MODELS_PER_PAGE, page or None)
        models, token = list(found), found.token
    except InvalidInput as exc:
        if not filter:
            raise
        error, models, token = exc.message, [], None
    links = page_links(f"{UI_PREFIX}/models", page, token, MODELS_PER_PAGE, filter=filter)
    return render(
        request,
        "models.html",
        section="models",
        models=models,
        filter=filter,
        filter_error=error,
        pager=links,
        pager_label=links.label(len(models), "models"),
        stages=[s.value for s in ModelStage if s is not ModelStage.NONE],
    )


# ---- /ui/models/{name} ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Lineage:
    """Where a version came from: its run (linked when the user may read it) and its datasets."""

    run_id: str | None
    run_name: str | None
    readable: bool
    datasets: tuple[dict[str, Any], ...] = ()


@router.get("/models/{name}")
def model_page(request: Request, name: str, page: str = "", history: str = "") -> HTMLResponse:
    """A model: description, versions (stage, aliases, lineage), history timeline, actions."""
    back = f"{UI_PREFIX}/models"
    try:
        require(request, PermissionLevel.READ, MODEL, name)
        store = user_store(request)
        model = store.registry.get_registered_model(name)
    except NotFound as exc:
        return error_page(
            request,
            404,
            message=exc.message,
            back=back,
            back_label="models",
        )
    versions, token = _versions(store.registry, name, page)
    changes = store.registry.get_model_history(name)
    shown = changes if history == "all" else changes[-HISTORY_SHOWN:]
    links = page_links(f"{back}/{quote(name, safe='')}", page, token, VERSIONS_PER_PAGE)
    return render(
        request,
        "model.html",
        section="models",
        model=model,
        versions=versions,
        lineage={mv.version: _lineage(request, store, mv) for mv in versions},
        pager=links,
        pager_label=links.label(len(versions), "versions"),
        timeline=[timeline_entry(c) for c in reversed(shown)],
        hidden_history=len(changes) - len(shown),
        can_edit=allowed(request, PermissionLevel.EDIT, MODEL, name),
        stages=[s.value for s in ModelStage],
    )


def _versions(registry: RegistryStore, name: str, token: str) -> tuple[list[ModelVersion], str | None]:
    found = registry.search_model_versions(
        f"name = {filter_quote(name)}", ["version DESC"], VERSIONS_PER_PAGE, token or None
    )
    return list(found), found.token


def _lineage(request: Request, store: Store, version: ModelVersion) -> Lineage:
    """The run of ``version`` and the datasets it logged, when the user may read that run."""
    if version.run_id is None:
        return Lineage(None, None, False)
    try:
        run = store.get_run(version.run_id)
    except NotFound:
        return Lineage(version.run_id, None, False)
    if not level_of(request, EXPERIMENT, run.info.experiment_id).allows(PermissionLevel.READ):
        return Lineage(version.run_id, None, False)
    datasets = tuple(
        {
            "name": i.dataset.name,
            "digest": i.dataset.digest,
            "context": i.context,
            "source": i.dataset.source,
            "rows": i.dataset.num_rows,
            "columns": i.dataset.num_columns,
        }
        for i in store.get_run_inputs(version.run_id)
    )
    return Lineage(version.run_id, run.info.run_name, True, datasets)


#: What each action of the audit history says, with {version}, {field}, {old} and {new}.
_SENTENCES = {
    "registered_model.created": "created the model",
    "registered_model.deleted": "deleted the model",
    "registered_model.description_updated": "changed the model's description",
    "registered_model.tag_set": "set the model tag {field}",
    "registered_model.tag_deleted": "deleted the model tag {field}",
    "model_version.created": "registered version {version}",
    "model_version.deleted": "deleted version {version}",
    "model_version.description_updated": "changed the description of version {version}",
    "model_version.stage_transitioned": "moved version {version} to {new}",
    "model_version.tag_set": "set tag {field} of version {version}",
    "model_version.tag_deleted": "deleted tag {field} of version {version}",
    "model_alias.set": "pointed @{field} at version {new}",
    "model_alias.deleted": "deleted the alias @{field}",
}
#: Actions whose old -> new values are worth showing beside the sentence.
_DIFFS = {"stage_transitioned", "description_updated", "tag_set", "tag_deleted", "model_alias.set"}


def timeline_entry(change: ModelChange) -> dict[str, Any]:
    """One history row as the timeline shows it: who, when, a sentence, old -> new, comment."""
    sentence = _SENTENCES.get(change.action, change.action + " {field}")
    text = sentence.format(
        version=change.version, field=change.field or "", old=change.old_value, new=change.new_value
    )
    kind = change.action.rsplit(".", 1)[-1]
    diff = kind in _DIFFS or change.action in _DIFFS
    return {
        "id": change.id,
        "timestamp": change.timestamp,
        "actor": change.actor,
        "action": change.action,
        "kind": kind,
        "text": text,
        "version": change.version,
        "diff": diff,
        "old": change.old_value,
        "new": change.new_value,
        "comment": change.comment,
    }
