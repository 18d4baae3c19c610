"""Transport: JSON requests to a loopml server over keep-alive connections.

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

The connections are :class:`Connections`, a small pool of keep-alive sockets: a request is
written in one ``sendall`` and its answer read by :func:`read_answer`. A JSON call costs
~0.05 ms of Python there (the rest of the client's time is the kernel's), against ~0.15 ms with
``http.client`` (a second packet for the body, the ``email`` package parsing the headers) and
~0.6 ms through httpx (its request and response models, and h11 in pure Python). httpx is used
only when a proxy variable (``HTTP(S)_PROXY``, ``ALL_PROXY``) applies to the server's address,
as httpx honours them and the sockets do not.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import select
import socket
import ssl
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlencode, urlsplit

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

__all__ = ["ConnectionFailed", "Connections", "Reply", "Transport", "read_answer"]

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
#: Connections open at once (more callers wait for one, up to the timeout); idle ones kept.
MAX_CONNECTIONS = 100
MAX_IDLE = 20
#: Idle connections are dropped after 4 s, before the server's keep-alive timeout (uvicorn: 5 s
#: by default, 30 s under `loopml server`), so a request is never sent on a connection the
#: server is closing.
IDLE_EXPIRY_S = 4.0
_PROXY_VARIABLES = frozenset({"http_proxy", "https_proxy", "all_proxy"})


class Sent(Protocol):
    """What a reply says of its request (``httpx.Request`` has the same two attributes)."""

    @property
    def method(self) -> str: ...

    @property
    def url(self) -> Any: ...


class Response(Protocol):
    """The part of an answer the transport reads: :class:`Reply`, or an ``httpx.Response``."""

    @property
    def status_code(self) -> int: ...

    @property
    def content(self) -> bytes: ...

    @property
    def text(self) -> str: ...

    @property
    def request(self) -> Sent: ...


class HttpClient(Protocol):
    """What the transport sends through: :class:`Connections`, or an ``httpx.Client``."""

    def request(
        self,
        method: str,
        url: str,
        *,
        content: bytes | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any: ...

    def close(self) -> None: ...


class Transport:
    """JSON over HTTP to ``base_url`` (``http(s)://host:port``, any path prefix kept).

    ``token`` is sent as ``Authorization: Bearer <token>``; ``retries`` is how many times a
    failed call is sent again (so up to ``retries + 1`` attempts). One pool of keep-alive
    connections is kept per process (a forked child opens its own) and shared by threads.
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
        self._client: HttpClient | None = None
        self._pid = os.getpid()

    def __repr__(self) -> str:
        return f"Transport({self.base_url!r})"

    def _http(self) -> HttpClient:
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
            except _connection_errors() as exc:
                if attempt < self.retries and (idempotent or _not_sent(exc)):
                    attempt = self._pause(attempt, f"{method} {path}: {exc!r}")
                    continue
                raise StoreError(
                    f"cannot reach the loopml server at {self.base_url} ({method} {path}): {exc}",
                    url=self.base_url,
                ) from exc
            status = response.status_code
            if status < 400:
                return None if status == 204 or not response.content else _json(response)
            error = _error(response)
            if idempotent and attempt < self.retries and _transient(status, error):
                attempt = self._pause(attempt, f"{method} {path}: HTTP {status}")
                continue
            if attempt > 0 and on_duplicate is not None and isinstance(error, AlreadyExists):
                return on_duplicate(error)
            raise error

    def _pause(self, attempt: int, why: str) -> int:
        delay = self.backoff * (2**attempt)
        logger.debug("retrying in %.1f s after %s", delay, why)
        time.sleep(delay)
        return attempt + 1


# ---- the connections ----------------------------------------------------------------------------


class ConnectionFailed(Exception):
    """A request that got no answer. ``sent`` is False when it surely never reached the
    server (the connection could not be made): then any call may be sent again."""

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    url: str


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer read in full: status, body, and the request it answers."""

    status_code: int
    content: bytes
    request: Request

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


class Connections:
    """Keep-alive connections to the origin of ``base_url``, for any thread.

    The subset of ``httpx.Client`` the transport uses (``request``, ``close``). A request goes
    out in one ``sendall`` (request line, headers and body; ``http.client`` sends the body
    apart, a second packet the server waits for) and its answer is read by :func:`read_answer`
    (Content-Length, chunked, up to the close; ``Connection: close``).

    A connection is taken for one request and given back once its answer is read; an idle one
    is reused while the server keeps it open (checked before each reuse, without blocking) and
    for at most :data:`IDLE_EXPIRY_S`. ``timeout`` bounds connecting and each wait for the
    server; at most :data:`MAX_CONNECTIONS` are open at once.
    """

    def __init__(self, base_url: str, headers: dict[str, str], timeout: float) -> None:
        url = urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise InvalidInput(f"not an http(s) URL of a loopml server: {base_url!r}")
        self._origin = f"{url.scheme}://{url.netloc}"
        self._prefix = quote(url.path.rstrip("/"), safe="/%:@!$&'()*+,;=-._~")
        self._address = (url.hostname, url.port or (443 if url.scheme == "https" else 80))
        self._timeout = timeout
        self._context = _ssl_context() if url.scheme == "https" else None
        fixed = {"Host": url.netloc.rpartition("@")[2], **headers}
        self._head = "".join(f"{name}: {_header_value(value)}\r\n" for name, value in fixed.items())
        self._idle: deque[tuple[socket.socket, float]] = deque()
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def request(
        self,
        method: str,
        url: str,
        *,
        content: bytes | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        target = self._prefix + url
        if params:
            target += "?" + urlencode(params)
        message = self._message(method, target, content, headers)
        if not self._slots.acquire(timeout=self._timeout):
            raise ConnectionFailed(f"no free connection after {self._timeout} s", sent=False)
        try:
            sock = self._connection()
            try:
                sock.sendall(message)
                status, data, close = read_answer(sock, method)
            except (OSError, http.client.HTTPException) as exc:
                sock.close()
                raise ConnectionFailed(_describe(exc), sent=True) from exc
            if close or len(self._idle) >= MAX_IDLE:
                sock.close()
            else:
                self._idle.append((sock, time.monotonic()))
        finally:
            self._slots.release()
        return Reply(status, data, Request(method, self._origin + target))

    def _message(
        self, method: str, target: str, content: bytes | None, headers: dict[str, str] | None
    ) -> bytes:
        """The request's bytes: request line, headers, blank line, body."""
        head = f"{method} {target} HTTP/1.1\r\n{self._head}"
        if headers:
            head += "".join(f"{name}: {_header_value(value)}\r\n" for name, value in headers.items())
        if content is not None or method in ("POST", "PUT", "PATCH"):
            head += f"Content-Length: {len(content or b'')}\r\n"
        try:
            raw = (head + "\r\n").encode("ascii")
        except UnicodeEncodeError:
            raise InvalidInput(f"{method} {target!r}: the request line or a header is not ASCII") from None
        if any(c in target for c in " \r\n\t"):
            raise InvalidInput(f"{method} {target!r}: the path holds spaces or control characters")
        return raw + content if content else raw

    def _connection(self) -> socket.socket:
        """An idle connection the server still holds open, or a new one (connected here, so
        that a failure to connect is known to have sent nothing)."""
        now = time.monotonic()
        while True:
            try:
                sock, since = self._idle.pop()  # the most recent: the least likely to be closed
            except IndexError:
                break
            if now - since < IDLE_EXPIRY_S and not _dropped(sock):
                return sock
            sock.close()
        try:
            sock = socket.create_connection(self._address, timeout=self._timeout)
        except OSError as exc:
            raise ConnectionFailed(_describe(exc), sent=False) from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._context is not None:
                sock = self._context.wrap_socket(sock, server_hostname=self._address[0])
        except OSError as exc:  # ssl.SSLError included: the handshake sends no request
            sock.close()
            raise ConnectionFailed(_describe(exc), sent=False) from exc
        return sock

    def close(self) -> None:
        while self._idle:
            with contextlib.suppress(IndexError):
                self._idle.pop()[0].close()

    def __del__(self) -> None:  # a store dropped unclosed leaves no socket behind
        if hasattr(self, "_idle"):  # not when __init__ refused the URL
            self.close()


# ---- reading an answer -----------------------------------------------------------------------------

#: The most bytes of a status line and headers accepted (http.client allows 100 lines of 64 KiB).
MAX_HEAD_BYTES = 256 * 1024
_RECV_BYTES = 64 * 1024


def read_answer(sock: socket.socket, method: str) -> tuple[int, bytes, bool]:
    """One HTTP/1.1 answer read from ``sock``: its status, its body and whether the connection
    must be closed after it. Bodies by Content-Length, chunked, or up to the close; interim
    ``1xx`` answers are skipped. A broken answer raises ``http.client.HTTPException`` (or the
    socket's OSError): the connection is then closed by the caller.

    Reading it here rather than with ``http.client.HTTPResponse`` (which parses the headers with
    the ``email`` package) saves ~40 us a call.
    """
    buffer = bytearray()
    while True:
        end = _fill_until(sock, buffer, b"\r\n\r\n", MAX_HEAD_BYTES)
        lines = buffer[:end].decode("latin-1").split("\r\n")
        del buffer[: end + 4]
        version, _, rest = lines[0].partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/") or not code.isdigit():
            raise http.client.BadStatusLine(lines[0])
        status = int(code)
        if 100 <= status < 200 and status != 101:
            continue  # an interim answer (100 Continue): the real one follows
        break
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            raise http.client.HTTPException(f"a header line without a colon: {line[:80]!r}")
        name = name.strip().lower()
        headers[name] = f"{headers[name]}, {value.strip()}" if name in headers else value.strip()
    connection = headers.get("connection", "").lower()
    close = "close" in connection or (version == "HTTP/1.0" and "keep-alive" not in connection)
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        body = b""
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        body = _read_chunked(sock, buffer)
    elif "content-length" in headers:
        try:
            length = int(headers["content-length"].split(",")[0])
        except ValueError:
            raise http.client.HTTPException(f"bad Content-Length {headers['content-length']!r}") from None
        while len(buffer) < length:
            _receive(sock, buffer, expected=length - len(buffer))
        body = bytes(buffer[:length])
        del buffer[:length]
    else:  # no length: the body ends with the connection
        while chunk := sock.recv(_RECV_BYTES):
            buffer += chunk
        body, close = bytes(buffer), True
        buffer.clear()
    return status, body, close or bool(buffer)  # bytes past the answer: not a connection to reuse


def _receive(sock: socket.socket, buffer: bytearray, expected: int | None = None) -> None:
    chunk = sock.recv(_RECV_BYTES)
    if not chunk:
        if expected is not None:
            raise http.client.IncompleteRead(bytes(buffer), expected)
        if buffer:
            raise http.client.IncompleteRead(bytes(buffer))
        raise http.client.RemoteDisconnected("Remote end closed connection without response")
    buffer += chunk


def _fill_until(sock: socket.socket, buffer: bytearray, marker: bytes, limit: int) -> int:
    """Receive until ``marker`` is in ``buffer``; its position."""
    start = 0
    while (found := buffer.find(marker, start)) < 0:
        if len(buffer) > limit:
            raise http.client.HTTPException(f"more than {limit} bytes without {marker!r}")
        start = max(0, len(buffer) - len(marker) + 1)
        _receive(sock, buffer)
    return found


def _read_chunked(sock: socket.socket, buffer: bytearray) -> bytes:
    body = bytearray()
    while True:
        end = _fill_until(sock, buffer, b"\r\n", 64 * 1024)
        size_text = buffer[:end].split(b";", 1)[0].strip()
        del buffer[: end + 2]
        try:
            size = int(size_text, 16)
        except ValueError:
            raise http.client.HTTPException(f"bad chunk size {bytes(size_text)[:20]!r}") from None
        if size == 0:
            while (end := _fill_until(sock, buffer, b"\r\n", 64 * 1024)) > 0:  # trailers
                del buffer[: end + 2]
            del buffer[:2]
            return bytes(body)
        while len(buffer) < size + 2:
            _receive(sock, buffer, expected=size + 2 - len(buffer))
        body += buffer[:size]
        del buffer[: size + 2]


def _header_value(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise InvalidInput("a header value holds a line break")
    return value


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"timed out ({exc or 'no answer'})"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _dropped(sock: Any) -> bool:
    """Whether an idle connection's socket was closed by the server (or has stray data):
    readable without a request in flight means the server is done with it."""
    if sock is None:
        return True
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def _ssl_context() -> ssl.SSLContext:
    """Server certificates are checked against the system's CAs plus, as httpx does,
    SSL_CERT_FILE / SSL_CERT_DIR when set, else certifi's bundle when it is installed."""
    context = ssl.create_default_context()
    cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    if cafile or capath:
        context.load_verify_locations(cafile=cafile or None, capath=capath or None)
        return context
    try:
        import certifi
    except ImportError:
        return context
    context.load_verify_locations(cafile=certifi.where())
    return context


def _proxied(base_url: str) -> bool:
    """Whether a proxy variable of the environment applies to ``base_url`` (NO_PROXY honoured)."""
    if not any(name.lower() in _PROXY_VARIABLES for name in os.environ):
        return False
    import urllib.request

    proxies = urllib.request.getproxies_environment()
    url = urlsplit(base_url)
    if not (proxies.get(url.scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass_environment(url.netloc, proxies)  # type: ignore[attr-defined]


def _new_client(base_url: str, headers: dict[str, str], timeout: float) -> HttpClient:
    if not _proxied(base_url):
        return Connections(base_url, headers, timeout)
    import httpx  # a proxy applies: httpx honours the variables

    limits = httpx.Limits(
        max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_IDLE, keepalive_expiry=IDLE_EXPIRY_S
    )
    return httpx.Client(base_url=base_url, headers=headers, timeout=timeout, limits=limits)


def _connection_errors() -> tuple[type[Exception], ...]:
    """The exceptions of a request that got no answer: ours, and httpx's once it is in use
    (only evaluated when an exception is on its way, so httpx is never imported for it)."""
    httpx = sys.modules.get("httpx")
    return (ConnectionFailed,) if httpx is None else (ConnectionFailed, httpx.TransportError)


def _not_sent(exc: Exception) -> bool:
    """Whether the request surely never reached the server (safe to send again in any case)."""
    if isinstance(exc, ConnectionFailed):
        return not exc.sent
    httpx = sys.modules.get("httpx")
    unsent = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) if httpx is not None else ()
    return isinstance(exc, unsent)


def _json(response: Response) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise StoreError(
            f"the server at {response.request.url} answered {response.status_code} with a body "
            f"that is not JSON: {response.text[:200]!r}"
        ) from None


def _error(response: Response) -> LoopmlError:
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
