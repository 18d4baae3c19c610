"""HttpStore: the Store protocol over HTTP to a loopml server (``http://host:port``).

Each method is one request to the REST API the server documents in docs/server.md; answers
come back as the same entities (:mod:`loopml.codec`) and errors as the same LoopmlError
subclasses the server's store raised. The model registry and the orchestration records are
:mod:`.registry` (HttpRegistry) and :mod:`.orchestration` (HttpOrchestration) on the same transport.

Idempotency (see transport.py): creates carry the client's id and are retried; when a retried
create finds its own first attempt stored, the stored entity is the answer. Appending metric
points is never retried once the request may have reached the server.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import quote

from ... import codec
from ...entities import (
    DatasetInput,
    Experiment,
    Metric,
    MetricHistory,
    PagedList,
    Param,
    Run,
    RunStatus,
    RunTag,
)
from ...errors import AlreadyExists, InvalidInput, NotFound
from .. import validation as v
from .transport import Transport

if TYPE_CHECKING:
    from ..base import OrchestrationStore, RegistryStore, UserStore, ViewType
    from .async_logging import AsyncLogging

__all__ = ["API", "HttpStore", "segment"]

API = "/api/v1"
T = TypeVar("T")


def segment(value: str) -> str:
    """``value`` as one path segment: reserved characters and dots escaped, so a key like
    ``train/loss`` or ``.`` reaches the server whole (the server decodes it back)."""
    return quote(str(value), safe="").replace(".", "%2E")


class HttpStore:
    """The tracking part of the Store protocol against a loopml server at ``uri``.

    ``token`` (default: the ``LOOPML_TRACKING_TOKEN`` setting) is sent as a bearer token.
    With ``async_logging`` (default: the ``LOOPML_ASYNC_LOGGING`` setting) ``log_metric``,
    ``log_param`` and ``set_tag`` are queued and sent in batches (see :mod:`.async_logging`).
    """

    def __init__(
        self,
        uri: str,
        *,
        token: str | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        async_logging: bool | None = None,
    ) -> None:
        if token is None or async_logging is None:
            from ...settings import load_settings

            settings = load_settings()
            token = settings.tracking_token if token is None else token
            async_logging = settings.async_logging if async_logging is None else async_logging
        self.uri = uri
        self.transport = Transport(uri, token=token or None, timeout=timeout, retries=retries)
        self._queue: AsyncLogging | None = None
        if async_logging:
            from .async_logging import AsyncLogging

            self._queue = AsyncLogging(self._send_batch)

    def __repr__(self) -> str:
        return f"HttpStore({self.uri!r})"

    def close(self) -> None:
        try:
            if self._queue is not None:
                self._queue.close()
        finally:
            self.transport.close()

    def flush(self) -> None:
        """Wait until the values queued by asynchronous logging are sent (no-op without it);
        raise the error of a background send, if any."""
        if self._queue is not None:
            self._queue.flush()

    @property
    def registry(self) -> RegistryStore:
        """The model registry over this server's transport (stateless: built on each access)."""
        from .registry import HttpRegistry

        return HttpRegistry(self.transport)

    @property
    def orchestration(self) -> OrchestrationStore:
        """Flow and task records over this server's transport (stateless: built on each access)."""
        from .orchestration import HttpOrchestration

        return HttpOrchestration(self.transport)

    @property
    def users(self) -> UserStore:
        raise InvalidInput(
            f"users, tokens and permissions are administered on the server's database, not through "
            f"the server ({self.uri}); run `loopml users` / `loopml permissions` with "
            "--backend-store-uri set to the server's store",
            feature="users",
        )

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        if self._queue is not None:  # every other call waits for the queued values first
            return self._queue.before(lambda: self.transport.request(method, API + path, **kwargs))
        return self.transport.request(method, API + path, **kwargs)

    # ---- experiments ------------------------------------------------------------------------

    def create_experiment(
        self, experiment_id: str, name: str, artifact_location: str, tags: dict[str, str] | None = None
    ) -> Experiment:
        body = {
            "experiment_id": experiment_id,
            "name": name,
            "artifact_location": artifact_location,
            "tags": _strings(tags),
        }

        def stored(error: AlreadyExists) -> Experiment:
            return _ours(error, lambda: self.get_experiment(experiment_id))

        data = self._call("POST", "/experiments", json=body, on_duplicate=stored)
        return data if isinstance(data, Experiment) else _as(Experiment, data)

    def get_experiment(self, experiment_id: str) -> Experiment:
        return _as(Experiment, self._call("GET", f"/experiments/{segment(experiment_id)}"))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        data = self._call("GET", "/experiments", params={"name": name})
        found: list[Experiment] = codec.decode(list[Experiment], data["experiments"])
        return found[0] if found else None

    def search_experiments(self, view: ViewType = "active") -> list[Experiment]:
        data = self._call("GET", "/experiments", params={"view": view})
        found: list[Experiment] = codec.decode(list[Experiment], data["experiments"])
        return found

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self._call("PATCH", f"/experiments/{segment(experiment_id)}", json={"name": new_name})

    def delete_experiment(self, experiment_id: str) -> None:
        self._call("DELETE", f"/experiments/{segment(experiment_id)}")

    def restore_experiment(self, experiment_id: str) -> None:
        self._call("POST", f"/experiments/{segment(experiment_id)}/restore")

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        path = f"/experiments/{segment(experiment_id)}/tags/{segment(key)}"
        self._call("PUT", path, json={"value": _string(value)})

    # ---- runs -------------------------------------------------------------------------------

    def create_run(
        self,
        *,
        run_id: str,
        experiment_id: str,
        run_name: str,
        start_time: int,
        artifact_uri: str | None = None,
        user_id: str = "",
        source: str = "",
        parent_run_id: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> Run:
        body = {
            "run_id": run_id,
            "experiment_id": experiment_id,
            "run_name": run_name,
            "start_time": v.integer("start_time", start_time),
            "artifact_uri": artifact_uri,
            "user_id": user_id,
            "source": source,
            "parent_run_id": parent_run_id,
            "tags": _strings(tags),
        }

        def stored(error: AlreadyExists) -> Run:
            return _ours(error, lambda: self.get_run(run_id))

        data = self._call("POST", "/runs", json=body, on_duplicate=stored)
        return data if isinstance(data, Run) else _as(Run, data)

    def get_run(self, run_id: str) -> Run:
        return _as(Run, self._call("GET", f"/runs/{segment(run_id)}"))

    def set_terminated(self, run_id: str, status: RunStatus, end_time: int) -> None:
        body = {"status": RunStatus(status).value, "end_time": v.integer("end_time", end_time)}
        self._call("POST", f"/runs/{segment(run_id)}/terminate", json=body)

    def rename_run(self, run_id: str, run_name: str) -> None:
        self._call("PATCH", f"/runs/{segment(run_id)}", json={"run_name": run_name})

    def delete_run(self, run_id: str) -> None:
        self._call("DELETE", f"/runs/{segment(run_id)}")

    def restore_run(self, run_id: str) -> None:
        self._call("POST", f"/runs/{segment(run_id)}/restore")

    # ---- run data ---------------------------------------------------------------------------

    def log_metric(self, run_id: str, metric: Metric) -> None:
        if self._queue is not None:
            return self._queue.log_metric(run_id, metric)
        body = _encode(_sendable(metric))
        self._call("POST", f"/runs/{segment(run_id)}/metrics", json=body, idempotent=False)

    def log_param(self, run_id: str, param: Param) -> None:
        if self._queue is not None:
            return self._queue.log_param(run_id, param)
        body = {"key": param.key, "value": _string(param.value)}
        self._call("POST", f"/runs/{segment(run_id)}/params", json=body)

    def set_tag(self, run_id: str, tag: RunTag) -> None:
        if self._queue is not None:
            return self._queue.set_tag(run_id, tag)
        self._call(
            "PUT", f"/runs/{segment(run_id)}/tags/{segment(tag.key)}", json={"value": _string(tag.value)}
        )

    def delete_tag(self, run_id: str, key: str) -> None:
        # Not idempotent in its answer: a retry after the first attempt went through is NotFound.
        self._call("DELETE", f"/runs/{segment(run_id)}/tags/{segment(key)}", idempotent=False)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        # params and tags are sets (idempotent); metric points are appended (not)
        body = _batch_body(metrics, params, tags)
        self._call("POST", f"/runs/{segment(run_id)}/batch", json=body, idempotent=not metrics)

    def _send_batch(
        self, run_id: str, metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag]
    ) -> None:
        """``log_batch`` for the asynchronous logging thread (no wait for its own queue)."""
        body = _batch_body(metrics, params, tags)
        self.transport.request(
            "POST", f"{API}/runs/{segment(run_id)}/batch", json=body, idempotent=not metrics
        )

    def get_metric_history(self, run_id: str, key: str) -> MetricHistory:
        data = self._call("GET", f"/runs/{segment(run_id)}/metrics/{segment(key)}/history")
        return _as(MetricHistory, data)

    # ---- datasets ---------------------------------------------------------------------------

    def log_inputs(
        self, run_id: str, inputs: Sequence[DatasetInput], *, dataset_ids: Sequence[str] | None = None
    ) -> None:
        # idempotent: datasets are stored once per (name, digest), and a run's input once
        for item in inputs:
            _check_json(item)
        body = {
            "inputs": _encode(list(inputs)),
            "dataset_ids": None if dataset_ids is None else list(dataset_ids),
        }
        self._call("POST", f"/runs/{segment(run_id)}/inputs", json=body)

    def get_run_inputs(self, run_id: str) -> list[DatasetInput]:
        data = self._call("GET", f"/runs/{segment(run_id)}/inputs")
        inputs: list[DatasetInput] = codec.decode(list[DatasetInput], data["inputs"])
        return inputs

    # ---- search -----------------------------------------------------------------------------

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        view: ViewType = "active",
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        body = {
            "experiment_ids": [str(e) for e in experiment_ids],
            "filter": filter_string,
            "order_by": None if order_by is None else list(order_by),
            "view": view,
            "max_results": max_results,
            "page_token": page_token,
        }
        page: PagedList[Run] = codec.decode(PagedList[Run], self._call("POST", "/runs/search", json=body))
        return page


