"""Artifacts through a real `loopml server`: the fluent API with no change of code, path traversal
on every artifact endpoint, sha256 checks both ways, S3 specifics, bounded memory, models."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import httpcore
import httpx
import pytest

import loopml
from loopml import Client, StoreError
from loopml.artifacts import ArtifactStore

pytestmark = pytest.mark.server

API = "/api/v1/artifacts"
SHA = "X-Loopml-Sha256"
CANARY = b"canary: must never be read or changed through the server\n"
SECRET = b"secret beside the artifacts destination\n"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Served:
    url: str
    root: Path  # the artifacts destination
    base: Path  # holds root, the canary and a directory outside root
    pid: int

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


def _serve(server_tools: SimpleNamespace, base: Path, destination: str) -> Iterator[Served]:
    home = base / "home"
    args = ["--backend-store-uri", f"sqlite:///{home / 'loopml.db'}"]
    args += ["--artifacts-destination", destination, "--no-access-log"]
    with server_tools.running_server(args, home) as server:
        yield Served(server.url, base / "root", base, server.process.pid)


@pytest.fixture(scope="module")
def served(server_tools: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server (SQLite) whose destination is ``<base>/root``. Beside the root: ``canary.txt`` and
    ``outside/secret.txt``; inside it, symlinks out: ``link-out`` -> outside/, ``link-file`` -> canary."""
    base = tmp_path_factory.mktemp("served")
    (base / "root").mkdir()
    (base / "canary.txt").write_bytes(CANARY)
    (base / "outside").mkdir()
    (base / "outside" / "secret.txt").write_bytes(SECRET)
    (base / "root" / "link-out").symlink_to(base / "outside")
    (base / "root" / "link-file").symlink_to(base / "canary.txt")
    yield from _serve(server_tools, base, str(base / "root"))


@pytest.fixture
def http(served: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, timeout=30) as client:
        yield client


def tree(top: Path) -> dict[str, object]:
    """Every entry under ``top`` (symlinks not followed): files with their content's digest and
    mtime, directories and links by name."""
    found: dict[str, object] = {}
    for directory, dirs, files in os.walk(top):
        for name in dirs + files:
            path = Path(directory, name)
            rel = str(path.relative_to(top))
            if path.is_symlink():
                found[rel] = ("link", os.readlink(path))
            elif path.is_file():
                found[rel] = (sha256(path.read_bytes()), path.stat().st_mtime_ns)
            else:
                found[rel] = "dir"
    return found


def outside_root(served: Served) -> dict[str, object]:
    return {k: v for k, v in tree(served.base).items() if not k.startswith(("root", "home"))}


# ---- the fluent API, unchanged, against a server ------------------------------------------------


