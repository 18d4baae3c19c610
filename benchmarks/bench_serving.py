#!/usr/bin/env python3
"""Serving benchmark: ``loopml serve`` and ``loopml batch`` against their peers, in the same run.

One scikit-learn model, Pipeline(StandardScaler, LogisticRegression) fitted on the breast-cancer
data (30 numeric features, deterministic fit), served by (see README.md):

  loopml               ``loopml serve models:/bc_model@champion`` (loopml's defaults), MLflow's
                       ``dataframe_split`` payload to POST /invocations; also its native
                       ``{"columns", "data"}`` body to POST /predict (native_c1, native_c32).
  mlflow               ``mlflow models serve -m models:/bc_model@champion --env-manager local``.
  bentoml              ``bentoml serve``: a DataFrame input (records), BentoML's defaults.
  bentoml_nd           the same with an ndarray input.
  bentoml_nd_batching  bentoml_nd with adaptive batching (``@bentoml.api(batchable=True)``).
  fastapi              the bare hand-written FastAPI app under plain ``uvicorn app:app``.
  fastapi_loopml_venv  the same app in loopml's venv (its scikit-learn, pandas, pyarrow, ...) on
                       loopml's own pipeline.joblib, at concurrency 1 only: what start-up and idle
                       memory cost with loopml's dependencies installed, loopml aside.

Per repeat, each system in turn (interleaved): start command to the first 200 on a one-row
prediction; 2 s later the RSS/PSS of its process tree; then wrk (one thread per connection,
latencies timed per request by Lua hooks) with single-row requests at concurrency 1 and 32 and
100-row requests at concurrency 4, each after a warm-up; predictions and bad requests checked.
Then batch scoring of a generated CSV (``--batch-rows`` rows, 30 features + ``id``) to Parquet:
``loopml batch models:/bc_model@champion`` against a plain pandas ``read_csv(chunksize=...)`` +
``predict`` + ``ParquetWriter`` loop, rows/s and sampled peak RSS, at all rows and at 1/10.

Prints one JSON object on stdout (progress on stderr): every system's figures, the ratios to
loopml's and a pass/fail per target. Needs wrk (``apt-get install -y wrk``). Usage::

  .venv/bin/python benchmarks/bench_serving.py --install-peers --repeats 3    # full run (~40 min)
  .venv/bin/python benchmarks/bench_serving.py --repeats 1 --duration 3 --warmup 1 \\
      --batch-rows 200000                                                      # smoke run (~4 min)
  .venv/bin/python benchmarks/bench_serving.py --no-peers                      # loopml only
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _batch_workloads as bw
import _common as c
import _harness as h
import _proctree as pt
import _serving_workloads as sw
from _common import pc
from _harness import get
from peers import serving_peers
from peers import venv as peer_venv

WHO = "bench_serving"
HERE = Path(__file__).resolve().parent
MARKER = ".bench_serving"
PHASES = ("prepare", "data", "pandas", "check")
PEERS: dict[str, Callable[..., peer_venv.PeerEnv]] = {
    "mlflow": peer_venv.mlflow_python,
    "bentoml": peer_venv.bentoml_python,
    "fastapi": peer_venv.fastapi_python,
}
LOOPML_HISTOGRAM = "loopml_serving_batch_rows"
BENTOML_HISTOGRAM = "bentoml_service_adaptive_batch_size"
# the servers run without phoning home (no network here), as the reference run did
NO_TELEMETRY = {"DO_NOT_TRACK": "true", "BENTOML_DO_NOT_TRACK": "true", "MLFLOW_DISABLE_TELEMETRY": "true"}
BATCH_ROWS = 10_000_000
DISK_SHARE = 0.5  # the batch files may take at most this share of the free disk
IDLE_S = 2.0
START_TIMEOUT_S = 180.0


# ----------------------------------------------------------------------------------------
# The systems and their load tests.
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Test:
    """One wrk load: name, connections, body (``single`` or ``batch100``), its format and path."""

    name: str
    concurrency: int
    kind: str
    fmt: str
    path: str


def load_tests(
    fmt: str, path: str, names: tuple[str, ...] = ("c1", "c32", "batch100_c4"), prefix: str = ""
) -> tuple[Test, ...]:
    """The standard tests (single row at 1 and 32 connections, 100 rows at 4) in ``fmt``."""
    spec = {"c1": (1, "single"), "c32": (32, "single"), "batch100_c4": (4, "batch100")}
    return tuple(Test(prefix + n, spec[n][0], spec[n][1], fmt, path) for n in names)


@dataclass(frozen=True)
class System:
    """A server under test: whose venv, its probe/check format and path, its tests, and the
    Prometheus histogram of its batch sizes (if it batches)."""

    venv: str
    fmt: str
    path: str
    tests: tuple[Test, ...]
    histogram: str | None = None
    folder: str = ""  # BentoML: the service folder


SINGLE = ("c1", "c32")
SYSTEMS: dict[str, System] = {
    "loopml": System(
        "loopml",
        "split",
        "/invocations",
        load_tests("split", "/invocations") + load_tests("native", "/predict", SINGLE, "native_"),
        LOOPML_HISTOGRAM,
    ),
    "mlflow": System("mlflow", "split", "/invocations", load_tests("split", "/invocations")),
    "bentoml": System("bentoml", "records", "/predict", load_tests("records", "/predict"), folder="bento_df"),
    "bentoml_nd": System(
        "bentoml", "nd", "/predict", load_tests("nd", "/predict", SINGLE), folder="bento_nd"
    ),
    "bentoml_nd_batching": System(
        "bentoml",
        "nd",
        "/predict",
        load_tests("nd", "/predict", SINGLE),
        BENTOML_HISTOGRAM,
        "bento_nd_batching",
    ),
    "fastapi": System("fastapi", "split", "/invocations", load_tests("split", "/invocations")),
    "fastapi_loopml_venv": System(
        "loopml", "split", "/invocations", load_tests("split", "/invocations", ("c1",)), folder="fastapi_app"
    ),
}


@dataclass
class Bench:
    """What every measurement needs: the flags, the work dir, the peers and the payloads."""

    args: argparse.Namespace
    root: Path
    peers: dict[str, peer_venv.PeerEnv | None]
    bodies: dict[str, dict[str, bytes]] = field(default_factory=dict)
    expected: list[int] = field(default_factory=list)
    features: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)  # batch scoring: rows of "full", "tenth"
    unavailable: dict[str, str] = field(default_factory=dict)  # result key -> why it cannot run

    def bin(self, venv: str, exe: str) -> Path:
        """An executable of a venv (loopml's: this interpreter's)."""
        if venv == "loopml":
            return Path(sys.executable).parent / exe
        peer = self.peers[venv]
        assert peer is not None and peer.python is not None
        return peer.python.parent / exe

    def env(self, venv: str, **extra: str) -> dict[str, str]:
        """A clean environment with the venv's bin first on PATH (servers start tools from it)."""
        env = h.clean_env() | NO_TELEMETRY | {"PYTHONUNBUFFERED": "1"} | extra
        env.pop("VIRTUAL_ENV", None)
        env.pop("PYTHONPATH", None)
        env["PATH"] = f"{self.bin(venv, '')}{os.pathsep}{env.get('PATH', '')}"
        return env


