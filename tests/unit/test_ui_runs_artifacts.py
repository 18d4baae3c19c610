"""The artifact browser's pieces: which artifact URIs the UI serves, and file previews."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loopml.artifacts.store import ArtifactStore
from loopml.server.ui.pages.run_artifacts import (
    TEXT_LIMIT,
    RunArtifacts,
    artifact_prefix,
    human_size,
    kind_of,
    preview,
)


@pytest.mark.parametrize(
    ("destination", "uri", "prefix"),
    [
        ("/srv/art", "loopml-artifacts:/1/abc/artifacts", "1/abc/artifacts"),
        ("/srv/art", "loopml-artifacts:///1/abc/artifacts", "1/abc/artifacts"),
        ("/srv/art", "/srv/art/1/abc/artifacts", "1/abc/artifacts"),
        ("/srv/art", "file:///srv/art/1/abc/artifacts", "1/abc/artifacts"),
        ("file:///srv/art/", "/srv/art/2/x/artifacts", "2/x/artifacts"),
        ("s3://bucket/art", "s3://bucket/art/1/abc/artifacts", "1/abc/artifacts"),
        # outside the destination: not served
        ("/srv/art", "/etc", None),
        ("/srv/art", "/srv/art/../secrets", None),
        ("/srv/art", "/srv/artifacts-other/1", None),
        ("/srv/art", "/srv/art", None),
        ("/srv/art", "s3://bucket/art/1", None),
        ("s3://bucket/art", "s3://bucket/artx/1", None),
        ("s3://bucket/art", "s3://bucket/art/../x", None),
        ("/srv/art", "loopml-artifacts:/../x", None),
    ],
)
def test_only_artifacts_under_the_destination_are_served(
    destination: str, uri: str, prefix: str | None
) -> None:
    assert artifact_prefix(destination, uri) == prefix


@pytest.fixture
def artifacts(tmp_path: Path) -> RunArtifacts:
    return RunArtifacts(ArtifactStore(tmp_path), "1/run/artifacts")


def _put(artifacts: RunArtifacts, rel: str, data: bytes) -> int:
    artifacts.store.log_bytes(data, artifacts.full(rel))
    return len(data)


def test_listing_is_relative_to_the_run(artifacts: RunArtifacts) -> None:
    _put(artifacts, "a/b.txt", b"hi")
    assert [(i.path, i.is_dir) for i in artifacts.list()] == [("a", True)]
    assert [(i.path, i.file_size) for i in artifacts.list("a")] == [("a/b.txt", 2)]


def test_a_long_text_is_cut_at_the_limit_without_breaking_a_character(artifacts: RunArtifacts) -> None:
    text = "é" * TEXT_LIMIT  # two bytes each: the cut falls inside none
    size = _put(artifacts, "long.log", text.encode())
    shown = preview(artifacts, "long.log", size)
    assert shown.kind == "text" and set(shown.text) == {"é"} and len(shown.text) == TEXT_LIMIT // 2
    assert "The first 200 KB" in shown.note


def test_bad_json_is_shown_as_text_with_a_note(artifacts: RunArtifacts) -> None:
    size = _put(artifacts, "bad.json", b'{"a": 1,')
    shown = preview(artifacts, "bad.json", size)
    assert shown.kind == "text" and shown.text == '{"a": 1,' and shown.note.startswith("Not valid JSON")
    size = _put(artifacts, "good.json", json.dumps([1, {"b": 2}]).encode())
    assert preview(artifacts, "good.json", size).text == '[\n  1,\n  {\n    "b": 2\n  }\n]'


def test_markdown_never_passes_html_or_script_links(artifacts: RunArtifacts) -> None:
    source = b"# T\n\n<img src=x onerror=alert(1)>\n\n[x](javascript:alert(1))\n"
    shown = preview(artifacts, "r.md", _put(artifacts, "r.md", source))
    html = str(shown.html)
    assert "<h1>T</h1>" in html
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html  # shown as text
    assert "<a " not in html  # a javascript: link is not made a link


def test_a_csv_head_drops_a_cut_last_line_and_binary_is_detected(artifacts: RunArtifacts) -> None:
    rows = "".join(f"{i},{'x' * 50}\n" for i in range(10_000))
    size = _put(artifacts, "t.csv", ("id,text\n" + rows).encode())
    shown = preview(artifacts, "t.csv", size)
    assert shown.kind == "table" and shown.columns == ["id", "text"] and len(shown.rows) == 50
    assert preview(artifacts, "x.dat", _put(artifacts, "x.dat", b"\x00\x01\x02")).kind == "binary"
    assert preview(artifacts, "p.png", 10).kind == "image"


def test_kinds_and_sizes() -> None:
    assert [kind_of(p) for p in ("a.MD", "b.yml", "c.tsv", "d.pq", "e.svg", "f", "g.csv.gz")] == [
        "markdown",
        "yaml",
        "csv",
        "parquet",
        "image",
        "text",
        "binary",
    ]
    assert [human_size(n) for n in (None, 5, 2048, 5 * 1024**3)] == ["—", "5 B", "2.0 KB", "5.0 GB"]
