"""HttpOrchestration: the OrchestrationStore protocol over HTTP (``HttpStore.orchestration``).

Each method is one request to the routes of ``server/routes/orchestration.py``
(docs/server.md). The engine's batches (``write_records``: task-run snapshots, logs, run
artifacts) go in one ``POST /api/v1/records``, written by the server in one transaction.

Records are serialized by orjson as they are (dataclasses, enums and tuples natively): the
JSON :mod:`loopml.codec` makes for them, and what the SQL store stores, parameters included
(a NaN parameter is ``null`` in both). The server checks each value with the store's own
rules, so errors read as they do in process; the one check made here is the one JSON cannot
carry to the server: parameters that are not JSON values.

Retries (see transport.py):

- reads, ``create_flow_run`` (its id is the client's: a retry that finds the first attempt's
  flow run is done), ``update_flow_run`` and ``heartbeat`` (sets), ``put_cache_entry`` (an
  upsert): after any transient failure;
- ``write_records``: likewise. Task runs are upserted by id and an artifact whose id is
  stored is skipped, so those are never doubled; a log line has no id, so when the answer to
  a batch the server committed is lost, the retry stores its logs a second time. That is
  the trade: the engine's Recorder keeps an unwritten batch and sends it again anyway, and
  a task run's state must not be lost for a log line that may appear twice;
- ``clear_cache``: only when it was surely never sent (a second attempt would answer 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from ... import codec
from ...entities import CacheEntry, FlowRun, LogRecord, PagedList, RunArtifact, StateType, TaskRun
from ...errors import AlreadyExists, InvalidInput, NotFound
from .store import API, segment
from .transport import Transport

__all__ = ["HttpOrchestration"]


def _flow_run(flow_run_id: str) -> str:
    """``/flow-runs/<id>``. An id with ``/`` (or none) cannot be stored (the store refuses it
    at creation), so no such flow run exists: NotFound, as the store answers."""
    if not isinstance(flow_run_id, str) or not flow_run_id or "/" in flow_run_id:
        raise NotFound(f"no flow run with id {flow_run_id!r}", flow_run_id=flow_run_id)
    return f"/flow-runs/{segment(flow_run_id)}"


def _check_parameters(parameters: Any, what: str) -> None:
    """Parameters JSON cannot carry are refused here, with the store's message."""
    try:
        orjson.dumps(parameters)
    except TypeError as exc:  # orjson.JSONEncodeError
        raise InvalidInput(f"{what} must hold JSON values with string keys: {exc}") from None


class HttpOrchestration:
    """Flow runs, task runs, logs, run artifacts and the task cache of a loopml server."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def __repr__(self) -> str:
        return f"HttpOrchestration({self.transport.base_url!r})"

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.transport.request(method, API + path, **kwargs)

    # ---- flow runs ------------------------------------------------------------------------------

    def create_flow_run(self, flow_run: FlowRun) -> None:
        if isinstance(flow_run, FlowRun):
            _check_parameters(flow_run.parameters, f"parameters of flow run {flow_run.flow_run_id}")

        def stored(error: AlreadyExists) -> None:
            try:
                self.get_flow_run(flow_run.flow_run_id)  # the first attempt's
            except NotFound:
                raise error from None

        self._call("POST", "/flow-runs", json=flow_run, on_duplicate=stored)

    def update_flow_run(
        self,
        flow_run_id: str,
        *,
        state: StateType,
        history: Sequence[tuple[StateType, int]],
        end_time: int | None = None,
        error: str | None = None,
        tracking_run_id: str | None = None,
        attempts: int | None = None,
        host: str | None = None,
        pid: int | None = None,
        heartbeat_time: int | None = None,
    ) -> None:
        body: dict[str, Any] = {"state": state, "history": history, "end_time": end_time, "error": error}
        given = {
            "tracking_run_id": tracking_run_id,
            "attempts": attempts,
            "host": host,
            "pid": pid,
            "heartbeat_time": heartbeat_time,
        }
        body.update((k, value) for k, value in given.items() if value is not None)
        self._call("PATCH", _flow_run(flow_run_id), json=body)

    def heartbeat(self, flow_run_ids: Sequence[str], now: int) -> None:
        self._call("POST", "/flow-runs/heartbeat", json={"flow_run_ids": list(flow_run_ids), "now": now})

    def write_records(
        self,
        task_runs: Sequence[TaskRun] = (),
        logs: Sequence[LogRecord] = (),
        artifacts: Sequence[RunArtifact] = (),
    ) -> None:
        if not (task_runs or logs or artifacts):
            return
        for task_run in task_runs:
            if isinstance(task_run, TaskRun):
                _check_parameters(task_run.parameters, f"parameters of task run {task_run.task_run_id}")
        body = {"task_runs": list(task_runs), "logs": list(logs), "artifacts": list(artifacts)}
        self._call("POST", "/records", json=body)

    # ---- reads ----------------------------------------------------------------------------------

    def get_flow_run(self, flow_run_id: str) -> FlowRun:
        flow_run: FlowRun = codec.decode(FlowRun, self._call("GET", _flow_run(flow_run_id)))
        return flow_run

    def search_flow_runs(
        self,
        flow_name: str | None = None,
        states: Sequence[StateType] | None = None,
        parent_flow_run_id: str | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> PagedList[FlowRun]:
        if isinstance(states, str):
            states = [states]  # type: ignore[list-item]  # one state, as the SQL store takes it
        body = {
            "flow_name": flow_name,
            "states": None if states is None else list(states),
            "parent_flow_run_id": parent_flow_run_id,
            "max_results": max_results,
            "page_token": page_token,
        }
        page: PagedList[FlowRun] = codec.decode(
            PagedList[FlowRun], self._call("POST", "/flow-runs/search", json=body)
        )
        return page

    def get_task_runs(self, flow_run_id: str) -> list[TaskRun]:
        data = self._call("GET", f"{_flow_run(flow_run_id)}/task-runs")
        task_runs: list[TaskRun] = codec.decode(list[TaskRun], data["task_runs"])
        return task_runs

    def get_logs(self, flow_run_id: str, task_run_id: str | None = None) -> list[LogRecord]:
        data = self._call("GET", f"{_flow_run(flow_run_id)}/logs", params={"task_run_id": task_run_id})
        logs: list[LogRecord] = codec.decode(list[LogRecord], data["logs"])
        return logs

    def get_artifacts(self, flow_run_id: str | None = None, key: str | None = None) -> list[RunArtifact]:
        data = self._call("GET", "/run-artifacts", params={"flow_run_id": flow_run_id, "key": key})
        artifacts: list[RunArtifact] = codec.decode(list[RunArtifact], data["artifacts"])
        return artifacts

    # ---- the task cache -------------------------------------------------------------------------

    def get_cache_entry(self, cache_key: str, now: int) -> CacheEntry | None:
        data = self._call("GET", f"/task-cache/{segment(cache_key)}", params={"now": now})
        entry: CacheEntry | None = codec.decode(CacheEntry | None, data["entry"])
        return entry

    def put_cache_entry(self, entry: CacheEntry) -> None:
        self._call("POST", "/task-cache", json=entry)

    def clear_cache(self, flow_name: str | None = None, task_key: str | None = None) -> int:
        params = {"flow_name": flow_name, "task_key": task_key}
        removed: int = self._call("DELETE", "/task-cache", params=params, idempotent=False)["removed"]
        return removed
