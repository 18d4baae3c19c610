"""ArtifactStore: the bytes of a run (files, directories, dicts, figures) under one root URI.

The root is a local directory or any fsspec URL (``s3://``, ``gs://``, ``az://``, ``memory://``).
Every relative path passes :func:`~loopml.artifacts.paths.safe_relpath`; under a local root the
resolved destination must also stay inside the resolved root, so a symlink planted in the root
cannot redirect a read or a write. Local writes are atomic (a temporary file in the destination
directory, then ``os.replace``); object stores write whole objects anyway.

``loopml-artifacts:/...`` roots are artifacts kept by a loopml server: their filesystem
(:mod:`.proxy`) streams every file through the server's REST API. :meth:`ArtifactStore.open_upload`
and :meth:`ArtifactStore.open_reader` move one file as a stream of chunks (:mod:`.streams`).

fsspec is imported when a store is built, never when this module is imported.
"""

from __future__ import annotations

import builtins
import io
import os
import posixpath
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from loopml.entities import FileInfo
from loopml.errors import Conflict, InvalidInput, LoopmlError, MissingExtra, NotFound, StoreError

from .paths import safe_relpath
from .streams import ArtifactReader, ArtifactUpload, check_sha256, is_partial, open_reader, open_sink
from .uris import is_server_uri

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

__all__ = ["ArtifactStore"]

# protocol -> (loopml extra, module that implements it)
_EXTRAS = MappingProxyType(
    {
        "s3": ("s3", "s3fs"),
        "s3a": ("s3", "s3fs"),
        "gs": ("gcs", "gcsfs"),
        "gcs": ("gcs", "gcsfs"),
        "az": ("azure", "adlfs"),
        "abfs": ("azure", "adlfs"),
        "abfss": ("azure", "adlfs"),
    }
)
_FIGURE_FORMATS = ("png", "svg", "pdf")


