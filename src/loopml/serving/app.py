"""The scoring app: FastAPI routes over a :class:`~loopml.serving.scorer.Scorer`.

=========================================  ====================================================
``POST /predict``                          the only served model: records, columns/data or
                                           instances (see :mod:`loopml.serving.payloads`)
``POST /models/{name}/predict``            one of several served models
``POST /invocations``                      MLflow's scoring protocol (dataframe_split, ...)
``POST /models/{name}/invocations``        the same, for one of several models
``GET /health``                            the process is up
``GET /ready``                             every model is loaded (503 until then)
``GET /metadata``                          name, version, alias/stage, signature, loaded-at
``GET /metrics``                           Prometheus text: requests, errors, latency, batches
=========================================  ====================================================

``loopml serve`` with ``--workers N`` starts N processes that each build the app with
:func:`app_from_env` from the configuration the command puts in ``LOOPML_SERVE_CONFIG``.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from .._version import __version__
from ..errors import InvalidInput, PayloadTooLarge
from .options import ServeOptions
from .payloads import INVOCATION_KEYS, PREDICT_KEYS
from .scorer import Reply, Scorer
from .served_model import ServedSpec

__all__ = ["CONFIG_ENV", "app_from_env", "config_json", "create_scoring_app"]

#: The environment variable through which ``loopml serve`` hands its configuration to workers.
CONFIG_ENV = "LOOPML_SERVE_CONFIG"
_JSON = "application/json"


def create_scoring_app(specs: Sequence[ServedSpec], options: ServeOptions | None = None) -> FastAPI:
    """The scoring app serving ``specs`` (see the module doc for its routes)."""
    from ..server.errors import install_error_handlers

    scorer = Scorer(specs, options or ServeOptions())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await scorer.start()
        try:
            yield
        finally:
            await scorer.stop()

    app = FastAPI(
        title="loopml scoring",
        version=__version__,
        description="Predictions from the models this server was started with.",
        docs_url="/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.scorer = scorer
    install_error_handlers(app)
    _routes(app, scorer)
    return app


def _routes(app: FastAPI, scorer: Scorer) -> None:
    limit = scorer.options.max_body_bytes

    async def answer(request: Request, name: str | None, keys: tuple[str, ...]) -> Response:
        reply = await scorer.predict(
            name, lambda: _read_body(request, limit), keys, request.headers.get("x-request-id")
        )
        return _response(reply)

    @app.post("/predict", tags=["predict"], summary="Predict with the served model")
    async def predict(request: Request) -> Response:
        return await answer(request, None, PREDICT_KEYS)

    @app.post("/models/{name}/predict", tags=["predict"], summary="Predict with one of the served models")
    async def predict_named(name: str, request: Request) -> Response:
        return await answer(request, name, PREDICT_KEYS)

    @app.post("/invocations", tags=["predict"], summary="MLflow's scoring protocol")
    async def invocations(request: Request) -> Response:
        return await answer(request, None, INVOCATION_KEYS)

    @app.post("/models/{name}/invocations", tags=["predict"], summary="MLflow's protocol, one model")
    async def invocations_named(name: str, request: Request) -> Response:
        return await answer(request, name, INVOCATION_KEYS)

    @app.get("/health", tags=["status"])
    async def health() -> Response:
        return Response(b'{"status":"ok"}', media_type=_JSON)

    @app.get("/ready", tags=["status"])
    async def ready() -> Response:
        doc = scorer.readiness()
        return Response(json.dumps(doc), status_code=200 if doc["ready"] else 503, media_type=_JSON)

    @app.get("/metadata", tags=["status"])
    async def metadata() -> Response:
        return Response(json.dumps(scorer.metadata()), media_type=_JSON)

    @app.get("/models/{name}/metadata", tags=["status"])
    async def metadata_named(name: str) -> Response:
        return Response(json.dumps(scorer.model_metadata(scorer.slot_for(name))), media_type=_JSON)

    @app.get("/metrics", tags=["status"])
    async def metrics() -> Response:
        body, content_type = scorer.metrics.exposition()
        return Response(body, media_type=content_type)


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to pass ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise InvalidInput(f"invalid Content-Length {declared!r}") from None
        if size > limit:
            raise _too_large(size, limit)
        return await request.body()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the request body has {size} bytes or more; this server accepts at most {limit} "
        "(loopml serve --max-body-bytes)",
        size=size,
        limit=limit,
    )


def _response(reply: Reply) -> Response:
    status, body, headers = reply
    return Response(body, status_code=status, media_type=_JSON, headers=headers)


def config_json(specs: Sequence[ServedSpec], options: ServeOptions) -> str:
    """The configuration :func:`app_from_env` reads back (what ``loopml serve`` exports)."""
    return json.dumps(
        {
            "models": [
                {
                    "uri": s.uri,
                    "name": s.name,
                    "max_batch_size": s.max_batch_size,
                    "max_latency_ms": s.max_latency_ms,
                }
                for s in specs
            ],
            "options": options.to_dict(),
        }
    )


def app_from_env() -> FastAPI:
    """uvicorn's factory in each worker of ``loopml serve --workers N``."""
    raw = os.environ.get(CONFIG_ENV)
    if not raw:
        raise InvalidInput(f"{CONFIG_ENV} is not set: start the scoring server with `loopml serve`")
    config = json.loads(raw)
    if config["options"].get("pause_gc_while_loading"):
        import gc

        gc.disable()  # the worker's imports too, until its models are loaded
    specs = [ServedSpec(**m) for m in config["models"]]
    options = ServeOptions(**{**config["options"], "load_before_serving": True})
    return create_scoring_app(specs, options)