def test_fluent_artifacts_go_to_the_server_with_no_change_of_code(
    served: Served, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LOOPML_TRACKING_URI", served.url)
    source = tmp_path / "out"
    (source / "plots").mkdir(parents=True)
    (source / "plots" / "loss.csv").write_text("step,loss\n0,1.0\n")
    (source / "weights.bin").write_bytes(bytes(range(256)) * 4096)  # 1 MiB: more than one chunk
    with loopml.start_run() as run:
        loopml.log_artifact(source / "weights.bin", "model")
        loopml.log_artifacts(source, "outputs")
        loopml.log_text("all good", "notes/summary.txt")
        loopml.log_dict({"lr": 0.01}, "config.yaml")
        run_id, experiment_id = run.info.run_id, run.info.experiment_id
        assert loopml.get_artifact_uri("model") == f"loopml-artifacts:/0/{run_id}/artifacts/model"
    assert run.info.artifact_uri == f"loopml-artifacts:/{experiment_id}/{run_id}/artifacts"

    stored = served.root / experiment_id / run_id / "artifacts"  # the server's side
    assert (stored / "model" / "weights.bin").read_bytes() == (source / "weights.bin").read_bytes()
    assert (stored / "outputs" / "plots" / "loss.csv").read_text() == "step,loss\n0,1.0\n"
    assert (stored / "notes" / "summary.txt").read_text() == "all good"
    assert "lr: 0.01" in (stored / "config.yaml").read_text()
    assert not (Path(os.environ["LOOPML_HOME"]) / "artifacts").exists()  # nothing on the client

    with closing(Client()) as client:
        listed = client.list_artifacts(run_id)
        assert [(f.path, f.is_dir) for f in listed] == [
            ("config.yaml", False),
            ("model", True),
            ("notes", True),
            ("outputs", True),
        ]
        assert client.list_artifacts(run_id, "model")[0].file_size == 1 << 20
    local = Path(loopml.download_artifacts(run_id, "outputs", tmp_path / "back"))
    assert (local / "weights.bin").read_bytes() == (source / "weights.bin").read_bytes()
    assert (local / "plots" / "loss.csv").read_text() == "step,loss\n0,1.0\n"


def test_experiments_created_through_the_server_get_served_locations(served: Served) -> None:
    with closing(Client(tracking_uri=served.url)) as client:
        experiment = client.get_experiment(client.create_experiment(f"e-{uuid.uuid4().hex[:8]}"))
        assert experiment.artifact_location == f"loopml-artifacts:/{experiment.experiment_id}"
        explicit = client.create_experiment(f"e-{uuid.uuid4().hex[:8]}", artifact_location="memory://kept")
        assert client.get_experiment(explicit).artifact_location == "memory://kept"  # as given
    # a configured artifact root is honoured: the client writes there itself
    with closing(Client(tracking_uri=served.url, artifact_root="memory://mine")) as own_root:
        mine = own_root.get_experiment(own_root.create_experiment(f"e-{uuid.uuid4().hex[:8]}"))
        assert mine.artifact_location == f"memory://mine/{mine.experiment_id}"


# ---- path traversal on every endpoint -----------------------------------------------------------

# As sent on the wire, after "/api/v1/artifacts/" (or as "?path="). "{canary}" is the canary's
# absolute path. httpx normalizes "..", so these go through httpcore, its transport, unchanged.
TRAVERSALS = [
    "..",
    "../canary.txt",
    "../../canary.txt",
    "a/../../canary.txt",
    "root/../../canary.txt",
    "%2e%2e/canary.txt",
    "%2E%2E%2Fcanary.txt",
    "a/%2e%2e/%2e%2e/canary.txt",
    "%252e%252e%252fcanary.txt",
    "..%2fcanary.txt",
    "..%5ccanary.txt",
    "..\\canary.txt",
    "a%5c..%5c..%5ccanary.txt",
    "%EF%BC%8E%EF%BC%8E/canary.txt",
    "/etc/passwd",
    "%2Fetc%2Fpasswd",
    "/{canary}",
    "{canary_quoted}",
    "C:%5Ccanary.txt",
    "C:/canary.txt",
    "%5C%5Cserver%5Cshare%5Ccanary.txt",
    "~/canary.txt",
    "file:%2F%2F{canary}",
    "canary.txt%00.png",
    "a%00/../canary.txt",
    "link-out",
    "link-out/secret.txt",
    "link-out/new.txt",
    "link-file",
]


def _raw(served: Served, method: str, target: str, body: bytes = b"") -> httpcore.Response:
    headers = [(b"Host", f"127.0.0.1:{served.port}".encode())]
    if method == "PUT":
        headers.append((SHA.encode(), sha256(body).encode()))
    url = httpcore.URL(scheme=b"http", host=b"127.0.0.1", port=served.port, target=target.encode("latin-1"))
    with httpcore.ConnectionPool() as pool:
        response = pool.request(method, url, headers=headers, content=body if method == "PUT" else None)
        response.read()
    return response


@pytest.mark.parametrize("wire", TRAVERSALS)
def test_path_traversal_is_400_on_every_endpoint_and_touches_nothing_outside(
    served: Served, wire: str
) -> None:
    canary = str(served.base / "canary.txt")
    wire = wire.format(canary=canary.lstrip("/"), canary_quoted=quote(canary, safe=""))
    before_outside, before_root = outside_root(served), tree(served.root)
    calls = [
        ("PUT", f"{API}/{wire}"),
        ("GET", f"{API}/{wire}"),
        ("HEAD", f"{API}/{wire}"),
        ("GET", f"{API}?path={wire}"),
    ]
    for method, target in calls:
        response = _raw(served, method, target, b"pwned")
        assert response.status == 400, (method, target, response.content)
        if method != "HEAD":
            body = json.loads(response.content)
            assert body["error"]["code"] == "invalid_input", body
        assert CANARY not in response.content and SECRET not in response.content
    assert outside_root(served) == before_outside  # nothing outside the root written (or removed)
    assert tree(served.root) == before_root  # and nothing inside it either
    assert (served.base / "canary.txt").read_bytes() == CANARY


def test_listing_hides_symlinks_that_lead_out(http: httpx.Client) -> None:
    listed = http.get(API).json()["files"]
    assert {item["path"] for item in listed}.isdisjoint({"link-out", "link-file"})


def test_a_symlink_that_stays_inside_is_followed(served: Served, http: httpx.Client) -> None:
    data = b"inside"
    assert http.put(f"{API}/inner/a.txt", content=data, headers={SHA: sha256(data)}).status_code == 201
    link = served.root / "alias"
    link.symlink_to(served.root / "inner")
    try:
        assert http.get(f"{API}/alias/a.txt").content == data
    finally:
        link.unlink()


# ---- sha256 checks ------------------------------------------------------------------------------


def test_a_sha256_mismatch_is_400_and_stores_nothing(served: Served, http: httpx.Client) -> None:
    before = tree(served.root)
    response = http.put(f"{API}/fresh/dirs/x.bin", content=b"sent", headers={SHA: sha256(b"other")})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_input" and "does not match its sha256" in error["message"]
    assert error["details"]["received"] == sha256(b"sent")
    assert tree(served.root) == before  # no file, no temporary file, no directory
    assert http.get(f"{API}/fresh/dirs/x.bin").status_code == 404

    ok = http.put(f"{API}/kept/x.bin", content=b"v1", headers={SHA: sha256(b"v1")})
    assert ok.status_code == 201
    assert ok.json() == {"path": "kept/x.bin", "size": 2, "sha256": sha256(b"v1")}
    bad = http.put(f"{API}/kept/x.bin", content=b"v2", headers={SHA: sha256(b"v1")})
    assert bad.status_code == 400
    assert http.get(f"{API}/kept/x.bin").content == b"v1"  # the old content stays
    assert sorted(os.listdir(served.root / "kept")) == ["x.bin"]


def test_an_upload_cut_off_midway_leaves_nothing(served: Served) -> None:
    def wait_for(condition: Callable[[], bool]) -> bool:
        deadline = time.monotonic() + 30  # generous: a loaded CI machine
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.05)
        return condition()

    before = tree(served.root)
    with socket.create_connection(("127.0.0.1", served.port)) as sock:
        head = b"PUT /api/v1/artifacts/cut/off.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n"
        sock.sendall(head + os.urandom(3 << 20))
        assert wait_for(lambda: tree(served.root) != before)  # the server is writing a temporary file
        assert not (served.root / "cut" / "off.bin").exists()
    assert wait_for(lambda: tree(served.root) == before)  # cut off: the file and its directory are gone


