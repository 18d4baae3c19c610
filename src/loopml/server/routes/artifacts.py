"""``/api/v1/artifacts``: the files under the server's artifacts destination, streamed both ways.

Paths are relative to the destination (``--artifacts-destination``: a local directory or any
fsspec URL). A run created through the server has the artifact URI
``loopml-artifacts:/<experiment id>/<run id>/artifacts``, whose files are
``/api/v1/artifacts/<experiment id>/<run id>/artifacts/<path>``.

- ``PUT /{path}``: the body is written chunk by chunk to a temporary place while it is hashed;
  with an ``X-Loopml-Sha256`` header a different digest is 400 and nothing is stored; else the
  file is moved into place. Answers 201 ``{"path", "size", "sha256"}``.
- ``GET /{path}``: the file, streamed, with ``Content-Length`` and (when the storage kept it)
  ``X-Loopml-Sha256``. ``HEAD`` answers the same headers.
- ``GET ?path=<dir>``: ``{"files": [FileInfo]}``, the direct children (``[]`` when missing).

Every path passes :func:`~loopml.artifacts.safe_relpath` (as decoded, as sent on the wire, and
each percent-decoding of those): ``..``, absolute paths, backslashes, NUL, schemes ... are 400;
under a local destination a path that a symlink leads out of it is 400 too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import anyio
from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from ...artifacts.paths import safe_relpath
from ...artifacts.store import ArtifactStore
from ...artifacts.streams import CHUNK_SIZE, ArtifactReader, check_sha256, is_partial
from ...artifacts.uris import SHA256_HEADER
from ...errors import Conflict, InvalidInput, NotFound, StoreError
from ..responses import json_response

__all__ = ["router"]

PREFIX = "/api/v1/artifacts"
router = APIRouter(prefix=PREFIX, tags=["artifacts"])
logger = logging.getLogger("loopml.server")


def artifact_store(request: Request) -> ArtifactStore:
    """The ArtifactStore over the app's artifacts destination (built on first use)."""
    state = request.app.state
    store: ArtifactStore | None = getattr(state, "artifact_store", None)
    if store is None:
        store = ArtifactStore(state.artifacts_destination)
        state.artifact_store = store
    return store


def checked_path(path: str, request: Request | None = None) -> str:
    """``path`` normalized by safe_relpath; with ``request``, its form on the wire is checked too."""
    rel = safe_relpath(path)
    raw = request.scope.get("raw_path") if request is not None else None
    if isinstance(raw, bytes):
        text = raw.decode("latin-1").split("?", 1)[0]
        start = text.find(f"{PREFIX}/")
        if start >= 0:
            safe_relpath(text[start + len(PREFIX) + 1 :])
    if any(is_partial(segment) for segment in rel.split("/") if segment):
        raise InvalidInput(
            f"invalid artifact path {path!r}: names of the form '.<name>.<12 hex digits>.tmp' are "
            "reserved for uploads in progress",
            path=path,
        )
    return rel


def _file_path(path: str, request: Request) -> str:
    rel = checked_path(path, request)
    if not rel:
        raise InvalidInput("the artifact path is empty; give the path of a file", path=path)
    return rel


@contextmanager
def _answers(rel: str) -> Iterator[None]:
    """Errors of the storage as the client should read them: about the artifact's path, never
    about the server's own paths or URLs (those go to the log)."""
    try:
        yield
    except NotFound:
        raise NotFound(f"no artifact {rel!r}", path=rel) from None
    except Conflict:
        raise Conflict(
            f"cannot write artifact {rel!r}: a file and a directory would share a path", path=rel
        ) from None
    except InvalidInput as exc:
        if exc.details.get("kind") == "symlink":
            raise InvalidInput(
                f"invalid artifact path {rel!r}: a symlink leads it out of the artifacts destination",
                path=rel,
                kind="symlink",
            ) from None
        raise
    except StoreError as exc:
        logger.error("artifact storage failed on %r: %s", rel, exc.message)
        raise StoreError(
            f"the artifact storage failed on {rel!r}; the server's log has the details", path=rel
        ) from None


def _headers(reader: ArtifactReader) -> dict[str, str]:
    headers = {"Content-Length": str(reader.size)}
    if reader.sha256 is not None:
        headers[SHA256_HEADER] = reader.sha256
    return headers


@router.get("", summary="List a directory of artifacts")
def list_artifacts(request: Request, path: str = "") -> Response:
    """The direct children of directory ``path`` (the destination's root by default), sorted;
    ``[]`` for a missing directory or a file."""
    rel = checked_path(path)
    store = artifact_store(request)
    with _answers(rel):
        files = store.list(rel)
    return json_response({"files": files})


@router.put("/{path:path}", status_code=201, summary="Upload an artifact file (streamed)")
async def upload_artifact(path: str, request: Request) -> Response:
    rel = _file_path(path, request)
    announced = request.headers.get(SHA256_HEADER)
    expected = None if announced is None else check_sha256(announced, f"the {SHA256_HEADER} header")
    store = artifact_store(request)
    with _answers(rel):
        upload = await run_in_threadpool(lambda: store.open_upload(rel, sha256=expected))
        try:
            pending = bytearray()
            async for chunk in request.stream():
                pending += chunk
                if len(pending) >= CHUNK_SIZE:
                    await run_in_threadpool(upload.write, pending)
                    pending = bytearray()
            if pending:
                await run_in_threadpool(upload.write, pending)
            stored = await run_in_threadpool(upload.commit)
        except BaseException as exc:
            with anyio.CancelScope(shield=True):  # also when the client went away
                await run_in_threadpool(upload.abort)
            if isinstance(exc, ClientDisconnect):
                raise InvalidInput(
                    f"the upload of {rel!r} was cut off after {upload.size} bytes; nothing was stored",
                    path=rel,
                ) from None
            raise
    return json_response({"path": stored.path, "size": stored.size, "sha256": stored.sha256}, 201)


@router.get("/{path:path}", summary="Download an artifact file (streamed)")
def download_artifact(path: str, request: Request) -> Response:
    rel = _file_path(path, request)
    store = artifact_store(request)
    with _answers(rel):
        reader = store.open_reader(rel)
    return StreamingResponse(
        reader.chunks(),
        media_type="application/octet-stream",
        headers=_headers(reader),
        background=BackgroundTask(reader.close),  # also when the client goes away mid-file
    )


@router.head("/{path:path}", summary="The size and sha256 of an artifact file")
def artifact_head(path: str, request: Request) -> Response:
    rel = _file_path(path, request)
    store = artifact_store(request)
    with _answers(rel), store.open_reader(rel) as reader:
        headers = _headers(reader)
    return Response(status_code=200, headers=headers, media_type="application/octet-stream")
