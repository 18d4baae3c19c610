"""Datasets a run used: what they were (digest, schema, profile) and how (the context)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The contexts a dataset can be used in by a run.
CONTEXTS = ("training", "validation", "test")


@dataclass(frozen=True, slots=True)
class Dataset:
    """A dataset, identified by ``name`` and ``digest`` (a sha256 of its content, hex).

    ``source`` is where it came from (a path, a URL, or "in-memory DataFrame"); ``source_type``
    is ``dataframe``, ``ndarray`` or ``file``. ``schema`` maps each column to its dtype;
    ``profile`` holds the per-column summary (see docs/datasets.md).
    """

    name: str
    digest: str
    source: str
    source_type: str
    schema: dict[str, str] = field(default_factory=dict)
    profile: dict[str, Any] = field(default_factory=dict)
    num_rows: int | None = None
    num_columns: int | None = None


@dataclass(frozen=True, slots=True)
class DatasetInput:
    """A dataset as used by a run: ``context`` is training, validation or test."""

    dataset: Dataset
    context: str
