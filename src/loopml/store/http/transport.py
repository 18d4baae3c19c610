"""Transport: JSON requests to a loopml server over one keep-alive httpx client.

Every call goes through :meth:`Transport.request`, which

- sends the body with orjson (entities are encoded by the caller with :mod:`loopml.codec`);
- decodes the JSON answer (``None`` for ``204 No Content``);
- turns an error answer ``{"error": {"code", "message", "details"}}`` back into the same
  :class:`~loopml.errors.LoopmlError` subclass the server's store raised, with the same message
  and details (an answer without that body, from a proxy say, maps by HTTP status);
- retries, with exponential backoff (0.1 s, 0.2 s, 0.4 s, ...):
    * any call whose request was never sent (the connection could not be made);
    * an *idempotent* call after any connection failure, a timeout, or a 502/503/504 answer
      (a 503 that carries a loopml error is retried only for ``store_error``: the database
      was unreachable, and a retry may find it back).

A call is idempotent when sending it twice leaves the store as sending it once: reads, sets
(rename, set tag, terminate, log param with the same value), and the creates, which carry the
id chosen by the client. A create retried after its first attempt went through would answer
AlreadyExists; ``on_duplicate`` then reads back what the first attempt created.
Appending metric points (``log_metric``, a ``log_batch`` with metrics) is not idempotent.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from ...errors import (
    AlreadyExists,
    Conflict,
    InvalidInput,
    LoopmlError,
    NotFound,
    PermissionDenied,
    StoreError,
    Unauthenticated,
    error_class,
    error_from_wire,
)

__all__ = ["Transport"]

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({502, 503, 504})
#: Error codes of a 502/503/504 answer that a retry may cure (the server's database was down).
TRANSIENT_CODES = frozenset({"store_error"})
_BY_STATUS: dict[int, type[LoopmlError]] = {
    400: InvalidInput,
    401: Unauthenticated,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
}


class Transport:
    """JSON over HTTP to ``base_url`` (``http(s)://host:port``, any path prefix kept).

    ``token`` is sent as ``Authorization: Bearer <token>``; ``retries`` is how many times a
    failed call is sent again (so up to ``retries + 1`` attempts). One ``httpx.Client`` is
    kept per process (a forked child opens its own) and shared by threads.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.1,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._headers = {"Accept": "application/json", "User-Agent": "loopml-http-store"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None
        self._pid = os.getpid()

    def __repr__(self) -> str:
        return f"Transport({self.base_url!r})"

    def _http(self) -> httpx.Client:
        client = self._client
        if client is not None and self._pid == os.getpid():
            return client
        with self._lock:
            if self._client is None or self._pid != os.getpid():
                self._client = _new_client(self.base_url, self._headers, self.timeout)
                self._pid = os.getpid()
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None and self._pid == os.getpid():
                self._client.close()
            self._client = None

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        idempotent: bool = True,
        on_duplicate: Callable[[AlreadyExists], Any] | None = None,
    ) -> Any:
        """Send ``method path`` with a JSON body (already JSON-able) and return the decoded answer.

        ``on_duplicate`` (creates): when an attempt after the first answers AlreadyExists, the
        first attempt may have gone through; ``on_duplicate(error)`` reads back what it stored
        (and re-raises ``error`` when the clash is not of its making).
        """
        try:
            content = None if json is None else orjson.dumps(json)
        except TypeError as exc:  # orjson.JSONEncodeError: an integer past 64 bits, an object
            raise InvalidInput(f"{method} {path}: the request cannot be sent as JSON: {exc}") from None
        headers = {"Content-Type": "application/json"} if content is not None else None
        query = None if params is None else {k: v for k, v in params.items() if v is not None}
        attempt = 0
        while True:
            try:
                response = self._http().request(method, path, content=content, params=query, headers=headers)
            except httpx.TransportError as exc:
                if attempt < self.retries and (idempotent or _not_sent(exc)):
                    attempt = self._pause(attempt, f"{method} {path}: {exc!r}")
                    continue
                raise StoreError(
                    f"cannot reach the loopml server at {self.base_url} ({method} {path}): {exc}",
                    url=self.base_url,
                ) from exc
            if response.status_code < 400:
                return None if response.status_code == 204 or not response.content else _json(response)
            error = _error(response)
            if idempotent and attempt < self.retries and _transient(response.status_code, error):
                attempt = self._pause(attempt, f"{method} {path}: HTTP {response.status_code}")
                continue
            if attempt > 0 and on_duplicate is not None and isinstance(error, AlreadyExists):
                return on_duplicate(error)
            raise error

    def _pause(self, attempt: int, why: str) -> int:
        delay = self.backoff * (2**attempt)
        logger.debug("retrying in %.1f s after %s", delay, why)
        time.sleep(delay)
        return attempt + 1


def _new_client(base_url: str, headers: dict[str, str], timeout: float) -> httpx.Client:
    # Idle connections are dropped after 4 s, before the server's keep-alive timeout
    # (uvicorn: 5 s by default, 30 s under `loopml server`), so a request is never sent on a
    # connection the server is closing.
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=4.0)
    return httpx.Client(base_url=base_url, headers=headers, timeout=timeout, limits=limits)


def _not_sent(exc: Exception) -> bool:
    """Whether the request surely never reached the server (safe to send again in any case)."""
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def _json(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise StoreError(
            f"the server at {response.request.url} answered {response.status_code} with a body "
            f"that is not JSON: {response.text[:200]!r}"
        ) from None


def _error(response: httpx.Response) -> LoopmlError:
    """The LoopmlError an error answer carries (or one made from its status)."""
    body: Any = None
    with contextlib.suppress(orjson.JSONDecodeError):
        body = orjson.loads(response.content)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        code = str(error.get("code", ""))
        details = error.get("details")
        cls = error_class(code) or _BY_STATUS.get(response.status_code, LoopmlError)
        return error_from_wire(cls, error["message"], details if isinstance(details, dict) else {})
    cls = _BY_STATUS.get(response.status_code, StoreError)
    text = response.text[:200]
    return cls(
        f"the server answered {response.status_code} to {response.request.method} "
        f"{response.request.url}: {text!r}",
        status=response.status_code,
    )


def _transient(status: int, error: LoopmlError) -> bool:
    """A 502/503/504 from a proxy (no loopml body: a StoreError here) or the store being down."""
    return status in RETRY_STATUSES and error.code in TRANSIENT_CODES
