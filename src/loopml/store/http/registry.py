"""HttpRegistry: the RegistryStore protocol over HTTP (``HttpStore.registry``).

Each method is one request to the routes of ``server/routes/registry.py`` (docs/server.md);
answers come back as the same entities and errors as the same LoopmlError subclasses, with
the server store's messages. ``actor`` is sent as the ``actor`` query parameter of a change.

Retries (see transport.py): reads are retried after any transient failure. Every change of
the registry writes an audit-history row and an event, and automations react to events, so a
change is sent again only when the first attempt surely never reached the server: a second
stage transition would record a second change and fire a second event. Creating a registered
model is the exception: the name is its id, so a retry that finds the model its first attempt
created (same description and tags) returns it. A new *version* gets its number from the
server, so registering one is never re-sent after it may have arrived.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar, cast

from ... import codec
from ...entities import Event, ModelChange, ModelVersion, PagedList, RegisteredModel
from ...errors import AlreadyExists, NotFound
from .. import validation as v
from .store import API, segment
from .transport import Transport

__all__ = ["HttpRegistry"]

T = TypeVar("T")


def _model(name: str) -> str:
    """``/registered-models/<name>``. A name with ``/`` (or none) cannot be registered (the
    store refuses it at creation), so no such model exists: NotFound, as the store answers."""
    if not isinstance(name, str) or not name or "/" in name:
        raise NotFound(f"no registered model named {name!r}", name=name)
    return f"/registered-models/{segment(name)}"


def _version(name: str, version: int) -> str:
    number = v.model_version(version)  # checked first, as the store does
    return f"{_model(name)}/versions/{number}"


def _strings(values: dict[str, Any] | None) -> dict[str, str]:
    return {str(k): val if isinstance(val, str) else str(val) for k, val in (values or {}).items()}


class HttpRegistry:
    """Registered models, versions, stages, aliases, history and events of a loopml server."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def __repr__(self) -> str:
        return f"HttpRegistry({self.transport.base_url!r})"

    def _read(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.transport.request("GET", API + path, params=params)

    def _change(self, method: str, path: str, actor: str, json: Any = None, **params: Any) -> Any:
        """A change: sent once (retried only when it was surely never sent), with its actor."""
        query = {"actor": actor or None, **params}
        return self.transport.request(method, API + path, json=json, params=query, idempotent=False)

    # ---- registered models ----------------------------------------------------------------------

    def create_registered_model(
        self, name: str, *, description: str = "", tags: dict[str, str] | None = None, actor: str = ""
    ) -> RegisteredModel:
        v.check_model_name(name)
        body = {"name": name, "description": description or "", "tags": _strings(tags)}

        def stored(error: AlreadyExists) -> RegisteredModel:
            # the first attempt went through when the model holds what it sent
            model = self.get_registered_model(name)
            if (model.description, model.tags) != (body["description"], body["tags"]):
                raise error
            return model

        data = self.transport.request(
            "POST",
            API + "/registered-models",
            json=body,
            params={"actor": actor or None},
            on_duplicate=stored,
        )
        return data if isinstance(data, RegisteredModel) else _as(RegisteredModel, data)

    def get_registered_model(self, name: str) -> RegisteredModel:
        return _as(RegisteredModel, self._read(_model(name)))

    def update_registered_model(
        self, name: str, description: str, *, comment: str | None = None, actor: str = ""
    ) -> RegisteredModel:
        data = self._change("PATCH", _model(name), actor, {"description": description, "comment": comment})
        return _as(RegisteredModel, data)

    def delete_registered_model(self, name: str, *, force: bool = False, actor: str = "") -> None:
        self._change("DELETE", _model(name), actor, force=_flag(force))

    def set_registered_model_tag(self, name: str, key: str, value: str, *, actor: str = "") -> None:
        self._change("PUT", f"{_model(name)}/tags/{segment(key)}", actor, {"value": _text(value)})

    def delete_registered_model_tag(self, name: str, key: str, *, actor: str = "") -> None:
        self._change("DELETE", f"{_model(name)}/tags/{segment(key)}", actor)

    def search_registered_models(
        self,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        body = _search(filter_string, order_by, max_results, page_token)
        data = self.transport.request("POST", API + "/registered-models/search", json=body)
        page: PagedList[RegisteredModel] = codec.decode(PagedList[RegisteredModel], data)
        return page

    # ---- versions -----------------------------------------------------------------------------------

    def create_model_version(
        self,
        name: str,
        source: str,
        storage_location: str,
        *,
        run_id: str | None = None,
        tags: dict[str, str] | None = None,
        description: str = "",
        actor: str = "",
    ) -> ModelVersion:
        v.check_model_name(name)
        body = {
            "source": source,
            "storage_location": storage_location,
            "run_id": run_id,
            "tags": _strings(tags),
            "description": description or "",
        }
        return _as(ModelVersion, self._change("POST", f"{_model(name)}/versions", actor, body))

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        return _as(ModelVersion, self._read(_version(name, version)))

    def update_model_version(
        self, name: str, version: int, description: str, *, comment: str | None = None, actor: str = ""
    ) -> ModelVersion:
        body = {"description": description, "comment": comment}
        data = self._change("PATCH", _version(name, version), actor, body)
        return _as(ModelVersion, data)

    def delete_model_version(self, name: str, version: int, *, force: bool = False, actor: str = "") -> None:
        self._change("DELETE", _version(name, version), actor, force=_flag(force))

    def set_model_version_tag(
        self, name: str, version: int, key: str, value: str, *, actor: str = ""
    ) -> None:
        path = f"{_version(name, version)}/tags/{segment(key)}"
        self._change("PUT", path, actor, {"value": _text(value)})

    def delete_model_version_tag(self, name: str, version: int, key: str, *, actor: str = "") -> None:
        self._change("DELETE", f"{_version(name, version)}/tags/{segment(key)}", actor)

    def get_latest_versions(self, name: str, stages: Sequence[str] | None = None) -> list[ModelVersion]:
        params = {"stages": ",".join(str(s) for s in stages) if stages else None}
        data = self._read(f"{_model(name)}/latest-versions", params)
        versions: list[ModelVersion] = codec.decode(list[ModelVersion], data["versions"])
        return versions

    def search_model_versions(
        self,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        body = _search(filter_string, order_by, max_results, page_token)
        data = self.transport.request("POST", API + "/model-versions/search", json=body)
        page: PagedList[ModelVersion] = codec.decode(PagedList[ModelVersion], data)
        return page

    # ---- stages and aliases ---------------------------------------------------------------------------

    def transition_model_version_stage(
        self,
        name: str,
        version: int,
        stage: str,
        *,
        archive_existing_versions: bool = False,
        comment: str | None = None,
        actor: str = "",
    ) -> ModelVersion:
        body = {
            "stage": str(stage),
            "archive_existing_versions": bool(archive_existing_versions),
            "comment": comment,
        }
        return _as(ModelVersion, self._change("POST", f"{_version(name, version)}/stage", actor, body))

    def set_registered_model_alias(
        self, name: str, alias: str, version: int, *, comment: str | None = None, actor: str = ""
    ) -> None:
        body = {"version": v.model_version(version), "comment": comment}
        self._change("PUT", f"{_model(name)}/aliases/{segment(alias)}", actor, body)

    def delete_registered_model_alias(self, name: str, alias: str, *, actor: str = "") -> None:
        self._change("DELETE", f"{_model(name)}/aliases/{segment(alias)}", actor)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return _as(ModelVersion, self._read(f"{_model(name)}/aliases/{segment(alias)}"))

    # ---- audit history and events -----------------------------------------------------------------------

    def get_model_history(self, name: str) -> list[ModelChange]:
        if not isinstance(name, str) or not name or "/" in name:
            raise NotFound(f"no registered model named {name!r} has any history", name=name)
        data = self._read(f"{_model(name)}/history")
        changes: list[ModelChange] = codec.decode(list[ModelChange], data["changes"])
        return changes

    def get_events(
        self, after_id: int = 0, types: Sequence[str] | None = None, limit: int = 1000
    ) -> list[Event]:
        params = {
            "after_id": v.integer("after_id", after_id),
            "types": ",".join(types) if types else None,
            "limit": v.integer("limit", limit),
        }
        events: list[Event] = codec.decode(list[Event], self._read("/events", params)["events"])
        return events

    def add_model_event(
        self,
        name: str,
        type: str,
        payload: Mapping[str, Any],
        *,
        version: int | None = None,
        actor: str = "",
    ) -> Event:
        body = {
            "type": v.event_type(type),
            "payload": v.event_payload(payload),
            "version": None if version is None else v.model_version(version),
        }
        return _as(Event, self._change("POST", f"{_model(name)}/events", actor, body))


def _as(kind: type[T], data: Any) -> T:
    return cast(T, codec.decode(kind, data))


def _flag(value: bool) -> str | None:
    return "true" if value else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _search(
    filter_string: str | None, order_by: Sequence[str] | None, max_results: int, page_token: str | None
) -> dict[str, Any]:
    return {
        "filter": filter_string,
        "order_by": None if order_by is None else [str(o) for o in order_by],
        "max_results": max_results,
        "page_token": page_token,
    }
