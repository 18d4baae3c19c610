"""Scoring one chunk: validate its rows, call the model once, and build the output and rejects.

The fast path is one ``signature.enforce`` on the whole chunk and one model call. Only when
enforcement fails are the bad rows looked for (:mod:`.rejects`) and set aside. When the model
itself raises on a chunk whose input has missing values (a scikit-learn estimator refusing
NaN, say), the rows with missing values are rejected with the model's error as the reason and
the others scored; a model that fails on a chunk without missing values fails the job, its
exception unchanged.

Output columns: the id column (when asked for; taken from the input as it is), ``prediction``
(``prediction_<name>`` per output of a multi-output model), ``probability_<class>`` per class
with ``probabilities``, then ``model_name`` and ``model_version``. Rejects columns: the id
column, the signature's input columns (or, without a signature, the input's), as text with
their original values, and ``reject_reason``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput, LoopmlError, ModelFailed

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from ..models.loaded_model import LoadedModel
    from ..models.signature import ModelSignature
    from .batch_inputs import Chunk

__all__ = ["RESERVED_COLUMNS", "ChunkScorer", "ScoredChunk", "ScoringPlan", "Tally"]

RESERVED_COLUMNS = ("prediction", "model_name", "model_version", "reject_reason")
_SHOWN_ERROR = 200


@dataclass(frozen=True)
class ScoringPlan:
    """What each chunk's output carries besides the predictions."""

    id_column: str | None
    probabilities: bool
    model_name: str
    model_version: str | None


@dataclass
class Tally:
    """Rows read, scored and rejected, and model calls made, added up over chunks."""

    rows_read: int = 0
    rows_scored: int = 0
    rows_rejected: int = 0
    chunks: int = 0

    def add(self, other: Tally) -> None:
        self.rows_read += other.rows_read
        self.rows_scored += other.rows_scored
        self.rows_rejected += other.rows_rejected
        self.chunks += other.chunks


@dataclass(frozen=True)
class ScoredChunk:
    output: pa.Table | None  # None when no row of the chunk was scored
    rejects: pa.Table | None  # None when no row was rejected
    tally: Tally


