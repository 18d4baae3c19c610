"""A run's artifacts as the UI reads them: where they are under the server's artifacts
destination (:func:`run_artifacts`), their listing, and the preview of one file
(:func:`preview`): text, Markdown (rendered with raw HTML disabled), JSON and YAML
(pretty-printed), images (shown with ``<img>``, SVG too: never inline markup), the head of a
CSV or Parquet file as a table, and for anything else its size and a download link.

The UI serves only what the server keeps: a run whose artifact URI is ``loopml-artifacts:/...``
or lies under ``--artifacts-destination``. Every path passes
:func:`~loopml.artifacts.paths.safe_relpath` and stays under the run's artifact root.
"""

from __future__ import annotations

import csv
import io
import json
import os
import posixpath
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any

from ....artifacts.paths import safe_relpath
from ....artifacts.uris import is_server_uri, server_path
from ....entities import FileInfo, Run
from ....errors import InvalidInput, LoopmlError, MissingExtra, NotFound

if TYPE_CHECKING:
    from fastapi import Request

    from ....artifacts.store import ArtifactStore
    from ....artifacts.streams import ArtifactReader

__all__ = [
    "IMAGE_TYPES",
    "Preview",
    "RunArtifacts",
    "human_size",
    "kind_of",
    "preview",
    "run_artifacts",
]

#: How much of a text file a preview reads.
TEXT_LIMIT = 200 * 1024
#: The largest Parquet file a preview reads (it needs the whole file for its footer).
PARQUET_LIMIT = 64 * 1024 * 1024
#: Rows of a CSV or Parquet head.
TABLE_ROWS = 50
#: The longest cell of a table preview.
CELL_LIMIT = 300

IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
}
_KINDS = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".json": "json",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    **dict.fromkeys(IMAGE_TYPES, "image"),
}


@dataclass(frozen=True)
class RunArtifacts:
    """The artifacts of one run: ``store`` (the server's destination) under ``prefix``. Paths
    given and returned are relative to the run's artifact root."""

    store: ArtifactStore
    prefix: str

    def full(self, rel: str) -> str:
        rel = safe_relpath(rel)
        return f"{self.prefix}/{rel}" if rel else self.prefix

    def list(self, rel: str = "") -> list[FileInfo]:
        cut = len(self.prefix) + 1
        return [
            FileInfo(info.path[cut:], info.is_dir, info.file_size)
            for info in self.store.list(self.full(rel))
            if info.path.startswith(self.prefix + "/")
        ]

    def exists(self, rel: str) -> bool:
        return self.store.exists(self.full(rel))

    def open_reader(self, rel: str) -> ArtifactReader:
        return self.store.open_reader(self.full(rel))

    def read_head(self, rel: str, limit: int) -> tuple[bytes, int]:
        """The first ``limit`` bytes of a file (or fewer) and its size."""
        reader = self.open_reader(rel)
        data = bytearray()
        try:
            for chunk in reader.chunks():
                data += chunk
                if len(data) >= limit:
                    break
        finally:
            reader.close()
        return bytes(data[:limit]), reader.size

    def read_bytes(self, rel: str) -> bytes:
        return self.store.read_bytes(self.full(rel))


def run_artifacts(request: Request, run: Run) -> RunArtifacts | None:
    """Where ``run``'s artifacts are under the server's destination; None when they are
    elsewhere (the UI does not read storage the server does not keep)."""
    from ...routes.artifacts import artifact_store

    prefix = artifact_prefix(request.app.state.artifacts_destination, run.info.artifact_uri)
    if not prefix:
        return None
    return RunArtifacts(artifact_store(request), prefix)


def artifact_prefix(destination: str, uri: str) -> str | None:
    """The path of artifact URI ``uri`` under ``destination``; None outside it."""
    try:
        if is_server_uri(uri):
            return server_path(uri) or None
        if "://" not in destination or destination.startswith("file://"):
            if "://" in uri and not uri.startswith("file://"):
                return None
            root = os.path.abspath(os.path.expanduser(destination.removeprefix("file://")))
            path = os.path.abspath(os.path.expanduser(uri.removeprefix("file://")))
            rel = os.path.relpath(path, root)
        else:
            root = destination.rstrip("/") + "/"
            if not uri.startswith(root):
                return None
            rel = uri[len(root) :]
        if rel.startswith(".."):
            return None
        return safe_relpath(rel.replace(os.sep, "/")) or None
    except InvalidInput:
        return None


def kind_of(path: str) -> str:
    """How a file is previewed, by its extension: markdown, json, yaml, csv, parquet, image,
    or text (which turns out to be binary when its bytes are not text)."""
    name = posixpath.basename(path).lower()
    if name.endswith((".csv.gz", ".tsv.gz")):
        return "binary"
    return _KINDS.get(posixpath.splitext(name)[1], "text")


