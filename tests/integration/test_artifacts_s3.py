"""The ArtifactStore contract against S3 (moto's server on loopback), plus what only S3 shows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from loopml.artifacts import ArtifactStore
from loopml.entities import FileInfo
from loopml.errors import InvalidInput

pytestmark = pytest.mark.s3


def s3_options(endpoint: str) -> dict[str, Any]:
    return {"client_kwargs": {"endpoint_url": endpoint}, "skip_instance_cache": True}


def test_the_endpoint_can_come_from_the_environment(s3_bucket: str) -> None:
    # s3_endpoint sets AWS_ENDPOINT_URL, which botocore honours: no storage_options needed.
    store = ArtifactStore(f"{s3_bucket}/exp/run/artifacts")
    store.log_text("x", "a/x.txt")
    assert store.list("a") == [FileInfo("a/x.txt", False, 1)]


def test_a_store_sees_writes_made_by_another_store(s3_bucket: str, s3_endpoint: str) -> None:
    root = f"{s3_bucket}/exp/run/artifacts"
    reader = ArtifactStore(root)  # the shared, cached s3fs instance
    writer = ArtifactStore(root, s3_options(s3_endpoint))  # a separate instance
    assert reader.list() == []
    assert not reader.exists("late.txt")
    writer.log_text("late", "late.txt")
    assert reader.list() == [FileInfo("late.txt", False, 4)]
    assert reader.exists("late.txt")


def test_a_store_at_the_bucket_root(s3_bucket: str, s3_endpoint: str, tmp_path: Path) -> None:
    store = ArtifactStore(f"{s3_bucket}/", s3_options(s3_endpoint))
    store.log_text("x", "exp/run/x.txt")
    assert store.list() == [FileInfo("exp", True, None)]
    assert Path(store.download("exp", tmp_path)).joinpath("run", "x.txt").read_text() == "x"


@pytest.mark.parametrize("key", ["d/../../escape.txt", "d/..%2f..%2fescape.txt"])
def test_download_rejects_a_stored_key_that_climbs_out(
    s3_bucket: str, s3_endpoint: str, tmp_path: Path, key: str
) -> None:
    import s3fs

    bucket = s3_bucket.removeprefix("s3://")
    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_endpoint}, skip_instance_cache=True)
    fs.pipe_file(f"{bucket}/exp/run/artifacts/d/ok.txt", b"ok")
    fs.pipe_file(f"{bucket}/exp/run/artifacts/{key}", b"planted by someone else")
    store = ArtifactStore(f"{s3_bucket}/exp/run/artifacts", s3_options(s3_endpoint))
    with pytest.raises(InvalidInput, match="stored artifact path"):
        store.download("d", tmp_path / "dst")
    assert not (tmp_path / "escape.txt").exists()
    assert not (tmp_path / "dst").exists()