def test_the_sha256_header_must_be_hex_and_may_be_left_out(http: httpx.Client) -> None:
    response = http.put(f"{API}/h/x.txt", content=b"x", headers={SHA: "not-a-digest"})
    assert response.status_code == 400 and SHA in response.json()["error"]["message"]
    stored = http.put(f"{API}/h/y.txt", content=b"y")  # a curl user may skip it
    assert stored.status_code == 201 and stored.json()["sha256"] == sha256(b"y")
    got = http.get(f"{API}/h/y.txt")
    assert got.content == b"y" and got.headers[SHA] == sha256(b"y")
    head = http.head(f"{API}/h/y.txt")
    assert head.status_code == 200 and head.headers["content-length"] == "1"


def test_files_and_directories_answer_404_400_409(served: Served, http: httpx.Client) -> None:
    assert http.get(f"{API}/nowhere/x.txt").json()["error"]["code"] == "not_found"
    assert http.put(f"{API}/d/f.txt", content=b"f", headers={SHA: sha256(b"f")}).status_code == 201
    directory = http.get(f"{API}/d")
    assert directory.status_code == 400 and directory.json()["error"]["details"]["kind"] == "directory"
    clash = http.put(f"{API}/d", content=b"f", headers={SHA: sha256(b"f")})
    assert clash.status_code == 409, clash.text
    assert clash.json()["error"]["code"] == "conflict"
    assert os.listdir(served.root / "d") == ["f.txt"]
    assert not [name for name in os.listdir(served.root) if name.endswith(".tmp")]  # no temporary left
    assert http.get(API, params={"path": "d"}).json() == {
        "files": [{"path": "d/f.txt", "is_dir": False, "file_size": 1}]
    }
    assert http.get(API, params={"path": "missing"}).json() == {"files": []}
    assert http.get(f"{API}/").status_code == 400  # no file named


