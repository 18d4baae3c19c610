"""ArtifactStore: one contract suite run against a local directory, ``memory://``, S3 (moto), and
through a loopml server (``loopml-artifacts:/`` roots) over a local destination and over S3."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from loopml.artifacts import ArtifactStore
from loopml.entities import FileInfo
from loopml.errors import InvalidInput, NotFound

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

ESCAPES = [
    "..",
    "../x",
    "a/../../x",
    "/etc/passwd",
    "//server/x",
    "C:\\x",
    "\\\\server\\share",
    "..\\x",
    "%2e%2e%2fx",
    "a/%2E%2E/%2e%2e/x",
    "%252e%252e%252fx",
    "a\x00b",
    "~/x",
    "s3://other-bucket/x",
    "file:///etc/passwd",
    "\uff0e\uff0e/x",
]


def all_files(store: ArtifactStore, path: str = "") -> dict[str, bytes]:
    """Every file under ``path`` with its content, through the public API only."""
    found: dict[str, bytes] = {}
    for info in store.list(path):
        if info.is_dir:
            found.update(all_files(store, info.path))
        else:
            found[info.path] = store.read_bytes(info.path)
    return found


def make_tree(top: Path) -> Path:
    (top / "sub" / "deeper").mkdir(parents=True)
    (top / "a.txt").write_text("A")
    (top / "sub" / "b.bin").write_bytes(b"\x00\x01")
    (top / "sub" / "deeper" / "c.txt").write_text("C")
    return top


class FakePlotlyFigure:
    def write_html(self, file: Any) -> None:
        file.write("<html><body>plot</body></html>")


class ArtifactStoreContract:
    """The behaviours every backend shares. Subclasses provide a ``store`` fixture."""

    # -- writing --------------------------------------------------------------------------

    def test_log_text_and_bytes_round_trip(self, store: ArtifactStore) -> None:
        assert store.log_text("héllo", "notes/readme.txt") == "notes/readme.txt"
        assert store.log_bytes(bytearray(b"\x00\xff"), "./raw//blob.bin") == "raw/blob.bin"
        assert store.log_bytes(memoryview(b"mv"), "mv.bin") == "mv.bin"
        assert all_files(store) == {
            "notes/readme.txt": "héllo".encode(),
            "raw/blob.bin": b"\x00\xff",
            "mv.bin": b"mv",
        }

    def test_writing_again_replaces_the_content(self, store: ArtifactStore) -> None:
        store.log_text("first version", "a.txt")
        store.log_text("v2", "a.txt")
        assert all_files(store) == {"a.txt": b"v2"}

    def test_log_file_goes_under_artifact_path_with_its_basename(
        self, store: ArtifactStore, tmp_path: Path
    ) -> None:
        src = tmp_path / "model.pkl"
        src.write_bytes(b"weights")
        assert store.log_file(src) == "model.pkl"
        assert store.log_file(str(src), "models/m1") == "models/m1/model.pkl"
        assert all_files(store) == {"model.pkl": b"weights", "models/m1/model.pkl": b"weights"}

    def test_log_file_of_a_missing_file_is_not_found(self, store: ArtifactStore, tmp_path: Path) -> None:
        missing = tmp_path / "nope.txt"
        with pytest.raises(NotFound, match=r"nope\.txt"):
            store.log_file(missing)
        with pytest.raises(InvalidInput, match="use log_dir"):
            store.log_file(tmp_path)
        assert all_files(store) == {}

    def test_log_dir_copies_the_tree(self, store: ArtifactStore, tmp_path: Path) -> None:
        top = make_tree(tmp_path / "out")
        stored = store.log_dir(top, "run-output")
        assert stored == ["run-output/a.txt", "run-output/sub/b.bin", "run-output/sub/deeper/c.txt"]
        assert all_files(store) == {
            "run-output/a.txt": b"A",
            "run-output/sub/b.bin": b"\x00\x01",
            "run-output/sub/deeper/c.txt": b"C",
        }
        assert store.log_dir(top) == ["a.txt", "sub/b.bin", "sub/deeper/c.txt"]

    def test_log_dir_of_an_empty_or_missing_dir(self, store: ArtifactStore, tmp_path: Path) -> None:
        (tmp_path / "empty").mkdir()
        assert store.log_dir(tmp_path / "empty") == []
        with pytest.raises(NotFound, match="does not exist"):
            store.log_dir(tmp_path / "missing")
        (tmp_path / "f.txt").write_text("x")
        with pytest.raises(InvalidInput, match="use log_file"):
            store.log_dir(tmp_path / "f.txt")
        assert all_files(store) == {}

    @pytest.mark.parametrize("link_to", ["file", "dir"])
    def test_log_dir_rejects_a_symlink_out_of_the_dir_before_writing(
        self, store: ArtifactStore, tmp_path: Path, link_to: str
    ) -> None:
        outside = tmp_path / "outside"
        outside.mkdir()
        (outside / "secret.txt").write_text("secret")
        top = make_tree(tmp_path / "out")
        target = outside / "secret.txt" if link_to == "file" else outside
        (top / "sub" / "zz-link").symlink_to(target)
        with pytest.raises(InvalidInput, match="outside the directory") as excinfo:
            store.log_dir(top)
        assert "zz-link" in str(excinfo.value)
        assert all_files(store) == {}

    def test_log_dir_follows_symlinks_that_stay_inside_and_survives_cycles(
        self, store: ArtifactStore, tmp_path: Path
    ) -> None:
        top = make_tree(tmp_path / "out")
        (top / "alias.txt").symlink_to(top / "a.txt")
        (top / "mirror").symlink_to(top / "sub" / "deeper")
        (top / "sub" / "up").symlink_to(top)  # back to a directory being walked: skipped
        stored = store.log_dir(top)
        assert stored == ["a.txt", "alias.txt", "mirror/c.txt", "sub/b.bin", "sub/deeper/c.txt"]
        assert store.read_bytes("alias.txt") == b"A"
        assert store.read_bytes("mirror/c.txt") == b"C"

    def test_log_dict_json_round_trip(self, store: ArtifactStore) -> None:
        data = {"lr": 0.01, "layers": [64, 32], "name": "é", "nested": {"ok": True, "none": None}}
        assert store.log_dict(data, "config/params.json") == "config/params.json"
        raw = store.read_bytes("config/params.json")
        assert json.loads(raw) == data
        assert b'\n  "lr": 0.01' in raw  # indented by 2

    @pytest.mark.parametrize("ext", ["yaml", "yml", "YAML"])
    def test_log_dict_yaml_round_trip_keeps_key_order(self, store: ArtifactStore, ext: str) -> None:
        data = {"zeta": 1, "alpha": {"beta": [1, 2]}, "text": "é"}
        rel = store.log_dict(data, f"conf.{ext}")
        raw = store.read_bytes(rel).decode()
        assert yaml.safe_load(raw) == data
        assert raw.index("zeta") < raw.index("alpha")

    def test_log_dict_rejects_other_extensions_and_unserializable_values(self, store: ArtifactStore) -> None:
        with pytest.raises(InvalidInput, match=r"\.json, \.yaml or \.yml"):
            store.log_dict({"a": 1}, "conf.toml")
        with pytest.raises(InvalidInput, match="as JSON"):
            store.log_dict({"a": object()}, "conf.json")
        with pytest.raises(InvalidInput, match="as YAML"):
            store.log_dict({"a": object()}, "conf.yaml")
        assert all_files(store) == {}

    @pytest.mark.parametrize(
        ("name", "magic"), [("loss.png", PNG_MAGIC), ("loss.pdf", b"%PDF"), ("loss.svg", b"<?xml")]
    )
    def test_log_figure_saves_a_matplotlib_figure(
        self, store: ArtifactStore, name: str, magic: bytes
    ) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        ax.plot([1, 2, 3], [3, 1, 2])
        try:
            assert store.log_figure(fig, f"plots/{name}") == f"plots/{name}"
        finally:
            plt.close(fig)
        assert store.read_bytes(f"plots/{name}").startswith(magic)

    def test_log_figure_rejects_non_figures_and_wrong_extensions(self, store: ArtifactStore) -> None:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure

        with pytest.raises(InvalidInput, match="got dict"):
            store.log_figure({"not": "a figure"}, "plot.png")
        with pytest.raises(InvalidInput, match=r"\.png, \.svg or \.pdf"):
            store.log_figure(Figure(), "plot.html")
        with pytest.raises(InvalidInput, match=r"ax\.figure"):
            store.log_figure(Figure().add_subplot(), "plot.png")
        assert all_files(store) == {}

    def test_log_figure_writes_html_for_a_plotly_figure(self, store: ArtifactStore) -> None:
        assert store.log_figure(FakePlotlyFigure(), "plots/p.html") == "plots/p.html"
        assert store.read_bytes("plots/p.html") == b"<html><body>plot</body></html>"
        with pytest.raises(InvalidInput, match=r"saved as \.html"):
            store.log_figure(FakePlotlyFigure(), "plots/p.png")

    @pytest.mark.parametrize("bad", ["", ".", "./"])
    def test_a_file_name_is_required(self, store: ArtifactStore, bad: str) -> None:
        with pytest.raises(InvalidInput, match="does not name a file"):
            store.log_text("x", bad)
        with pytest.raises(InvalidInput, match="does not name a file"):
            store.read_bytes(bad)

    # -- path escapes ---------------------------------------------------------------------

    @pytest.mark.parametrize("bad", ESCAPES)
    def test_escaping_paths_raise_and_write_nothing(
        self, store: ArtifactStore, tmp_path: Path, bad: str
    ) -> None:
        src = tmp_path / "f.txt"
        src.write_text("x")
        top = make_tree(tmp_path / "tree")
        writes = [
            lambda: store.log_text("x", bad),
            lambda: store.log_bytes(b"x", bad),
            lambda: store.log_file(src, bad),
            lambda: store.log_dir(top, bad),
            lambda: store.log_dict({"a": 1}, f"{bad}.json"),
            lambda: store.log_figure(FakePlotlyFigure(), f"{bad}.html"),
        ]
        for write in writes:
            with pytest.raises(InvalidInput):
                write()
        assert all_files(store) == {}

    @pytest.mark.parametrize("bad", ESCAPES)
    def test_escaping_paths_raise_on_read(self, store: ArtifactStore, tmp_path: Path, bad: str) -> None:
        store.log_text("x", "a/x.txt")
        reads = [
            lambda: store.list(bad),
            lambda: store.exists(bad),
            lambda: store.read_bytes(bad),
            lambda: store.download(bad, tmp_path / "dst"),
        ]
        for read in reads:
            with pytest.raises(InvalidInput):
                read()
        assert not (tmp_path / "dst").exists()

    # -- reading --------------------------------------------------------------------------

    def test_list_gives_sorted_direct_children(self, store: ArtifactStore) -> None:
        store.log_text("12345", "b.txt")
        store.log_text("1", "a/x.txt")
        store.log_text("22", "a/y/z.txt")
        store.log_text("", "c/empty.txt")
        assert store.list() == [
            FileInfo("a", True, None),
            FileInfo("b.txt", False, 5),
            FileInfo("c", True, None),
        ]
        assert store.list("a") == [FileInfo("a/x.txt", False, 1), FileInfo("a/y", True, None)]
        assert store.list("./a/y/") == [FileInfo("a/y/z.txt", False, 2)]
        assert store.list("c") == [FileInfo("c/empty.txt", False, 0)]

    def test_list_of_a_missing_dir_or_a_file_is_empty(self, store: ArtifactStore) -> None:
        assert store.list() == []
        store.log_text("x", "a/x.txt")
        assert store.list("missing") == []
        assert store.list("a/x.txt") == []

    def test_exists(self, store: ArtifactStore) -> None:
        assert not store.exists("a/x.txt")
        store.log_text("x", "a/x.txt")
        assert store.exists("a/x.txt")
        assert store.exists("a")
        assert not store.exists("a/y.txt")

    def test_read_bytes_of_a_missing_file_or_a_dir(self, store: ArtifactStore) -> None:
        with pytest.raises(NotFound, match=r"'missing\.txt'"):
            store.read_bytes("missing.txt")
        store.log_text("x", "a/x.txt")
        with pytest.raises(InvalidInput, match="is a directory"):
            store.read_bytes("a")

    def test_download_a_file(self, store: ArtifactStore, tmp_path: Path) -> None:
        store.log_text("x", "a/b/x.txt")
        local = store.download("a/b/x.txt", tmp_path / "dst")
        assert local == str(tmp_path / "dst" / "a" / "b" / "x.txt")
        assert Path(local).read_text() == "x"
        assert os.listdir(tmp_path / "dst" / "a" / "b") == ["x.txt"]  # no temporary file left

    def test_download_a_nested_dir(self, store: ArtifactStore, tmp_path: Path) -> None:
        store.log_dir(make_tree(tmp_path / "src"), "out")
        store.log_text("other", "elsewhere.txt")
        local = Path(store.download("out/sub", tmp_path / "dst"))
        assert local == tmp_path / "dst" / "out" / "sub"
        assert sorted(str(p.relative_to(local)) for p in local.rglob("*") if p.is_file()) == [
            "b.bin",
            os.path.join("deeper", "c.txt"),
        ]
        assert (local / "deeper" / "c.txt").read_text() == "C"

    def test_download_everything_into_a_new_temp_dir(self, store: ArtifactStore, tmp_path: Path) -> None:
        store.log_dir(make_tree(tmp_path / "src"))
        local = Path(store.download())
        try:
            assert local.is_dir()
            assert not local.is_relative_to(tmp_path)
            assert (local / "a.txt").read_text() == "A"
            assert (local / "sub" / "deeper" / "c.txt").read_text() == "C"
        finally:
            shutil.rmtree(local)

    def test_download_of_a_missing_path_is_not_found(self, store: ArtifactStore, tmp_path: Path) -> None:
        with pytest.raises(NotFound, match="'nope'"):
            store.download("nope", tmp_path / "dst")
        with pytest.raises(NotFound):
            store.download("", tmp_path / "dst")  # nothing logged yet


# -- local directory and memory:// --------------------------------------------------------


class TestLocalStore(ArtifactStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> ArtifactStore:
        return ArtifactStore(str(tmp_path / "exp" / "run" / "artifacts"))


class TestMemoryStore(ArtifactStoreContract):
    @pytest.fixture
    def store(self) -> Iterator[ArtifactStore]:
        import fsspec

        root = f"memory://t-{uuid.uuid4().hex[:12]}/exp/run/artifacts"
        yield ArtifactStore(root)
        fs = fsspec.filesystem("memory")
        if fs.exists(root):
            fs.rm(root, recursive=True)


@pytest.fixture(scope="module")
def shared_bucket(s3_endpoint: str) -> str:
    """One bucket for the S3 run of the contract (creating a bucket per test costs a second each)."""
    import s3fs

    name = f"contract-{uuid.uuid4().hex[:12]}"
    s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_endpoint}, skip_instance_cache=True).mkdir(name)
    return name


@pytest.mark.s3
class TestS3Store(ArtifactStoreContract):
    @pytest.fixture
    def store(self, shared_bucket: str, s3_endpoint: str) -> ArtifactStore:
        # A fresh prefix per test. The s3fs instance is fsspec's cached one (a new client costs a
        # second); ArtifactStore invalidates listing caches itself, see the test with two stores.
        root = f"s3://{shared_bucket}/{uuid.uuid4().hex[:12]}/exp/run/artifacts"
        return ArtifactStore(root, {"client_kwargs": {"endpoint_url": s3_endpoint}})


# -- through a loopml server: loopml-artifacts:/ roots, streamed over HTTP ---------------------


@pytest.mark.server
class TestServerStore(ArtifactStoreContract):
    """The session's ``loopml server`` (PostgreSQL, a local artifacts destination)."""

    @pytest.fixture
    def store(self, loopml_server: str) -> ArtifactStore:
        root = f"loopml-artifacts:/{uuid.uuid4().hex[:12]}/run/artifacts"
        return ArtifactStore(root, {"tracking_uri": loopml_server})


@pytest.fixture(scope="module")
def s3_server(
    shared_bucket: str, server_tools: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A ``loopml server`` whose artifacts destination is ``s3://<bucket>/prefix`` on moto."""
    home = tmp_path_factory.mktemp("s3-server")
    args = [
        "--backend-store-uri",
        f"sqlite:///{home / 'loopml.db'}",
        "--artifacts-destination",
        f"s3://{shared_bucket}/prefix",
        "--no-access-log",
    ]
    with server_tools.running_server(args, home) as server:
        yield server.url


@pytest.mark.s3
@pytest.mark.server
class TestServerS3Store(ArtifactStoreContract):
    """A ``loopml server --artifacts-destination s3://bucket/prefix`` (moto), through s3fs."""

    @pytest.fixture
    def store(self, s3_server: str) -> ArtifactStore:
        root = f"loopml-artifacts:/{uuid.uuid4().hex[:12]}/run/artifacts"
        return ArtifactStore(root, {"tracking_uri": s3_server})
