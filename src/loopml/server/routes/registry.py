"""The model registry: ``/api/v1/registered-models`` (models, their versions, tags, stages,
aliases and audit history), ``/api/v1/model-versions/search`` and ``/api/v1/events``.

Each endpoint calls one method of the store's :class:`~loopml.store.base.RegistryStore`, which
writes the change, its audit-history row and its event in one transaction. Who made a change
(``actor``) comes from :func:`change_actor`: the ``actor`` query parameter, as the client sends
it (authentication replaces it with the token's user).

Names are one path segment: a registered model name never holds ``/`` (the store refuses it).
Tag keys and aliases end their paths and may hold anything (``{key:path}``): the store says
what is wrong with them, as it does in process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from ...store import validation as v
from ..bodies import JsonBody, body_as
from ..dependencies import StoreDep
from ..responses import json_response, no_content

__all__ = ["ActorDep", "change_actor", "router"]

router = APIRouter(prefix="/api/v1", tags=["registry"])

_MODEL = "/registered-models/{name}"
_VERSION = _MODEL + "/versions/{version}"


async def change_actor(
    actor: Annotated[str, Query(description="who makes the change (recorded in the audit history)")] = "",
) -> str:
    """Who makes a change: as the client says (the authentication layer overrides this)."""
    return actor


#: ``actor: ActorDep`` in a change's parameters: who makes it.
ActorDep = Annotated[str, Depends(change_actor)]


@dataclass(frozen=True)
class NewModel:
    name: str
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Description:
    description: str
    comment: str | None = None


@dataclass(frozen=True)
class TagValue:
    value: str


@dataclass(frozen=True)
class NewVersion:
    """``source`` is what the version was registered from (``runs:/<run_id>/model``),
    ``storage_location`` where its files are."""

    source: str
    storage_location: str
    run_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class StageChange:
    stage: str
    archive_existing_versions: bool = False
    comment: str | None = None


@dataclass(frozen=True)
class AliasTarget:
    version: int
    comment: str | None = None


@dataclass(frozen=True)
class NewEvent:
    type: str
    payload: dict[str, Any] = field(default_factory=dict)
    version: int | None = None


@dataclass(frozen=True)
class ModelSearch:
    filter: str | None = None
    order_by: list[str] | None = None
    max_results: int = 100
    page_token: str | None = None


@dataclass(frozen=True)
class VersionSearch:
    filter: str | None = None
    order_by: list[str] | None = None
    max_results: int = 1000
    page_token: str | None = None


def _listed(values: list[str] | None) -> list[str] | None:
    """A list query parameter given repeated (``?types=a&types=b``), comma-separated
    (``?types=a,b``) or both; None when not given."""
    if values is None:
        return None
    return [item for value in values for item in value.split(",") if item]


# ---- registered models ----------------------------------------------------------------------------


@router.post("/registered-models", status_code=201, summary="Create a registered model")
def create_registered_model(body: JsonBody, store: StoreDep, actor: ActorDep) -> Response:
    new = body_as(NewModel, body)
    model = store.registry.create_registered_model(
        new.name, description=new.description, tags=new.tags, actor=actor
    )
    return json_response(model, 201)


@router.post("/registered-models/search", summary="Search registered models: filter, order, one page")
def search_registered_models(body: JsonBody, store: StoreDep) -> Response:
    search = body_as(ModelSearch, body)
    page = store.registry.search_registered_models(
        search.filter, search.order_by, search.max_results, search.page_token
    )
    return json_response(page)


@router.get(_MODEL, summary="Read a registered model with its tags, aliases and latest versions")
def get_registered_model(name: str, store: StoreDep) -> Response:
    return json_response(store.registry.get_registered_model(name))


@router.patch(_MODEL, summary="Change a registered model's description")
def update_registered_model(name: str, body: JsonBody, store: StoreDep, actor: ActorDep) -> Response:
    change = body_as(Description, body)
    model = store.registry.update_registered_model(
        name, change.description, comment=change.comment, actor=actor
    )
    return json_response(model)


@router.delete(_MODEL, status_code=204, summary="Delete a registered model and its versions")
def delete_registered_model(name: str, store: StoreDep, actor: ActorDep, force: bool = False) -> Response:
    store.registry.delete_registered_model(name, force=force, actor=actor)
    return no_content()


@router.put(_MODEL + "/tags/{key:path}", status_code=204, summary="Set a registered model tag")
def set_registered_model_tag(
    name: str, key: str, body: JsonBody, store: StoreDep, actor: ActorDep
) -> Response:
    store.registry.set_registered_model_tag(name, key, body_as(TagValue, body).value, actor=actor)
    return no_content()


@router.delete(_MODEL + "/tags/{key:path}", status_code=204, summary="Delete a registered model tag")
def delete_registered_model_tag(name: str, key: str, store: StoreDep, actor: ActorDep) -> Response:
    store.registry.delete_registered_model_tag(name, key, actor=actor)
    return no_content()


@router.get(_MODEL + "/history", summary="Every change of a model and its versions, oldest first")
def get_model_history(name: str, store: StoreDep) -> Response:
    return json_response({"changes": store.registry.get_model_history(name)})


@router.get(_MODEL + "/latest-versions", summary="The newest version of each stage")
def get_latest_versions(
    name: str, store: StoreDep, stages: Annotated[list[str] | None, Query()] = None
) -> Response:
    return json_response({"versions": store.registry.get_latest_versions(name, _listed(stages))})


# ---- versions ---------------------------------------------------------------------------------------


@router.post(
    _MODEL + "/versions",
    status_code=201,
    summary="Register a new version (the model is created when missing)",
)
def create_model_version(name: str, body: JsonBody, store: StoreDep, actor: ActorDep) -> Response:
    new = body_as(NewVersion, body)
    version = store.registry.create_model_version(
        name,
        new.source,
        new.storage_location,
        run_id=new.run_id,
        tags=new.tags,
        description=new.description,
        actor=actor,
    )
    return json_response(version, 201)


@router.get(_VERSION, summary="Read a model version")
def get_model_version(name: str, version: str, store: StoreDep) -> Response:
    return json_response(store.registry.get_model_version(name, v.model_version(version)))


@router.patch(_VERSION, summary="Change a model version's description")
def update_model_version(
    name: str, version: str, body: JsonBody, store: StoreDep, actor: ActorDep
) -> Response:
    change = body_as(Description, body)
    number = v.model_version(version)
    updated = store.registry.update_model_version(
        name, number, change.description, comment=change.comment, actor=actor
    )
    return json_response(updated)


@router.delete(_VERSION, status_code=204, summary="Delete a model version")
def delete_model_version(
    name: str, version: str, store: StoreDep, actor: ActorDep, force: bool = False
) -> Response:
    store.registry.delete_model_version(name, v.model_version(version), force=force, actor=actor)
    return no_content()


@router.put(_VERSION + "/tags/{key:path}", status_code=204, summary="Set a model version tag")
def set_model_version_tag(
    name: str, version: str, key: str, body: JsonBody, store: StoreDep, actor: ActorDep
) -> Response:
    value = body_as(TagValue, body).value
    store.registry.set_model_version_tag(name, v.model_version(version), key, value, actor=actor)
    return no_content()


@router.delete(_VERSION + "/tags/{key:path}", status_code=204, summary="Delete a model version tag")
def delete_model_version_tag(name: str, version: str, key: str, store: StoreDep, actor: ActorDep) -> Response:
    store.registry.delete_model_version_tag(name, v.model_version(version), key, actor=actor)
    return no_content()


@router.post(_VERSION + "/stage", summary="Move a version to a stage (None, Staging, Production, Archived)")
def transition_model_version_stage(
    name: str, version: str, body: JsonBody, store: StoreDep, actor: ActorDep
) -> Response:
    change = body_as(StageChange, body)
    moved = store.registry.transition_model_version_stage(
        name,
        v.model_version(version),
        change.stage,
        archive_existing_versions=change.archive_existing_versions,
        comment=change.comment,
        actor=actor,
    )
    return json_response(moved)


# ---- aliases ----------------------------------------------------------------------------------------


@router.put(_MODEL + "/aliases/{alias:path}", status_code=204, summary="Point an alias at a version")
def set_registered_model_alias(
    name: str, alias: str, body: JsonBody, store: StoreDep, actor: ActorDep
) -> Response:
    target = body_as(AliasTarget, body)
    store.registry.set_registered_model_alias(
        name, alias, target.version, comment=target.comment, actor=actor
    )
    return no_content()


@router.delete(_MODEL + "/aliases/{alias:path}", status_code=204, summary="Delete an alias")
def delete_registered_model_alias(name: str, alias: str, store: StoreDep, actor: ActorDep) -> Response:
    store.registry.delete_registered_model_alias(name, alias, actor=actor)
    return no_content()


@router.get(_MODEL + "/aliases/{alias:path}", summary="The version an alias points at")
def get_model_version_by_alias(name: str, alias: str, store: StoreDep) -> Response:
    return json_response(store.registry.get_model_version_by_alias(name, alias))


@router.post(_MODEL + "/events", status_code=201, summary="Add an event about a model (drift.detected, ...)")
def add_model_event(name: str, body: JsonBody, store: StoreDep, actor: ActorDep) -> Response:
    event = body_as(NewEvent, body)
    added = store.registry.add_model_event(
        name, event.type, event.payload, version=event.version, actor=actor
    )
    return json_response(added, 201)


# ---- searches and events -------------------------------------------------------------------------------


@router.post("/model-versions/search", summary="Search model versions: filter, order, one page")
def search_model_versions(body: JsonBody, store: StoreDep) -> Response:
    search = body_as(VersionSearch, body)
    page = store.registry.search_model_versions(
        search.filter, search.order_by, search.max_results, search.page_token
    )
    return json_response(page)


@router.get("/events", summary="Registry events after an id, oldest first")
def get_events(
    store: StoreDep,
    after_id: int = 0,
    types: Annotated[list[str] | None, Query()] = None,
    limit: int = 1000,
) -> Response:
    return json_response({"events": store.registry.get_events(after_id, _listed(types), limit)})