@dataclass
class Preview:
    """What the preview pane shows of one file. ``kind``: text, markdown, json, yaml, image,
    table, binary or error; ``text`` the text shown (pretty-printed for JSON/YAML); ``html``
    the rendered Markdown; ``columns``/``rows`` a table's head; ``note`` a remark
    (truncated, not valid JSON, ...)."""

    path: str
    size: int
    kind: str
    text: str = ""
    html: Any = ""
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    total_rows: int | None = None
    note: str = ""

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)


def preview(artifacts: RunArtifacts, rel: str, size: int) -> Preview:
    """The preview of file ``rel`` (``size`` bytes): reads at most :data:`TEXT_LIMIT` bytes
    (a Parquet file up to :data:`PARQUET_LIMIT`)."""
    kind = kind_of(rel)
    if kind == "image":
        return Preview(rel, size, "image")
    try:
        if kind == "parquet":
            return _parquet(artifacts, rel, size)
        head, size = artifacts.read_head(rel, TEXT_LIMIT)
    except (MissingExtra, InvalidInput) as exc:
        return Preview(rel, size, "error", note=exc.message)
    truncated = size > len(head)
    if b"\0" in head[:8192]:
        return Preview(rel, size, "binary")
    text = _decode(head, truncated)
    shown = Preview(rel, size, "text", text=text)
    if truncated:
        shown.note = f"The first {len(head) // 1024:,} KB of {size:,} bytes."
    if kind == "markdown":
        shown.kind, shown.html = "markdown", render_markdown(text)
    elif kind in ("json", "yaml") and not truncated:
        _pretty(shown, kind)
    elif kind == "csv":
        _csv_head(shown, rel, truncated)
    return shown


def _decode(head: bytes, truncated: bool) -> str:
    if truncated:  # a multi-byte character may be cut at the end
        for cut in range(4):
            try:
                return head[: len(head) - cut].decode("utf-8")
            except UnicodeDecodeError:
                continue
    return head.decode("utf-8", errors="replace")


def render_markdown(text: str) -> Any:
    """``text`` as HTML (a Markup): CommonMark plus tables, raw HTML shown as text, links only
    to safe schemes (markdown-it's own check)."""
    from markdown_it import MarkdownIt
    from markupsafe import Markup

    renderer = MarkdownIt("commonmark", {"html": False}).enable("table")
    return Markup(renderer.render(text))  # html disabled: markdown-it escapes the text


def _pretty(shown: Preview, kind: str) -> None:
    """JSON or YAML pretty-printed in place; the text as it is with a note when it does not parse."""
    from ....models.yamlio import dump_yaml, load_yaml

    try:
        if kind == "json":
            shown.text = json.dumps(json.loads(shown.text), indent=2, ensure_ascii=False)
        else:
            shown.text = dump_yaml(load_yaml(shown.text, what=shown.name)).rstrip("\n")
        shown.kind = kind
    except (ValueError, LoopmlError) as exc:
        shown.note = f"Not valid {kind.upper()}: {exc}"


def _csv_head(shown: Preview, rel: str, truncated: bool) -> None:
    lines = shown.text.splitlines(keepends=True)
    if truncated and lines:
        lines = lines[:-1]  # the last line may be cut
    delimiter = "\t" if rel.lower().endswith(".tsv") else ","
    rows = list(islice(csv.reader(io.StringIO("".join(lines)), delimiter=delimiter), TABLE_ROWS + 1))
    if not rows:
        return
    shown.kind = "table"
    shown.columns = [_cell(c) for c in rows[0]]
    shown.rows = [[_cell(c) for c in row] for row in rows[1:]]
    shown.note = f"The first {len(shown.rows)} rows."


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= CELL_LIMIT else text[:CELL_LIMIT] + "…"


def _parquet(artifacts: RunArtifacts, rel: str, size: int) -> Preview:
    if size > PARQUET_LIMIT:
        return Preview(rel, size, "binary", note="Too large to preview; download it.")
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise MissingExtra("parquet", module="pyarrow") from None
    try:
        parquet = pq.ParquetFile(pa.BufferReader(artifacts.read_bytes(rel)))
        batch = next(parquet.iter_batches(batch_size=TABLE_ROWS), None)
    except (pa.ArrowException, OSError) as exc:
        return Preview(rel, size, "error", note=f"Not a readable Parquet file: {exc}")
    columns = [_cell(name) for name in parquet.schema_arrow.names]
    records = [] if batch is None else batch.to_pylist()
    rows = [[_cell(record.get(name)) for name in parquet.schema_arrow.names] for record in records]
    total = parquet.metadata.num_rows
    return Preview(
        rel,
        size,
        "table",
        columns=columns,
        rows=rows,
        total_rows=total,
        note=f"The first {len(rows)} of {total:,} rows.",
    )


def human_size(size: int | None) -> str:
    """``512 B``, ``1.5 KB``, ``12.0 MB``, ``3.2 GB`` (powers of 1024); ``—`` when unknown."""
    if size is None:
        return "—"
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1024
        if value < 1024 or unit == "TB":
            break
    return f"{value:.1f} {unit}"


def missing(rel: str) -> NotFound:
    return NotFound(f"no artifact {rel!r} in this run", path=rel)
