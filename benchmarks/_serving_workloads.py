"""The serving workloads of ``bench_serving.py``: the model, the payloads, the servers, wrk.

Standard library only at import time: ``peers/serving_peers.py`` imports it from the peers'
venvs (MLflow, BentoML, bare FastAPI) to train the very same model; scikit-learn is imported
inside :func:`train` only. What is here:

- the model: Pipeline(StandardScaler, LogisticRegression) fitted on scikit-learn's breast-cancer
  data (30 numeric features, deterministic fit), and the 100 rows every request is made of;
- the payloads: one and 100 rows in each system's format, and three bad requests;
- the servers: started in a session of their own, timed from the command to the first 200 on a
  one-row prediction, measured over their whole process tree (RSS, PSS, CPU, from /proc), and
  stopped by signalling their process group;
- wrk: closed-loop load with one connection per wrk thread; each request is timed by the Lua
  hooks (CLOCK_MONOTONIC from ``request()`` to ``response()``), what each client saw. wrk's own
  latency statistics apply a coordinated-omission correction (``stats_correct()`` adds
  synthetic samples), so they are kept as ``wrk_co_*`` for reference only;
- a process run with its tree's RSS sampled (batch scoring).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import _common as c
from _common import pc
from _proctree import CLK_TCK, stat_fields, tree_cpu_s, tree_pids, tree_rss_mb

MODEL_NAME = "bc_model"
ALIAS = "champion"
MODEL_URI = f"models:/{MODEL_NAME}@{ALIAS}"
BODY_ROWS = 100  # rows of the batch100 body; the single body is the first of them
POLL_S = 0.05  # start-to-first-prediction: one POST every 50 ms


# ----------------------------------------------------------------------------------------
# The model and its data (scikit-learn imported inside: this runs in every venv).
# ----------------------------------------------------------------------------------------


def train() -> tuple[Any, Any, Any]:
    """(X, y, pipeline): StandardScaler + LogisticRegression fitted on the breast-cancer data."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    pipe = Pipeline([("scaler", StandardScaler()), ("clf", LogisticRegression(max_iter=1000))])
    return X, y, pipe.fit(X, y)


def sample(X: Any, pipe: Any) -> dict[str, Any]:
    """The columns, the first BODY_ROWS rows and the pipeline's predictions for them."""
    head = X.head(BODY_ROWS)
    return {
        "columns": list(X.columns),
        "rows": head.values.tolist(),
        "predictions": [int(p) for p in pipe.predict(head)],
    }


def package_versions(names: tuple[str, ...]) -> dict[str, str | None]:
    """The installed version of each distribution (None when absent), without importing it."""
    import importlib.metadata as md

    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


# ----------------------------------------------------------------------------------------
# Payloads: each format's one-row and 100-row bodies, and three bad requests.
# ----------------------------------------------------------------------------------------


def _split(cols: list[str], rows: list[list[Any]]) -> Any:
    return {"dataframe_split": {"columns": cols, "data": rows}}


def _native(cols: list[str], rows: list[list[Any]]) -> Any:
    return {"columns": cols, "data": rows}


def _records(cols: list[str], rows: list[list[Any]]) -> Any:
    return {"df": [dict(zip(cols, r, strict=True)) for r in rows]}


def _nd(cols: list[str], rows: list[list[Any]]) -> Any:
    return {"arr": rows}


# format -> body builder: MLflow's dataframe_split (MLflow, bare FastAPI, loopml /invocations),
# loopml's native /predict body, BentoML's DataFrame records and its ndarray
FORMATS = {"split": _split, "native": _native, "records": _records, "nd": _nd}
BAD_REQUESTS = ("missing_column", "wrong_type", "not_json")