class ArtifactStore:
    """Artifacts of one run under ``root_uri`` (a local path or an fsspec URL).

    ``storage_options`` go to the fsspec filesystem, e.g.
    ``{"client_kwargs": {"endpoint_url": "http://127.0.0.1:9000"}}`` for s3fs.
    """

    def __init__(self, root_uri: str | os.PathLike[str], storage_options: dict[str, Any] | None = None):
        self._fs, self._root, self._local = _open_root(os.fspath(root_uri), storage_options or {})
        self.root_uri: str = self._root if self._local else os.fspath(root_uri)

    def __repr__(self) -> str:
        return f"ArtifactStore({self.root_uri!r})"

    # -- writing ----------------------------------------------------------------------------

    def log_file(self, local_path: str | os.PathLike[str], artifact_path: str | None = None) -> str:
        """Copy a local file to ``<root>/<artifact_path>/<basename>``; return that relative path."""
        src = _local_source(local_path, want_dir=False)
        name = safe_relpath(os.path.basename(src), what="file name")
        rel = _join(safe_relpath(artifact_path), name)
        self._put_file(src, self._target(rel), rel)
        return rel

    def log_dir(
        self, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> builtins.list[str]:
        """Copy the files under ``local_dir`` (recursively) to ``<root>/<artifact_path>/``.

        Returns the stored relative paths, sorted. Every path is checked before anything is
        written: a symlink that resolves outside ``local_dir`` raises InvalidInput.
        """
        top = _local_source(local_dir, want_dir=True)
        prefix = safe_relpath(artifact_path)
        plan = []
        for src, sub in _walk_files(top):
            rel = _join(prefix, safe_relpath(sub, what=f"file name in {top!r}"))
            plan.append((src, self._target(rel), rel))
        for src, target, rel in plan:
            self._put_file(src, target, rel)
        return sorted(rel for _, _, rel in plan)

    def log_bytes(self, data: bytes | bytearray | memoryview, artifact_file: str) -> str:
        """Store ``data`` as ``artifact_file``; return the relative path stored."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidInput(f"log_bytes needs bytes, got {type(data).__name__}", type=type(data).__name__)
        rel = _file_relpath(artifact_file)
        self._write(rel, bytes(data))
        return rel

    def log_text(self, text: str, artifact_file: str) -> str:
        """Store ``text`` (UTF-8) as ``artifact_file``."""
        if not isinstance(text, str):
            raise InvalidInput(f"log_text needs a str, got {type(text).__name__}", type=type(text).__name__)
        return self.log_bytes(text.encode("utf-8"), artifact_file)

    def log_dict(self, dictionary: Any, artifact_file: str) -> str:
        """Store ``dictionary`` as JSON (``.json``) or YAML (``.yaml``/``.yml``), by extension."""
        rel = _file_relpath(artifact_file)
        self._write(rel, _serialize(dictionary, rel))
        return rel

    def log_figure(self, figure: Any, artifact_file: str) -> str:
        """Store a matplotlib figure (``.png``/``.svg``/``.pdf``) or a plotly figure (``.html``)."""
        rel = _file_relpath(artifact_file)
        self._write(rel, _render_figure(figure, rel))
        return rel

    # -- reading ----------------------------------------------------------------------------

    # -- streams ----------------------------------------------------------------------------

    def open_upload(self, artifact_file: str, *, sha256: str | None = None) -> ArtifactUpload:
        """Start writing ``artifact_file`` chunk by chunk (see :mod:`loopml.artifacts.streams`).

        Nothing is visible until ``commit()``, which checks the content against ``sha256`` (when
        given) and raises InvalidInput, leaving nothing behind, when they differ.
        """
        rel = _file_relpath(artifact_file)
        expected = None if sha256 is None else check_sha256(sha256)
        target = self._target(rel)
        with self._guard("write", rel):
            sink = open_sink(self._fs, target, local=self._local, expected=expected)
        return ArtifactUpload(sink, rel, expected, lambda: self._guard("write", rel))

    def open_reader(self, path: str) -> ArtifactReader:
        """The artifact file ``path`` open for reading in chunks, with its size and (when the
        storage kept it) its sha256. NotFound when missing; InvalidInput for a directory."""
        rel = _file_relpath(path)
        target = self._target(rel)
        with self._guard("read", rel):
            return open_reader(self._fs, target, local=self._local, path=rel)

    def list(self, path: str | None = None) -> builtins.list[FileInfo]:
        """The direct children of directory ``path`` (root by default), sorted; ``[]`` if missing."""
        rel = safe_relpath(path)
        target = self._target(rel)
        with self._guard("list", rel):
            self._fs.invalidate_cache(target)
            try:
                entries = self._fs.ls(target, detail=True)
            except (FileNotFoundError, NotADirectoryError):
                return []
        infos = []
        for entry in entries:
            child = self._rel_of(entry["name"])
            if child == rel or is_partial(child) or not self._inside(child):
                continue  # ``path`` itself (a file, a directory marker), a write in progress
            is_dir = entry["type"] == "directory"
            infos.append(FileInfo(child, is_dir, None if is_dir else int(entry["size"])))
        return sorted(infos, key=lambda info: info.path)

    def exists(self, path: str) -> bool:
        """Whether a file or a non-empty directory exists at ``path``."""
        rel = safe_relpath(path)
        target = self._target(rel)
        with self._guard("check", rel):
            self._fs.invalidate_cache(target)
            return bool(self._fs.exists(target))

    def read_bytes(self, path: str) -> bytes:
        """The content of the artifact file ``path``; NotFound when it does not exist."""
        rel = _file_relpath(path)
        target = self._target(rel)
        with self._guard("read", rel):
            try:
                return bytes(self._fs.cat_file(target))
            except (FileNotFoundError, IsADirectoryError):
                self._fs.invalidate_cache(target)
                if self._fs.isdir(target):
                    raise InvalidInput(
                        f"artifact {rel!r} is a directory; use download() for directories", path=rel
                    ) from None
                raise

    def download(self, path: str = "", dst_path: str | os.PathLike[str] | None = None) -> str:
        """Copy the artifact file or directory ``path`` to ``<dst_path>/<path>``; return that local path.

        ``dst_path`` defaults to a new temporary directory. NotFound when ``path`` does not exist.
        """
        rel = safe_relpath(path)
        source = self._target(rel)
        with self._guard("download", rel):
            self._fs.invalidate_cache(source)
            info = self._fs.info(source)
        dst_root = os.path.abspath(dst_path) if dst_path is not None else tempfile.mkdtemp(prefix="loopml-")
        if info["type"] != "directory":
            local = os.path.join(dst_root, *(rel or posixpath.basename(self._root)).split("/"))
            self._get_file(source, local, rel)
            return local
        local = os.path.join(dst_root, *rel.split("/")) if rel else dst_root
        with self._guard("download", rel):
            names = self._fs.find(source, withdirs=False)
        plan = []
        for name in names:
            child = self._rel_of(name)
            if is_partial(child):
                continue
            sub = child[len(rel) + 1 :] if rel else child
            sub = safe_relpath(sub, what="stored artifact path")
            plan.append((self._target(child), os.path.join(local, *sub.split("/")), child))
        os.makedirs(local, exist_ok=True)
        for remote, dest, child in plan:
            self._get_file(remote, dest, child)
        return local

    # -- internals --------------------------------------------------------------------------

    def _target(self, rel: str) -> str:
        """The filesystem path of ``rel``; under a local root it must resolve inside the root."""
        full = f"{self._root}/{rel}" if rel else (self._root or "/")
        if self._local:
            real_root, real = os.path.realpath(self._root or "/"), os.path.realpath(full)
            if real != real_root and os.path.commonpath([real_root, real]) != real_root:
                raise InvalidInput(
                    f"artifact path {rel!r} resolves to {real!r}, outside the artifact root {real_root!r}"
                    " (a symlink inside the root points out of it)",
                    path=rel,
                    kind="symlink",
                )
        return full

    def _inside(self, rel: str) -> bool:
        """Whether ``rel`` resolves inside the root (always true outside a local root)."""
        try:
            self._target(rel)
        except InvalidInput:
            return False
        return True

    def _rel_of(self, name: str) -> str:
        prefix = f"{self._root}/"
        name = name.rstrip("/")
        if name == self._root:
            return ""
        if not name.startswith(prefix):
            raise StoreError(f"the filesystem returned {name!r}, which is not under {self.root_uri!r}")
        return name[len(prefix) :]

    def _write(self, rel: str, data: bytes) -> None:
        target = self._target(rel)
        with self._guard("write", rel):
            if self._local:
                with _atomic_local(target) as tmp, open(tmp, "wb") as fh:
                    fh.write(data)
            else:
                self._fs.pipe_file(target, data)

    def _put_file(self, src: str, target: str, rel: str) -> None:
        with self._guard("write", rel):
            if self._local:
                with _atomic_local(target) as tmp:
                    shutil.copyfile(src, tmp)
            else:
                self._fs.put_file(src, target)

    def _get_file(self, remote: str, local: str, rel: str) -> None:
        with self._guard("download", rel), _atomic_local(local) as tmp:
            self._fs.get_file(remote, tmp)

    @contextmanager
    def _guard(self, action: str, rel: str) -> Iterator[None]:
        """Turn filesystem errors into loopml errors that name the artifact."""
        try:
            yield
        except LoopmlError:
            raise
        except FileNotFoundError as exc:
            raise NotFound(f"no artifact {rel!r} under {self.root_uri!r}", path=rel) from exc
        except (FileExistsError, IsADirectoryError, NotADirectoryError) as exc:
            raise Conflict(
                f"cannot {action} artifact {rel!r}: a file and a directory would share a path ({exc})",
                path=rel,
            ) from exc
        except OSError as exc:
            raise StoreError(f"could not {action} artifact {rel!r} under {self.root_uri!r}: {exc}") from exc


def _open_root(root_uri: str, options: dict[str, Any]) -> tuple[AbstractFileSystem, str, bool]:
    """(filesystem, root path as the filesystem names it, whether it is local)."""
    import fsspec
    from fsspec.utils import get_protocol

    if not root_uri:
        raise InvalidInput("the artifact root URI is empty", root_uri=root_uri)
    if is_server_uri(root_uri):
        from .proxy import open_server_root

        return open_server_root(root_uri, options)
    protocol = get_protocol(root_uri)
    try:
        if protocol in ("file", "local"):
            fs = fsspec.filesystem("file", **options)
            path = os.path.expanduser(root_uri.split("://", 1)[1] if "://" in root_uri else root_uri)
            return fs, fs._strip_protocol(os.path.abspath(path)).rstrip("/"), True
        fs, path = fsspec.core.url_to_fs(root_uri, **options)
    except ImportError as exc:
        if protocol in _EXTRAS:
            extra, module = _EXTRAS[protocol]
            raise MissingExtra(extra, module=module) from exc
        raise StoreError(f"cannot open the artifact root {root_uri!r}: {exc}") from exc
    except ValueError as exc:
        raise InvalidInput(f"unsupported artifact root {root_uri!r}: {exc}", root_uri=root_uri) from exc
    return fs, str(path).rstrip("/"), False


def _local_source(path: str | os.PathLike[str], *, want_dir: bool) -> str:
    src = os.path.abspath(os.fspath(path))
    if os.path.isdir(src) if want_dir else os.path.isfile(src):
        return src
    if os.path.exists(src):
        hint = "is not a directory; use log_file" if want_dir else "is a directory; use log_dir"
        raise InvalidInput(f"local path {src!r} {hint}", path=src)
    kind = "directory" if want_dir else "file"
    raise NotFound(f"local {kind} {src!r} does not exist", path=src)


def _walk_files(top: str) -> builtins.list[tuple[str, str]]:
    """(local path, relative POSIX path) of every file under ``top``.

    Symlinks are followed when they resolve inside ``top`` and rejected otherwise. A symlink back
    to a directory being walked is skipped (no cycles); broken links and special files are skipped.
    """
    real_top = os.path.realpath(top)
    found: builtins.list[tuple[str, str]] = []

    def visit(directory: str, parts: tuple[str, ...], chain: frozenset[str]) -> None:
        with os.scandir(directory) as it:
            entries = sorted(it, key=lambda entry: entry.name)
        for entry in entries:
            here = (*parts, entry.name)
            real = os.path.realpath(entry.path)
            if entry.is_symlink() and os.path.commonpath([real_top, real]) != real_top:
                raise InvalidInput(
                    f"symlink {entry.path!r} points to {real!r}, outside the directory {top!r};"
                    " nothing was logged",
                    path=entry.path,
                )
            if entry.is_dir():
                if real not in chain:
                    visit(entry.path, here, chain | {real})
            elif entry.is_file():
                found.append((entry.path, "/".join(here)))

    visit(top, (), frozenset({real_top}))
    return found


@contextmanager
def _atomic_local(final: str) -> Iterator[str]:
    """Yield a fresh temporary path next to ``final``; move it onto ``final`` when the block succeeds."""
    directory, name = os.path.split(final)
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{name}.{uuid.uuid4().hex[:12]}.tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # mode follows the umask
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


def _join(prefix: str, rel: str) -> str:
    return f"{prefix}/{rel}" if prefix else rel


def _file_relpath(artifact_file: str) -> str:
    rel = safe_relpath(artifact_file, what="artifact file")
    if not rel:
        raise InvalidInput(f"artifact file {artifact_file!r} does not name a file", path=str(artifact_file))
    return rel


def _extension(rel: str) -> str:
    return posixpath.splitext(rel)[1].lower().lstrip(".")


def _serialize(obj: Any, rel: str) -> bytes:
    ext = _extension(rel)
    if ext == "json":
        import orjson

        options = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
        try:
            return orjson.dumps(obj, option=options) + b"\n"
        except TypeError as exc:
            raise InvalidInput(f"cannot write {rel!r} as JSON: {exc}", path=rel) from exc
    if ext in ("yaml", "yml"):
        import yaml

        try:
            text = yaml.safe_dump(obj, sort_keys=False, allow_unicode=True, default_flow_style=False)
        except yaml.YAMLError as exc:
            raise InvalidInput(f"cannot write {rel!r} as YAML: {exc}", path=rel) from exc
        return text.encode("utf-8")
    raise InvalidInput(
        f"log_dict writes .json, .yaml or .yml files, not {rel!r}; change the extension", path=rel
    )


def _render_figure(figure: Any, rel: str) -> bytes:
    ext = _extension(rel)
    mpl_figure = sys.modules.get("matplotlib.figure")  # a Figure instance implies it is imported
    if mpl_figure is not None and isinstance(figure, mpl_figure.Figure):
        if ext not in _FIGURE_FORMATS:
            raise InvalidInput(
                f"a matplotlib figure is saved as .png, .svg or .pdf, not {rel!r}; change the extension",
                path=rel,
            )
        buffer = io.BytesIO()
        figure.savefig(buffer, format=ext)
        return buffer.getvalue()
    if callable(getattr(figure, "write_html", None)):
        if ext != "html":
            raise InvalidInput(
                f"a plotly figure is saved as .html, not {rel!r}; change the extension", path=rel
            )
        text = io.StringIO()
        figure.write_html(text)
        return text.getvalue().encode("utf-8")
    raise InvalidInput(
        f"log_figure needs a matplotlib Figure or a plotly figure, got {type(figure).__name__}"
        " (for matplotlib Axes pass ax.figure)",
        type=type(figure).__name__,
    )
