"""Adaptive micro-batching: concurrent requests for one model share one model call.

Each request is checked on its own (:class:`~loopml.serving.input_schema.InputSchema`) and then
queued here. One consumer per model takes what is queued, up to ``max_batch_size`` rows, builds
one DataFrame and calls the model in a worker thread; while the model runs, the event loop keeps
reading requests, which form the next batch. So batches grow with the load by themselves and a
lone request never waits: at concurrency 1 there is nothing else queued and it is scored at once.
When a batch is not full and other requests are already being read (``arriving``), the consumer
waits for them up to ``max_latency_ms``. A quick model (a few milliseconds) is called right on
the event loop: with the GIL, two thread hand-offs per batch cost more than the overlap they buy
(requests that arrive meanwhile wait in the socket buffers and form the next batch). A slower
model runs in its worker thread, so the loop keeps reading requests while it works.

A request is scored by the model version it was checked against, so during a hot swap every
answer comes from exactly one version. If a batch of several requests fails, each request is
scored alone, so that only the offending one gets the error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from ..errors import ModelFailed
from .served_model import ServedModel

__all__ = ["INLINE_BELOW_S", "Answer", "BatchDone", "MicroBatcher"]

log = logging.getLogger("loopml.serving")

#: A model call taking less than this (moving average of the model's own time) runs on the event
#: loop; a slower one runs in the model's worker thread while the loop reads the next requests.
INLINE_BELOW_S = 0.005


@dataclass(frozen=True, slots=True)
class Answer:
    """What one request gets back: its predictions (and probabilities when asked for)."""

    served: ServedModel
    predictions: list[Any]
    probabilities: list[list[float]] | None


@dataclass(slots=True)
class _Item:
    served: ServedModel
    columns: list[str]
    rows: list[list[Any]]
    probabilities: bool
    request_id: str
    started: float  # perf_counter() when the request came in
    future: asyncio.Future[Answer] = field(repr=False)


@dataclass(frozen=True, slots=True)
class BatchDone:
    """One model call, for metrics and the prediction log."""

    served: ServedModel
    frame: Any  # the DataFrame the model was called with
    predictions: list[Any]
    request_ids: list[str]  # one per row
    latencies_ms: list[float]  # one per row: request in to model done
    seconds: float  # the model call


class MicroBatcher:
    """The queue and consumer of one served model (see the module doc)."""

    def __init__(
        self,
        *,
        max_batch_size: int,
        max_latency_ms: float,
        executor: Executor,
        on_batch: Callable[[BatchDone], None],
    ) -> None:
        self.max_batch_size = max_batch_size
        self.max_latency_s = max_latency_ms / 1000.0
        self.arriving = 0  # requests being read and checked, not yet queued
        self._executor = executor
        self._on_batch = on_batch
        self._queue: deque[_Item] = deque()
        self._wake: asyncio.Event | None = None
        self._call_s = 0.0  # moving average of a model call's duration
        self._consumer: asyncio.Task[None] | None = None

    async def predict(
        self,
        served: ServedModel,
        columns: list[str],
        rows: list[list[Any]],
        *,
        probabilities: bool,
        request_id: str,
        started: float,
    ) -> Answer:
        """Queue checked ``rows`` for ``served``; the answer when their batch is scored."""
        loop = asyncio.get_running_loop()
        if self._consumer is None or self._consumer.done():
            self._wake = asyncio.Event()
            self._consumer = loop.create_task(self._consume(), name="loopml-batcher")
        item = _Item(served, columns, rows, probabilities, request_id, started, loop.create_future())
        self._queue.append(item)
        assert self._wake is not None
        self._wake.set()
        return await item.future

    def coming(self) -> None:
        """A request for this model is being read: a batch that is not full may wait for it."""
        self.arriving += 1

    def came(self) -> None:
        """That request was queued, or refused: stop waiting for it."""
        self.arriving -= 1
        if self._wake is not None:
            self._wake.set()

    async def aclose(self) -> None:
        """Stop the consumer; queued requests get an error."""
        if self._consumer is not None:
            self._consumer.cancel()
            await asyncio.gather(self._consumer, return_exceptions=True)
        while self._queue:
            item = self._queue.popleft()
            if not item.future.done():
                item.future.set_exception(ModelFailed("the server is shutting down"))

    # ---- the consumer ------------------------------------------------------------------------------

    async def _consume(self) -> None:
        assert self._wake is not None
        wake = self._wake
        while True:
            if not self._queue:
                wake.clear()
                await wake.wait()
            batch, size = self._take([], 0)
            if size < self.max_batch_size and self.arriving and self.max_latency_s > 0:
                batch, size = await self._fill(batch, size, wake)
            await self._score_groups(batch)

    def _take(self, batch: list[_Item], size: int) -> tuple[list[_Item], int]:
        """Move queued items to ``batch`` while they fit (a first item larger than a batch goes alone)."""
        queue = self._queue
        while queue and (size == 0 or size + len(queue[0].rows) <= self.max_batch_size):
            item = queue.popleft()
            batch.append(item)
            size += len(item.rows)
        return batch, size

    async def _fill(self, batch: list[_Item], size: int, wake: asyncio.Event) -> tuple[list[_Item], int]:
        deadline = time.perf_counter() + self.max_latency_s
        while size < self.max_batch_size and self.arriving and not self._queue:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                break
            wake.clear()
            try:
                await asyncio.wait_for(wake.wait(), remaining)
            except TimeoutError:
                break
            batch, size = self._take(batch, size)
        return self._take(batch, size)

    async def _score_groups(self, batch: list[_Item]) -> None:
        """Score ``batch``, one model call per (model version, columns) group in it."""
        groups: dict[tuple[int, tuple[str, ...]], list[_Item]] = {}
        for item in batch:
            groups.setdefault((id(item.served), tuple(item.columns)), []).append(item)
        for items in groups.values():
            try:
                await self._score(items)
            except Exception as exc:
                if len(items) == 1:
                    _fail(items[0], exc)
                    continue
                for item in items:  # find the request(s) the model fails on
                    try:
                        await self._score([item])
                    except Exception as single:
                        _fail(item, single)

    async def _score(self, items: list[_Item]) -> None:
        served = items[0].served
        rows = items[0].rows if len(items) == 1 else [row for item in items for row in item.rows]
        proba = any(item.probabilities for item in items) and served.model.has_proba
        t0 = time.perf_counter()
        if self._call_s < INLINE_BELOW_S:
            # a quick model runs here: two thread hand-offs would cost more than they let overlap
            frame, predictions, probabilities, took = _call(served, items[0].columns, rows, proba)
        else:  # a slow model runs in its thread: the loop keeps reading requests (the next batch)
            frame, predictions, probabilities, took = await asyncio.get_running_loop().run_in_executor(
                self._executor, _call, served, items[0].columns, rows, proba
            )
        done = time.perf_counter()
        self._call_s += (took - self._call_s) * 0.2  # the model's own time, not the hand-offs
        request_ids: list[str] = []
        latencies: list[float] = []
        start = 0
        for item in items:
            n = len(item.rows)
            end = start + n
            if not item.future.done():
                item.future.set_result(
                    Answer(
                        served,
                        predictions[start:end],
                        probabilities[start:end]
                        if probabilities is not None and item.probabilities
                        else None,
                    )
                )
            request_ids.extend([item.request_id] * n)
            latencies.extend([(done - item.started) * 1000.0] * n)
            start = end
        try:
            self._on_batch(BatchDone(served, frame, predictions, request_ids, latencies, done - t0))
        except Exception:  # metrics and the log never fail an answer already given
            log.exception("recording a batch of %s failed", served.name)


def _call(
    served: ServedModel, columns: list[str], rows: list[list[Any]], proba: bool
) -> tuple[Any, list[Any], list[list[float]] | None, float]:
    """One DataFrame, one model call (two with probabilities); and the seconds they took."""
    t0 = time.perf_counter()
    schema = served.schema
    frame = schema.frame(columns, rows)
    model = served.model
    checked = schema.signature is not None and schema.numeric
    predictions = _as_list(model.predict(frame, enforce=not checked))
    if len(predictions) != len(rows):
        raise ModelFailed(
            f"model {served.name!r} returned {len(predictions)} predictions for {len(rows)} rows",
            model=served.name,
        )
    probabilities = _as_list(model.predict_proba(frame, enforce=not checked)) if proba else None
    return frame, predictions, probabilities, time.perf_counter() - t0


def _as_list(output: Any) -> list[Any]:
    """A model's output as a list of JSON-ready values, one per row."""
    tolist = getattr(output, "tolist", None)
    if callable(tolist):  # numpy arrays, pandas Series
        values = tolist()
        return values if isinstance(values, list) else [values]
    to_dict = getattr(output, "to_dict", None)
    if callable(to_dict):  # a DataFrame: one record per row
        records = to_dict(orient="records")
        return list(records)
    return list(output)


def _fail(item: _Item, exc: BaseException) -> None:
    if item.future.done():
        return
    if isinstance(exc, ModelFailed):
        item.future.set_exception(exc)
        return
    version = f" version {item.served.version}" if item.served.version else ""
    error = ModelFailed(
        f"model {item.served.name!r}{version} failed: {type(exc).__name__}: {exc}",
        model=item.served.name,
        version=item.served.version,
        exception=type(exc).__name__,
    )
    error.__cause__ = exc
    item.future.set_exception(error)