def server_command(b: Bench, name: str) -> tuple[list[str], dict[str, str], Path]:
    """The command (``{port}`` to fill in), environment and cwd of system ``name``."""
    s, where = SYSTEMS[name], ["--host", "127.0.0.1", "--port", "{port}"]
    if s.folder == "fastapi_app":  # the bare app in loopml's venv, on loopml's pipeline.joblib
        d = b.root / "loopml"
        cmd = [str(b.bin("loopml", "uvicorn")), "app:app", *where, "--app-dir", str(d / s.folder)]
        return cmd, b.env("loopml", BC_MODEL_PATH=str(d / "pipeline.joblib")), d
    if s.venv == "loopml":
        cmd = [str(b.bin("loopml", "loopml")), "serve", sw.MODEL_URI, *where]
        return cmd, b.env("loopml", LOOPML_HOME=str(b.root / "loopml")), b.root / "loopml"
    d = b.root / s.venv
    if s.venv == "mlflow":
        cmd = [
            str(b.bin("mlflow", "mlflow")),
            "models",
            "serve",
            "-m",
            sw.MODEL_URI,
            "--env-manager",
            "local",
        ]
        cmd += ["-h", "127.0.0.1", "-p", "{port}"]
        return cmd, b.env("mlflow", MLFLOW_TRACKING_URI=mlflow_uri(b)), d
    if s.venv == "bentoml":
        cmd = [str(b.bin("bentoml", "bentoml")), "serve", "service:BreastCancer", *where]
        env = b.env("bentoml", BENTOML_HOME=str(d / "home"))
        return [*cmd, "--working-dir", str(d / s.folder)], env, d / s.folder
    cmd = [str(b.bin("fastapi", "uvicorn")), "app:app", *where, "--app-dir", str(d)]
    return cmd, b.env("fastapi", BC_MODEL_PATH=str(d / "model.joblib")), d


def mlflow_uri(b: Bench) -> str:
    return f"sqlite:///{b.root / 'mlflow' / 'mlflow.db'}"


# ----------------------------------------------------------------------------------------
# The loopml worker (``--_worker --phase ...``, loopml's venv): the model, the CSV, the pandas
# loop, the check of the batch outputs.
# ----------------------------------------------------------------------------------------


