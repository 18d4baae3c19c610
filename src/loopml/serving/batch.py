"""Batch scoring: score files of any size with a model, chunk by chunk, in constant memory.

:func:`score_batch` (and ``loopml batch``) reads CSV, Parquet or JSON Lines files — local
paths, globs, directories or fsspec URLs — in chunks of about ``chunk_size`` rows
(:mod:`.batch_inputs`), scores each chunk with one model call (:mod:`.batch_scorer`), and
appends the predictions to one output file (:mod:`.batch_outputs`). Rows the model's
signature refuses go to a rejects file with the reason (:mod:`.rejects`) instead of stopping
the job. The output is written under a temporary name and put in place at the end: a job that
fails leaves nothing behind.

The local engine (:mod:`.batch_local`) reads the next chunk in a background thread while the
current one is scored; the Dask engine (:mod:`.batch_dask`) scores partitions on a cluster and
writes a directory of parts.

Importing this module loads nothing heavy: pandas, pyarrow, rich and dask are imported by the
functions that use them. See docs/batch.md.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput

if TYPE_CHECKING:
    from ..tracking.client import Client
    from .batch_inputs import InputFile, ReadSpec
    from .batch_scorer import ChunkScorer, Tally
    from .served_model import ServedModel

__all__ = ["ENGINES", "BatchResult", "score_batch"]

ENGINES = ("local", "dask")

PathOrUrl = str | os.PathLike[str]


@dataclass(frozen=True)
class BatchResult:
    """What a batch scoring job did. ``rows_read == rows_scored + rows_rejected``.

    ``rejects`` is the rejects file (or directory, on Dask), None when no row was rejected;
    ``model_version`` is the registry version, None for a model outside the registry;
    ``chunks`` counts model calls.
    """

    rows_read: int
    rows_scored: int
    rows_rejected: int
    output: str
    rejects: str | None
    model_name: str
    model_version: str | None
    seconds: float
    chunks: int = 0
    engine: str = "local"

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain values (for JSON): the fields and ``rows_per_second``."""
        return {**dataclasses.asdict(self), "rows_per_second": round(self.rows_per_second, 1)}


def score_batch(
    model_uri: str,
    input: PathOrUrl | Sequence[PathOrUrl],
    output: PathOrUrl,
    *,
    format: str | None = None,
    input_format: str | None = None,
    chunk_size: int = 100_000,
    id_column: str | None = None,
    engine: str = "local",
    dask_address: str | None = None,
    rejects: PathOrUrl | None = None,
    probabilities: bool = False,
    progress: bool = False,
    overwrite: bool = False,
    storage_options: Mapping[str, Any] | None = None,
    client: Client | None = None,
) -> BatchResult:
    """Score every row of ``input`` with the model at ``model_uri`` and write the predictions to ``output``.

    ``input`` is a path, a glob (``data/*.csv``), a directory, an fsspec URL, or a list of them;
    each file's format comes from its extension (``.csv``, ``.parquet``/``.pq``,
    ``.jsonl``/``.ndjson``, ``.gz`` for compressed CSV or JSON Lines) unless ``input_format``
    says. The output format is ``format`` or the output's extension (Parquet without one).
    Output columns: ``id_column`` (copied from the input), ``prediction`` (or
    ``prediction_<output>`` per output), ``probability_<class>`` with ``probabilities``,
    ``model_name``, ``model_version``. Rows the signature refuses are written with a
    ``reject_reason`` to ``rejects`` (default ``<output stem>.rejects.<ext>`` beside the output).

    ``chunk_size`` rows (about, for text files) are read and scored at a time: memory depends on
    it, not on the size of the input. ``engine="dask"`` scores partitions on the Dask cluster at
    ``dask_address`` (a LocalCluster when None) and writes ``output`` as a directory of parts.
    ``client`` resolves ``models:/`` URIs (default: the store of the settings).

    Raises NotFound when no file matches an input, Conflict when the output or rejects file
    exists (unless ``overwrite``), InvalidInput for a bad option or an input without a column
    the model requires (before anything is written), MissingExtra without pyarrow (or
    ``distributed`` for Dask). A failed job leaves no output behind.
    """
    from .batch_scorer import ChunkScorer, ScoringPlan

    started = time.perf_counter()
    _check_options(chunk_size, engine, input_format, id_column, dask_address)
    targets = _targets(output, format, rejects)
    _format, out_url, rejects_url = targets
    options = dict(storage_options or {})
    run = _Run(engine, dask_address, progress, overwrite)
    files = _ready_inputs(input, input_format, targets, options, run)
    served = _load(os.fspath(model_uri), client)
    plan = ScoringPlan(id_column, probabilities, served.name, served.version)
    scorer = ChunkScorer(served.model, plan)
    for file in files:
        if file.columns is not None:
            scorer.check_columns(file.columns, file.url)
    spec = _read_spec(scorer, chunk_size, options)
    tally, rejected = _score(files, scorer, spec, targets, run)
    return BatchResult(
        rows_read=tally.rows_read,
        rows_scored=tally.rows_scored,
        rows_rejected=tally.rows_rejected,
        output=out_url,
        rejects=rejects_url if rejected else None,
        model_name=served.name,
        model_version=served.version,
        seconds=time.perf_counter() - started,
        chunks=tally.chunks,
        engine=engine,
    )