def _batch_body(metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag]) -> dict[str, Any]:
    return {
        "metrics": _encode([_sendable(m) for m in metrics]),
        "params": [{"key": p.key, "value": _string(p.value)} for p in params],
        "tags": [{"key": t.key, "value": _string(t.value)} for t in tags],
    }


def _encode(value: Any) -> Any:
    try:
        return codec.encode(value)
    except TypeError as exc:
        raise InvalidInput(f"cannot send to the server: {exc}") from None


def _as(kind: type[T], data: Any) -> T:
    return cast(T, codec.decode(kind, data))


def _ours(error: AlreadyExists, read: Callable[[], T]) -> T:
    """What a create's first attempt stored, read by its id; else the clash is someone else's."""
    try:
        return read()
    except NotFound:
        raise error from None


def _check_json(item: DatasetInput) -> None:
    """A schema or profile JSON cannot hold exactly (NaN, an object) is refused here, as the
    SQL store refuses it: encoded, a NaN would arrive as the string "NaN"."""
    dataset = getattr(item, "dataset", None)
    if dataset is None:
        return  # not a DatasetInput: the server says so
    try:
        json.dumps(dataset.schema, allow_nan=False)
        json.dumps(dataset.profile, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"dataset {dataset.name!r} cannot be stored as JSON: {exc}") from None


def _string(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _strings(values: dict[str, Any] | None) -> dict[str, str]:
    return {str(k): _string(val) for k, val in (values or {}).items()}


def _sendable(metric: Metric) -> Metric:
    """The metric as JSON carries it. A value JSON cannot (a bool, a string, an integer past
    64 bits, a numpy integer) is normalized or refused here, with the store's own message."""
    step, timestamp = metric.step, metric.timestamp
    if (
        type(metric.value) is float
        and type(step) is int
        and type(timestamp) is int
        and v.INT64_MIN <= step <= v.INT64_MAX
        and v.INT64_MIN <= timestamp <= v.INT64_MAX
    ):
        return metric
    key = v.check_key(metric.key, "metric key")
    value = v.metric_value(key, metric.value)
    step = v.integer(f"step of metric {key!r}", step)
    return Metric(key, value, v.integer(f"timestamp of metric {key!r}", timestamp), step)