class ChunkScorer:
    """Scores the chunks of one job with one loaded model (one instance per job or partition)."""

    def __init__(self, model: LoadedModel, plan: ScoringPlan) -> None:
        self.model = model
        self.plan = plan
        self.signature: ModelSignature | None = model.signature
        self._reject_columns: list[str] | None = None
        if self.signature is not None:
            self._reject_columns = _unique([plan.id_column, *self.signature.input_names])

    def model_columns(self, names: Sequence[str]) -> list[str]:
        """The input columns given to the model: the signature's (all but the id without one)."""
        if self.signature is not None:
            present = set(names)
            return [n for n in self.signature.input_names if n in present]
        return [n for n in names if n != self.plan.id_column]

    def check_columns(self, names: Sequence[str], source: str) -> None:
        """InvalidInput naming a required column or the id column that ``source`` lacks."""
        present = set(names)
        found = ", ".join(repr(n) for n in names) or "none"
        if self.signature is not None:
            missing = [s for s in self.signature.inputs if s.required and s.name not in present]
            if missing:
                listed = ", ".join(f"{s.name!r} ({s.type})" for s in missing)
                raise InvalidInput(
                    f"input {source!r} has no column {listed}, which the model's signature requires;"
                    f" columns found: {found}",
                    input=source,
                    missing=[s.name for s in missing],
                )
        if self.plan.id_column is not None and self.plan.id_column not in present:
            raise InvalidInput(
                f"the id column {self.plan.id_column!r} is not in input {source!r}; columns found: {found}",
                input=source,
                id_column=self.plan.id_column,
            )

    def empty_output_schema(self) -> pa.Schema:
        """The columns of an output no row was scored into (every row rejected, or none read)."""
        import pyarrow as pa

        fields = [(self.plan.id_column, pa.string())] if self.plan.id_column else []
        fields += [("prediction", pa.null()), ("model_name", pa.string()), ("model_version", pa.string())]
        return pa.schema(fields)

    def score(self, chunk: Chunk) -> ScoredChunk:
        import pandas as pd

        table = chunk.table
        rows = table.num_rows
        reasons = pd.Series([], dtype=object)
        columns: dict[str, Any] = {}
        kept: Any = None  # positions of the scored rows; None: every row
        if rows:
            self.check_columns(table.column_names, chunk.source)
            frame = table.select(self.model_columns(table.column_names)).to_pandas()
            frame, reasons = self._validate(frame, chunk.source)
            columns, frame, more = self._predict(frame)
            if more is not None:
                reasons = pd.concat([reasons, more]).sort_index()
            if len(reasons):
                kept = frame.index.to_numpy()
        scored = rows - len(reasons)
        output = self._output(table, kept, columns, scored) if scored else None
        rejects = self._rejects(table, reasons, chunk.malformed)
        rejected = len(reasons) + len(chunk.malformed)
        return ScoredChunk(output, rejects, Tally(chunk.rows, scored, rejected, 1 if rows else 0))

    # ---- validating and predicting -----------------------------------------------------------

    def _validate(self, frame: pd.DataFrame, source: str) -> tuple[pd.DataFrame, pd.Series]:
        import pandas as pd

        from .rejects import check_rows

        if self.signature is None:
            return frame, pd.Series([], dtype=object)
        try:
            return self.signature.enforce(frame), pd.Series([], dtype=object)
        except InvalidInput:
            check = check_rows(frame, self.signature)
        try:
            return self.signature.enforce(check.frame), check.reasons
        except InvalidInput as exc:  # a case the row checks do not cover: say where
            raise InvalidInput(f"input {source!r}: {exc.message}", input=source) from exc

    def _predict(self, frame: pd.DataFrame) -> tuple[dict[str, Any], pd.DataFrame, pd.Series | None]:
        """(output columns, the rows scored, reasons of rows rejected because the model failed)."""
        if not len(frame):
            return {}, frame, None
        try:
            return self._call(frame), frame, None
        except LoopmlError:
            raise
        except Exception as exc:
            missing = frame.isna()
            holes = missing.any(axis=1).to_numpy()
            if not holes.any():
                raise
            reasons = _missing_reasons(frame[holes], missing[holes], exc, self.signature)
            rest = frame[~holes]
            return (self._call(rest) if len(rest) else {}), rest, reasons

    def _call(self, frame: pd.DataFrame) -> dict[str, Any]:
        columns = prediction_columns(self.model.predict(frame), len(frame), self.signature)
        if self.plan.probabilities:
            columns.update(self._probabilities(frame))
        return columns

    def _probabilities(self, frame: pd.DataFrame) -> dict[str, Any]:
        import numpy as np
        import pandas as pd
        import pyarrow as pa

        found = self.model.predict_proba(frame)
        labels: list[str] | None = None
        if isinstance(found, pd.DataFrame):
            labels = [str(c) for c in found.columns]
        proba = np.asarray(found, dtype=float)
        if proba.ndim == 1:
            proba = proba[:, None]
        if labels is None:
            classes = getattr(self.model.unwrap(), "classes_", None)
            count = proba.shape[1]
            if classes is not None and len(classes) == count:
                labels = [str(c) for c in classes]
            else:
                labels = [str(i) for i in range(count)]
        by_class = np.ascontiguousarray(proba.T)
        return {f"probability_{label}": pa.array(by_class[i]) for i, label in enumerate(labels)}

    # ---- building tables ---------------------------------------------------------------------

    def _output(self, table: pa.Table, kept: Any, columns: dict[str, Any], rows: int) -> pa.Table:
        import pyarrow as pa

        out: dict[str, Any] = {}
        id_column = self.plan.id_column
        if id_column is not None:
            ids = table.column(id_column)
            out[id_column] = ids if kept is None else ids.take(kept)
        out.update(columns)
        out["model_name"] = pa.repeat(pa.scalar(self.plan.model_name, pa.string()), rows)
        out["model_version"] = pa.repeat(pa.scalar(self.plan.model_version, pa.string()), rows)
        return pa.table(out)

    def _rejects(self, table: pa.Table, reasons: pd.Series, malformed: Sequence[str]) -> pa.Table | None:
        import pyarrow as pa

        if not len(reasons) and not malformed:
            return None
        if self._reject_columns is None:
            self._reject_columns = _unique([self.plan.id_column, *table.column_names])
        names = self._reject_columns
        parts = []
        if len(reasons):
            taken = table.take(reasons.index.to_numpy())
            arrays = {
                n: _as_text(taken.column(n))
                if n in taken.column_names
                else pa.nulls(len(reasons), pa.string())
                for n in names
            }
            arrays["reject_reason"] = pa.array(reasons.to_list(), pa.string())
            parts.append(pa.table(arrays))
        if malformed:
            arrays = {n: pa.nulls(len(malformed), pa.string()) for n in names}
            arrays["reject_reason"] = pa.array(list(malformed), pa.string())
            parts.append(pa.table(arrays))
        return pa.concat_tables(parts)