def _targets(output: PathOrUrl, format: str | None, rejects: PathOrUrl | None) -> tuple[str, str, str]:
    """(output format, output URL, rejects URL); the two files must differ."""
    from .batch_outputs import default_rejects, output_format

    out_url = os.fspath(output)
    rejects_url = os.fspath(rejects) if rejects is not None else default_rejects(out_url)
    if rejects_url == out_url:
        raise InvalidInput(f"the rejects file cannot be the output {out_url!r}", rejects=rejects_url)
    return output_format(out_url, format), out_url, rejects_url


@dataclass(frozen=True)
class _Run:
    """How the job runs: where (``engine``, ``dask_address``), with a progress bar or not, and
    whether it may replace existing outputs."""

    engine: str
    dask_address: str | None
    progress: bool
    overwrite: bool


def _ready_inputs(
    input: PathOrUrl | Sequence[PathOrUrl],
    input_format: str | None,
    targets: tuple[str, str, str],
    options: dict[str, Any],
    run: _Run,
) -> list[InputFile]:
    """The input files, once the extras the run needs are installed and its outputs are free."""
    from .batch_inputs import find_inputs, require_pyarrow
    from .batch_outputs import check_free

    require_pyarrow()
    if run.engine == "dask":
        from .batch_dask import require_distributed

        require_distributed()
    files = find_inputs(input, input_format, options)
    _format, out_url, rejects_url = targets
    check_free(out_url, options, overwrite=run.overwrite, what="output")
    check_free(rejects_url, options, overwrite=run.overwrite, what="rejects file")
    return files


def _score(
    files: Sequence[InputFile], scorer: ChunkScorer, spec: ReadSpec, targets: tuple[str, str, str], run: _Run
) -> tuple[Tally, bool]:
    """Score ``files`` on the run's engine: the rows counted, and whether any was rejected."""
    if run.engine == "dask":
        from .batch_dask import score_on_dask

        return score_on_dask(
            files,
            scorer,
            spec,
            targets,
            address=run.dask_address,
            show_progress=run.progress,
            overwrite=run.overwrite,
        )
    from .batch_local import score_locally

    return score_locally(files, scorer, spec, targets, show_progress=run.progress, overwrite=run.overwrite)


def _check_options(
    chunk_size: Any, engine: str, input_format: str | None, id_column: str | None, dask_address: str | None
) -> None:
    from .batch_inputs import FORMATS
    from .batch_scorer import RESERVED_COLUMNS

    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise InvalidInput(
            f"chunk_size must be a positive number of rows, got {chunk_size!r}", chunk_size=repr(chunk_size)
        )
    if engine not in ENGINES:
        raise InvalidInput(f"unknown engine {engine!r}; use 'local' or 'dask'", engine=str(engine))
    if input_format is not None and input_format not in FORMATS:
        raise InvalidInput(
            f"unknown input format {input_format!r}; use one of {', '.join(FORMATS)}",
            input_format=str(input_format),
        )
    if id_column is not None and (id_column in RESERVED_COLUMNS or id_column.startswith("probability_")):
        raise InvalidInput(
            f"the id column cannot be called {id_column!r}: the output has a column of that name",
            id_column=id_column,
        )
    if dask_address is not None and engine != "dask":
        raise InvalidInput(
            f"dask_address {dask_address!r} is for engine='dask', not {engine!r}", dask_address=dask_address
        )


def _load(model_uri: str, client: Client | None) -> ServedModel:
    """The model with its name and registry version, as the scoring server would load it."""
    from .served_model import ServedSpec, default_name, load_served

    registry = client.registry if client is not None and model_uri.startswith("models:/") else None
    try:
        spec = ServedSpec(model_uri, default_name(model_uri))
    except InvalidInput:  # a path whose last part is not a usable name
        spec = ServedSpec(model_uri, "model")
    return load_served(spec, registry)


def _read_spec(scorer: ChunkScorer, chunk_size: int, options: dict[str, Any]) -> ReadSpec:
    """Read the columns the model and the output need, parsed with the signature's types."""
    from .batch_inputs import ReadSpec

    signature = scorer.signature
    if signature is None:
        return ReadSpec(chunk_size, storage_options=options)
    wanted = {*signature.input_names, *([scorer.plan.id_column] if scorer.plan.id_column else [])}
    types = {spec.name: spec.type for spec in signature.inputs}
    return ReadSpec(chunk_size, types, frozenset(wanted), options)