def bodies(fmt: str, cols: list[str], rows: list[list[Any]]) -> dict[str, bytes]:
    """The ``single`` and ``batch100`` bodies of ``fmt`` and its bad requests (first column
    missing, a string in the first column, a body that is not JSON)."""
    build = FORMATS[fmt]
    one = rows[:1]
    return {
        "single": json.dumps(build(cols, one)).encode(),
        "batch100": json.dumps(build(cols, rows[:BODY_ROWS])).encode(),
        "missing_column": json.dumps(build(cols[1:], [r[1:] for r in one])).encode(),
        "wrong_type": json.dumps(build(cols, [["abc", *r[1:]] for r in one])).encode(),
        "not_json": b"this is not json{",
    }


def write_bodies(directory: Path, cols: list[str], rows: list[list[Any]]) -> dict[str, dict[str, bytes]]:
    """Every format's bodies, the load-test ones also written to ``directory/<fmt>_<kind>.json``
    (what wrk sends); returns them all, by format."""
    directory.mkdir(parents=True, exist_ok=True)
    out = {fmt: bodies(fmt, cols, rows) for fmt in FORMATS}
    for fmt, kinds in out.items():
        for kind in ("single", "batch100"):
            (directory / f"{fmt}_{kind}.json").write_bytes(kinds[kind])
    return out


def predictions_of(text: str) -> list[int] | None:
    """The predictions of a response body: ``{"predictions": [...]}`` or a bare list."""
    try:
        body = json.loads(text)
    except json.JSONDecodeError:
        return None
    preds = body.get("predictions") if isinstance(body, dict) else body
    if not isinstance(preds, list):
        return None
    try:
        return [int(p) for p in preds]
    except (TypeError, ValueError):
        return None


# ----------------------------------------------------------------------------------------
# HTTP.
# ----------------------------------------------------------------------------------------