def prediction_columns(predictions: Any, rows: int, signature: ModelSignature | None) -> dict[str, Any]:
    """The model's output as Arrow columns: ``prediction``, or ``prediction_<name>`` per output."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    if isinstance(predictions, pd.DataFrame):
        if predictions.shape[1] == 1:
            columns = {"prediction": pa.Array.from_pandas(predictions.iloc[:, 0])}
        else:
            columns = {f"prediction_{c}": pa.Array.from_pandas(predictions[c]) for c in predictions.columns}
    elif isinstance(predictions, pd.Series):
        columns = {"prediction": pa.Array.from_pandas(predictions)}
    else:
        array = np.asarray(predictions)
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim == 1:
            columns = {"prediction": _arrow(array)}
        elif array.ndim == 2:
            outputs = signature.outputs if signature is not None else None
            names = (
                [s.name for s in outputs]
                if outputs and len(outputs) == array.shape[1]
                else [str(i) for i in range(array.shape[1])]
            )
            by_output = np.ascontiguousarray(array.T)
            columns = {f"prediction_{n}": _arrow(by_output[i]) for i, n in enumerate(names)}
        else:
            raise ModelFailed(
                f"the model returned predictions of shape {array.shape}; batch scoring needs one value"
                " (or one row of values) per input row"
            )
    lengths = {len(c) for c in columns.values()}
    if lengths != {rows}:
        raise ModelFailed(f"the model returned {sorted(lengths)} predictions for {rows} rows")
    return columns


def _arrow(array: Any) -> Any:
    import pyarrow as pa

    try:
        return pa.array(array)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in array], pa.string())


def _as_text(column: Any) -> Any:
    """A column as text, for the rejects file (whose columns are all text, whatever the input)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        return pc.cast(column, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([None if v is None else str(v) for v in column.to_pylist()], pa.string())


def _missing_reasons(
    frame: pd.DataFrame, missing: pd.DataFrame, error: Exception, signature: ModelSignature | None
) -> pd.Series:
    """``column 'x' must be double, got a missing value (the model failed on it: ValueError: ...)``."""
    import pandas as pd

    from .rejects import join_reasons

    text = f"{type(error).__name__}: {error}".replace("\n", " ")
    if len(text) > _SHOWN_ERROR:
        text = text[:_SHOWN_ERROR] + "..."
    types = {s.name: s.type for s in signature.inputs} if signature is not None else {}
    reasons = pd.Series("", index=frame.index, dtype=object)
    for name in frame.columns:
        holes = missing[name]
        if holes.any():
            kind = f" must be {types[name]}," if name in types else ""
            more = pd.Series(
                f"column {name!r}{kind} got a missing value", index=frame.index[holes.to_numpy()]
            )
            reasons = join_reasons(reasons, more)
    return reasons + f" (the model failed on it: {text})"


def _unique(names: Sequence[str | None]) -> list[str]:
    return [n for n in dict.fromkeys(names) if n is not None]
