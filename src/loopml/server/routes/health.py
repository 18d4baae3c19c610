"""``/health`` (the process answers) and ``/ready`` (its store answers too)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response

from ...errors import LoopmlError, StoreError
from ..dependencies import StoreDep
from ..errors import error_response
from ..responses import json_response

__all__ = ["router"]

logger = logging.getLogger("loopml.server")
router = APIRouter(tags=["health"])

#: The name /ready looks up: an indexed read that finds nothing, on any store.
PROBE_NAME = "loopml-readiness-probe"


@router.get("/health", summary="The server process is alive (no store access)")
async def health() -> Response:
    return json_response({"status": "ok"})


@router.get("/ready", summary="The store answers a cheap query (503 otherwise)")
def ready(store: StoreDep) -> Response:
    try:
        store.get_experiment_by_name(PROBE_NAME)
    except LoopmlError as exc:
        error = exc if exc.http_status == 503 else StoreError(f"the store is not ready: {exc.message}")
        return error_response(error)
    except Exception as exc:
        logger.exception("the readiness probe failed")
        return error_response(
            StoreError(f"the store is not ready ({type(exc).__name__}); see the server's log")
        )
    return json_response({"status": "ready"})
