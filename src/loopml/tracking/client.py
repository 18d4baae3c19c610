"""Client: the explicit tracking API over one Store and the artifact roots of its runs."""

from __future__ import annotations

import functools
import getpass
import os
import sys
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..entities import (
    DatasetInput,
    Experiment,
    FileInfo,
    FlowRun,
    LogRecord,
    Metric,
    MetricHistory,
    PagedList,
    Param,
    Run,
    RunArtifact,
    RunStatus,
    RunTag,
    StateType,
    TaskRun,
)
from ..errors import AlreadyExists, InvalidInput
from .names import generate_run_name

if TYPE_CHECKING:
    from ..artifacts.store import ArtifactStore
    from ..entities import Event, ModelChange, ModelVersion, RegisteredModel
    from ..registry.client import RegistryClient
    from ..settings import Settings
    from ..store.base import Store, ViewType

DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def default_artifact_root(settings: Settings, tracking_uri: str) -> str:
    """Configured root; else, on a loopml server, ``loopml-artifacts:/`` (the server keeps the
    artifacts and serves them); else beside an SQLite database file; else ``<home>/artifacts``."""
    if settings.artifact_root:
        return settings.artifact_root
    if tracking_uri.lower().startswith(("http://", "https://")):
        from ..artifacts.uris import SERVER_ROOT

        return SERVER_ROOT
    if tracking_uri.startswith("sqlite:///"):
        db_path = tracking_uri[len("sqlite:///") :]
        return (Path(db_path).expanduser().absolute().parent / "artifacts").as_posix()
    return settings.resolved_artifact_root


def _source() -> str:
    script = sys.argv[0] if sys.argv else ""
    return os.path.abspath(script) if script and os.path.exists(script) else "<interactive>"


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user database entry (containers)
        return "unknown"


