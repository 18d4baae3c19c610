"""The fluent API for notebooks and scripts: ``loopml.start_run()``, ``loopml.log_metric()``.

The active run lives in a ContextVar: every thread and every asyncio task sees its own.
Process-wide choices (tracking URI, experiment) are settings, kept in the ``LOOPML_*``
environment variables so that subprocesses inherit them.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from ..entities import DatasetInput, Experiment, Metric, Param, Run, RunStatus, RunTag
from ..errors import Conflict, InvalidInput, NotFound
from .client import Client, now_ms

if TYPE_CHECKING:
    import pandas as pd

_active_runs: ContextVar[tuple[ActiveRun, ...]] = ContextVar("loopml_active_runs", default=())
# Set by a running flow: opens (once) the flow's tracking run when something is logged inside it
# with no active run, so metrics logged in its tasks land in one run linked to the flow run.
run_opener: ContextVar[Callable[[], ActiveRun] | None] = ContextVar("loopml_run_opener", default=None)


class ActiveRun:
    """The run started by :func:`start_run`; a context manager that ends it.

    Leaving the ``with`` block normally marks the run FINISHED; an exception marks it FAILED
    (KeyboardInterrupt: KILLED) and propagates unchanged.
    """

    def __init__(self, run: Run, client: Client) -> None:
        self._run = run
        self.client = client
        self.run_id = run.info.run_id

    @property
    def info(self) -> Any:
        return self._run.info

    @property
    def data(self) -> Any:
        return self.client.get_run(self.run_id).data

    def __repr__(self) -> str:
        return f"ActiveRun(run_id={self.run_id!r}, name={self._run.info.run_name!r})"

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            status = RunStatus.FINISHED
        elif issubclass(exc_type, KeyboardInterrupt):
            status = RunStatus.KILLED
        else:
            status = RunStatus.FAILED
        _end(self, status)


@functools.lru_cache(maxsize=8)
def _client_for(settings_key: tuple[str, ...]) -> Client:
    del settings_key  # the cache key only: the Client reads the same variables itself
    return Client()


# The variables a Client's store and artifact root depend on: a change to any of them
# (set_tracking_uri, another LOOPML_HOME) gives the fluent API another Client.
_CLIENT_VARIABLES = (
    "LOOPML_HOME",
    "LOOPML_TRACKING_URI",
    "LOOPML_ARTIFACT_ROOT",
    "LOOPML_RESULT_STORAGE",
    "LOOPML_SQLITE_BUSY_TIMEOUT_S",
    "LOOPML_ASYNC_LOGGING",
)


def _client() -> Client:
    return _client_for(tuple(os.environ.get(name, "") for name in _CLIENT_VARIABLES))


def set_tracking_uri(uri: str | os.PathLike[str]) -> None:
    """Where runs are stored from now on in this process (and its subprocesses).

    A plain path means an SQLite file: ``set_tracking_uri("runs.db")``.
    """
    text = os.fspath(uri)
    if "://" not in text:
        text = f"sqlite:///{os.path.abspath(text)}"
    os.environ["LOOPML_TRACKING_URI"] = text


def get_tracking_uri() -> str:
    return _client().tracking_uri


def set_experiment(experiment_name: str | None = None, experiment_id: str | None = None) -> Experiment:
    """Choose the experiment of the next runs, creating it by name when missing."""
    client = _client()
    if experiment_id is not None:
        experiment = client.get_experiment(experiment_id)
    elif experiment_name is not None:
        experiment = client.get_or_create_experiment(experiment_name)
    else:
        raise InvalidInput("set_experiment needs experiment_name or experiment_id")
    if experiment.lifecycle_stage != "active":
        raise Conflict(f"experiment {experiment.name!r} is deleted; restore it or choose another")
    os.environ["LOOPML_EXPERIMENT_ID"] = experiment.experiment_id
    os.environ.pop("LOOPML_EXPERIMENT_NAME", None)
    return experiment


def create_experiment(
    name: str, artifact_location: str | None = None, tags: Mapping[str, Any] | None = None
) -> str:
    return _client().create_experiment(name, artifact_location, tags)


def get_experiment(experiment_id: str) -> Experiment:
    return _client().get_experiment(experiment_id)


def get_experiment_by_name(name: str) -> Experiment | None:
    return _client().get_experiment_by_name(name)


def _current_experiment_id(client: Client) -> str:
    chosen = os.environ.get("LOOPML_EXPERIMENT_ID")
    if chosen:
        return chosen
    name = os.environ.get("LOOPML_EXPERIMENT_NAME")
    if name:
        return client.get_or_create_experiment(name).experiment_id
    return client.default_experiment_id()


def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
    parent_run_id: str | None = None,
) -> ActiveRun:
    """Start (or, with ``run_id``, resume) a run and make it active in this context."""
    stack = _active_runs.get()
    if stack and not nested and parent_run_id is None:
        raise Conflict(
            f"run {stack[-1].run_id} is already active; end it first, or pass nested=True for a child run",
            run_id=stack[-1].run_id,
        )
    client = _client()
    if run_id is not None:
        run = client.get_run(run_id)
        if run.info.status != RunStatus.RUNNING:
            client.set_terminated(run_id, RunStatus.RUNNING)
            run = client.get_run(run_id)
    else:
        all_tags = dict(tags or {})
        if description is not None:
            all_tags["loopml.note"] = description
        parent = parent_run_id or (stack[-1].run_id if stack else None)
        run = client.create_run(
            experiment_id or _current_experiment_id(client), run_name, all_tags, parent_run_id=parent
        )
    active = ActiveRun(run, client)
    _active_runs.set((*stack, active))
    return active


def active_run() -> ActiveRun | None:
    """The innermost active run of this thread or task, or None."""
    stack = _active_runs.get()
    return stack[-1] if stack else None


def last_active_run() -> Run | None:
    stack = _active_runs.get()
    return stack[-1].client.get_run(stack[-1].run_id) if stack else None


def _end(active: ActiveRun, status: RunStatus) -> None:
    stack = _active_runs.get()
    if active in stack:
        _active_runs.set(tuple(r for r in stack if r is not active))
    active.client.set_terminated(active.run_id, status)


def end_run(status: str = "FINISHED") -> None:
    """End the innermost active run (no-op when none is active)."""
    current = active_run()
    if current is not None:
        _end(current, RunStatus(status))


def _ensure_run() -> ActiveRun:
    stack = _active_runs.get()
    if stack:
        return stack[-1]
    opener = run_opener.get()
    return opener() if opener is not None else start_run()


def log_param(key: str, value: Any) -> Any:
    run = _ensure_run()
    run.client.store.log_param(run.run_id, Param(key, str(value)))
    return value


def log_params(params: Mapping[str, Any]) -> None:
    run = _ensure_run()
    run.client.store.log_batch(run.run_id, params=[Param(k, str(v)) for k, v in params.items()])


def log_metric(key: str, value: float, step: int | None = None, timestamp: int | None = None) -> None:
    """Log one metric point; durable when the call returns."""
    run = _ensure_run()
    run.client.store.log_metric(
        run.run_id, Metric(key, value, now_ms() if timestamp is None else timestamp, step or 0)
    )


def log_metrics(metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None) -> None:
    run = _ensure_run()
    ts = now_ms() if timestamp is None else timestamp
    run.client.store.log_batch(run.run_id, metrics=[Metric(k, v, ts, step or 0) for k, v in metrics.items()])


def set_tag(key: str, value: Any) -> None:
    run = _ensure_run()
    run.client.store.set_tag(run.run_id, RunTag(key, str(value)))


def set_tags(tags: Mapping[str, Any]) -> None:
    run = _ensure_run()
    run.client.store.log_batch(run.run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])


def delete_tag(key: str) -> None:
    run = _ensure_run()
    run.client.store.delete_tag(run.run_id, key)


def log_input(
    dataset: Any,
    context: str = "training",
    name: str | None = None,
    *,
    source: str | None = None,
    run_id: str | None = None,
) -> DatasetInput:
    """Record a dataset (DataFrame, ndarray, or file path/URL) as an input of the active run (or
    ``run_id``): digest, source, schema and profile; ``context`` is training, validation or test."""
    if run_id is not None:
        return _client().log_input(run_id, dataset, context, name, source=source)
    run = _ensure_run()
    return run.client.log_input(run.run_id, dataset, context, name, source=source)


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    run = _ensure_run()
    run.client.log_artifact(run.run_id, local_path, artifact_path)


def log_artifacts(local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    run = _ensure_run()
    run.client.log_artifacts(run.run_id, local_dir, artifact_path)


def log_text(text: str, artifact_file: str) -> None:
    run = _ensure_run()
    run.client.log_text(run.run_id, text, artifact_file)


def log_dict(dictionary: Any, artifact_file: str) -> None:
    run = _ensure_run()
    run.client.log_dict(run.run_id, dictionary, artifact_file)


def log_figure(figure: Any, artifact_file: str) -> None:
    run = _ensure_run()
    run.client.log_figure(run.run_id, figure, artifact_file)


def get_artifact_uri(artifact_path: str | None = None) -> str:
    run = _ensure_run()
    base = run.info.artifact_uri.rstrip("/")
    return f"{base}/{artifact_path.lstrip('/')}" if artifact_path else base


def download_artifacts(
    run_id: str | None = None, artifact_path: str = "", dst_path: str | os.PathLike[str] | None = None
) -> str:
    client = _client()
    if run_id is None:
        current = active_run()
        if current is None:
            raise InvalidInput("download_artifacts needs run_id when no run is active")
        run_id = current.run_id
    return client.download_artifacts(run_id, artifact_path, dst_path)


def get_run(run_id: str) -> Run:
    return _client().get_run(run_id)


def search_runs(
    experiment_ids: Sequence[str] | None = None,
    filter_string: str = "",
    order_by: Sequence[str] | None = None,
    max_results: int | None = None,
    output_format: Literal["pandas", "list"] = "pandas",
    experiment_names: Sequence[str] | None = None,
    run_view_type: Literal["active", "deleted", "all"] = "active",
) -> pd.DataFrame | list[Run]:
    """Every matching run (all pages, unless ``max_results`` caps them), as a DataFrame or a list."""
    client = _client()
    ids = [str(e) for e in experiment_ids or ()]
    for name in experiment_names or ():
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise NotFound(f"no experiment named {name!r}", name=name)
        ids.append(experiment.experiment_id)
    if not ids:
        ids = [_current_experiment_id(client)]
    if output_format not in ("pandas", "list"):
        raise InvalidInput(f"output_format must be 'pandas' or 'list', got {output_format!r}")
    runs: list[Run] = []
    token: str | None = None
    while True:
        page_size = 50_000 if max_results is None else min(50_000, max_results - len(runs))
        page = client.search_runs(ids, filter_string, order_by, page_size, token, run_view_type)
        runs.extend(page)
        token = page.token
        if token is None or (max_results is not None and len(runs) >= max_results):
            break
    if output_format == "list":
        return runs
    from .frames import runs_to_frame

    return runs_to_frame(runs)
