"""``/api/v1/experiments``: create, read, list, rename, delete, restore, tag."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from fastapi import APIRouter, Response

from ...artifacts.uris import SERVER_ROOT
from ...entities import LifecycleStage
from ...store.base import ViewType
from ..bodies import JsonBody, body_as
from ..dependencies import StoreDep
from ..responses import json_response, no_content

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/experiments", tags=["experiments"])


@dataclass(frozen=True)
class NewExperiment:
    """``experiment_id`` is chosen by the client (a retried create never duplicates); when
    empty the server picks one. ``artifact_location`` defaults to ``loopml-artifacts:/<id>``: the
    server keeps those artifacts in its artifacts destination and serves them (routes/artifacts.py)."""

    name: str
    experiment_id: str = ""
    artifact_location: str = ""
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ExperimentChange:
    name: str


@dataclass(frozen=True)
class TagValue:
    value: str


@router.post("", status_code=201, summary="Create an experiment")
def create_experiment(body: JsonBody, store: StoreDep) -> Response:
    new = body_as(NewExperiment, body)
    experiment_id = new.experiment_id or uuid.uuid4().hex
    location = new.artifact_location or f"{SERVER_ROOT}{experiment_id}"
    experiment = store.create_experiment(experiment_id, new.name, location, new.tags)
    return json_response(experiment, 201)


@router.get("", summary="List experiments, or find one by name")
def list_experiments(store: StoreDep, name: str | None = None, view: ViewType | None = None) -> Response:
    """With ``name``: the experiment of that name (``[]`` when none), in any stage unless
    ``view`` is given. Without: every experiment of ``view`` (default ``active``)."""
    if name is None:
        return json_response({"experiments": store.search_experiments(view or "active")})
    found = store.get_experiment_by_name(name)
    stages = {"active": {LifecycleStage.ACTIVE}, "deleted": {LifecycleStage.DELETED}}.get(view or "all")
    keep = found is not None and (stages is None or found.lifecycle_stage in stages)
    return json_response({"experiments": [found] if keep else []})


@router.get("/{experiment_id}", summary="Read an experiment")
def get_experiment(experiment_id: str, store: StoreDep) -> Response:
    return json_response(store.get_experiment(experiment_id))


@router.patch("/{experiment_id}", status_code=204, summary="Rename an experiment")
def rename_experiment(experiment_id: str, body: JsonBody, store: StoreDep) -> Response:
    store.rename_experiment(experiment_id, body_as(ExperimentChange, body).name)
    return no_content()


@router.delete("/{experiment_id}", status_code=204, summary="Delete an experiment (restorable)")
def delete_experiment(experiment_id: str, store: StoreDep) -> Response:
    store.delete_experiment(experiment_id)
    return no_content()


@router.post("/{experiment_id}/restore", status_code=204, summary="Restore a deleted experiment")
def restore_experiment(experiment_id: str, store: StoreDep) -> Response:
    store.restore_experiment(experiment_id)
    return no_content()


@router.put("/{experiment_id}/tags/{key:path}", status_code=204, summary="Set an experiment tag")
def set_experiment_tag(experiment_id: str, key: str, body: JsonBody, store: StoreDep) -> Response:
    store.set_experiment_tag(experiment_id, key, body_as(TagValue, body).value)
    return no_content()
