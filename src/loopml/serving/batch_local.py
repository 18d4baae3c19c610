"""The local engine of batch scoring: every chunk of every file, in order, into one output file.

The next chunk is read in a background thread while the current one is scored: pyarrow reads
and parses without holding the GIL, so parsing (the larger part of the work for CSV) and
predicting overlap on two cores. One chunk is read ahead at most, so memory stays bounded.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Sequence
from contextlib import AbstractContextManager, closing, nullcontext, suppress
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .batch_inputs import Chunk, InputFile, ReadSpec
    from .batch_scorer import ChunkScorer, Tally

__all__ = ["score_locally"]


def score_locally(
    files: Sequence[InputFile],
    scorer: ChunkScorer,
    spec: ReadSpec,
    targets: tuple[str, str, str],
    *,
    show_progress: bool,
    overwrite: bool,
) -> tuple[Tally, bool]:
    """Score the files one chunk after the other into one output file; (tally, rows rejected?)."""
    from .batch_outputs import StagedFile, TableWriter
    from .batch_progress import progress_bar
    from .batch_scorer import Tally

    out_format, out_url, rejects_url = targets
    output = StagedFile(out_url, spec.storage_options)
    rejected = StagedFile(rejects_url, spec.storage_options)
    out_writer = TableWriter(out_format, output.temp)
    rejects_writer = TableWriter(out_format, rejected.temp)
    tally = Tally()
    total, unit = _progress_total(files)
    try:
        with (
            progress_bar(show_progress, total, unit) as bar,
            closing(_prefetched(files, spec)) as chunks,
            _blas_threads(),
        ):
            for chunk in chunks:
                scored = scorer.score(chunk)
                if scored.output is not None:
                    out_writer.write(scored.output)
                if scored.rejects is not None:
                    rejects_writer.write(scored.rejects)
                tally.add(scored.tally)
                bar.advance(chunk.rows if total is None else chunk.progress, chunk.rows)
        out_writer.close(empty_schema=scorer.empty_output_schema())
        rejects_writer.close()
        output.commit()
        if rejects_writer.rows:
            rejected.commit()
        elif overwrite:
            rejected.remove_target()  # a rejects file of an earlier run would tell lies
    except BaseException:
        for writer in (out_writer, rejects_writer):
            with suppress(Exception):  # the original error is the one to report
                writer.close()
        output.discard()
        rejected.discard()
        raise
    return tally, rejects_writer.rows > 0


def _blas_threads() -> AbstractContextManager[Any]:
    """Half the cores for BLAS (numpy's OpenBLAS or MKL) while scoring, restored after: idle
    BLAS threads spin-wait, taking the cores the reader thread parses the next chunk on.
    threadpoolctl comes with scikit-learn; without it, nothing is limited."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return nullcontext()
    limits: AbstractContextManager[Any] = threadpool_limits(
        limits=max(1, (os.cpu_count() or 2) // 2), user_api="blas"
    )
    return limits


def _progress_total(files: Sequence[InputFile]) -> tuple[int | None, str]:
    """(total, unit) of the progress bar: rows of Parquet inputs, bytes of text ones."""
    formats = {f.format for f in files}
    if formats == {"parquet"}:
        return sum(f.rows or 0 for f in files), "rows"
    if "parquet" not in formats:
        return sum(f.size for f in files), "bytes"
    return None, "rows"


def _prefetched(files: Sequence[InputFile], spec: ReadSpec) -> Generator[Chunk, None, None]:
    """The chunks of every file, each read in a background thread while the previous one is
    scored: pyarrow reads and parses without the GIL, so reading and predicting overlap."""
    from concurrent.futures import ThreadPoolExecutor

    from .batch_inputs import iter_chunks, plan_pieces

    def chunks() -> Generator[Chunk, None, None]:
        for piece in plan_pieces(files, spec.chunk_size, split=False):
            yield from iter_chunks(piece, spec)

    source = chunks()
    pool = ThreadPoolExecutor(1, thread_name_prefix="loopml-batch-reader")
    try:
        ahead = pool.submit(next, source, None)
        while (chunk := ahead.result()) is not None:
            ahead = pool.submit(next, source, None)
            yield chunk
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # the read in flight ends before its file closes
        source.close()
