"""Reports written by flows and tasks: markdown, tables and links, kept with the run."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from ..entities.flow import RunArtifact
from ..errors import InvalidInput
from .context import flow_run_var, task_run_var
from .records import now_ms

_KEY = re.compile(r"^[a-z0-9-]+$")


def _create(kind: str, data: str, key: str | None, description: str | None) -> str:
    if key is not None and not _KEY.match(key):
        raise InvalidInput(f"artifact key {key!r} may hold only lowercase letters, digits and dashes")
    flow = flow_run_var.get()
    task = task_run_var.get()
    artifact = RunArtifact(
        # time-ordered: artifacts written in the same millisecond still list in writing order
        artifact_id=f"{time.time_ns():016x}{uuid.uuid4().hex[:16]}",
        type=kind,
        data=data,
        created_time=now_ms(),
        key=key,
        description=description,
        flow_run_id=flow.flow_run_id if flow is not None else None,
        task_run_id=task.record.task_run_id if task is not None else None,
    )
    if flow is not None:
        flow.recorder.artifact(artifact)
    else:  # outside a flow: written now, to the fluent API's store
        from ..tracking.fluent import _client

        _client().store.orchestration.write_records(artifacts=[artifact])
    return artifact.artifact_id


def create_markdown_artifact(markdown: str, key: str | None = None, description: str | None = None) -> str:
    """Keep a markdown report with the current run; returns the artifact's id."""
    if not isinstance(markdown, str):
        raise InvalidInput(f"markdown must be text, got {type(markdown).__name__}")
    return _create("markdown", markdown, key, description)


def create_table_artifact(
    table: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]] | Sequence[Sequence[Any]],
    key: str | None = None,
    description: str | None = None,
) -> str:
    """Keep a table (a list of records, a dict of columns or a list of rows) with the current run."""
    import orjson

    if isinstance(table, Mapping):
        lengths = {k: len(v) for k, v in table.items()}
        if len(set(lengths.values())) > 1:
            raise InvalidInput(f"the columns of a table artifact differ in length: {lengths}")
    elif not isinstance(table, Sequence) or isinstance(table, str | bytes):
        raise InvalidInput(
            "a table artifact is a list of records, a dict of columns or a list of rows, "
            f"got {type(table).__name__}"
        )
    try:
        data = orjson.dumps(
            table, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS, default=str
        ).decode()
    except TypeError as exc:
        raise InvalidInput(f"a table artifact must be JSON-like: {exc}") from None
    return _create("table", data, key, description)


def create_link_artifact(
    link: str, link_text: str | None = None, key: str | None = None, description: str | None = None
) -> str:
    """Keep a link (a dashboard, a report file) with the current run."""
    import orjson

    if not isinstance(link, str) or not link:
        raise InvalidInput(f"link must be a non-empty string, got {link!r}")
    return _create("link", orjson.dumps({"link": link, "link_text": link_text}).decode(), key, description)