class Client:
    """Tracking, explicitly: ``Client(tracking_uri=..., artifact_root=...)``.

    Without arguments it uses the settings (``LOOPML_TRACKING_URI``, ``LOOPML_ARTIFACT_ROOT``,
    ``LOOPML_HOME``), read when the client is built.
    """

    def __init__(
        self,
        tracking_uri: str | None = None,
        artifact_root: str | None = None,
        *,
        settings: Settings | None = None,
    ) -> None:
        from ..settings import load_settings
        from ..store.resolver import open_store

        self.settings = settings or load_settings(tracking_uri=tracking_uri, artifact_root=artifact_root)
        self.tracking_uri = tracking_uri or self.settings.resolved_tracking_uri
        self.artifact_root = artifact_root or default_artifact_root(self.settings, self.tracking_uri)
        self.store: Store = open_store(
            self.tracking_uri,
            busy_timeout_s=self.settings.sqlite_busy_timeout_s,
            token=self.settings.tracking_token,
        )
        self._default_ready = False

    def __repr__(self) -> str:
        return f"Client(tracking_uri={self.tracking_uri!r}, artifact_root={self.artifact_root!r})"

    def close(self) -> None:
        self.store.close()

    # ---- experiments ----------------------------------------------------------------------

    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: Mapping[str, Any] | None = None
    ) -> str:
        """Create an experiment; returns its id. A taken name is AlreadyExists."""
        experiment_id = uuid.uuid4().hex
        location = artifact_location or f"{self.artifact_root.rstrip('/')}/{experiment_id}"
        str_tags = {k: str(v) for k, v in (tags or {}).items()}
        return self.store.create_experiment(experiment_id, name, location, str_tags).experiment_id

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self.store.get_experiment(str(experiment_id))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self.store.get_experiment_by_name(name)

    def search_experiments(self, view: ViewType = "active") -> list[Experiment]:
        return self.store.search_experiments(view)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self.store.rename_experiment(str(experiment_id), new_name)

    def delete_experiment(self, experiment_id: str) -> None:
        self.store.delete_experiment(str(experiment_id))

    def restore_experiment(self, experiment_id: str) -> None:
        self.store.restore_experiment(str(experiment_id))

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        self.store.set_experiment_tag(str(experiment_id), key, str(value))

    def get_or_create_experiment(self, name: str) -> Experiment:
        """The experiment named ``name``, created when missing (safe when processes race)."""
        found = self.store.get_experiment_by_name(name)
        if found is not None:
            return found
        try:
            return self.get_experiment(self.create_experiment(name))
        except AlreadyExists:
            found = self.store.get_experiment_by_name(name)
            if found is None:
                raise
            return found

    def default_experiment(self) -> Experiment:
        """The experiment runs go to when none is chosen (id "0", named "Default")."""
        found = self.store.get_experiment_by_name(DEFAULT_EXPERIMENT_NAME)
        if found is not None:
            return found
        location = f"{self.artifact_root.rstrip('/')}/{DEFAULT_EXPERIMENT_ID}"
        try:
            return self.store.create_experiment(DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME, location)
        except AlreadyExists:
            return self.store.get_experiment(DEFAULT_EXPERIMENT_ID)

    # ---- runs ---------------------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str | None = None,
        run_name: str | None = None,
        tags: Mapping[str, Any] | None = None,
        parent_run_id: str | None = None,
        start_time: int | None = None,
    ) -> Run:
        """Start a RUNNING run in the experiment (the default one when None)."""
        if experiment_id is None:
            experiment_id = self.default_experiment_id()
        return self.store.create_run(
            run_id=uuid.uuid4().hex,
            experiment_id=str(experiment_id),
            run_name=run_name or generate_run_name(),
            start_time=now_ms() if start_time is None else start_time,
            user_id=_user(),
            source=_source(),
            parent_run_id=parent_run_id,
            tags={k: str(v) for k, v in (tags or {}).items()},
        )

    def default_experiment_id(self) -> str:
        """The id of the default experiment, created on first use ("0")."""
        if not self._default_ready:
            self.default_experiment()
            self._default_ready = True
        return DEFAULT_EXPERIMENT_ID

    def get_run(self, run_id: str) -> Run:
        return self.store.get_run(run_id)

    def set_terminated(self, run_id: str, status: str = "FINISHED", end_time: int | None = None) -> None:
        try:
            final = RunStatus(status)
        except ValueError:
            valid = ", ".join(s.value for s in RunStatus)
            raise InvalidInput(f"unknown run status {status!r}; use one of {valid}") from None
        self.store.set_terminated(run_id, final, now_ms() if end_time is None else end_time)

    def rename_run(self, run_id: str, run_name: str) -> None:
        self.store.rename_run(run_id, run_name)

    def delete_run(self, run_id: str) -> None:
        self.store.delete_run(run_id)

    def restore_run(self, run_id: str) -> None:
        self.store.restore_run(run_id)

    # ---- params, metrics, tags ------------------------------------------------------------------

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        self.store.log_param(run_id, Param(key, str(value)))

    def log_metric(
        self, run_id: str, key: str, value: float, step: int | None = None, timestamp: int | None = None
    ) -> None:
        self.store.log_metric(
            run_id, Metric(key, value, now_ms() if timestamp is None else timestamp, step or 0)
        )

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self.store.set_tag(run_id, RunTag(key, str(value)))

    def delete_tag(self, run_id: str, key: str) -> None:
        self.store.delete_tag(run_id, key)

    def log_batch(
        self,
        run_id: str,
        metrics: Iterable[Metric] = (),
        params: Iterable[Param] | Mapping[str, Any] = (),
        tags: Iterable[RunTag] | Mapping[str, Any] = (),
    ) -> None:
        """Metrics, params and tags in one call and one transaction: all stored or none."""
        param_list = (
            [Param(k, str(v)) for k, v in params.items()] if isinstance(params, Mapping) else list(params)
        )
        tag_list = [RunTag(k, str(v)) for k, v in tags.items()] if isinstance(tags, Mapping) else list(tags)
        self.store.log_batch(run_id, list(metrics), param_list, tag_list)

    def get_metric_history(self, run_id: str, key: str) -> MetricHistory:
        return self.store.get_metric_history(run_id, key)

    # ---- datasets --------------------------------------------------------------------------------

    def log_input(
        self,
        run_id: str,
        dataset: Any,
        context: str = "training",
        name: str | None = None,
        *,
        source: str | None = None,
    ) -> DatasetInput:
        """Record that the run used ``dataset`` (a DataFrame, an ndarray, or a file path/URL) in
        ``context`` (training, validation or test): its digest, source, schema and profile.

        A dataset (same name and digest) used by many runs is stored once. Returns what was recorded.
        """
        from .datasets import dataset_input

        recorded = dataset_input(dataset, context, name, source)
        self.store.log_inputs(run_id, [recorded], dataset_ids=[uuid.uuid4().hex])
        return recorded

    def get_run_inputs(self, run_id: str) -> list[DatasetInput]:
        """The datasets the run used: training, then validation, then test."""
        return self.store.get_run_inputs(run_id)

    def get_model_version_datasets(self, name: str, version: int | str) -> list[DatasetInput]:
        """The datasets of the run a model version came from ([] for a version without a run)."""
        run_id = self.get_model_version(name, version).run_id
        return [] if run_id is None else self.store.get_run_inputs(run_id)

    def search_runs(
        self,
        experiment_ids: Sequence[str] | str,
        filter_string: str = "",
        order_by: Sequence[str] | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
        run_view_type: ViewType = "active",
    ) -> PagedList[Run]:
        """One page of runs; ``result.token`` fetches the next (None on the last page)."""
        ids = [experiment_ids] if isinstance(experiment_ids, str) else [str(e) for e in experiment_ids]
        return self.store.search_runs(ids, filter_string, order_by, run_view_type, max_results, page_token)

    # ---- artifacts --------------------------------------------------------------------------------

    def artifact_store(self, run_id: str) -> ArtifactStore:
        return self.artifacts_at(self.get_run(run_id).info.artifact_uri)

    def artifacts_at(self, uri: str) -> ArtifactStore:
        """The ArtifactStore of an artifact URI; a ``loopml-artifacts:/`` URI is reached through
        this client's tracking server, with its token."""
        from ..artifacts.store import ArtifactStore
        from ..artifacts.uris import is_server_uri

        if not is_server_uri(uri):
            return ArtifactStore(uri)
        return ArtifactStore(uri, {"tracking_uri": self.tracking_uri, "token": self.settings.tracking_token})

    def log_artifact(
        self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        self.artifact_store(run_id).log_file(local_path, artifact_path)

    def log_artifacts(
        self, run_id: str, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        self.artifact_store(run_id).log_dir(local_dir, artifact_path)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self.artifact_store(run_id).log_text(text, artifact_file)

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> None:
        self.artifact_store(run_id).log_dict(dictionary, artifact_file)

    def log_figure(self, run_id: str, figure: Any, artifact_file: str) -> None:
        self.artifact_store(run_id).log_figure(figure, artifact_file)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        return self.artifact_store(run_id).list(path)

    def download_artifacts(
        self, run_id: str, path: str = "", dst_path: str | os.PathLike[str] | None = None
    ) -> str:
        return self.artifact_store(run_id).download(path, dst_path)

    # ---- orchestration records (flows and tasks: loopml/orchestration) -----------------------------

    def get_flow_run(self, flow_run_id: str) -> FlowRun:
        """A flow run; one whose process is gone reads as CRASHED."""
        return self.store.orchestration.get_flow_run(flow_run_id)

    def search_flow_runs(
        self,
        flow_name: str | None = None,
        states: Sequence[str] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> PagedList[FlowRun]:
        """Flow runs, newest first, optionally of one flow and in some states (``"FAILED"``, ...)."""
        wanted = None if states is None else [_state(s) for s in states]
        return self.store.orchestration.search_flow_runs(
            flow_name=flow_name, states=wanted, max_results=max_results, page_token=page_token
        )

    def get_task_runs(self, flow_run_id: str) -> list[TaskRun]:
        return self.store.orchestration.get_task_runs(flow_run_id)

    def get_flow_run_logs(self, flow_run_id: str, task_run_id: str | None = None) -> list[LogRecord]:
        return self.store.orchestration.get_logs(flow_run_id, task_run_id)

    def get_run_artifacts(self, flow_run_id: str | None = None, key: str | None = None) -> list[RunArtifact]:
        """The markdown, table and link artifacts of a flow run (or every one with ``key``)."""
        return self.store.orchestration.get_artifacts(flow_run_id, key)

    def retry_flow_run(self, flow_run_id: str) -> Any:
        """Run a failed or crashed flow run again in this process, reusing the persisted results
        of its completed task calls; returns the final State."""
        from ..orchestration.flow_retry import retry_flow_run

        return retry_flow_run(self, flow_run_id)

    def clear_cache(self, flow_name: str | None = None, task: str | None = None) -> int:
        """Forget cached task results (of one flow and/or one task); returns how many."""
        return self.store.orchestration.clear_cache(flow_name=flow_name, task_key=task)

    # ---- model registry: thin delegation to self.registry (loopml/registry/client.py) ---------------

    @functools.cached_property
    def registry(self) -> RegistryClient:
        """The model registry of this client's store (changes are recorded as the OS user)."""
        from ..registry.client import RegistryClient

        return RegistryClient(self.store)

    def register_model(
        self,
        model_uri: str,
        name: str,
        *,
        tags: Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> ModelVersion:
        return self.registry.register_model(model_uri, name, tags=tags, description=description)

    def resolve_model_uri(self, uri: str) -> str:
        return self.registry.resolve_model_uri(uri)

    def create_registered_model(
        self, name: str, tags: Mapping[str, Any] | None = None, description: str | None = None
    ) -> RegisteredModel:
        return self.registry.create_registered_model(name, tags, description)

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self.registry.get_registered_model(name)

    def update_registered_model(
        self, name: str, description: str, comment: str | None = None
    ) -> RegisteredModel:
        return self.registry.update_registered_model(name, description, comment)

    def delete_registered_model(self, name: str, force: bool = False) -> None:
        self.registry.delete_registered_model(name, force)

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        self.registry.set_registered_model_tag(name, key, value)

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self.registry.delete_registered_model_tag(name, key)

    def search_registered_models(
        self,
        filter_string: str = "",
        order_by: Sequence[str] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        return self.registry.search_registered_models(filter_string, order_by, max_results, page_token)

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        return self.registry.get_model_version(name, version)

    def update_model_version(
        self, name: str, version: int | str, description: str, comment: str | None = None
    ) -> ModelVersion:
        return self.registry.update_model_version(name, version, description, comment)

    def delete_model_version(self, name: str, version: int | str, force: bool = False) -> None:
        self.registry.delete_model_version(name, version, force)

    def set_model_version_tag(self, name: str, version: int | str, key: str, value: Any) -> None:
        self.registry.set_model_version_tag(name, version, key, value)

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        self.registry.delete_model_version_tag(name, version, key)

    def get_latest_versions(self, name: str, stages: Sequence[str] | None = None) -> list[ModelVersion]:
        return self.registry.get_latest_versions(name, stages)

    def search_model_versions(
        self,
        filter_string: str = "",
        order_by: Sequence[str] | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        return self.registry.search_model_versions(filter_string, order_by, max_results, page_token)

    def transition_model_version_stage(
        self,
        name: str,
        version: int | str,
        stage: str,
        archive_existing_versions: bool = False,
        comment: str | None = None,
    ) -> ModelVersion:
        return self.registry.transition_model_version_stage(
            name, version, stage, archive_existing_versions, comment
        )

    def set_registered_model_alias(
        self, name: str, alias: str, version: int | str, comment: str | None = None
    ) -> None:
        self.registry.set_registered_model_alias(name, alias, version, comment)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self.registry.delete_registered_model_alias(name, alias)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return self.registry.get_model_version_by_alias(name, alias)

    def get_model_history(self, name: str) -> list[ModelChange]:
        return self.registry.get_model_history(name)

    def get_events(
        self, after_id: int = 0, types: Sequence[str] | None = None, limit: int = 1000
    ) -> list[Event]:
        return self.registry.get_events(after_id, types, limit)

    def add_model_event(
        self, name: str, type: str, payload: Mapping[str, Any], *, version: int | str | None = None
    ) -> Event:
        return self.registry.add_model_event(name, type, payload, version=version)


def _state(value: str) -> StateType:
    try:
        return StateType(value.upper().replace("TIMEDOUT", "TIMED_OUT"))
    except ValueError:
        raise InvalidInput(
            f"unknown state {value!r}; valid: {', '.join(s.value for s in StateType)}", state=value
        ) from None