def test_a_download_that_does_not_match_its_sha256_fails_and_leaves_no_file(
    served: Served, tmp_path: Path
) -> None:
    with closing(Client(tracking_uri=served.url)) as client:
        run = client.create_run(client.create_experiment(f"e-{uuid.uuid4().hex[:8]}"))
        client.log_text(run.info.run_id, "the original content", "report.txt")
        stored = served.root / run.info.experiment_id / run.info.run_id / "artifacts" / "report.txt"
        with stored.open("r+b") as file:  # damaged in place: the recorded digest no longer matches
            file.write(b"THE")
        with pytest.raises(StoreError, match="corrupt"):
            client.download_artifacts(run.info.run_id, "report.txt", tmp_path / "dst")
    assert not any(p.is_file() for p in (tmp_path / "dst").rglob("*"))


# ---- S3 behind the server -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_served(
    s3_endpoint: str, server_tools: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Served, str]]:
    import s3fs

    bucket = f"served-{uuid.uuid4().hex[:12]}"
    s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_endpoint}, skip_instance_cache=True).mkdir(bucket)
    base = tmp_path_factory.mktemp("s3-served")
    for served in _serve(server_tools, base, f"s3://{bucket}/prefix"):
        yield served, bucket


@pytest.mark.s3
def test_s3_destination_keeps_the_digest_and_a_mismatch_leaves_no_object_or_upload(
    s3_served: tuple[Served, str], s3_endpoint: str
) -> None:
    import s3fs

    served, bucket = s3_served
    fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": s3_endpoint}, skip_instance_cache=True)
    big = os.urandom((9 << 20) + 5)  # more than one part of a multipart upload
    with httpx.Client(base_url=served.url, timeout=60) as http:
        response = http.put(f"{API}/e/r/artifacts/big.bin", content=big, headers={SHA: sha256(b"x")})
        assert response.status_code == 400
        assert not fs.exists(f"{bucket}/prefix/e/r/artifacts/big.bin")
        assert fs.list_multipart_uploads(bucket) == []  # the parts were aborted

        stored = http.put(f"{API}/e/r/artifacts/big.bin", content=big, headers={SHA: sha256(big)})
        assert stored.status_code == 201
        fs.invalidate_cache()
        assert fs.cat_file(f"{bucket}/prefix/e/r/artifacts/big.bin") == big
        assert fs.metadata(f"{bucket}/prefix/e/r/artifacts/big.bin")["loopml-sha256"] == sha256(big)
        got = http.get(f"{API}/e/r/artifacts/big.bin")
        assert got.content == big and got.headers[SHA] == sha256(big)
        assert fs.ls(f"{bucket}/prefix/e/r/artifacts") == [f"{bucket}/prefix/e/r/artifacts/big.bin"]


# ---- bounded memory -----------------------------------------------------------------------------

MEMORY_CLIENT = textwrap.dedent(
    """
    import json, os, sys
    from loopml import Client

    def peak_kb():
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))

    url, big, work = sys.argv[1:4]
    client = Client(tracking_uri=url)
    run_id = client.create_run(client.create_experiment("memory")).info.run_id
    warm = os.path.join(work, "warm.txt")
    with open(warm, "w") as file:
        file.write("warm up")
    client.log_artifact(run_id, warm)
    client.download_artifacts(run_id, "warm.txt", os.path.join(work, "warm"))
    before = peak_kb()
    client.log_artifact(run_id, big, "data")
    uploaded = peak_kb()
    local = client.download_artifacts(run_id, "data/" + os.path.basename(big), os.path.join(work, "down"))
    print(json.dumps({"before": before, "uploaded": uploaded, "downloaded": peak_kb(), "local": local,
                      "run_id": run_id, "uri": client.get_run(run_id).info.artifact_uri}))
    """
)
MB = 1 << 20


