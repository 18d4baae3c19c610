"""The Dask engine of batch scoring: one task per partition of the input, each writing its part.

Partitions are planned on the client without reading the data: byte ranges of about
``chunk_size`` rows of each uncompressed CSV or JSON Lines file (lines are assigned to the
range they start in), runs of row groups of Parquet files, whole ``.gz`` files. The model goes
to the workers as the bytes of its directory (scattered once to every worker, checked against
its manifest when loaded), not as a live object, so any flavor works on any cluster.

Each task writes ``part-NNNNN.<ext>`` of the output — in the output's format — into a
temporary directory beside the output, on the output's filesystem, and its rejected rows to
the same part name under the rejects directory; the directories are moved into place when
every task has succeeded. Workers must reach the inputs and the output: on a cluster of
several machines use object storage (``s3://...``) or a shared filesystem.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MissingExtra

if TYPE_CHECKING:
    from ..models.loaded_model import LoadedModel
    from .batch_inputs import InputFile, Piece, ReadSpec
    from .batch_scorer import ChunkScorer, ScoringPlan, Tally

__all__ = ["ModelFiles", "PartJob", "require_distributed", "score_on_dask", "score_part"]


def require_distributed() -> Any:
    """The ``distributed`` module, or MissingExtra naming the ``dask`` extra."""
    try:
        import distributed
    except ImportError as exc:
        raise MissingExtra("dask", module="distributed") from exc
    return distributed


@dataclass(frozen=True)
class ModelFiles:
    """The files of a model directory, to be written out and loaded where the model is used."""

    files: tuple[tuple[str, bytes], ...]

    @classmethod
    def read(cls, model_dir: str) -> ModelFiles:
        root = Path(model_dir)
        paths = (p for p in sorted(root.rglob("*")) if p.is_file() and "__pycache__" not in p.parts)
        return cls(tuple((p.relative_to(root).as_posix(), p.read_bytes()) for p in paths))

    def load(self, directory: str) -> LoadedModel:
        """Write the files under ``directory`` and load the model (its manifest checked)."""
        from ..models.api import load_model

        root = Path(directory, "model")
        for relative, data in self.files:
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return load_model(root)


@dataclass(frozen=True)
class PartJob:
    """One Dask task: a piece of input and the part files it writes."""

    index: int
    piece: Piece
    output: str
    rejects: str
    format: str


def score_part(job: PartJob, model: ModelFiles, spec: ReadSpec, plan: ScoringPlan) -> Tally:
    """Score one piece on a worker: its chunks into ``job.output``, its rejects into ``job.rejects``
    (neither file is created when it would be empty)."""
    from .batch_inputs import iter_chunks
    from .batch_outputs import TableWriter
    from .batch_scorer import ChunkScorer, Tally

    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="loopml-batch-model-") as directory:
        scorer = ChunkScorer(model.load(directory), plan)
        output = TableWriter(job.format, job.output, spec.storage_options)
        rejects = TableWriter(job.format, job.rejects, spec.storage_options)
        try:
            for chunk in iter_chunks(job.piece, spec):
                scored = scorer.score(chunk)
                if scored.output is not None:
                    output.write(scored.output)
                if scored.rejects is not None:
                    rejects.write(scored.rejects)
                tally.add(scored.tally)
        finally:
            output.close()
            rejects.close()
    return tally


def score_on_dask(
    files: Sequence[InputFile],
    scorer: ChunkScorer,
    spec: ReadSpec,
    targets: tuple[str, str, str],
    *,
    address: str | None,
    show_progress: bool,
    overwrite: bool,
) -> tuple[Tally, bool]:
    """Score every partition on the cluster; (tally, rows rejected?)."""
    from .batch_inputs import plan_pieces
    from .batch_outputs import StagedDirectory, TableWriter
    from .batch_progress import progress_bar
    from .batch_scorer import Tally

    distributed = require_distributed()
    out_format, out_url, rejects_url = targets
    pieces = plan_pieces(files, spec.chunk_size, split=True)
    output = StagedDirectory(out_url, spec.storage_options)
    rejected = StagedDirectory(rejects_url, spec.storage_options)
    tally = Tally()
    try:
        with (
            _connected(distributed, address) as client,
            progress_bar(show_progress, len(pieces), "partitions") as bar,
        ):
            model = client.scatter(ModelFiles.read(scorer.model.model_dir), broadcast=True)
            jobs = [
                PartJob(i, p, output.part(i, out_format), rejected.part(i, out_format), out_format)
                for i, p in enumerate(pieces)
            ]
            futures = [client.submit(score_part, job, model, spec, scorer.plan, pure=False) for job in jobs]
            try:
                for future in distributed.as_completed(futures):
                    part = future.result()
                    tally.add(part)
                    bar.advance(1, part.rows_read)
            except BaseException:
                client.cancel(futures)
                raise
        if not output.has_parts():  # no row scored: one empty part says which columns there would be
            TableWriter(out_format, output.part(0, out_format), spec.storage_options).close(
                empty_schema=scorer.empty_output_schema()
            )
        output.commit()
        if rejected.has_parts():
            rejected.commit()
        else:
            rejected.discard()
            if overwrite:
                rejected.remove_target()
    except BaseException:
        output.discard()
        rejected.discard()
        raise
    return tally, tally.rows_rejected > 0


@contextmanager
def _connected(distributed: Any, address: str | None) -> Iterator[Any]:
    """A client of the cluster at ``address``, or of a LocalCluster (one process per core) for this job."""
    if address is not None:
        with distributed.Client(address) as client:
            yield client
        return
    workers = max(os.cpu_count() or 1, 1)
    # ":0": the scheduler's HTTP server on a free port, so that jobs side by side do not fight over 8787
    with (
        distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client
