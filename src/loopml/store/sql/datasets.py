"""Datasets and run inputs in the SQL store: ``log_inputs`` and ``get_run_inputs``.

A dataset is stored once per (name, digest), whichever runs use it: inserting it is
``ON CONFLICT DO NOTHING`` and its id is read back, so two runs logging the same data at
once share one row. Writing follows the rules of params: only an active, RUNNING run
accepts inputs (``Conflict`` otherwise, ``NotFound`` for an unknown run); one call is one
transaction.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from ...entities import Dataset, DatasetInput, LifecycleStage, RunStatus
from ...entities.dataset import CONTEXTS
from ...errors import Conflict, InvalidInput, NotFound
from .. import validation as v
from . import schema as t

__all__ = ["get_run_inputs", "log_inputs", "validate_inputs"]

_DIGEST_LENGTH = 64
_MAX_TEXT = 1024


def _dataset_row(dataset: Dataset, dataset_id: str, now: int) -> dict[str, Any]:
    if not isinstance(dataset, Dataset):
        raise InvalidInput(f"inputs hold Dataset objects, got {type(dataset).__name__}")
    v.check_name(dataset.name, "dataset name")
    digest = dataset.digest
    if not isinstance(digest, str) or not digest or len(digest) > _DIGEST_LENGTH:
        raise InvalidInput(f"dataset digest must be 1-{_DIGEST_LENGTH} characters, got {digest!r}")
    for what, text in (("source", dataset.source), ("source_type", dataset.source_type)):
        if not isinstance(text, str) or len(text) > _MAX_TEXT:
            raise InvalidInput(f"dataset {what} must be a string of at most {_MAX_TEXT} characters")
    return {
        "dataset_id": dataset_id,
        "name": dataset.name,
        "digest": digest,
        "source": dataset.source,
        "source_type": dataset.source_type[:32],
        "schema": json.dumps(dataset.schema, allow_nan=False),
        "profile": json.dumps(dataset.profile, allow_nan=False),
        "num_rows": None if dataset.num_rows is None else v.integer("num_rows", dataset.num_rows),
        "num_columns": None if dataset.num_columns is None else v.integer("num_columns", dataset.num_columns),
        "created_time": now,
    }


def validate_inputs(
    inputs: Sequence[DatasetInput], dataset_ids: Sequence[str] | None = None
) -> list[tuple[dict[str, Any], str]]:
    """(dataset row, context) per input, checked before any transaction starts."""
    ids = list(dataset_ids) if dataset_ids is not None else [uuid.uuid4().hex for _ in inputs]
    if len(ids) != len(inputs):
        raise InvalidInput(f"{len(inputs)} input(s) but {len(ids)} dataset id(s)")
    now = time.time_ns() // 1_000_000
    checked = []
    for item, dataset_id in zip(inputs, ids, strict=True):
        if not isinstance(item, DatasetInput):
            raise InvalidInput(f"inputs must be DatasetInput objects, got {type(item).__name__}")
        if item.context not in CONTEXTS:
            raise InvalidInput(
                f"unknown dataset context {item.context!r}; use one of {', '.join(CONTEXTS)}",
                context=repr(item.context),
            )
        try:
            row = _dataset_row(item.dataset, dataset_id, now)
        except (TypeError, ValueError) as exc:  # NaN or an object in a schema or profile: not JSON
            raise InvalidInput(f"dataset {item.dataset.name!r} cannot be stored as JSON: {exc}") from None
        checked.append((row, item.context))
    return checked


def _check_writable(conn: sa.Connection, run_id: str) -> None:
    r = t.runs.c
    found = conn.execute(sa.select(r.status, r.lifecycle_stage).where(r.run_id == run_id)).first()
    if found is None:
        raise NotFound(f"no run with id {run_id!r}", run_id=run_id)
    if found.lifecycle_stage != LifecycleStage.ACTIVE:
        raise Conflict(f"run {run_id} is deleted; restore it before writing to it", run_id=run_id)
    if found.status != RunStatus.RUNNING:
        raise Conflict(
            f"run {run_id} is {found.status}; only RUNNING runs accept inputs",
            run_id=run_id,
            status=found.status,
        )


def log_inputs(
    conn: sa.Connection,
    insert: Callable[[sa.Table], Any],
    run_id: str,
    checked: Sequence[tuple[dict[str, Any], str]],
) -> None:
    """Write validated inputs in the caller's transaction."""
    _check_writable(conn, run_id)
    if not checked:
        return
    d = t.datasets.c
    unique = {(row["name"], row["digest"]): row for row, _ in checked}
    conn.execute(
        insert(t.datasets).on_conflict_do_nothing(index_elements=["name", "digest"]), list(unique.values())
    )
    keys = sa.tuple_(d.name, d.digest).in_(list(unique))
    ids = {
        (r.name, r.digest): r.dataset_id
        for r in conn.execute(sa.select(d.name, d.digest, d.dataset_id).where(keys))
    }
    links = {(ids[(row["name"], row["digest"])], context) for row, context in checked}
    conn.execute(
        insert(t.run_inputs).on_conflict_do_nothing(),
        [
            {"run_id": run_id, "dataset_id": dataset_id, "context": context}
            for dataset_id, context in sorted(links)
        ],
    )


def _dataset_from_row(row: Any) -> Dataset:
    return Dataset(
        name=row.name,
        digest=row.digest,
        source=row.source,
        source_type=row.source_type,
        schema=json.loads(row.schema),
        profile=json.loads(row.profile),
        num_rows=row.num_rows,
        num_columns=row.num_columns,
    )


def get_run_inputs(conn: sa.Connection, run_id: str) -> list[DatasetInput]:
    """The run's inputs: training, validation, then test; by name within a context."""
    i, d = t.run_inputs.c, t.datasets.c
    found = conn.execute(
        sa.select(i.context, *t.datasets.c)
        .join_from(t.run_inputs, t.datasets, i.dataset_id == d.dataset_id)
        .where(i.run_id == run_id)
    ).all()
    if (
        not found
        and conn.execute(sa.select(t.runs.c.run_id).where(t.runs.c.run_id == run_id)).first() is None
    ):
        raise NotFound(f"no run with id {run_id!r}", run_id=run_id)
    order = {context: n for n, context in enumerate(CONTEXTS)}
    inputs = [DatasetInput(_dataset_from_row(row), row.context) for row in found]
    return sorted(inputs, key=lambda x: (order.get(x.context, len(order)), x.dataset.name, x.dataset.digest))
