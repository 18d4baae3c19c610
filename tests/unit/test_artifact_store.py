"""ArtifactStore: what only a local root does (the shared contract is in tests/contract)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from loopml.artifacts import ArtifactStore
from loopml.entities import FileInfo
from loopml.errors import Conflict, InvalidInput, MissingExtra, StoreError

# -- what only a local root does ----------------------------------------------------------


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "artifacts"


@pytest.fixture
def local(root: Path) -> ArtifactStore:
    return ArtifactStore(root)


def test_a_symlink_planted_in_the_root_cannot_redirect_writes_or_reads(
    local: ArtifactStore, root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    root.mkdir()
    (root / "evil").symlink_to(outside)
    (root / "link.txt").symlink_to(outside / "secret.txt")

    for call in [
        lambda: local.log_text("x", "evil/planted.txt"),
        lambda: local.log_bytes(b"x", "link.txt"),
        lambda: local.read_bytes("evil/secret.txt"),
        lambda: local.read_bytes("link.txt"),
        lambda: local.list("evil"),
        lambda: local.exists("evil/secret.txt"),
        lambda: local.download("evil", tmp_path / "dst"),
        lambda: local.download("", tmp_path / "dst2"),
    ]:
        with pytest.raises(InvalidInput, match="outside the artifact root"):
            call()
    assert sorted(os.listdir(outside)) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == "secret"
    assert (root / "link.txt").is_symlink()
    assert not (tmp_path / "dst").exists()


def test_a_symlinked_root_is_fine(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "alias").symlink_to(real)
    store = ArtifactStore(tmp_path / "alias")
    store.log_text("x", "a/x.txt")
    assert (real / "a" / "x.txt").read_text() == "x"
    assert store.list("a") == [FileInfo("a/x.txt", False, 1)]


def test_a_failed_write_keeps_the_old_content_and_leaves_no_temp_file(
    local: ArtifactStore, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local.log_text("old", "m/model.bin")
    src = tmp_path / "model.bin"
    src.write_text("new")

    def broken_copy(a: str, b: str) -> None:
        Path(b).write_text("ne")  # half written
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(shutil, "copyfile", broken_copy)
    with pytest.raises(StoreError, match="No space left"):
        local.log_file(src, "m")
    assert os.listdir(root / "m") == ["model.bin"]
    assert (root / "m" / "model.bin").read_text() == "old"


def test_written_files_follow_the_umask(local: ArtifactStore, root: Path) -> None:
    old = os.umask(0o022)
    try:
        local.log_text("x", "x.txt")
    finally:
        os.umask(old)
    assert stat.S_IMODE((root / "x.txt").stat().st_mode) == 0o644


def test_a_file_and_a_dir_cannot_share_a_path(local: ArtifactStore) -> None:
    local.log_text("x", "a")
    with pytest.raises(Conflict, match=r"'a/b\.txt'"):
        local.log_text("y", "a/b.txt")


def test_root_uri_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert ArtifactStore("~/arts").root_uri == str(tmp_path / "arts")
    store = ArtifactStore(f"file://{tmp_path}/via-url/")
    assert store.root_uri == str(tmp_path / "via-url")
    store.log_text("x", "x.txt")
    assert (tmp_path / "via-url" / "x.txt").read_text() == "x"
    assert repr(store) == f"ArtifactStore({str(tmp_path / 'via-url')!r})"
    assert ArtifactStore("memory://bucket/p/").root_uri == "memory://bucket/p/"


def test_unknown_protocols_and_missing_extras() -> None:
    with pytest.raises(InvalidInput, match="unsupported artifact root 'nosuch://x'"):
        ArtifactStore("nosuch://x")
    try:
        import gcsfs  # noqa: F401
    except ImportError:
        with pytest.raises(MissingExtra, match=r"loopml\[gcs\]"):
            ArtifactStore("gs://bucket/x")


def test_importing_the_package_imports_neither_fsspec_nor_matplotlib() -> None:
    code = (
        "import sys, loopml.artifacts\n"
        "heavy = [m for m in ('fsspec', 'matplotlib', 's3fs') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