def prepare_loopml(workdir: Path) -> dict[str, Any]:
    """Log the pipeline to loopml (``LOOPML_HOME`` set by the harness), register it as
    ``bc_model``, alias ``champion``; dump it with joblib for the pandas loop."""
    import joblib

    import loopml

    X, _, pipe = sw.train()
    with loopml.start_run():
        info = loopml.log_model(pipe, "model", input_example=X.head(), registered_model_name=sw.MODEL_NAME)
    version = info.registered_model_version.version
    loopml.Client().set_registered_model_alias(sw.MODEL_NAME, sw.ALIAS, version)
    joblib.dump(pipe, workdir / "pipeline.joblib")
    res = {"version": version, "model_uri": info.model_uri, "tool_version": loopml.__version__}
    packages = ("scikit-learn", "pandas", "numpy", "pyarrow", "uvicorn", "fastapi", "uvloop", "httptools")
    return res | {"versions": sw.package_versions(packages), "sample": sw.sample(X, pipe)}


def worker_main(phase: str, workdir: Path, params_json: str | None) -> None:
    p = json.loads(params_json or "{}")
    workdir.mkdir(parents=True, exist_ok=True)
    os.chdir(workdir)
    if phase == "prepare":
        res = prepare_loopml(workdir)
    elif phase == "data":
        res = bw.write_csv(Path(p["path"]), p["rows"], c.SEED)
    elif phase == "pandas":
        res = bw.pandas_batch(Path(p["model"]), Path(p["input"]), Path(p["output"]), p["chunk_size"])
    else:
        outputs = {tool: Path(path) for tool, path in p["outputs"].items()}
        res = bw.check_outputs(p["rows"], outputs, p["features"])
    c.emit(res)


def worker_cmd(phase: str, workdir: Path, params: dict[str, Any]) -> list[str]:
    """The loopml worker's command for ``phase``, its parameters as JSON."""
    cmd = [sys.executable, str(HERE / "bench_serving.py"), "--_worker", "--phase", phase]
    return [*cmd, "--workdir", str(workdir), "--sizes", json.dumps(params)]


# ----------------------------------------------------------------------------------------
# Preparation: the models, the payloads, the Lua script, the CSV files.
# ----------------------------------------------------------------------------------------


def prepare(b: Bench, names: list[str]) -> dict[str, Any]:
    """The model of loopml and of the peers of ``names`` (a failed peer drops its systems), then
    the bodies and the Lua script."""
    d = b.root / "loopml"
    d.mkdir()
    c.log(WHO, "loopml: training, logging and registering the model")
    env = b.env("loopml", LOOPML_HOME=str(d))
    out: dict[str, Any] = {"loopml": h.run_worker("loopml prepare", worker_cmd("prepare", d, {}), d, env)}
    if "error" in out["loopml"]:
        raise SystemExit(f"loopml's model could not be prepared: {out['loopml']['error']}")
    sample = out["loopml"].pop("sample")
    b.features, b.expected = sample["columns"], sample["predictions"]
    for venv in [v for v in PEERS if any(SYSTEMS[n].venv == v for n in names)]:
        out[venv] = prepare_peer(b, venv)
    if "fastapi_loopml_venv" in names:
        (d / "fastapi_app").mkdir()
        (d / "fastapi_app" / "app.py").write_text(serving_peers.FASTAPI_APP)
    b.bodies = sw.write_bodies(b.root / "bodies", sample["columns"], sample["rows"])
    (b.root / "req.lua").write_text(sw.WRK_LUA)
    return out


def prepare_peer(b: Bench, venv: str) -> dict[str, Any]:
    d = b.root / venv
    d.mkdir()
    c.log(WHO, f"{venv}: training and storing the model")
    extra = {"mlflow": {"MLFLOW_TRACKING_URI": mlflow_uri(b)}, "bentoml": {"BENTOML_HOME": str(d / "home")}}
    cmd = [str(b.bin(venv, "python")), str(HERE / "peers" / "serving_peers.py"), venv, "--workdir", str(d)]
    res = h.run_worker(f"{venv} prepare", cmd, d, b.env(venv, **extra.get(venv, {})))
    if "error" in res:
        for name, s in SYSTEMS.items():
            if s.venv == venv:
                b.unavailable[name] = res["error"]
    return res


def command_missing(b: Bench, sub: str) -> str | None:
    """Why ``loopml SUB`` cannot run (None when ``loopml SUB --help`` works)."""
    cmd = [str(b.bin("loopml", "loopml")), sub, "--help"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=b.env("loopml"), check=False)
    if proc.returncode == 0:
        return None
    said = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return f"`loopml {sub}` is not available in this loopml (`loopml {sub} --help`: {said})"


