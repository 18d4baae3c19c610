"""The drift report: :class:`DriftReport` (the dataset) and :class:`ColumnDrift` (one column).

Both are frozen dataclasses built by :func:`~loopml.monitoring.detect_drift`. ``to_dict()`` is
the JSON-safe shape every consumer reads (the HTML page, the benchmark, the monitor)::

    {"dataset": {"drift_detected", "drift_share", "drift_share_threshold", "n_columns",
                 "n_drifted", "n_skipped", "reference_rows", "current_rows", "rule",
                 "prediction", "missing_changed", "new_categories"},
     "columns": {name: {"name", "kind", "test", "statistic", "p_value", "threshold", "effect",
                        "drift_detected", "reason", "skipped", "scores", "reference_count",
                        "current_count", "missing", "new_categories", "new_category_share",
                        "distribution"}},
     "meta": {"created", "loopml_version", "reference", "current"}}

Numbers are plain Python floats; NaN and infinities become ``null``. ``n_columns`` counts the
columns tested (skipped ones are not), and ``drift_share = n_drifted / n_columns``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ColumnDrift", "DriftReport", "MissingChange", "json_safe"]


def json_safe(value: Any) -> Any:
    """``value`` with numpy scalars/arrays turned into Python ones, tuples into lists and
    non-finite floats into ``None``."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, str):  # numpy scalar or array
        return json_safe(value.tolist())
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return str(value)


@dataclass(frozen=True)
class MissingChange:
    """Missing-value shares on both sides; ``changed`` when a two-proportion test says the change
    is real (p < 0.05) and |Cohen's h| >= 0.1 says it matters."""

    reference: float
    current: float
    changed: bool
    p_value: float | None = None


@dataclass(frozen=True)
class ColumnDrift:
    """The drift verdict of one column (``drift_detected`` is ``None`` when it was skipped)."""

    name: str
    kind: str
    test: str | None
    statistic: float | None
    p_value: float | None
    threshold: float | None
    drift_detected: bool | None
    reason: str
    skipped: str | None = None
    effect: Mapping[str, Any] | None = None
    scores: Mapping[str, float] = field(default_factory=dict)
    reference_count: int = 0
    current_count: int = 0
    missing: MissingChange | None = None
    new_categories: tuple[str, ...] = ()
    new_category_share: float | None = None
    distribution: Mapping[str, Any] | None = None

    def __repr__(self) -> str:
        if self.skipped:
            return f"ColumnDrift({self.name!r}, skipped: {self.skipped})"
        verdict = "DRIFT" if self.drift_detected else "no drift"
        return f"ColumnDrift({self.name!r}, {self.kind}, {self.test}: {verdict} — {self.reason})"

    def to_dict(self) -> dict[str, Any]:
        """The column's entry of ``DriftReport.to_dict()["columns"]``."""
        missing = self.missing
        entry: dict[str, Any] = json_safe(
            {
                "name": self.name,
                "kind": self.kind,
                "test": self.test,
                "statistic": self.statistic,
                "p_value": self.p_value,
                "threshold": self.threshold,
                "effect": dict(self.effect) if self.effect is not None else None,
                "drift_detected": self.drift_detected,
                "reason": self.reason,
                "skipped": self.skipped,
                "scores": dict(self.scores),
                "reference_count": self.reference_count,
                "current_count": self.current_count,
                "missing": None
                if missing is None
                else {
                    "reference": missing.reference,
                    "current": missing.current,
                    "changed": missing.changed,
                    "p_value": missing.p_value,
                },
                "new_categories": list(self.new_categories),
                "new_category_share": self.new_category_share,
                "distribution": dict(self.distribution) if self.distribution is not None else None,
            }
        )
        return entry


@dataclass(frozen=True)
class DriftReport:
    """Per-column drift verdicts and the dataset's: drifted when the share of drifted columns
    (among those tested) is at least ``drift_share_threshold``."""

    columns: Mapping[str, ColumnDrift]
    drift_share_threshold: float
    reference_rows: int
    current_rows: int
    rule: str
    prediction: ColumnDrift | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def tested_columns(self) -> list[str]:
        """The names of the columns that were tested (not skipped)."""
        return [name for name, c in self.columns.items() if c.skipped is None]

    @property
    def drifted_columns(self) -> list[str]:
        """The names of the columns that drifted, in column order."""
        return [name for name, c in self.columns.items() if c.drift_detected]

    @property
    def skipped_columns(self) -> list[str]:
        """The names of the columns that were not tested (``skipped`` says why)."""
        return [name for name, c in self.columns.items() if c.skipped is not None]

    @property
    def n_columns(self) -> int:
        return len(self.tested_columns)

    @property
    def n_drifted(self) -> int:
        return len(self.drifted_columns)

    @property
    def drift_share(self) -> float:
        return self.n_drifted / self.n_columns if self.n_columns else 0.0

    @property
    def drift_detected(self) -> bool:
        return self.n_columns > 0 and self.drift_share >= self.drift_share_threshold

    def __getitem__(self, name: str) -> ColumnDrift:
        return self.columns[name]

    def __repr__(self) -> str:
        verdict = "DRIFT" if self.drift_detected else "no drift"
        return (
            f"DriftReport({verdict}: {self.n_drifted}/{self.n_columns} columns drifted"
            f" (share {self.drift_share:.2f}, threshold {self.drift_share_threshold}),"
            f" drifted={self.drifted_columns[:10]}{'...' if self.n_drifted > 10 else ''})"
        )

    def summary(self) -> str:
        """A few lines of plain text: the verdict, then one line per drifted or skipped column."""
        lines = [repr(self)]
        for column in self.columns.values():
            if column.skipped:
                lines.append(f"  {column.name}: skipped: {column.skipped}")
            elif column.drift_detected:
                lines.append(f"  {column.name}: {column.reason}")
        if self.prediction is not None:
            lines.append(f"  prediction {self.prediction.name}: {self.prediction.reason}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-safe dicts (see the module docstring for the shape)."""
        columns = {name: c.to_dict() for name, c in self.columns.items()}
        dataset = {
            "drift_detected": self.drift_detected,
            "drift_share": self.drift_share,
            "drift_share_threshold": self.drift_share_threshold,
            "n_columns": self.n_columns,
            "n_drifted": self.n_drifted,
            "n_skipped": len(self.columns) - self.n_columns,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "rule": self.rule,
            "prediction": self.prediction.to_dict() if self.prediction is not None else None,
            "missing_changed": [n for n, c in self.columns.items() if c.missing and c.missing.changed],
            "new_categories": {
                n: list(c.new_categories) for n, c in self.columns.items() if c.new_categories
            },
        }
        return {"dataset": json_safe(dataset), "columns": columns, "meta": json_safe(dict(self.meta))}

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """The report as JSON text (also written to ``path`` when given)."""
        import orjson

        text = orjson.dumps(self.to_dict()).decode()
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def to_html(self, path: str | os.PathLike[str]) -> Path:
        """Write the report as one self-contained HTML page to ``path``; returns the path."""
        from .report_html import render_html

        target = Path(path)
        target.write_text(render_html(self.to_dict()), encoding="utf-8")
        return target