def _peak_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(MB):
            digest.update(chunk)
    return digest.hexdigest()


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads peak memory from /proc")
def test_300_mb_up_and_down_with_bounded_memory(server_tools: SimpleNamespace, tmp_path: Path) -> None:
    """300 MB by default; BENCH_BIG_ARTIFACT_MB=2048 runs the issue's 2 GB by hand."""
    big = tmp_path / "big.bin"
    digest = hashlib.sha256()
    with big.open("wb") as file:
        for _ in range(int(os.environ.get("BENCH_BIG_ARTIFACT_MB", "300"))):
            chunk = os.urandom(MB)
            digest.update(chunk)
            file.write(chunk)
    (tmp_path / "root").mkdir()
    try:
        for served in _serve(server_tools, tmp_path, str(tmp_path / "root")):
            with httpx.Client(base_url=served.url, timeout=30) as http:  # warm the server up
                assert http.put(f"{API}/warm/x", content=b"x", headers={SHA: sha256(b"x")}).status_code == 201
                assert http.get(f"{API}/warm/x").content == b"x"
            server_before = _peak_kb(served.pid)
            work = tmp_path / "work"
            work.mkdir()
            done = subprocess.run(
                [sys.executable, "-c", MEMORY_CLIENT, served.url, str(big), str(work)],
                capture_output=True,
                text=True,
                timeout=600,
                env=server_tools.server_env(tmp_path / "client-home"),
            )
            assert done.returncode == 0, done.stderr
            server_growth_mb = (_peak_kb(served.pid) - server_before) / 1024
            result = json.loads(done.stdout)
            client_growth_mb = (max(result["uploaded"], result["downloaded"]) - result["before"]) / 1024
            print(f"peak memory growth: client {client_growth_mb:.1f} MB, server {server_growth_mb:.1f} MB")
            assert client_growth_mb < 100, result
            assert server_growth_mb < 100, (server_before, _peak_kb(served.pid))
            stored = tmp_path / "root" / result["uri"].removeprefix("loopml-artifacts:/") / "data" / "big.bin"
            assert _file_sha256(stored) == digest.hexdigest()
            assert _file_sha256(Path(result["local"])) == digest.hexdigest()
    finally:
        for path in [big, *tmp_path.rglob("big.bin")]:
            path.unlink(missing_ok=True)


# ---- models -------------------------------------------------------------------------------------


def test_log_model_and_load_it_by_alias_over_http(
    loopml_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    monkeypatch.setenv("LOOPML_TRACKING_URI", loopml_server)
    frame = pd.DataFrame({"x1": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "x2": [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]})
    labels = [0, 0, 0, 1, 1, 1]
    model = LogisticRegression().fit(frame, labels)
    name = f"churn-{uuid.uuid4().hex[:8]}"
    loopml.set_experiment(f"models-{uuid.uuid4().hex[:8]}")
    with loopml.start_run() as run:
        info = loopml.log_model(model, "model", input_example=frame.head(2), registered_model_name=name)
    assert run.info.artifact_uri.startswith("loopml-artifacts:/")
    version = info.registered_model_version.version
    with closing(Client()) as client:
        client.set_registered_model_alias(name, "champion", version)

    loaded = loopml.load_model(f"models:/{name}@champion")
    assert list(loaded.predict(frame)) == list(model.predict(frame))
    by_run = loopml.load_model(info.model_uri)
    assert list(by_run.predict(frame)) == list(model.predict(frame))
    assert not (Path(os.environ["LOOPML_HOME"]) / "artifacts").exists()
    store = ArtifactStore(run.info.artifact_uri, {"tracking_uri": loopml_server})
    assert store.exists("model/loopml-model.yaml")