def batch_rows(args: argparse.Namespace, root: Path) -> tuple[int, str | None]:
    """The CSV's rows: ``--batch-rows``, scaled down (with a note) when the disk is short."""
    free = shutil.disk_usage(root).free
    budget = int(DISK_SHARE * free / (1.1 * bw.BYTES_PER_ROW))
    if args.batch_rows <= budget:
        return args.batch_rows, None
    note = f"--batch-rows {args.batch_rows} scaled down to {budget}: {free / 1e9:.1f} GB free on {root}"
    return budget, note


def write_inputs(b: Bench, rows: int) -> dict[str, Any]:
    """The input CSV of ``rows`` rows and the one of ``rows // 10`` (memory at 1/10 of the rows)."""
    d = b.root / "batch"
    d.mkdir(exist_ok=True)
    out: dict[str, Any] = {}
    for size, n in (("full", rows), ("tenth", max(1, rows // 10))):
        c.log(WHO, f"writing the {size} input CSV ({n} rows)")
        params = {"path": str(d / f"input_{size}.csv"), "rows": n}
        out[size] = h.run_worker(f"CSV {size}", worker_cmd("data", d, params), d, b.env("loopml"))
    return out


# ----------------------------------------------------------------------------------------
# One system in one repeat: start, idle, the load tests, the checks, stop.
# ----------------------------------------------------------------------------------------


def run_system(b: Bench, name: str, rep: int) -> dict[str, Any]:
    if name in b.unavailable:
        return {"error": f"{name}: {b.unavailable[name]}"}
    s = SYSTEMS[name]
    cmd, env, cwd = server_command(b, name)
    c.log(WHO, f"r{rep} {name}: starting")
    probe, log = (s.path, b.bodies[s.fmt]["single"]), b.root / "logs" / f"{name}_r{rep}.log"
    try:
        starts = [start_only(b, name, rep, k, probe) for k in range(b.args.start_repeats - 1)]
        server = sw.start_server(cmd, env, cwd, log, probe, START_TIMEOUT_S)
    except RuntimeError as e:
        return {"error": f"{name}: {e}"}
    starts.append((server.ready_s, pt.tree_cpu_s(server.proc.pid)))
    res: dict[str, Any] = {
        "ready_s": statistics.median(ready for ready, _ in starts),
        "start_cpu_s": statistics.median(cpu for _, cpu in starts),
        "ready_s_samples": [ready for ready, _ in starts],
        "first_response": server.first_response,
    }
    try:
        res |= idle(server)
        rss = res["idle_memory"]["rss_mb"]
        took = ", ".join(f"{ready:.2f}" for ready, _ in starts)
        c.log(WHO, f"r{rep} {name}: ready in {took} s, idle RSS {rss:.0f} MB")
        for test in s.tests:
            res[test.name] = load_test(b, server, test, s.histogram)
            sw.log_line(WHO, name, test.name, res[test.name])
        after = pt.tree_memory(server.proc.pid)
        res["memory_after_load"] = {k: v for k, v in after.items() if k != "cmdlines"}
        res["check"] = check(b, server, s)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        res["error"] = f"{name}: {e!r}"
    finally:
        res["leftover_pids_killed"] = sw.stop_server(server)
    return res


def start_only(b: Bench, name: str, rep: int, k: int, probe: tuple[str, bytes]) -> tuple[float, float]:
    """One more cold start of ``name`` (``--start-repeats``): seconds from ``Popen`` to the first
    prediction and the CPU seconds its process tree used by then; then it is stopped."""
    cmd, env, cwd = server_command(b, name)
    log = b.root / "logs" / f"{name}_r{rep}_start{k}.log"
    server = sw.start_server(cmd, env, cwd, log, probe, START_TIMEOUT_S)
    try:
        return server.ready_s, pt.tree_cpu_s(server.proc.pid)
    finally:
        sw.stop_server(server)


def idle(server: sw.Server) -> dict[str, Any]:
    """Memory of the process tree ``IDLE_S`` after the first prediction, and CPU used meanwhile."""
    cpu0 = pt.tree_cpu_s(server.proc.pid)
    time.sleep(IDLE_S)
    cpu = (pt.tree_cpu_s(server.proc.pid) - cpu0) / IDLE_S
    return {"idle_cpu_cores": cpu, "idle_memory": pt.tree_memory(server.proc.pid)}


def load_test(b: Bench, server: sw.Server, test: Test, hist: str | None) -> dict[str, Any]:
    """Warm-up, then the measured wrk run (with the mean batch size from ``hist``, if any)."""
    rows = sw.BODY_ROWS if test.kind == "batch100" else 1
    body = b.root / "bodies" / f"{test.fmt}_{test.kind}.json"

    def wrk(seconds: int) -> dict[str, Any]:
        load = sw.Load(server.port, test.path, body, test.concurrency, seconds, rows)
        return sw.run_wrk(load, b.root / "req.lua", server.proc.pid)

    if b.args.warmup > 0:
        wrk(b.args.warmup)
    before = sw.histogram(server.port, hist) if hist else None
    res = wrk(b.args.duration)
    return res | (sw.mean_batch(before, sw.histogram(server.port, hist)) if hist else {})


def check(b: Bench, server: sw.Server, s: System) -> dict[str, Any]:
    """The 100-row predictions against the pipeline's, and the bad requests: all must be 4xx."""
    bodies = b.bodies[s.fmt]
    status, text = sw.post(server.port, s.path, bodies["batch100"])
    preds = sw.predictions_of(text) if status == 200 else None
    bad: dict[str, dict[str, Any]] = {}
    for kind in sw.BAD_REQUESTS:
        st, txt = sw.post(server.port, s.path, bodies[kind])
        bad[kind] = {"status": st, "body": txt[:300]}
    rejected = all(400 <= v["status"] < 500 for v in bad.values())
    predictions_ok = preds == b.expected
    return {
        "predictions_ok": predictions_ok,
        "batch100_status": status,
        "bad_requests_rejected": rejected,
        "bad_requests": bad,
        "ok": predictions_ok and rejected,
    }


# ----------------------------------------------------------------------------------------
# Batch scoring in one repeat: the pandas loop, then ``loopml batch`` and the outputs' check.
# ----------------------------------------------------------------------------------------


def output_path(b: Bench, tool: str, size: str, rep: int) -> Path:
    """Where ``tool`` writes its Parquet output: a folder per repeat, so no run meets an old file."""
    return b.root / "batch" / f"r{rep}" / f"{tool}_{size}.parquet"


def batch_command(b: Bench, tool: str, size: str, rep: int) -> list[str]:
    d = b.root / "batch"
    src, dst = str(d / f"input_{size}.csv"), str(output_path(b, tool, size, rep))
    if tool == "loopml":
        args = ["--input", src, "--output", dst, "--id-column", bw.ID, "--json"]
        return [str(b.bin("loopml", "loopml")), "batch", sw.MODEL_URI, *args]
    params = {"model": str(b.root / "loopml" / "pipeline.joblib"), "input": src, "output": dst}
    return worker_cmd("pandas", d, params | {"chunk_size": b.args.chunk_size})


def run_batch_once(b: Bench, tool: str, size: str, rep: int) -> dict[str, Any]:
    """One batch run, its process tree's RSS sampled; the last stdout line if it is JSON."""
    d = b.root / "batch"
    output_path(b, tool, size, rep).parent.mkdir(exist_ok=True)
    env = b.env("loopml", LOOPML_HOME=str(b.root / "loopml"))
    stem = b.root / "logs" / f"batch_{tool}_{size}_r{rep}"
    out_path, log_path = stem.with_suffix(".out"), stem.with_suffix(".log")
    with out_path.open("wb") as out, log_path.open("wb") as log:
        res = sw.run_sampled(batch_command(b, tool, size, rep), env, d, out, log)
    lines = out_path.read_text(errors="replace").strip().splitlines()
    try:
        res["result"] = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        res["stdout_tail"] = lines[-1][:300]
    if res["returncode"] != 0:
        res["error"] = f"batch {tool} {size} failed (rc={res['returncode']}):\n{sw.log_tail(log_path)}"
    return res


def run_batch(b: Bench, key: str, rep: int) -> dict[str, Any]:
    """``batch_<tool>`` on all rows and on 1/10 of them; for loopml also the check of its output
    against the pandas loop's (which runs first in each repeat)."""
    if key in b.unavailable:
        return {"error": f"{key}: {b.unavailable[key]}"}
    tool = key.removeprefix("batch_")
    res: dict[str, Any] = {}
    for size in ("full", "tenth"):
        c.log(WHO, f"r{rep} batch {tool} {size}: {b.rows[size]} rows")
        run = res[size] = run_batch_once(b, tool, size, rep)
        if "error" in run:
            return {"error": run["error"], **res}
        c.log(
            WHO,
            f"r{rep} batch {tool} {size}: {run['wall_s']:.1f} s, peak RSS {run['peak_rss_mb'] or 0:.0f} MB",
        )
    res["rows_per_s"] = b.rows["full"] / res["full"]["wall_s"]
    res["memory_growth"] = h.ratio(res["full"]["peak_rss_mb"], res["tenth"]["peak_rss_mb"])
    if tool == "loopml":
        res["check"] = check_batch(b, rep)
    return res


def check_batch(b: Bench, rep: int) -> dict[str, Any]:
    """``loopml batch``'s output of this repeat against the pandas loop's (``_batch_workloads``)."""
    d = b.root / "batch"
    outputs = {tool: str(output_path(b, tool, "full", rep)) for tool in ("loopml", "pandas")}
    params = {"rows": b.rows["full"], "outputs": outputs, "features": b.features}
    return h.run_worker("batch check", worker_cmd("check", d, params), d, b.env("loopml"))


def run_one(b: Bench, key: str, rep: int) -> dict[str, Any]:
    """One result key in one repeat: a server (``loopml``, ``mlflow``, ...) or a batch tool
    (``batch_pandas``, ``batch_loopml``)."""
    res = run_batch(b, key, rep) if key.startswith("batch_") else run_system(b, key, rep)
    if "error" in res:
        c.log(WHO, f"r{rep} {key} FAILED: {res['error']}")
    return res


# ----------------------------------------------------------------------------------------
# Report: medians over repeats, ratios to loopml, targets.
# ----------------------------------------------------------------------------------------

WRONG_SERVING = (
    "loopml serve: wrong predictions, a bad request accepted or failed requests (see workloads.checks)"
)
WRONG_BATCH = "loopml batch's output is not right (see workloads.batch_scoring.check)"
SERVERS_NOTE = (
    "127.0.0.1, a free port, started in a session of their own and stopped by signalling their process"
    " group; a clean environment with " + ", ".join(f"{k}={v}" for k, v in NO_TELEMETRY.items())
)
TEST_KEYS = ("p50_ms", "p90_ms", "p99_ms", "req_per_s", "rows_per_s", "errors", "cpu_server_cores")
MEMORY_GROWTH_MAX = 1.25


def compare(merged: dict[str, Any], names: list[str], *path: str) -> dict[str, Any]:
    """The figure at ``path`` of every system, and ``loopml_over_<system>``: loopml's / theirs."""
    values = {n: get(merged.get(n), *path) for n in names}
    ratios = {
        f"loopml_over_{n}": h.ratio(values.get("loopml"), v) for n, v in values.items() if n != "loopml"
    }
    return values | ratios


def figures_of_test(merged: dict[str, Any], names: list[str], test: str) -> dict[str, Any]:
    """A load test's figures side by side, and the mean batch size of the batching systems."""
    ran = [n for n in names if any(t.name == test for t in SYSTEMS[n].tests)]
    out = {key: compare(merged, ran, test, key) for key in TEST_KEYS}
    batching = [n for n in ran if SYSTEMS[n].histogram]
    return out | {"mean_batch_size": {n: get(merged.get(n), test, "mean_batch_size") for n in batching}}


def native_figures(lm: Any) -> dict[str, Any]:
    """loopml's native ``/predict`` body, reported beside its ``/invocations`` figures."""
    keys = (*TEST_KEYS, "mean_batch_size")
    return {t: {k: get(lm, f"native_{t}", k) for k in keys} for t in SINGLE}


def batch_figures(b: Bench, merged: dict[str, Any]) -> dict[str, Any]:
    """Batch scoring: rows/s, peak RSS at all rows and at 1/10, memory growth, the check, and
    every figure of both tools' runs (``loopml batch --json``'s summary in ``result``)."""
    lm, pd_ = merged.get("batch_loopml"), merged.get("batch_pandas")

    def both(*path: str) -> dict[str, Any]:
        return {"loopml": get(lm, *path), "pandas": get(pd_, *path)}

    growth = both("memory_growth")
    return {
        "rows": b.rows,
        "rows_per_s": both("rows_per_s")
        | {"loopml_over_pandas": h.ratio(get(lm, "rows_per_s"), get(pd_, "rows_per_s"))},
        "wall_s": both("full", "wall_s"),
        "peak_rss_mb": both("full", "peak_rss_mb"),
        "peak_rss_mb_at_tenth_rows": both("tenth", "peak_rss_mb"),
        "memory_growth": growth,
        "memory_constant": {
            t: g <= MEMORY_GROWTH_MAX if isinstance(g, float) else None for t, g in growth.items()
        },
        "rss_mb_by_tenth_of_run": both("full", "rss_mb_by_tenth_of_run"),
        "check": get(lm, "check"),
        "runs": {"loopml": lm, "pandas": pd_},
    }


def workload_figures(b: Bench, merged: dict[str, Any], names: list[str]) -> dict[str, Any]:
    return {
        "start_to_first_prediction_s": compare(merged, names, "ready_s"),
        "start_cpu_s": compare(merged, names, "start_cpu_s"),
        "idle_memory": {
            "rss_mb": compare(merged, names, "idle_memory", "rss_mb"),
            "pss_mb": compare(merged, names, "idle_memory", "pss_mb"),
            "processes": {n: get(merged.get(n), "idle_memory", "processes") for n in names},
            "rss_mb_after_load": {n: get(merged.get(n), "memory_after_load", "rss_mb") for n in names},
        },
        **{test: figures_of_test(merged, names, test) for test in ("c1", "c32", "batch100_c4")},
        "loopml_native_predict": native_figures(merged.get("loopml")),
        "batch_scoring": batch_figures(b, merged),
        "checks": {n: get(merged.get(n), "check") for n in names},
        "systems": {n: merged.get(n) for n in names},
    }


# name, what, kind, threshold, figure path (kinds: see _harness.MEETS)
TARGETS: tuple[h.Target, ...] = (
    (
        "c1_p50",
        "single-row requests at concurrency 1: loopml's p50 (validation included) at most 1.25x the"
        " bare FastAPI app's (value: loopml's p50 / FastAPI's)",
        "at_most",
        1.25,
        ("c1", "p50_ms", "loopml_over_fastapi"),
    ),
    (
        "c32_vs_mlflow",
        "single-row requests at concurrency 32: loopml's throughput at least 8x MLflow's scoring server's",
        "ratio",
        8.0,
        ("c32", "req_per_s", "loopml_over_mlflow"),
    ),
    (
        "c32_vs_bentoml_batching",
        "single-row requests at concurrency 32: loopml's throughput at least 1.5x BentoML's with"
        " adaptive batching on",
        "ratio",
        1.5,
        ("c32", "req_per_s", "loopml_over_bentoml_nd_batching"),
    ),
    (
        "batch100_c4",
        "100-row requests at concurrency 4: loopml's rows/s at least the bare FastAPI app's",
        "ratio",
        1.0,
        ("batch100_c4", "rows_per_s", "loopml_over_fastapi"),
    ),
    (
        "start_to_first_prediction",
        "loopml serve: command start to first prediction under 2 s",
        "under",
        2.0,
        ("start_to_first_prediction_s", "loopml"),
    ),
    (
        "idle_memory",
        "loopml serve: idle memory (RSS of the process tree, 2 s after the first prediction) under 200 MB",
        "under",
        200.0,
        ("idle_memory", "rss_mb", "loopml"),
    ),
    (
        "batch_rows_per_s",
        "batch scoring CSV -> Parquet: loopml batch's rows/s at least the plain pandas loop's",
        "ratio",
        1.0,
        ("batch_scoring", "rows_per_s", "loopml_over_pandas"),
    ),
    (
        "batch_memory_constant",
        "batch scoring: loopml batch's peak RSS at all rows at most 1.25x its peak at 1/10 of the rows",
        "at_most",
        MEMORY_GROWTH_MAX,
        ("batch_scoring", "memory_growth", "loopml"),
    ),
)


def serving_ok(res: dict[str, Any] | None, test: str | None) -> bool | None:
    """Right predictions, bad requests rejected with a 4xx, and no failed request in ``test``."""
    if res is None or "error" in res:
        return None
    return get(res, "check", "ok") is True and (test is None or get(res, test, "errors") == 0)


def batch_ok(res: dict[str, Any] | None) -> bool | None:
    """Every row scored, ids in order, the pandas loop's predictions."""
    if res is None or "error" in res:
        return None
    return get(res, "check", "ok") is True


def evaluate(target: h.Target, w: dict[str, Any], merged: dict[str, Any], scale: float) -> dict[str, Any]:
    """A target's verdict; it passes only when loopml's checks (and for a ratio, the peer's) do."""
    path = target[4]
    if path[0] == "batch_scoring":
        ok = {"loopml": batch_ok(merged.get("batch_loopml"))}
        return h.judge(target, get(w, *path), ok, WRONG_BATCH, scale)
    test = path[0] if path[0] in ("c1", "c32", "batch100_c4") else None
    ok = {"loopml": serving_ok(merged.get("loopml"), test)}
    if path[-1].startswith("loopml_over_"):
        peer = path[-1].removeprefix("loopml_over_")
        ok[peer] = serving_ok(merged.get(peer), test)
    return h.judge(target, get(w, *path), ok, WRONG_SERVING)


def build_report(b: Bench, results: h.Results, names: list[str]) -> dict[str, Any]:
    merged = h.merge_tools(results)
    w = workload_figures(b, merged, names)
    scale = b.rows.get("full", BATCH_ROWS) / BATCH_ROWS
    targets = [evaluate(t, w, merged, scale) for t in TARGETS]
    return h.report_body(targets, {"workloads": w}, results, b.args.repeats)


def make_meta(b: Bench, names: list[str], prep: dict[str, Any], batch: dict[str, Any]) -> dict[str, Any]:
    """``meta`` after its common head: settings, commands, how it measures, models, peers, batch."""
    commands = {n: " ".join(server_command(b, n)[0]) for n in names}
    return {
        "repeats": b.args.repeats,
        "start_repeats": b.args.start_repeats,
        "duration_s": b.args.duration,
        "warmup_s": b.args.warmup,
        "systems": names,
        "workdir": str(b.args.workdir),
        "commands": commands,
        "wrk": sw.wrk_version(),
        "servers": SERVERS_NOTE,
        "latencies": "per request, timed by wrk's Lua hooks (one connection per wrk thread, closed loop);"
        " wrk's coordinated-omission-corrected figures are wrk_co_*; req_per_s counts the 2xx/3xx answers",
        "ratios": "loopml_over_<system> = loopml's figure / the system's: above 1 means loopml is faster for"
        " throughputs (req_per_s, rows_per_s), slower for times (ms, s), bigger for memory",
        "unavailable": b.unavailable,
        "loopml": prep["loopml"],
        "peers": {v: h.peer_status(peer, prepare=prep.get(v)) for v, peer in b.peers.items()},
        "batch": batch,
    }


# ----------------------------------------------------------------------------------------
# The command line.
# ----------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    ap = h.new_parser(__doc__)
    h.add_repeats_flag(ap, "fresh-server")
    ap.add_argument("--duration", type=int, default=20, help="seconds of each measured wrk run (default 20)")
    ap.add_argument("--warmup", type=int, default=3, help="seconds of wrk warm-up before each (default 3)")
    ap.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma-separated, of {','.join(SYSTEMS)}")
    ap.add_argument(
        "--batch-rows", type=int, default=BATCH_ROWS, help="rows of the batch-scoring CSV (default 10M)"
    )
    ap.add_argument("--chunk-size", type=int, default=100_000, help="the pandas loop's read_csv chunksize")
    ap.add_argument(
        "--start-repeats",
        type=int,
        default=3,
        help="cold starts per system and repeat, the start figure their median (default 3)",
    )
    h.add_peer_flags(ap, "MLflow, BentoML, FastAPI")
    h.add_run_flags(ap, PHASES)
    args = ap.parse_args()
    if args.start_repeats < 1:
        ap.error(f"--start-repeats must be at least 1, got {args.start_repeats}")
    unknown = set(args.systems.split(",")) - set(SYSTEMS)
    if unknown:
        ap.error(f"unknown systems {sorted(unknown)}; choose among {', '.join(SYSTEMS)}")
    return args


def systems_to_run(args: argparse.Namespace, peers: dict[str, peer_venv.PeerEnv | None]) -> list[str]:
    """The systems asked for whose venv is usable (loopml always), in SYSTEMS order."""
    asked = set(args.systems.split(","))

    def usable(venv: str) -> bool:
        peer = peers.get(venv)
        return venv == "loopml" or (peer is not None and peer.python is not None)

    return [n for n, s in SYSTEMS.items() if n in asked and usable(s.venv)]


def setup_batch(b: Bench) -> dict[str, Any]:
    """The CSV files (rows scaled to the disk); a failure makes both batch tools unavailable."""
    rows, note = batch_rows(b.args, b.root)
    b.rows = {"full": rows, "tenth": max(1, rows // 10)}
    inputs = write_inputs(b, rows)
    failed = [r["error"] for r in inputs.values() if "error" in r]
    if failed:
        b.unavailable["batch_pandas"] = b.unavailable["batch_loopml"] = failed[0]
    out = {"rows": b.rows, "rows_asked": b.args.batch_rows, "note": note}
    return out | {"chunk_size_pandas": b.args.chunk_size, "inputs": inputs}


def setup(b: Bench, names: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The work dir, the models, what this loopml lacks, the CSV files: (models, batch) for meta."""
    h.prepare_dir(b.root, MARKER)
    (b.root / "logs").mkdir()
    prep = prepare(b, names)
    for sub, key in (("serve", "loopml"), ("batch", "batch_loopml")):
        why = command_missing(b, sub)
        if why:
            b.unavailable[key] = why
            c.log(WHO, why)
    return prep, setup_batch(b)


def main() -> int:
    args = parse_args()
    if args._worker:
        worker_main(args.phase, args.workdir, args.sizes)
        return 0
    missing = sw.wrk_missing()
    if missing:
        sys.exit(f"bench_serving: {missing}")
    t_all = pc()
    temp = h.use_workdir(args, "loopml-bench-serving-")
    peers = {venv: h.find_peer(args, locate, WHO) for venv, locate in PEERS.items()}
    head = h.meta_head("benchmarks/bench_serving.py", h.precompile_loopml(WHO))
    b = Bench(args, args.workdir / "serving", peers)
    names = systems_to_run(args, peers)
    prep, batch = setup(b, names)
    keys = [*names, "batch_pandas", "batch_loopml"]
    results = h.run_repeats(args.repeats, keys, lambda key, rep: run_one(b, key, rep))
    meta = head | make_meta(b, names, prep, batch)
    return h.finish({"meta": meta, **build_report(b, results, names)}, args, temp, t_all)


if __name__ == "__main__":
    sys.exit(main())
