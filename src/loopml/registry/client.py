"""RegistryClient: the model registry's API over a Store; ``loopml.Client`` delegates to it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..entities import Event, ModelChange, ModelStage, ModelVersion, PagedList, RegisteredModel
from ..errors import InvalidInput, NotFound
from ..store.validation import model_version as _number
from ..tracking.client import _user

if TYPE_CHECKING:
    from ..store.base import RegistryStore, Store

__all__ = ["RegistryClient", "parse_models_uri"]

_LATEST = "latest"


def _str_tags(tags: Mapping[str, Any] | None) -> dict[str, str]:
    return {k: str(v) for k, v in (tags or {}).items()}


def parse_models_uri(uri: str) -> tuple[str, str, str]:
    """Split a model URI into (name, kind, value).

    ``models:/churn/3`` -> ("churn", "version", "3"); ``models:/churn@champion`` -> ("churn", "alias",
    "champion"); ``models:/churn/Production`` -> ("churn", "stage", "Production");
    ``models:/churn/latest`` -> ("churn", "latest", "").
    """
    if not isinstance(uri, str) or not uri.startswith("models:/"):
        raise InvalidInput(
            f"not a model URI: {uri!r}; use models:/<name>/<version>, models:/<name>@<alias>, "
            "models:/<name>/<stage> or models:/<name>/latest",
            uri=repr(uri),
        )
    rest = uri[len("models:/") :].strip("/")
    name, slash, suffix = rest.partition("/")
    if "@" in name and not slash:
        name, _, alias = name.partition("@")
        if name and alias:
            return name, "alias", alias
    elif name and slash and suffix and "/" not in suffix:
        if suffix.isdigit():
            return name, "version", suffix
        if suffix.lower() == _LATEST:
            return name, _LATEST, ""
        return name, "stage", suffix
    raise InvalidInput(
        f"malformed model URI {uri!r}; use models:/<name>/<version>, models:/<name>@<alias>, "
        "models:/<name>/<stage> or models:/<name>/latest",
        uri=uri,
    )


class RegistryClient:
    """Registered models, versions, stages, aliases, tags, history and events of one store.

    Changes are recorded with ``actor`` (the OS user by default) in the model's audit history.
    """

    def __init__(self, store: Store, actor: str | None = None) -> None:
        self._store = store
        self.actor = actor or _user()

    @property
    def _registry(self) -> RegistryStore:
        return self._store.registry

    # ---- registering ----------------------------------------------------------------------------

    def register_model(
        self,
        model_uri: str,
        name: str,
        *,
        tags: Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> ModelVersion:
        """A new version of ``name`` (created when missing) from ``runs:/<run_id>/<path>``,
        a ``models:/`` URI, or any other URI or path (stored as is)."""
        run_id: str | None = None
        if model_uri.startswith("runs:/"):
            run_id, _, path = model_uri[len("runs:/") :].strip("/").partition("/")
            if not run_id:
                raise InvalidInput(
                    f"malformed run URI {model_uri!r}; use runs:/<run_id>/<path>", uri=model_uri
                )
            root = self._store.get_run(run_id).info.artifact_uri.rstrip("/")
            location = f"{root}/{path.strip('/')}" if path.strip("/") else root
        elif model_uri.startswith("models:/"):
            found = self.resolve_model_version(model_uri)
            location, run_id = found.storage_location, found.run_id
        else:
            location = model_uri
        return self._registry.create_model_version(
            name,
            model_uri,
            location,
            run_id=run_id,
            tags=_str_tags(tags),
            description=description or "",
            actor=self.actor,
        )

    def resolve_model_version(self, uri: str) -> ModelVersion:
        """The version a ``models:/`` URI names (by number, alias, stage or ``latest``)."""
        name, kind, value = parse_models_uri(uri)
        if kind == "version":
            return self._registry.get_model_version(name, int(value))
        if kind == "alias":
            return self._registry.get_model_version_by_alias(name, value)
        if kind == "stage":
            try:
                stage = ModelStage.parse(value)
            except InvalidInput as exc:
                raise InvalidInput(
                    f"{uri!r}: {exc.message}, a version number, an @alias or 'latest'", uri=uri
                ) from None
            found = self._registry.get_latest_versions(name, [stage])
            if not found:
                held = sorted({v.current_stage.value for v in self._registry.get_latest_versions(name)})
                raise NotFound(
                    f"registered model {name!r} has no version in stage {stage.value}; "
                    f"stages with versions: {', '.join(held) or 'none'}",
                    name=name,
                    stage=stage.value,
                )
            return found[0]
        every = self._registry.get_latest_versions(name)
        if not every:
            raise NotFound(f"registered model {name!r} has no versions yet", name=name)
        return max(every, key=lambda v: v.version)

    def resolve_model_uri(self, uri: str) -> str:
        """Where the files of the version ``uri`` names are (what ``load_model`` downloads)."""
        return self.resolve_model_version(uri).storage_location

    # ---- registered models -------------------------------------------------------------------------

    def create_registered_model(
        self, name: str, tags: Mapping[str, Any] | None = None, description: str | None = None
    ) -> RegisteredModel:
        return self._registry.create_registered_model(
            name, description=description or "", tags=_str_tags(tags), actor=self.actor
        )

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self._registry.get_registered_model(name)

    def update_registered_model(
        self, name: str, description: str, comment: str | None = None
    ) -> RegisteredModel:
        return self._registry.update_registered_model(name, description, comment=comment, actor=self.actor)

    def delete_registered_model(self, name: str, force: bool = False) -> None:
        self._registry.delete_registered_model(name, force=force, actor=self.actor)

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        self._registry.set_registered_model_tag(name, key, str(value), actor=self.actor)

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self._registry.delete_registered_model_tag(name, key, actor=self.actor)

    def search_registered_models(
        self,
        filter_string: str = "",
        order_by: Sequence[str] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        return self._registry.search_registered_models(filter_string, order_by, max_results, page_token)

    # ---- versions ----------------------------------------------------------------------------------

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        return self._registry.get_model_version(name, _number(version))

    def update_model_version(
        self, name: str, version: int | str, description: str, comment: str | None = None
    ) -> ModelVersion:
        return self._registry.update_model_version(
            name, _number(version), description, comment=comment, actor=self.actor
        )

    def delete_model_version(self, name: str, version: int | str, force: bool = False) -> None:
        self._registry.delete_model_version(name, _number(version), force=force, actor=self.actor)

    def set_model_version_tag(self, name: str, version: int | str, key: str, value: Any) -> None:
        self._registry.set_model_version_tag(name, _number(version), key, str(value), actor=self.actor)

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        self._registry.delete_model_version_tag(name, _number(version), key, actor=self.actor)

    def get_latest_versions(self, name: str, stages: Sequence[str] | None = None) -> list[ModelVersion]:
        return self._registry.get_latest_versions(name, stages)

    def search_model_versions(
        self,
        filter_string: str = "",
        order_by: Sequence[str] | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        return self._registry.search_model_versions(filter_string, order_by, max_results, page_token)

    # ---- stages and aliases ------------------------------------------------------------------------

    def transition_model_version_stage(
        self,
        name: str,
        version: int | str,
        stage: str,
        archive_existing_versions: bool = False,
        comment: str | None = None,
    ) -> ModelVersion:
        return self._registry.transition_model_version_stage(
            name,
            _number(version),
            stage,
            archive_existing_versions=archive_existing_versions,
            comment=comment,
            actor=self.actor,
        )

    def set_registered_model_alias(
        self, name: str, alias: str, version: int | str, comment: str | None = None
    ) -> None:
        self._registry.set_registered_model_alias(
            name, alias, _number(version), comment=comment, actor=self.actor
        )

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self._registry.delete_registered_model_alias(name, alias, actor=self.actor)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return self._registry.get_model_version_by_alias(name, alias)

    # ---- history and events --------------------------------------------------------------------------

    def get_model_history(self, name: str) -> list[ModelChange]:
        return self._registry.get_model_history(name)

    def get_events(
        self, after_id: int = 0, types: Sequence[str] | None = None, limit: int = 1000
    ) -> list[Event]:
        return self._registry.get_events(after_id, types, limit)

    def add_model_event(
        self, name: str, type: str, payload: Mapping[str, Any], *, version: int | str | None = None
    ) -> Event:
        """Append an event about model ``name`` (or its ``version``): ``drift.detected`` from a
        monitor, or a type of your own (dotted lowercase words). Automations read events."""
        number = None if version is None else _number(version)
        return self._registry.add_model_event(name, type, payload, version=number, actor=self.actor)
