"""Orchestration records to rows and back: every value checked before it is written.

Task runs, logs and artifacts become tuples in the column order of the prepared statements
(``TASK_RUN_COLUMNS``, ...); flow runs and cache entries become mappings for Core. JSON is
compact (orjson); a history is ``[[state, time in ms], ...]``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard, TypeVar

import orjson

from ...entities import CacheEntry, FlowRun, LogRecord, RunArtifact, StateType, TaskRun
from ...errors import InvalidInput
from .. import validation as v
from . import schema as t

T = TypeVar("T")

TASK_RUN_COLUMNS = (
    "task_run_id",
    "flow_run_id",
    "name",
    "task_key",
    "dynamic_key",
    "state",
    "start_time",
    "end_time",
    "attempts",
    "cache_key",
    "result_ref",
    "parameters",
    "history",
    "error",
    "upstream",
)
LOG_COLUMNS = ("flow_run_id", "task_run_id", "timestamp", "level", "logger", "message")
ARTIFACT_COLUMNS = (
    "artifact_id",
    "type",
    "data",
    "created_time",
    "key",
    "description",
    "flow_run_id",
    "task_run_id",
)
ARTIFACT_TYPES = ("markdown", "table", "link")
MAX_ARTIFACT_DATA = 1_000_000  # characters; bigger reports belong in the artifact store

_STATES = {s.value: s for s in StateType}
_STATE_VALUES = {s.value: s.value for s in StateType}  # a StateType is a str: it finds its value
_ID_RE = re.compile(rf"[A-Za-z0-9_-]{{1,{t.ID_LENGTH}}}")
_INT64_MIN, _INT64_MAX = v.INT64_MIN, v.INT64_MAX

# ---- checks -------------------------------------------------------------------------------------


def check_id(value: Any, what: str) -> str:
    """An id: 1 to 32 letters, digits, ``_`` or ``-`` (a uuid4 hex fits)."""
    if _is_id(value):
        return value
    raise InvalidInput(
        f"{what} must be 1 to {t.ID_LENGTH} letters, digits, '_' or '-', got {value!r}", value=repr(value)
    )


def optional_id(value: Any, what: str) -> str | None:
    return None if value is None else check_id(value, what)


def text(value: Any, what: str, limit: int | None = None, *, empty: bool = True) -> str:
    """A string of at most ``limit`` characters (non-empty unless ``empty``)."""
    if not isinstance(value, str):
        kind = type(value).__name__
        raise InvalidInput(f"{what} must be a string, got {kind} {value!r}", value=repr(value))
    if not empty and not value.strip():
        raise InvalidInput(f"{what} must not be empty", value=value)
    if limit is not None and len(value) > limit:
        raise InvalidInput(
            f"{what} {value[:40]!r}... is {len(value)} characters long; the limit is {limit}",
            value=value[:40],
        )
    return value


def optional_text(value: Any, what: str, limit: int | None = None) -> str | None:
    return None if value is None else text(value, what, limit)


def optional_integer(value: Any, what: str) -> int | None:
    return None if value is None else v.integer(what, value)


def state(value: Any, what: str = "state") -> str:
    """The stored form of a state: a :class:`StateType` or its name."""
    found = _STATE_VALUES.get(value) if isinstance(value, str) else None
    if found is None:
        raise InvalidInput(f"{what} must be one of {', '.join(_STATES)}, got {value!r}", value=repr(value))
    return found


def history_json(history: Sequence[Any], what: str) -> str:
    """A history as compact JSON: ``[["PENDING",1700000000000],...]``."""
    entries = _history_entries(history)
    if entries is None:  # something is off: the slow path says what
        entries = _checked_history_entries(history, what)
    return orjson.dumps(entries).decode()


def _history_entries(history: Any) -> list[tuple[str, int]] | None:
    """The entries of a well-formed history (tuples of a state and an int), else None."""
    if type(history) is not tuple and type(history) is not list:
        return None
    entries = []
    for entry in history:
        if type(entry) is not tuple or len(entry) != 2:
            return None
        name, ms = entry
        value = _STATE_VALUES.get(name) if isinstance(name, str) else None
        if value is None or type(ms) is not int or not _INT64_MIN <= ms <= _INT64_MAX:
            return None
        entries.append((value, ms))
    return entries


def _checked_history_entries(history: Any, what: str) -> list[tuple[str, int]]:
    if isinstance(history, str | bytes) or not isinstance(history, Sequence):
        raise InvalidInput(f"{what} must be a sequence of (state, time) pairs, got {history!r}")
    entries = []
    for entry in history:
        if not isinstance(entry, Sequence) or len(entry) != 2:
            raise InvalidInput(f"{what} entries are (state, time in ms) pairs, got {entry!r}")
        entries.append((state(entry[0], f"state in {what}"), v.integer(f"time in {what}", entry[1])))
    return entries


def append_history(history: str, state_value: StateType, now: int) -> str:
    entries = orjson.loads(history)
    entries.append([state_value.value, now])
    return orjson.dumps(entries).decode()


def json_object(value: Any, what: str) -> str:
    """Parameters as compact JSON (an object of JSON values)."""
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{what} must be a mapping, got {type(value).__name__} {value!r}")
    try:
        return orjson.dumps(value).decode()
    except TypeError as exc:  # orjson.JSONEncodeError: a value or key JSON cannot carry
        raise InvalidInput(f"{what} must hold JSON values with string keys: {exc}") from None


def _json_tags(tags: Any, what: str) -> str:
    if isinstance(tags, str) or not isinstance(tags, Sequence):
        raise InvalidInput(f"{what} must be a sequence of strings, got {tags!r}")
    return orjson.dumps([text(tag, f"tag in {what}", v.MAX_KEY_LENGTH) for tag in tags]).decode()


def _is_id(value: Any) -> TypeGuard[str]:
    return (
        type(value) is str
        and 0 < len(value) <= t.ID_LENGTH
        and value.isascii()
        and (value.isalnum() or _ID_RE.fullmatch(value) is not None)
    )


def _is_optional_int(value: Any) -> bool:
    return value is None or (type(value) is int and _INT64_MIN <= value <= _INT64_MAX)


def _is_optional_text(value: Any, limit: int | None) -> bool:
    return value is None or (type(value) is str and (limit is None or len(value) <= limit))


def _json_dict(value: Any) -> str | None:
    """A plain dict of JSON values as compact JSON, else None."""
    if type(value) is not dict:
        return None
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return None


# ---- entities -> rows ---------------------------------------------------------------------------


def flow_run_row(fr: FlowRun) -> dict[str, Any]:
    if not isinstance(fr, FlowRun):
        raise InvalidInput(f"expected a FlowRun, got {type(fr).__name__}")
    run_id = check_id(fr.flow_run_id, "flow_run_id")
    what = f"flow run {run_id}"
    return {
        "flow_run_id": run_id,
        "flow_name": text(fr.flow_name, f"flow name of {what}", v.MAX_NAME_LENGTH, empty=False),
        "name": text(fr.name, f"name of {what}", v.MAX_NAME_LENGTH, empty=False),
        "state": state(fr.state, f"state of {what}"),
        "start_time": v.integer(f"start_time of {what}", fr.start_time),
        "end_time": optional_integer(fr.end_time, f"end_time of {what}"),
        "flow_version": optional_text(fr.flow_version, f"flow_version of {what}", 256),
        "entrypoint": text(fr.entrypoint, f"entrypoint of {what}", t.URI_LENGTH),
        "parameters": json_object(fr.parameters, f"parameters of {what}"),
        "parameters_ref": optional_text(fr.parameters_ref, f"parameters_ref of {what}", t.URI_LENGTH),
        "tags": _json_tags(fr.tags, f"tags of {what}"),
        "parent_flow_run_id": optional_id(fr.parent_flow_run_id, f"parent_flow_run_id of {what}"),
        "parent_task_run_id": optional_id(fr.parent_task_run_id, f"parent_task_run_id of {what}"),
        "tracking_run_id": optional_id(fr.tracking_run_id, f"tracking_run_id of {what}"),
        "host": text(fr.host, f"host of {what}", 256),
        "pid": v.integer(f"pid of {what}", fr.pid),
        "heartbeat_time": optional_integer(fr.heartbeat_time, f"heartbeat_time of {what}"),
        "attempts": v.integer(f"attempts of {what}", fr.attempts),
        "error": optional_text(fr.error, f"error of {what}"),
        "history": history_json(fr.history, f"history of {what}"),
    }


def task_run_row(tr: TaskRun) -> tuple[Any, ...]:
    """A task run in the order of ``TASK_RUN_COLUMNS``.

    The common case (plain str/int/dict/tuple values) is checked in one pass without building
    any message; anything else goes through the field-by-field checks, which name the problem.
    """
    if type(tr) is TaskRun:
        name, task_key, dynamic_key = tr.name, tr.task_key, tr.dynamic_key
        state_value = _STATE_VALUES.get(tr.state) if isinstance(tr.state, str) else None
        history = _history_entries(tr.history)
        parameters = _json_dict(tr.parameters)
        if (
            state_value is not None
            and history is not None
            and parameters is not None
            and _is_id(tr.task_run_id)
            and _is_id(tr.flow_run_id)
            and type(name) is str
            and 0 < len(name) <= v.MAX_NAME_LENGTH
            and not name.isspace()
            and type(task_key) is str
            and 0 < len(task_key) <= t.TASK_KEY_LENGTH
            and not task_key.isspace()
            and type(dynamic_key) is str
            and len(dynamic_key) <= v.MAX_KEY_LENGTH
            and _is_optional_int(tr.start_time)
            and _is_optional_int(tr.end_time)
            and _is_optional_int(tr.attempts)
            and tr.attempts is not None
            and _is_optional_text(tr.cache_key, t.CACHE_KEY_LENGTH)
            and _is_optional_text(tr.result_ref, t.URI_LENGTH)
            and _is_optional_text(tr.error, None)
            and (upstream := _upstream_ids(tr.upstream_task_run_ids)) is not None
        ):
            return (
                tr.task_run_id,
                tr.flow_run_id,
                name,
                task_key,
                dynamic_key,
                state_value,
                tr.start_time,
                tr.end_time,
                tr.attempts,
                tr.cache_key,
                tr.result_ref,
                parameters,
                orjson.dumps(history).decode(),
                tr.error,
                upstream or None,
            )
    return _checked_task_run_row(tr)


def _upstream_ids(ids: Any) -> str | None:
    """Well-formed upstream ids as JSON ("" for none), else None (the checked path says why)."""
    if type(ids) is not tuple and type(ids) is not list:
        return None
    if not ids:
        return ""
    if not all(type(i) is str and _ID_RE.fullmatch(i) for i in ids):
        return None
    return orjson.dumps(list(ids)).decode()


def _checked_task_run_row(tr: TaskRun) -> tuple[Any, ...]:
    if not isinstance(tr, TaskRun):
        raise InvalidInput(f"expected a TaskRun, got {type(tr).__name__}")
    run_id = check_id(tr.task_run_id, "task_run_id")
    what = f"task run {run_id}"
    return (
        run_id,
        check_id(tr.flow_run_id, f"flow_run_id of {what}"),
        text(tr.name, f"name of {what}", v.MAX_NAME_LENGTH, empty=False),
        text(tr.task_key, f"task_key of {what}", t.TASK_KEY_LENGTH, empty=False),
        text(tr.dynamic_key, f"dynamic_key of {what}", v.MAX_KEY_LENGTH),
        state(tr.state, f"state of {what}"),
        optional_integer(tr.start_time, f"start_time of {what}"),
        optional_integer(tr.end_time, f"end_time of {what}"),
        v.integer(f"attempts of {what}", tr.attempts),
        optional_text(tr.cache_key, f"cache_key of {what}", t.CACHE_KEY_LENGTH),
        optional_text(tr.result_ref, f"result_ref of {what}", t.URI_LENGTH),
        json_object(tr.parameters, f"parameters of {what}"),
        history_json(tr.history, f"history of {what}"),
        optional_text(tr.error, f"error of {what}"),
        _checked_upstream(tr.upstream_task_run_ids, what),
    )


def _checked_upstream(ids: Any, what: str) -> str | None:
    if isinstance(ids, str | bytes) or not isinstance(ids, Sequence):
        raise InvalidInput(f"upstream_task_run_ids of {what} must be a sequence of ids, got {ids!r}")
    checked = [check_id(i, f"an upstream task run id of {what}") for i in ids]
    return orjson.dumps(checked).decode() if checked else None


def log_row(log: LogRecord) -> tuple[Any, ...]:
    """A log record in the order of ``LOG_COLUMNS``."""
    if (
        type(log) is LogRecord
        and _is_id(log.flow_run_id)
        and (log.task_run_id is None or _is_id(log.task_run_id))
        and _is_optional_int(log.timestamp)
        and log.timestamp is not None
        and _is_optional_int(log.level)
        and log.level is not None
        and _is_optional_text(log.logger, 256)
        and log.logger is not None
        and type(log.message) is str
    ):
        return (log.flow_run_id, log.task_run_id, log.timestamp, log.level, log.logger, log.message)
    if not isinstance(log, LogRecord):
        raise InvalidInput(f"expected a LogRecord, got {type(log).__name__}")
    return (
        check_id(log.flow_run_id, "flow_run_id of a log record"),
        optional_id(log.task_run_id, "task_run_id of a log record"),
        v.integer("timestamp of a log record", log.timestamp),
        v.integer("level of a log record", log.level),
        text(log.logger, "logger of a log record", 256),
        text(log.message, "message of a log record"),
    )


def artifact_row(artifact: RunArtifact) -> tuple[Any, ...]:
    """An artifact in the order of ``ARTIFACT_COLUMNS``."""
    if not isinstance(artifact, RunArtifact):
        raise InvalidInput(f"expected a RunArtifact, got {type(artifact).__name__}")
    artifact_id = check_id(artifact.artifact_id, "artifact_id")
    what = f"artifact {artifact_id}"
    if artifact.type not in ARTIFACT_TYPES:
        raise InvalidInput(
            f"type of {what} must be one of {', '.join(ARTIFACT_TYPES)}, got {artifact.type!r}",
            type=repr(artifact.type),
        )
    return (
        artifact_id,
        artifact.type,
        text(artifact.data, f"data of {what}", MAX_ARTIFACT_DATA),
        v.integer(f"created_time of {what}", artifact.created_time),
        None if artifact.key is None else v.check_key(artifact.key, f"key of {what}"),
        optional_text(artifact.description, f"description of {what}"),
        optional_id(artifact.flow_run_id, f"flow_run_id of {what}"),
        optional_id(artifact.task_run_id, f"task_run_id of {what}"),
    )


def cache_row(entry: CacheEntry) -> dict[str, Any]:
    if not isinstance(entry, CacheEntry):
        raise InvalidInput(f"expected a CacheEntry, got {type(entry).__name__}")
    key = text(entry.cache_key, "cache_key", t.CACHE_KEY_LENGTH, empty=False)
    what = f"cache entry {key[:40]!r}"
    return {
        "cache_key": key,
        "result_ref": text(entry.result_ref, f"result_ref of {what}", t.URI_LENGTH, empty=False),
        "task_key": text(entry.task_key, f"task_key of {what}", t.TASK_KEY_LENGTH, empty=False),
        "flow_name": text(entry.flow_name, f"flow_name of {what}", v.MAX_NAME_LENGTH),
        "created_time": v.integer(f"created_time of {what}", entry.created_time),
        "expires_time": optional_integer(entry.expires_time, f"expires_time of {what}"),
    }


# ---- rows -> entities ---------------------------------------------------------------------------


def _history(text_value: str) -> tuple[tuple[StateType, int], ...]:
    return tuple((_STATES[s], ms) for s, ms in orjson.loads(text_value))


def flow_run_from_row(r: Any) -> FlowRun:
    return FlowRun(
        flow_run_id=r.flow_run_id,
        flow_name=r.flow_name,
        name=r.name,
        state=_STATES[r.state],
        start_time=r.start_time,
        end_time=r.end_time,
        flow_version=r.flow_version,
        entrypoint=r.entrypoint,
        parameters=orjson.loads(r.parameters),
        parameters_ref=r.parameters_ref,
        tags=tuple(orjson.loads(r.tags)),
        parent_flow_run_id=r.parent_flow_run_id,
        parent_task_run_id=r.parent_task_run_id,
        tracking_run_id=r.tracking_run_id,
        host=r.host,
        pid=r.pid,
        heartbeat_time=r.heartbeat_time,
        attempts=r.attempts,
        error=r.error,
        history=_history(r.history),
    )


def task_run_from_row(r: Any) -> TaskRun:
    return TaskRun(
        task_run_id=r.task_run_id,
        flow_run_id=r.flow_run_id,
        name=r.name,
        task_key=r.task_key,
        dynamic_key=r.dynamic_key,
        state=_STATES[r.state],
        start_time=r.start_time,
        end_time=r.end_time,
        attempts=r.attempts,
        cache_key=r.cache_key,
        result_ref=r.result_ref,
        parameters=orjson.loads(r.parameters),
        history=_history(r.history),
        error=r.error,
        upstream_task_run_ids=tuple(orjson.loads(r.upstream)) if r.upstream else (),
    )


def same_named(kind: type[T], r: Any) -> T:
    """An entity whose fields are the row's columns, by name (logs, artifacts, cache entries)."""
    row = r._mapping
    return kind(**{f.name: row[f.name] for f in dataclasses.fields(kind)})  # type: ignore[arg-type]