def post(port: int, path: str, body: bytes, timeout: float = 10.0) -> tuple[int, str]:
    """POST a JSON body to 127.0.0.1:port; (status, response text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def get_text(port: int, path: str, timeout: float = 5.0) -> tuple[int, str]:
    """GET 127.0.0.1:port/path; (status, response text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def histogram(port: int, name: str) -> tuple[float, float] | None:
    """(sum, count) of the Prometheus histogram ``name`` on ``/metrics``, over all its labels."""
    try:
        status, text = get_text(port, "/metrics")
    except OSError:
        return None
    if status != 200:
        return None
    total = count = 0.0
    for line in text.splitlines():
        key, _, value = line.rpartition(" ")
        metric = key.split("{", 1)[0]
        if metric == f"{name}_sum":
            total += float(value)
        elif metric == f"{name}_count":
            count += float(value)
    return total, count


def mean_batch(before: tuple[float, float] | None, after: tuple[float, float] | None) -> dict[str, Any]:
    """Mean batch size between two readings of a batch-size histogram."""
    if before is None or after is None or after[1] <= before[1]:
        return {"mean_batch_size": None, "batches": 0}
    batches = after[1] - before[1]
    return {"mean_batch_size": (after[0] - before[0]) / batches, "batches": int(batches)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# Process trees: _proctree.py.


def machine_cpu_s() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]  # user nice system irq softirq steal
    return busy / CLK_TCK, sum(v) / CLK_TCK


def _alive(pid: int) -> bool:
    try:
        return stat_fields(pid)[0] != "Z"
    except (OSError, IndexError):
        return False


# ----------------------------------------------------------------------------------------
# Servers: start to first prediction, stop.
# ----------------------------------------------------------------------------------------


@dataclass
class Server:
    """A running server: its process (leader of its own session), its port, when it answered."""

    proc: subprocess.Popen[bytes]
    port: int
    ready_s: float = 0.0
    first_response: str = ""


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start_server(
    cmd: list[str], env: dict[str, str], cwd: Path, log: Path, probe: tuple[str, bytes], timeout: float
) -> Server:
    """Start ``cmd`` (``{port}`` replaced by a free port) in a session of its own and POST
    ``probe`` (path, one-row body) every 50 ms until it answers 200: ``ready_s`` is from
    ``Popen`` to that answer."""
    port = free_port()
    cmd = [a.replace("{port}", str(port)) for a in cmd]
    with log.open("wb") as out:
        t0 = pc()
        proc = subprocess.Popen(
            cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(proc, port)
    last = ""
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"exited (rc={proc.returncode}) before its first prediction:\n{log_tail(log)}")
        if pc() - t0 > timeout:
            stop_server(server)
            raise RuntimeError(f"no prediction after {timeout:.0f} s (last answer: {last}):\n{log_tail(log)}")
        try:
            status, text = post(port, probe[0], probe[1], timeout=5)
            last = f"{status} {text[:200]}"
            if status == 200:
                server.ready_s, server.first_response = pc() - t0, text[:200]
                return server
        except OSError as e:
            last = repr(e)
        time.sleep(POLL_S)


def stop_server(server: Server) -> list[int]:
    """SIGTERM to the server's process group (pgid = its pid); wait up to 15 s for its whole
    tree (BentoML's workers sit in process groups of their own), then SIGKILL what is left, by
    pid. Returns the pids that needed SIGKILL."""
    pids = tree_pids(server.proc.pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.proc.pid, signal.SIGTERM)
    t0 = pc()
    while pc() - t0 < 15 and any(_alive(pid) for pid in pids):
        server.proc.poll()
        time.sleep(0.1)
    killed = []
    for pid in pids:
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.proc.wait(timeout=10)
    return killed


# ----------------------------------------------------------------------------------------
# wrk.
# ----------------------------------------------------------------------------------------

WRK_LUA = r"""
-- one connection per wrk thread (-tN -cN): each request timed here with CLOCK_MONOTONIC, as
-- its closed-loop client saw it (wrk's own latency statistics are coordinated-omission
-- corrected: stats_correct() adds synthetic samples).
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } benchts;
int clock_gettime(int clk_id, benchts *tp);
]]
local ts = ffi.new("benchts")
local function now_us()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.body = f:read("*a")
f:close()

local threads = {}
setup = function(thread) table.insert(threads, thread) end

local req = nil
local t_send = 0
lats = {}
nlat = 0
request = function()
  if req == nil then req = wrk.format() end
  t_send = now_us()
  return req
end
response = function(status, headers, body)
  nlat = nlat + 1
  lats[nlat] = now_us() - t_send
end

done = function(summary, latency, requests)
  local all = {}
  for _, t in ipairs(threads) do
    local l = t:get("lats")
    for i = 1, #l do all[#all + 1] = l[i] end
  end
  table.sort(all)
  local n = #all
  local sum = 0
  for i = 1, n do sum = sum + all[i] end
  local function pct(p)
    if n == 0 then return 0 end
    return all[math.max(1, math.ceil(p / 100 * n))]
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"err_connect":%d,"err_read":%d,"err_write":%d,' ..
    '"err_status":%d,"err_timeout":%d,"n_measured":%d,"lat_mean_us":%.1f,"lat_p50_us":%.1f,' ..
    '"lat_p90_us":%.1f,"lat_p99_us":%.1f,"lat_max_us":%.1f,"wrk_co_p50_us":%d,"wrk_co_p99_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout, n,
    n > 0 and sum / n or 0, pct(50), pct(90), pct(99), n > 0 and all[n] or 0,
    latency:percentile(50), latency:percentile(99)))
end
"""

WRK_ERRORS = ("err_connect", "err_read", "err_write", "err_status", "err_timeout")


def wrk_missing() -> str | None:
    """Why wrk cannot be used (None when it can)."""
    if shutil.which("wrk") is None:
        return "wrk is not installed: install it (apt-get install -y wrk) and run again"
    return None


def wrk_version() -> str:
    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    return ((out.stdout + out.stderr).splitlines() or ["?"])[0]


@dataclass(frozen=True)
class Load:
    """One wrk run: where, what body, how many connections, how long."""

    port: int
    path: str
    body_file: Path
    concurrency: int
    seconds: float
    rows: int  # rows per request


def run_wrk(load: Load, lua: Path, root_pid: int) -> dict[str, Any]:
    """wrk with one thread per connection for ``load.seconds``: latencies from the Lua hooks,
    throughput of the successful requests, CPU of the server tree, of wrk and of the rest."""
    cmd = ["wrk", f"-t{load.concurrency}", f"-c{load.concurrency}", f"-d{load.seconds}s"]
    cmd += ["--timeout", "10s", "-s", str(lua), f"http://127.0.0.1:{load.port}{load.path}"]
    env = {**os.environ, "BODY_FILE": str(load.body_file)}
    ru0, srv0, (busy0, all0) = (
        resource.getrusage(resource.RUSAGE_CHILDREN),
        tree_cpu_s(root_pid),
        machine_cpu_s(),
    )
    proc = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=load.seconds + 60, check=False
    )
    ru1, srv1, (busy1, all1) = (
        resource.getrusage(resource.RUSAGE_CHILDREN),
        tree_cpu_s(root_pid),
        machine_cpu_s(),
    )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(
            f"wrk printed no result (rc={proc.returncode}): {proc.stdout[-500:]} {proc.stderr[-500:]}"
        )
    d = json.loads(line.removeprefix("WRKJSON "))
    dur = d["duration_us"] / 1e6
    ok = d["requests"] - d["err_status"]
    server, wrk = srv1 - srv0, (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    return {
        "concurrency": load.concurrency,
        "rows_per_request": load.rows,
        "seconds": dur,
        "requests": d["requests"],
        "errors": sum(d[k] for k in WRK_ERRORS),
        "error_detail": {k: d[k] for k in WRK_ERRORS if d[k]},
        "req_per_s": ok / dur,
        "rows_per_s": ok * load.rows / dur,
        **{f"{p}_ms": d[f"lat_{p}_us"] / 1000 for p in ("p50", "p90", "p99", "max", "mean")},
        "latencies_measured": d["n_measured"],
        "wrk_co_p50_ms": d["wrk_co_p50_us"] / 1000,
        "wrk_co_p99_ms": d["wrk_co_p99_us"] / 1000,
        # cores busy on average during the measured window
        "cpu_server_cores": server / dur,
        "cpu_wrk_cores": wrk / dur,
        "cpu_other_cores": max(0.0, (busy1 - busy0) - server - wrk) / dur,
        "cpu_idle_cores": max(0.0, (all1 - all0) - (busy1 - busy0)) / dur,
    }


# ----------------------------------------------------------------------------------------
# A process run to its end with its tree's RSS sampled (batch scoring).
# ----------------------------------------------------------------------------------------


def run_sampled(
    cmd: list[str], env: dict[str, str], cwd: Path, out: IO[bytes], err: IO[bytes], every_s: float = 0.05
) -> dict[str, Any]:
    """Run ``cmd`` to its end (stdout to ``out``, stderr to ``err``), sampling the RSS of its
    process tree every ``every_s``: the wall time from ``Popen`` to exit, the exit code, the peak
    RSS and the peak in each tenth of the run."""
    t0 = pc()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=err, start_new_session=True)
    samples: list[tuple[float, float]] = []
    while proc.poll() is None:
        samples.append((pc() - t0, tree_rss_mb(proc.pid)))
        time.sleep(every_s)
    wall = pc() - t0
    rss = [mb for _, mb in samples if mb > 0]
    deciles = [max((mb for t, mb in samples if int(10 * t / wall) == k), default=None) for k in range(10)]
    return {
        "wall_s": wall,
        "returncode": proc.returncode,
        "peak_rss_mb": max(rss, default=None),
        "rss_mb_by_tenth_of_run": deciles,
        "samples": len(samples),
    }


def log_line(who: str, name: str, test: str, r: dict[str, Any]) -> None:
    c.log(
        who,
        f"{name} {test}: {r['req_per_s']:.1f} req/s, {r['rows_per_s']:.0f} rows/s, p50 {r['p50_ms']:.2f} ms,"
        f" p99 {r['p99_ms']:.2f} ms, errors {r['errors']}, cpu server/wrk/other"
        f" {r['cpu_server_cores']:.2f}/{r['cpu_wrk_cores']:.2f}/{r['cpu_other_cores']:.2f}",
    )
