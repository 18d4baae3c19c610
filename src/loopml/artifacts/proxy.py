"""The filesystem of ``loopml-artifacts:/`` URIs: artifact files streamed through a loopml server.

:class:`ServerArtifactFileSystem` is the fsspec filesystem :class:`~loopml.artifacts.ArtifactStore`
uses for those roots, so ``log_file``, ``log_dir``, ``list``, ``download`` ... behave as they do on
a local directory or S3. It speaks the server's artifact routes (docs/server.md):

- ``PUT /api/v1/artifacts/<path>``: the file is sent from disk in chunks (never read whole), with
  its sha256 in the ``X-Loopml-Sha256`` header. The digest is computed first, in a separate
  streamed pass: the header must precede the body. The server hashes what it receives and
  refuses a mismatch (400, nothing stored); the client checks the digest the server answers.
- ``GET /api/v1/artifacts/<path>``: the file is written to disk chunk by chunk while it is
  hashed; when the server announces a sha256 (or a length) the download must match it, else
  StoreError (and ArtifactStore leaves no partial file).
- ``HEAD /api/v1/artifacts/<path>`` and ``GET /api/v1/artifacts?path=<dir>``: info and listings.

Paths inside the filesystem start with ``/`` (``/<experiment>/<run>/artifacts/model.pkl``) and
are relative to the server's ``--artifacts-destination``. The server is the client's tracking
server: ``storage_options={"tracking_uri": "http://...", "token": ...}`` (a Client passes its
own), by default the ``LOOPML_TRACKING_URI`` and ``LOOPML_TRACKING_TOKEN`` settings. The bytes go
through one keep-alive httpx client per server and token in a process (httpx streams both ways;
the JSON calls of the HTTP store use their own connections).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import orjson
from fsspec import AbstractFileSystem

from ..errors import (
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
from .streams import CHUNK_SIZE
from .uris import SERVER_SCHEME, SHA256_HEADER, server_path

__all__ = ["API", "ArtifactServer", "ServerArtifactFileSystem", "open_server_root"]

API = "/api/v1/artifacts"
#: Seconds to connect, and to wait for each chunk (not for a whole file).
TIMEOUT_S = 60.0
RETRIES = 3
_PREFIX = f"{SERVER_SCHEME}:"
_OPTIONS = frozenset({"tracking_uri", "token"})
_BY_STATUS: dict[int, type[LoopmlError]] = {
    400: InvalidInput,
    401: Unauthenticated,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
}


def open_server_root(root_uri: str, options: dict[str, Any]) -> tuple[AbstractFileSystem, str, bool]:
    """(filesystem, root path, False) for a ``loopml-artifacts:/...`` root, as ArtifactStore wants."""
    from ..settings import load_settings

    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        raise InvalidInput(
            f"unknown storage option(s) {unknown} for {root_uri!r}; a loopml-artifacts root takes "
            "'tracking_uri' and 'token'",
            root_uri=root_uri,
        )
    path = server_path(root_uri)
    settings = load_settings()
    uri = str(options.get("tracking_uri") or settings.resolved_tracking_uri)
    if not uri.lower().startswith(("http://", "https://")):
        raise InvalidInput(
            f"{root_uri!r} names artifacts kept by a loopml server, but the tracking URI {uri!r} is not "
            "a server; set LOOPML_TRACKING_URI=http://host:port (or Client(tracking_uri=...))",
            root_uri=root_uri,
            tracking_uri=uri,
        )
    token = options.get("token")
    server = artifact_server(uri.rstrip("/"), str(settings.tracking_token if token is None else token))
    return ServerArtifactFileSystem(server), f"/{path}" if path else "", False


_SERVERS: dict[tuple[str, str], ArtifactServer] = {}
_SERVERS_LOCK = threading.Lock()


def artifact_server(base_url: str, token: str) -> ArtifactServer:
    """The :class:`ArtifactServer` of ``base_url`` and ``token`` in this process, shared by every
    store on it. Kept for the life of the process (its idle connections expire on their own) and
    closed at exit, so no connection is ever dropped unclosed."""
    with _SERVERS_LOCK:
        server = _SERVERS.get((base_url, token))
        if server is None:
            if not _SERVERS:
                atexit.register(_close_servers)
            server = _SERVERS[(base_url, token)] = ArtifactServer(base_url, token)
        return server


def _close_servers() -> None:
    with _SERVERS_LOCK:
        for server in _SERVERS.values():
            server.close()


class ArtifactServer:
    """A loopml server's artifact routes: one keep-alive httpx client per process (re-opened in a
    forked child), shared by threads; ``token`` is sent as a bearer token."""

    def __init__(self, base_url: str, token: str = "") -> None:
        self.base_url = base_url
        self._headers = {"User-Agent": "loopml-artifacts"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None
        self._pid = os.getpid()

    def __repr__(self) -> str:
        return f"ArtifactServer({self.base_url!r})"

    def http(self) -> httpx.Client:
        with self._lock:
            if self._client is None or self._pid != os.getpid():
                self._client = httpx.Client(
                    base_url=self.base_url,
                    headers=self._headers,
                    timeout=httpx.Timeout(TIMEOUT_S),
                    # idle connections dropped before a server's keep-alive ends (uvicorn: 5 s)
                    limits=httpx.Limits(keepalive_expiry=4.0),
                )
                self._pid = os.getpid()
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None and self._pid == os.getpid():
                self._client.close()
            self._client = None


class ServerArtifactFileSystem(AbstractFileSystem):  # type: ignore[misc]  # fsspec is untyped
    """The artifact files of a loopml server, read and written through its REST API."""

    protocol = SERVER_SCHEME
    root_marker = "/"
    cachable = False  # holds its ArtifactServer: nothing for fsspec's instance cache to share

    def __init__(self, server: ArtifactServer) -> None:
        super().__init__()
        self.server = server

    def __repr__(self) -> str:
        return f"ServerArtifactFileSystem({self.server.base_url!r})"

    @classmethod
    def _strip_protocol(cls, path: Any) -> str:
        text = os.fspath(path) if isinstance(path, os.PathLike) else str(path)
        if text.startswith(_PREFIX):
            text = text[len(_PREFIX) :]
        return "/" + text.strip("/")

    # -- reading --------------------------------------------------------------------------

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        """The direct children of directory ``path`` (``[]`` for a file or a missing path)."""
        name = self._strip_protocol(path)
        response = self._send("GET", API, params={"path": name.lstrip("/")})
        if response.status_code != 200:
            raise answer_error(response)
        data = orjson.loads(response.content)
        entries = [
            {
                "name": "/" + str(item["path"]),
                "type": "directory" if item["is_dir"] else "file",
                "size": int(item["file_size"] or 0),
            }
            for item in data["files"]
        ]
        return entries if detail else [entry["name"] for entry in entries]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        name = self._strip_protocol(path)
        response = self._send("HEAD", self._url(name))
        if response.status_code == 200:
            size = int(response.headers.get("content-length", 0))
            return {"name": name, "type": "file", "size": size, "sha256": response.headers.get(SHA256_HEADER)}
        if response.status_code not in (400, 404):
            raise answer_error(response)
        if self.ls(name, detail=False):
            return {"name": name, "type": "directory", "size": 0}
        raise FileNotFoundError(name)

    def exists(self, path: str, **kwargs: Any) -> bool:
        try:
            self.info(path)
        except FileNotFoundError:
            return False
        return True

    def cat_file(self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any) -> bytes:
        if start is not None or end is not None:
            raise InvalidInput("a loopml server sends whole artifact files, not byte ranges", path=str(path))
        buffer = bytearray()
        self._download(self._strip_protocol(path), buffer.extend)
        return bytes(buffer)

    def get_file(
        self, rpath: str, lpath: str, callback: Any = None, outfile: Any = None, **kwargs: Any
    ) -> None:
        name = self._strip_protocol(rpath)
        if outfile is not None:
            self._download(name, outfile.write)
            return
        with open(lpath, "wb") as file:
            self._download(name, file.write)

    # -- writing --------------------------------------------------------------------------

    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        data = bytes(value)
        self._upload(self._strip_protocol(path), lambda: data, len(data), hashlib.sha256(data).hexdigest())

    def put_file(
        self, lpath: str, rpath: str, callback: Any = None, mode: str = "overwrite", **kwargs: Any
    ) -> None:
        local = os.fspath(lpath)
        digest, size = _hash_file(local)
        self._upload(self._strip_protocol(rpath), lambda: _read_chunks(local), size, digest)

    # -- HTTP -----------------------------------------------------------------------------

    def _url(self, name: str) -> str:
        return f"{API}/{quote(name.lstrip('/'), safe='/')}"

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """A request whose answer is read whole (JSON, HEAD), retried after a failure to connect
        and, as these are reads, after a lost connection."""
        attempt = 0
        while True:
            try:
                return self.server.http().request(method, url, **kwargs)
            except httpx.TransportError as exc:
                if attempt >= RETRIES:
                    raise self._unreachable(method, url, exc) from exc
                time.sleep(0.1 * 2**attempt)
                attempt += 1

    def _unreachable(self, method: str, url: str, exc: Exception) -> StoreError:
        return StoreError(
            f"cannot reach the loopml server at {self.server.base_url} ({method} {url}): {exc!r}",
            url=self.server.base_url,
        )

    def _failure(self, response: httpx.Response, name: str) -> Exception:
        """The exception for an error answer: a missing file is FileNotFoundError and a directory
        IsADirectoryError (ArtifactStore turns them into its own NotFound / InvalidInput)."""
        error = answer_error(response)
        if isinstance(error, NotFound):
            return FileNotFoundError(name)
        if error.details.get("kind") == "directory":
            return IsADirectoryError(name)
        return error

    def _download(self, name: str, write: Callable[[bytes], Any]) -> None:
        digest = hashlib.sha256()
        size = 0
        try:
            with self.server.http().stream("GET", self._url(name)) as response:
                if response.status_code >= 400:
                    response.read()
                    raise self._failure(response, name)
                announced = response.headers.get(SHA256_HEADER)
                length = response.headers.get("content-length")
                for chunk in response.iter_bytes(CHUNK_SIZE):
                    digest.update(chunk)
                    size += len(chunk)
                    write(chunk)
        except httpx.HTTPError as exc:
            raise self._unreachable("GET", self._url(name), exc) from exc
        received = digest.hexdigest()
        if length is not None and int(length) != size:
            raise StoreError(
                f"the download of artifact {name.lstrip('/')!r} is incomplete: {size} of {length} bytes",
                path=name.lstrip("/"),
            )
        if announced is not None and announced.lower() != received:
            raise StoreError(
                f"the download of artifact {name.lstrip('/')!r} is corrupt: the server announced sha256 "
                f"{announced}, the bytes received hash to {received}",
                path=name.lstrip("/"),
            )

    def _upload(
        self, name: str, content: Callable[[], bytes | Iterable[bytes]], size: int, digest: str
    ) -> None:
        headers = {
            SHA256_HEADER: digest,
            "Content-Length": str(size),
            "Content-Type": "application/octet-stream",
        }
        attempt = 0
        while True:
            try:
                response = self.server.http().request(
                    "PUT", self._url(name), content=content(), headers=headers
                )
                break
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # nothing was sent: safe to send again (a PUT of the same bytes is idempotent anyway)
                if attempt >= RETRIES:
                    raise self._unreachable("PUT", self._url(name), exc) from exc
                time.sleep(0.1 * 2**attempt)
                attempt += 1
            except httpx.HTTPError as exc:
                raise self._unreachable("PUT", self._url(name), exc) from exc
        if response.status_code >= 400:
            raise self._failure(response, name)
        stored = response.json()
        if stored.get("sha256") != digest or stored.get("size") != size:
            raise StoreError(
                f"the server stored artifact {name.lstrip('/')!r} as {stored.get('size')} bytes with sha256 "
                f"{stored.get('sha256')}, but {size} bytes with sha256 {digest} were sent",
                path=name.lstrip("/"),
            )


def _read_chunks(path: str) -> Iterator[bytes]:
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK_SIZE):
            yield chunk


def _hash_file(path: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    for chunk in _read_chunks(path):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def answer_error(response: httpx.Response) -> LoopmlError:
    """The LoopmlError an error answer carries: the class, message and details the server
    raised (an answer without a loopml error body, from a proxy say, maps by HTTP status)."""
    body: Any = None
    with contextlib.suppress(orjson.JSONDecodeError):
        body = orjson.loads(response.content)
    error = body.get("error") if isinstance(body, dict) else None
    status = response.status_code
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        cls = error_class(str(error.get("code", ""))) or _BY_STATUS.get(status, LoopmlError)
        details = error.get("details")
        return error_from_wire(cls, error["message"], details if isinstance(details, dict) else {})
    cls = _BY_STATUS.get(status, StoreError)
    request = response.request
    return cls(f"the server answered {status} to {request.method} {request.url}", status=status)
