"""Artifact files as streams (uploads checked by sha256, readers) and loopml-artifacts:/ URIs,
on a local directory and memory:// (no server; the server's side is tests/integration)."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopml import Client
from loopml.artifacts import ArtifactStore
from loopml.artifacts.streams import CHUNK_SIZE, is_partial
from loopml.artifacts.uris import is_server_uri, server_path
from loopml.errors import Conflict, InvalidInput, NotFound
from loopml.models.loading import local_path


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def files_under(top: Path) -> dict[str, bytes]:
    return {str(p.relative_to(top)): p.read_bytes() for p in top.rglob("*") if p.is_file()}


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArtifactStore]:
    if request.param == "local":
        yield ArtifactStore(tmp_path / "root")
        return
    import fsspec

    root = f"memory://streams-{uuid.uuid4().hex[:12]}/root"
    yield ArtifactStore(root)
    fs = fsspec.filesystem("memory")
    if fs.exists(root):
        fs.rm(root, recursive=True)


def all_files(store: ArtifactStore, path: str = "") -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for info in store.list(path):
        if info.is_dir:
            found.update(all_files(store, info.path))
        else:
            found[info.path] = store.read_bytes(info.path)
    return found


def test_an_upload_is_invisible_until_committed_and_then_checked(store: ArtifactStore) -> None:
    data = os.urandom(CHUNK_SIZE + 17)
    upload = store.open_upload("a/b/data.bin", sha256=sha256(data).upper())  # case does not matter
    upload.write(data[:CHUNK_SIZE])
    assert all_files(store) == {}  # the temporary place is hidden from listings
    upload.write(memoryview(data)[CHUNK_SIZE:])
    stored = upload.commit()
    assert (stored.path, stored.size, stored.sha256) == ("a/b/data.bin", len(data), sha256(data))
    assert all_files(store) == {"a/b/data.bin": data}
    with store.open_reader("a/b/data.bin") as reader:
        assert reader.size == len(data)
        assert b"".join(reader.chunks(1000)) == data


def test_a_mismatch_raises_and_leaves_nothing_not_even_directories(
    store: ArtifactStore, tmp_path: Path
) -> None:
    store.log_text("old", "kept.txt")
    upload = store.open_upload("new/dirs/x.bin", sha256=sha256(b"announced"))
    upload.write(b"received")
    with pytest.raises(InvalidInput, match="does not match its sha256") as caught:
        upload.commit()
    assert caught.value.details["received"] == sha256(b"received")
    replacing = store.open_upload("kept.txt", sha256=sha256(b"announced"))
    replacing.write(b"received")
    with pytest.raises(InvalidInput):
        replacing.commit()
    assert all_files(store) == {"kept.txt": b"old"}
    if store.root_uri.startswith("/"):
        assert sorted(os.listdir(store.root_uri)) == ["kept.txt"]  # no temporary file, no directory


def test_abort_leaves_nothing(store: ArtifactStore) -> None:
    upload = store.open_upload("x/y.bin")
    upload.write(b"partial")
    upload.abort()
    upload.abort()  # idempotent
    assert all_files(store) == {}
    assert not store.exists("x")


def test_a_bad_digest_or_path_is_refused_before_writing(store: ArtifactStore) -> None:
    with pytest.raises(InvalidInput, match="64 hexadecimal digits"):
        store.open_upload("x.bin", sha256="abc")
    for bad in ("../x.bin", "", "%2e%2e/x"):
        with pytest.raises(InvalidInput):
            store.open_upload(bad)
        with pytest.raises(InvalidInput):
            store.open_reader(bad)
    assert all_files(store) == {}


def test_readers_of_missing_files_and_directories(store: ArtifactStore) -> None:
    with pytest.raises(NotFound, match=r"'nope\.txt'"):
        store.open_reader("nope.txt")
    store.log_text("x", "d/x.txt")
    with pytest.raises(InvalidInput, match="is a directory") as caught:
        store.open_reader("d")
    assert caught.value.details["kind"] == "directory"


def test_local_uploads_keep_their_digest_for_readers(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "root")
    upload = store.open_upload("m.bin")  # no digest announced: the computed one is kept
    upload.write(b"model")
    upload.commit()
    try:
        os.getxattr(tmp_path / "root" / "m.bin", "user.loopml.sha256")
    except OSError:
        pytest.skip("this filesystem keeps no user extended attributes")
    with store.open_reader("m.bin") as reader:
        assert reader.sha256 == sha256(b"model")
    (tmp_path / "root" / "plain.bin").write_bytes(b"p")  # written by other means: unknown
    with store.open_reader("plain.bin") as reader:
        assert reader.sha256 is None


def test_local_conflicts_remove_the_temporary_file(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "root")
    store.log_text("x", "d/x.txt")
    upload = store.open_upload("d")
    upload.write(b"a file where a directory is")
    with pytest.raises(Conflict):
        upload.commit()
    assert files_under(tmp_path / "root") == {"d/x.txt": b"x"}


def test_symlinks_out_of_a_local_root_are_refused_and_unlisted(tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("secret")
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "out").symlink_to(tmp_path / "outside")
    store = ArtifactStore(tmp_path / "root")
    store.log_text("x", "in.txt")
    assert [info.path for info in store.list()] == ["in.txt"]
    with pytest.raises(InvalidInput, match="outside the artifact root") as caught:
        store.open_reader("out/secret.txt")
    assert caught.value.details["kind"] == "symlink"
    with pytest.raises(InvalidInput):
        store.open_upload("out/new.txt")
    assert sorted(os.listdir(tmp_path / "outside")) == ["secret.txt"]


def test_partial_names() -> None:
    assert is_partial(".model.pkl.0123456789ab.tmp")
    assert is_partial("a/b/.x.abcdefabcdef.tmp")
    assert not is_partial("model.tmp")
    assert not is_partial(".hidden")


# ---- loopml-artifacts:/ URIs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "path"),
    [
        ("loopml-artifacts:/0/abc/artifacts", "0/abc/artifacts"),
        ("loopml-artifacts:///0/abc/artifacts/", "0/abc/artifacts"),
        ("loopml-artifacts:/", ""),
    ],
)
def test_server_uris(uri: str, path: str) -> None:
    assert is_server_uri(uri)
    assert server_path(uri) == path
    assert local_path(uri) is None  # never read as a local path


@pytest.mark.parametrize("uri", ["loopml-artifacts:/../x", "loopml-artifacts:/a/%2e%2e/b"])
def test_server_uris_cannot_escape(uri: str) -> None:
    with pytest.raises(InvalidInput):
        ArtifactStore(uri, {"tracking_uri": "http://127.0.0.1:9"})


def test_a_server_uri_needs_a_server(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="LOOPML_TRACKING_URI=http"):
        ArtifactStore("loopml-artifacts:/0/r/artifacts")  # the tracking URI is the embedded SQLite
    with pytest.raises(InvalidInput, match="unknown storage option"):
        ArtifactStore("loopml-artifacts:/0/r/artifacts", {"endpoint_url": "http://x"})
    client = Client(tracking_uri=f"sqlite:///{tmp_path / 'loopml.db'}")
    try:
        with pytest.raises(InvalidInput, match="not a server"):
            client.artifacts_at("loopml-artifacts:/0/r/artifacts")
    finally:
        client.close()


def test_a_client_on_a_server_defaults_to_served_artifacts(monkeypatch: pytest.MonkeyPatch) -> None:
    from loopml.settings import load_settings
    from loopml.tracking.client import default_artifact_root

    assert default_artifact_root(load_settings(), "http://127.0.0.1:5000") == "loopml-artifacts:/"
    assert default_artifact_root(load_settings(), "https://ml.example.com") == "loopml-artifacts:/"
    monkeypatch.setenv("LOOPML_ARTIFACT_ROOT", "s3://bucket/team")
    assert default_artifact_root(load_settings(), "http://127.0.0.1:5000") == "s3://bucket/team"


def test_an_unreachable_server_is_a_store_error() -> None:
    from loopml.errors import StoreError

    store = ArtifactStore("loopml-artifacts:/0/r/artifacts", {"tracking_uri": "http://127.0.0.1:9"})
    with pytest.raises(StoreError, match="cannot reach the loopml server"):
        store.list()
