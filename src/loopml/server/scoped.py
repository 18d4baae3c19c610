"""The store as one authenticated user sees it, handed to endpoints of a server run with ``--auth``.

Every method is the app's store's, except that:

- lists and searches answer only what the user may READ (experiments, the experiments a run
  search looks in, registered models, model versions, registry events);
- the user is who acts: the ``user_id`` of the runs they create and the ``actor`` of every
  registry change (audit history and events), whatever the request said;
- the user gets MANAGE on the experiments and registered models they create, and everyone else
  the server's default level at that moment.

Permission checks of single resources happen before the endpoint runs (:mod:`.auth`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, cast

from ..entities import (
    Event,
    Experiment,
    ModelVersion,
    PagedList,
    RegisteredModel,
    ResourceKind,
    Run,
    User,
)
from ..errors import NotFound
from ..store.base import RegistryStore, Store, UserStore, ViewType

__all__ = ["ScopedRegistry", "ScopedStore", "scoped"]

EXPERIMENT, MODEL = ResourceKind.EXPERIMENT, ResourceKind.REGISTERED_MODEL
_MODEL_SUBJECT = "models:/"


def scoped(store: Store, user: User) -> Store:
    """``store`` as ``user`` sees it (typed as the Store it stands for)."""
    return cast(Store, ScopedStore(store, user))


@functools.cache
def _takes_actor(kind: type, name: str) -> bool:
    method = getattr(kind, name, None)
    if not callable(method):
        return False
    try:
        return "actor" in inspect.signature(method).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return False


def _model_of(subject: str) -> str | None:
    """The model name of an event subject ``models:/<name>[/<version>]``."""
    if not subject.startswith(_MODEL_SUBJECT):
        return None
    return subject[len(_MODEL_SUBJECT) :].split("/", 1)[0]


class ScopedStore:
    """See the module docstring. Attributes not defined here are the store's own."""

    def __init__(self, store: Store, user: User) -> None:
        self._store = store
        self._user = user
        self._users: UserStore = store.users

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    @property
    def registry(self) -> RegistryStore:
        return cast(RegistryStore, ScopedRegistry(self._store.registry, self._users, self._user))

    # ---- experiments ------------------------------------------------------------------------

    def create_experiment(
        self, experiment_id: str, name: str, artifact_location: str, tags: dict[str, str] | None = None
    ) -> Experiment:
        experiment = self._store.create_experiment(experiment_id, name, artifact_location, tags)
        self._users.grant_creator(self._user, EXPERIMENT, experiment.experiment_id)
        return experiment

    def search_experiments(self, view: ViewType = "active") -> list[Experiment]:
        found = self._store.search_experiments(view)
        allowed = self._users.readable(self._user, EXPERIMENT, [e.experiment_id for e in found])
        return [e for e in found if e.experiment_id in allowed]

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        found = self._store.get_experiment_by_name(name)
        if found is None or not self._users.readable(self._user, EXPERIMENT, [found.experiment_id]):
            return None
        return found

    # ---- runs -------------------------------------------------------------------------------

    def create_run(self, **kwargs: Any) -> Run:
        return self._store.create_run(**{**kwargs, "user_id": self._user.username})

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        view: ViewType = "active",
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        allowed = self._users.readable(self._user, EXPERIMENT, [str(i) for i in experiment_ids])
        ids = [i for i in experiment_ids if str(i) in allowed]
        if not ids and experiment_ids:
            return PagedList([], None)
        return self._store.search_runs(ids, filter_string, order_by, view, max_results, page_token)


class ScopedRegistry:
    """The registry as one user sees it; every method taking ``actor`` gets the user's name."""

    def __init__(self, registry: RegistryStore, users: UserStore, user: User) -> None:
        self._registry = registry
        self._users = users
        self._user = user

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._registry, name)
        if not _takes_actor(type(self._registry), name):
            return attribute
        method: Callable[..., Any] = attribute

        @functools.wraps(method)
        def as_user(*args: Any, **kwargs: Any) -> Any:
            return method(*args, **{**kwargs, "actor": self._user.username})

        return as_user

    def _readable_models(self, names: Sequence[str]) -> set[str]:
        return self._users.readable(self._user, MODEL, names)

    def create_registered_model(self, name: str, **kwargs: Any) -> RegisteredModel:
        model = self._registry.create_registered_model(name, **{**kwargs, "actor": self._user.username})
        self._users.grant_creator(self._user, MODEL, model.name)
        return model

    def create_model_version(
        self, name: str, source: str, storage_location: str, **kwargs: Any
    ) -> ModelVersion:
        try:
            self._registry.get_registered_model(name)
            new_model = False
        except NotFound:
            new_model = True
        version = self._registry.create_model_version(
            name, source, storage_location, **{**kwargs, "actor": self._user.username}
        )
        if new_model:
            self._users.grant_creator(self._user, MODEL, version.name)
        return version

    def delete_registered_model(self, name: str, **kwargs: Any) -> None:
        self._registry.delete_registered_model(name, **{**kwargs, "actor": self._user.username})
        self._users.forget_resource(MODEL, name)

    def search_registered_models(self, *args: Any, **kwargs: Any) -> PagedList[RegisteredModel]:
        page = self._registry.search_registered_models(*args, **kwargs)
        allowed = self._readable_models([m.name for m in page])
        return PagedList([m for m in page if m.name in allowed], page.token)

    def search_model_versions(self, *args: Any, **kwargs: Any) -> PagedList[ModelVersion]:
        page = self._registry.search_model_versions(*args, **kwargs)
        allowed = self._readable_models([v.name for v in page])
        return PagedList([v for v in page if v.name in allowed], page.token)

    def get_events(self, *args: Any, **kwargs: Any) -> list[Event]:
        """Events of registered models the user may READ, and every event about anything else
        (flows and tasks belong to no experiment or model)."""
        events = self._registry.get_events(*args, **kwargs)
        names = {n for n in (_model_of(e.subject) for e in events) if n is not None}
        allowed = self._readable_models(sorted(names))
        return [e for e in events if (n := _model_of(e.subject)) is None or n in allowed]
