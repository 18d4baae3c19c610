"""Artifact files moved as streams of chunks: what a loopml server uses to store an upload and to
send a download without ever holding a whole file in memory.

:class:`ArtifactUpload` hashes the bytes (sha256) while it writes them to a temporary place;
``commit()`` checks the digest against the one the sender announced and only then makes the file
visible; ``abort()`` leaves nothing behind. Where the bytes wait depends on the storage:

- a local directory: a temporary file beside the destination, moved with ``os.replace``;
- S3: an unfinished multipart upload (parts of :data:`PART_SIZE`), completed or aborted;
- any other fsspec filesystem: a temporary object beside the destination, moved into place.

The digest of a stored file is kept with it when the storage allows, so a download can announce
it: an extended attribute (``user.loopml.sha256``) on a local file, object metadata
(``loopml-sha256``) on S3. A file written by other means has no known digest.

:class:`ArtifactReader` reads a stored file in chunks of :data:`CHUNK_SIZE`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from loopml.errors import InvalidInput

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

__all__ = [
    "CHUNK_SIZE",
    "PART_SIZE",
    "ArtifactReader",
    "ArtifactUpload",
    "StoredFile",
    "check_sha256",
    "is_partial",
    "open_reader",
    "open_sink",
]

#: Bytes per chunk read from a file or handed to a storage write.
CHUNK_SIZE = 1 << 20
#: Bytes per part of an object-store upload and per read-ahead block of an object-store read.
PART_SIZE = 8 << 20
DIGEST_XATTR = "user.loopml.sha256"
DIGEST_METADATA = "loopml-sha256"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# The temporary names of writes in progress: ".<name>.<12 hex>.tmp".
_PARTIAL = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp$")

Guard = Callable[[], contextlib.AbstractContextManager[None]]


def check_sha256(value: str, what: str = "sha256") -> str:
    """``value`` as 64 lowercase hex digits; InvalidInput otherwise."""
    digest = value.strip().lower()
    if not _SHA256.match(digest):
        raise InvalidInput(f"{what} must be 64 hexadecimal digits, got {value!r:.80}", sha256=value[:80])
    return digest


def is_partial(name: str) -> bool:
    """Whether the last segment of ``name`` is the temporary file of a write in progress."""
    return bool(_PARTIAL.match(name.rstrip("/").rsplit("/", 1)[-1]))


def temporary_name(final: str) -> str:
    directory, _, name = final.rpartition("/")
    temp = f".{name}.{uuid.uuid4().hex[:12]}.tmp"
    return f"{directory}/{temp}" if directory else temp


@dataclass(frozen=True)
class StoredFile:
    """An artifact file as a commit left it: its path under the store's root, size and sha256."""

    path: str
    size: int
    sha256: str


class Sink(Protocol):
    """Where an upload's bytes wait until they are checked."""

    def write(self, data: bytes | bytearray | memoryview) -> None: ...
    def finish(self, sha256: str) -> None: ...
    def discard(self) -> None: ...


class ArtifactUpload:
    """One artifact file being written: ``write`` chunks, then ``commit`` or ``abort``.

    ``expected`` is the sha256 the sender announced (None: not checked). Calls are not
    thread-safe; a server hands them to its thread pool one at a time.
    """

    def __init__(self, sink: Sink, path: str, expected: str | None, guard: Guard) -> None:
        self.path = path
        self.expected = None if expected is None else check_sha256(expected)
        self._sink = sink
        self._guard = guard
        self._hash = hashlib.sha256()
        self._size = 0
        self._done = False

    @property
    def size(self) -> int:
        return self._size

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._hash.update(data)
        self._size += len(data)
        try:
            with self._guard():
                self._sink.write(data)
        except BaseException:
            self.abort()
            raise

    def commit(self) -> StoredFile:
        """Check the digest and make the file visible; a mismatch is InvalidInput, and then
        nothing is left behind (the old content of the path, if any, stays)."""
        digest = self._hash.hexdigest()
        if self.expected is not None and digest != self.expected:
            self.abort()
            raise InvalidInput(
                f"the content received for artifact {self.path!r} does not match its sha256: "
                f"announced {self.expected}, received {digest} ({self._size} bytes); nothing was stored",
                path=self.path,
                expected=self.expected,
                received=digest,
            )
        try:
            with self._guard():
                self._sink.finish(digest)
        except BaseException:
            self.abort()
            raise
        self._done = True
        return StoredFile(self.path, self._size, digest)

    def abort(self) -> None:
        """Drop what was written (idempotent)."""
        if not self._done:
            self._done = True
            with contextlib.suppress(Exception):
                self._sink.discard()


class _LocalSink:
    def __init__(self, final: str) -> None:
        directory = os.path.dirname(final)
        self._created = _missing_directories(directory)  # removed again by discard
        os.makedirs(directory, exist_ok=True)
        self._final = final
        self._temp = temporary_name(final)
        fd = os.open(self._temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # mode follows the umask
        self._file: BinaryIO = os.fdopen(fd, "wb")

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._file.write(data)

    def finish(self, sha256: str) -> None:
        self._file.close()
        _set_xattr(self._temp, sha256)
        os.replace(self._temp, self._final)

    def discard(self) -> None:
        self._file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._temp)
        for directory in self._created:  # deepest first; one still in use stays
            try:
                os.rmdir(directory)
            except OSError:
                break


