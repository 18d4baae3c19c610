"""The Scorer: everything a scoring app holds (slots, batchers, metrics, prediction log) and
the path of one prediction request, from bytes in to bytes out.

:mod:`loopml.serving.app` is a thin FastAPI shell over it. A request is read (413 above
``max_body_bytes``), parsed (:mod:`.payloads`), checked against the model's signature
(:mod:`.input_schema`), queued for its model's micro-batch (:mod:`.batching`) and answered with
``{"predictions", "model": {"name", "version"}, "request_id"}`` (plus ``"probabilities"`` and
``"classes"`` when asked). Refusals answer ``{"error": {...}, "request_id"}`` with the error's
status; a model that raises answers 500 with the request id, and the server keeps serving.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import orjson

from ..errors import InvalidInput, LoopmlError, NotFound, NotReady
from .batching import Answer, BatchDone, MicroBatcher
from .follower import Follower, ModelSlot
from .metrics import ServingMetrics
from .options import ServeOptions
from .payloads import parse_body

if TYPE_CHECKING:
    from ..registry.client import RegistryClient
    from .prediction_log import PredictionLog
    from .served_model import ServedModel, ServedSpec

__all__ = ["Reply", "Scorer"]

log = logging.getLogger("loopml.serving")

Reply = tuple[int, bytes, dict[str, str]]  # status, JSON body, headers


class Scorer:
    """The served models of one app and their machinery; ``start``/``stop`` in the app's lifespan."""

    def __init__(self, specs: Sequence[ServedSpec], options: ServeOptions) -> None:
        names = [spec.name for spec in specs]
        if not specs:
            raise InvalidInput("give at least one model URI to serve")
        if len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            raise InvalidInput(
                f"two served models answer to the same name {twice}; name them with NAME=URI", names=twice
            )
        self.options = options
        self.slots = {spec.name: ModelSlot(spec) for spec in specs}
        self.metrics = ServingMetrics()
        self.prediction_log: PredictionLog | None = None
        self._executors = {name: ThreadPoolExecutor(1, f"loopml-score-{name}") for name in self.slots}
        self._loader = ThreadPoolExecutor(1, "loopml-model-loader")
        self.batchers = {
            spec.name: MicroBatcher(
                max_batch_size=spec.max_batch_size,
                max_latency_ms=spec.max_latency_ms,
                executor=self._executors[spec.name],
                on_batch=self._batch_done,
            )
            for spec in specs
        }
        self.follower = Follower(
            list(self.slots.values()),
            executor=self._loader,
            poll_interval_s=options.poll_interval_s,
            registry=_default_registry,
            on_swap=self._swapped,
        )
        self._tasks: list[asyncio.Task[None]] = []

    # ---- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the prediction log, then load the models: in the background (``/ready`` says
        when), or now with ``load_before_serving``."""
        if self.options.log_predictions:
            from .prediction_log import PredictionLog, default_prediction_log_root

            self.prediction_log = PredictionLog(
                self.options.prediction_log_root or default_prediction_log_root()
            )
        loop = asyncio.get_running_loop()
        if self.options.load_before_serving:
            await self._load_all()
            self._tasks.append(loop.create_task(self.follower.follow(), name="loopml-follower"))
        else:
            self._tasks.append(loop.create_task(self._load_then_follow(), name="loopml-follower"))

    async def _load_then_follow(self) -> None:
        await self._load_all()
        await self.follower.follow()

    async def _load_all(self) -> None:
        if self.options.pause_gc_while_loading:
            gc.disable()
        try:
            await self.follower.load_all()
        finally:
            if self.options.pause_gc_while_loading:
                gc.freeze()
                gc.enable()

    async def stop(self) -> None:
        """Stop following, drain the batchers, flush the prediction log, stop the threads."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for batcher in self.batchers.values():
            await batcher.aclose()
        if self.prediction_log is not None:
            self.prediction_log.close()
        for executor in (*self._executors.values(), self._loader):
            executor.shutdown(wait=True, cancel_futures=True)

    @property
    def ready(self) -> bool:
        return all(slot.ready for slot in self.slots.values())

    # ---- one request -------------------------------------------------------------------------------

    def slot_for(self, name: str | None) -> ModelSlot:
        """The slot ``name`` names; None: the only served model."""
        if name is None:
            if len(self.slots) == 1:
                return next(iter(self.slots.values()))
            raise InvalidInput(
                f"this server serves {len(self.slots)} models ({', '.join(self.slots)}); "
                "post to /models/<name>/predict",
                models=list(self.slots),
            )
        slot = self.slots.get(name)
        if slot is None:
            raise NotFound(
                f"no served model named {name!r}; served: {', '.join(self.slots)}",
                name=name,
                models=list(self.slots),
            )
        return slot

    async def predict(
        self,
        name: str | None,
        body: Callable[[], Awaitable[bytes]],
        keys: tuple[str, ...],
        request_id: str | None,
    ) -> Reply:
        """Answer one prediction request; ``body`` reads it (see the module doc)."""
        started = time.perf_counter()
        rid = request_id or uuid.uuid4().hex
        served: ServedModel | None = None
        slot_name = name or "-"
        try:
            slot = self.slot_for(name)
            slot_name = slot.spec.name
            served = slot.current
            if served is None:
                raise NotReady(
                    f"model {slot.spec.name!r} is not loaded yet"
                    + (f"; loading failed: {slot.error}" if slot.error else ""),
                    model=slot.spec.name,
                )
            batcher = self.batchers[slot_name]
            batcher.coming()
            try:
                rows = parse_body(await body(), keys)
                columns, conformed = served.schema.conform(rows)
            finally:
                batcher.came()
            answer = await batcher.predict(
                served,
                columns,
                conformed,
                probabilities=rows.probabilities or self.options.probabilities,
                request_id=rid,
                started=started,
            )
        except LoopmlError as error:
            return self.refuse(error, rid, slot_name, served, started)
        version = answer.served.version
        self.metrics.request(slot_name, version, 200, time.perf_counter() - started)
        return 200, _answer_body(answer, rid), {"x-request-id": rid}

    def refuse(
        self, error: LoopmlError, rid: str, name: str, served: ServedModel | None, started: float
    ) -> Reply:
        """The error answer (``{"error", "request_id"}``), counted in the metrics."""
        version = None if served is None else served.version
        if error.http_status == 500:
            log.error("request %s to %s failed: %s", rid, name, error.message, exc_info=error.__cause__)
        self.metrics.error(name, version, error.code)
        self.metrics.request(name, version, error.http_status, time.perf_counter() - started)
        body = error.to_dict()
        body["request_id"] = rid
        try:
            content = orjson.dumps(body)
        except TypeError:
            body["error"]["details"] = {k: repr(v) for k, v in error.details.items()}
            content = orjson.dumps(body)
        return error.http_status, content, {"x-request-id": rid}

    # ---- callbacks ---------------------------------------------------------------------------------

    def _batch_done(self, done: BatchDone) -> None:
        served = done.served
        self.metrics.batch(served.name, served.version, len(done.request_ids))
        plog = self.prediction_log
        if plog is None:
            return
        now = time.time()
        plog.append(
            model=served.name,
            version=served.version,
            request_ids=done.request_ids,
            timestamps=[now] * len(done.request_ids),
            inputs=done.frame,
            outputs=done.predictions,
            latencies_ms=done.latencies_ms,
        )
        self.metrics.log_dropped.set(plog.dropped)

    def _swapped(self, slot: ModelSlot, previous: ServedModel | None) -> None:
        assert slot.current is not None
        self.metrics.serving(slot.current, previous)

    # ---- what the GET routes say -------------------------------------------------------------------

    def readiness(self) -> dict[str, Any]:
        return {"ready": self.ready, "models": [slot.status() for slot in self.slots.values()]}

    def metadata(self) -> dict[str, Any]:
        return {"models": [self.model_metadata(slot) for slot in self.slots.values()]}

    def model_metadata(self, slot: ModelSlot) -> dict[str, Any]:
        current = slot.current
        if current is None:
            return slot.status()
        return {**current.metadata(), "ready": True, "error": slot.error, "swaps": slot.swaps}


def _answer_body(answer: Answer, rid: str) -> bytes:
    served = answer.served
    doc: dict[str, Any] = {
        "predictions": answer.predictions,
        "model": {"name": served.name, "version": served.version},
        "request_id": rid,
    }
    if answer.probabilities is not None:
        doc["probabilities"] = answer.probabilities
        doc["classes"] = served.model.classes
    return orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)


def _default_registry() -> RegistryClient:
    from ..tracking.fluent import _client

    return _client().registry