def _missing_directories(directory: str) -> list[str]:
    """``directory`` and its ancestors that do not exist yet, deepest first."""
    missing = []
    while directory and not os.path.isdir(directory):
        missing.append(directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    return missing


class _MultipartSink:
    """S3: the parts of a multipart upload; completed by ``finish``, aborted by ``discard``."""

    def __init__(self, fs: AbstractFileSystem, target: str, expected: str | None) -> None:
        extra: dict[str, Any] = {"Metadata": {DIGEST_METADATA: expected}} if expected else {}
        self._file = fs.open(target, "wb", block_size=PART_SIZE, autocommit=False, **extra)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._file.write(data)

    def finish(self, sha256: str) -> None:
        self._file.close()
        self._file.commit()

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            self._file.close()
        self._file.discard()


class _TemporaryObjectSink:
    """Other object stores: a temporary object beside the target, moved onto it."""

    def __init__(self, fs: AbstractFileSystem, target: str) -> None:
        self._fs = fs
        self._target = target
        self._temp = temporary_name(target)
        self._file = fs.open(self._temp, "wb", block_size=PART_SIZE)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._file.write(data)

    def finish(self, sha256: str) -> None:
        self._file.close()
        self._fs.mv(self._temp, self._target)

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            self._file.close()
        if self._fs.exists(self._temp):
            self._fs.rm_file(self._temp)


def open_sink(fs: AbstractFileSystem, target: str, *, local: bool, expected: str | None) -> Sink:
    """Where the bytes of an upload to ``target`` wait (see the module's docstring)."""
    if local:
        return _LocalSink(target)
    if _is_s3(fs):
        return _MultipartSink(fs, target, expected)
    return _TemporaryObjectSink(fs, target)


class ArtifactReader:
    """A stored artifact file for reading: ``size``, ``sha256`` (None when unknown) and
    :meth:`chunks`, which closes the file when it ends. ``file`` is an open file, or a function
    opening it on the first read (an object store is not asked for bytes that a HEAD never
    reads). A context manager (``close`` on exit)."""

    def __init__(self, file: BinaryIO | Callable[[], BinaryIO], size: int, sha256: str | None) -> None:
        self.size = size
        self.sha256 = sha256
        self._file: BinaryIO | None = None if callable(file) else file
        self._opener = file if callable(file) else None

    def __enter__(self) -> ArtifactReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def chunks(self, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        try:
            if self._file is None and self._opener is not None:
                self._file = self._opener()
            while self._file is not None and (chunk := self._file.read(chunk_size)):
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        self._opener = None
        if self._file is not None:
            self._file.close()


def open_reader(fs: AbstractFileSystem, target: str, *, local: bool, path: str) -> ArtifactReader:
    """``target`` open for reading. FileNotFoundError when missing; InvalidInput for a directory."""
    if local:
        real = os.path.realpath(target)
        if os.path.isdir(real):
            raise _directory(path)
        file = open(real, "rb")  # noqa: SIM115 - closed by the reader
        try:
            size = os.fstat(file.fileno()).st_size
            return ArtifactReader(file, size, _get_xattr(file.fileno()))
        except BaseException:
            file.close()
            raise
    fs.invalidate_cache(target)
    info = fs.info(target)
    if info["type"] == "directory":
        raise _directory(path)
    size = int(info["size"])
    sha256 = _object_digest(fs, target) if _is_s3(fs) else None
    known: dict[str, Any] = {"size": size} if _is_s3(fs) else {}  # s3fs: no second HEAD

    def opener() -> BinaryIO:
        handle: BinaryIO = fs.open(target, "rb", block_size=PART_SIZE, **known)
        return handle

    return ArtifactReader(opener, size, sha256)


def _directory(path: str) -> InvalidInput:
    return InvalidInput(
        f"artifact {path!r} is a directory; list it, or download its files", path=path, kind="directory"
    )


def _is_s3(fs: AbstractFileSystem) -> bool:
    protocol = fs.protocol
    names = (protocol,) if isinstance(protocol, str) else tuple(protocol)
    return "s3" in names


def _valid(value: object) -> str | None:
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    return text if isinstance(text, str) and _SHA256.match(text) else None


def _set_xattr(path: str, sha256: str) -> None:
    setxattr: Callable[..., None] | None = getattr(os, "setxattr", None)
    if setxattr is not None:
        with contextlib.suppress(OSError):  # a filesystem without user attributes: digest unknown
            setxattr(path, DIGEST_XATTR, sha256.encode("ascii"))


def _get_xattr(fd: int) -> str | None:
    getxattr: Callable[..., bytes] | None = getattr(os, "getxattr", None)
    if getxattr is None:
        return None
    try:
        return _valid(getxattr(fd, DIGEST_XATTR))
    except OSError:
        return None


def _object_digest(fs: AbstractFileSystem, target: str) -> str | None:
    try:
        metadata = fs.metadata(target)
    except (OSError, AttributeError, NotImplementedError):
        return None
    return _valid(metadata.get(DIGEST_METADATA)) if isinstance(metadata, dict) else None
