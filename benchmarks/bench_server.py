#!/usr/bin/env python3
"""Server benchmark: ``loopml server`` against MLflow 3.17.2's ``mlflow server``, in the same run.

Each variant gets a fresh SQLite database in the workdir and its own server process, which the
harness starts and stops (see README.md):

  loopml         ``loopml server`` (defaults: one worker), the client synchronous.
  loopml_async   the same, the client with LOOPML_ASYNC_LOGGING=true.
  mlflow         ``mlflow server`` with its defaults (4 uvicorn workers, job runner).
  mlflow_w1      the same with ``--workers 1`` (skip with --no-mlflow-w1).

Workloads, per variant:

  start_to_healthy  process start to the first ``GET /health`` answering 200.
  idle_memory       once the server's processes are quiet: the sum of their RSS (and PSS), from
                    /proc, over the server's process tree.
  log_metric        1,000 fluent ``log_metric`` calls over HTTP in one run: p50/p95 per call,
                    then the run's end (where asynchronous logging sends what it queued).
  create_runs       500 runs x (10 params, 10 metrics, 3 tags) through the fluent API over HTTP.

Prints one JSON object on stdout (progress on stderr): the figures of every variant, ratios
``mlflow / loopml`` and a pass/fail per target. Usage::

  .venv/bin/python benchmarks/bench_server.py                  # all variants (~8 min, MLflow's)
  .venv/bin/python benchmarks/bench_server.py --no-peers       # loopml only (~30 s)
  .venv/bin/python benchmarks/bench_server.py --scale 0.1      # smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _common as c
import _harness as h
from _common import pc
from _harness import get, ratio
from _proctree import tree_cpu_s, tree_memory
from peers import venv as peer_venv

WHO = "bench_server"
HERE = Path(__file__).resolve().parent
MARKER = ".bench_server"
VARIANTS = ("loopml", "loopml_async", "mlflow", "mlflow_w1")

BASE_SIZES: dict[str, Any] = {
    "single_metrics": 1000,
    "runs": 500,
    "params_per_run": 10,
    "metrics_per_run": 10,
    "tags_per_run": 3,
}
SCALED = ("single_metrics", "runs")


def sizes_for(scale: float) -> dict[str, Any]:
    return {k: h.scaled(v, scale) if k in SCALED else v for k, v in BASE_SIZES.items()}


# ----------------------------------------------------------------------------------------
# The loopml worker: a fresh subprocess (``--_worker``) whose fluent API points at the server
# (LOOPML_TRACKING_URI, set by the harness with LOOPML_ASYNC_LOGGING for loopml_async).
# ----------------------------------------------------------------------------------------


def worker_main(workdir: Path, sizes_json: str) -> None:
    t0 = pc()
    import _server_workloads as swl
    import _workloads as wl

    t = pc()
    import loopml

    res: dict[str, Any] = {"tool": "loopml", "version": loopml.__version__, "import_in_worker_s": pc() - t}
    res["async_logging"] = os.environ.get("LOOPML_ASYNC_LOGGING", "")
    workdir.mkdir(parents=True, exist_ok=True)
    os.chdir(workdir)
    client = loopml.Client()
    t = pc()
    exp_id = loopml.create_experiment("bench")
    res["first_call_s"] = pc() - t
    loopml.set_experiment(experiment_id=exp_id)
    res["tracking_uri"] = loopml.get_tracking_uri()
    tool = wl.Tool(
        who="loopml_worker",
        fluent=loopml,
        client=client,
        Metric=loopml.Metric,
        Param=loopml.Param,
        RunTag=loopml.RunTag,
    )
    res.update(swl.run_all(tool, json.loads(sizes_json)))
    res["worker_wall_s"] = pc() - t0
    c.emit(res)


# ----------------------------------------------------------------------------------------
# The server's process tree, from /proc (Linux): memory and CPU of every process in it.
# ----------------------------------------------------------------------------------------


def wait_settled(root: int, max_s: float, window_s: float = 2.0, below_pct: float = 15.0) -> dict[str, Any]:
    """Wait until the tree uses under ``below_pct`` % of a core over ``window_s`` (MLflow's job
    runner keeps importing for ~15-20 s after /health answers); the wait and the last rate."""
    t0 = pc()
    pct = 100.0
    while pc() - t0 < max_s:
        before = tree_cpu_s(root)
        time.sleep(window_s)
        pct = 100.0 * (tree_cpu_s(root) - before) / window_s
        if pct < below_pct:
            return {"settle_s": pc() - t0, "settled": True, "cpu_pct_of_core": pct}
    return {"settle_s": pc() - t0, "settled": False, "cpu_pct_of_core": pct}


# ----------------------------------------------------------------------------------------
# Starting and stopping a server.
# ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def healthy(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/health")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def server_command(variant: str, peer: peer_venv.PeerEnv | None, d: Path, port: int) -> list[str]:
    """The server's command line: its defaults, a SQLite database in ``d``, 127.0.0.1:port."""
    where = ["--host", "127.0.0.1", "--port", str(port)]
    if variant.startswith("loopml"):
        return [
            sys.executable,
            "-m",
            "loopml",
            "server",
            "--backend-store-uri",
            f"sqlite:///{d}/loopml.db",
            *where,
        ]
    assert peer is not None and peer.python is not None
    mlflow = peer.python.parent / "mlflow"
    cmd = [str(mlflow), "server", "--backend-store-uri", f"sqlite:///{d}/mlflow.db", *where]
    return [*cmd, "--workers", "1"] if variant == "mlflow_w1" else cmd


def start_server(
    cmd: list[str], env: dict[str, str], d: Path, port: int, timeout: float
) -> tuple[Any, float]:
    """Start the server in a session of its own; the process and its start-to-healthy seconds."""
    log = (d / "server.log").open("w")
    t0 = pc()
    proc = subprocess.Popen(cmd, cwd=d, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    while True:
        if healthy(port):
            return proc, pc() - t0
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited (rc={proc.returncode}) before /health answered: {tail(d)}")
        if pc() - t0 > timeout:
            stop_server(proc)
            raise RuntimeError(f"the server was not healthy after {timeout} s: {tail(d)}")
        time.sleep(0.02)


def tail(d: Path, lines: int = 12) -> str:
    try:
        return "\n".join((d / "server.log").read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server.log)"


def stop_server(proc: Any) -> None:
    """SIGTERM to the server's session (its pgid is its pid: only what it started), then
    SIGKILL to whatever is left of it."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        c.log(WHO, f"server {proc.pid} ignored SIGTERM for 30 s: SIGKILL")
    time.sleep(0.3)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


# ----------------------------------------------------------------------------------------
# One variant: fresh server, quiet, idle memory, the client worker, memory at the end, stop.
# ----------------------------------------------------------------------------------------


def worker_command(
    variant: str, peer: peer_venv.PeerEnv | None, url: str, d: Path, sizes: dict[str, Any]
) -> tuple[list[str], dict[str, str]]:
    """The client's command and environment (a clean one: nothing of the caller's tools)."""
    env = h.clean_env()
    args = ["--workdir", str(d / "client"), "--sizes", json.dumps(sizes)]
    if variant.startswith("loopml"):
        env.update(LOOPML_HOME=str(d / "client"), LOOPML_TRACKING_URI=url)
        if variant == "loopml_async":
            env["LOOPML_ASYNC_LOGGING"] = "true"
        return [sys.executable, str(HERE / "bench_server.py"), "--_worker", *args], env
    assert peer is not None and peer.python is not None
    return [str(peer.python), str(HERE / "peers" / "mlflow_server_peer.py"), "--url", url, *args], env


def run_variant(
    args: argparse.Namespace, variant: str, peer: peer_venv.PeerEnv | None, rep: int
) -> dict[str, Any]:
    d = args.workdir / variant / f"r{rep}"
    h.prepare_dir(d, MARKER)
    port = free_port()
    cmd = server_command(variant, peer, d, port)
    env = h.clean_env()
    if variant.startswith("loopml"):
        env["LOOPML_HOME"] = str(d / "server")
    out: dict[str, Any] = {
        "variant": variant,
        "server_cmd": " ".join([Path(cmd[0]).name, *cmd[1:]]),
    }
    c.log(WHO, f"{variant} r{rep}: starting the server")
    try:
        proc, out["start_to_healthy_s"] = start_server(cmd, env, d, port, args.start_timeout)
    except RuntimeError as exc:
        return {"variant": variant, "error": f"{variant}: {exc}"}
    try:
        out["memory_at_healthy"] = tree_memory(proc.pid)
        out["settle"] = wait_settled(proc.pid, args.settle_max)
        out["idle_memory"] = tree_memory(proc.pid)
        c.log(
            WHO,
            f"{variant} r{rep}: healthy in {out['start_to_healthy_s']:.2f} s, idle "
            f"{out['idle_memory']['rss_mb']:.0f} MB in {out['idle_memory']['processes']} processes",
        )
        wcmd, wenv = worker_command(variant, peer, f"http://127.0.0.1:{port}", d, sizes_for(args.scale))
        res = h.run_worker(variant, wcmd, d, wenv)
        out["memory_at_end"] = tree_memory(proc.pid)
    finally:
        stop_server(proc)
    return out | res


def run_repeats(args: argparse.Namespace, variants: list[str], peer: peer_venv.PeerEnv | None) -> h.Results:
    def run_one(variant: str, rep: int) -> dict[str, Any]:
        res = run_variant(args, variant, peer, rep)
        c.log(WHO, f"{variant} r{rep} done" + (f": {res['error']}" if "error" in res else ""))
        return res

    return h.run_repeats(args.repeats, variants, run_one)


# ----------------------------------------------------------------------------------------
# Report: figures side by side, ratios mlflow / loopml, targets.
# ----------------------------------------------------------------------------------------


def side(merged: dict[str, Any], path: tuple[str, ...], name: str, scale: float = 1.0) -> dict[str, Any]:
    """The figure at ``path`` for every variant (times ``scale``), and MLflow's ratios to loopml's."""
    values = {v: get(merged.get(v), *path) for v in merged}
    values = {v: x * scale if isinstance(x, int | float) else x for v, x in values.items()}
    out: dict[str, Any] = {f"{v}_{name}": x for v, x in values.items()}
    out["ratio"] = ratio(values.get("mlflow"), values.get("loopml"))
    out["ratio_w1"] = ratio(values.get("mlflow_w1"), values.get("loopml"))
    return out


def workload_figures(merged: dict[str, Any]) -> dict[str, Any]:
    async_metric = get(merged.get("loopml_async"), "log_metric")
    return {
        "start_to_healthy": side(merged, ("start_to_healthy_s",), "s"),
        "idle_memory": side(merged, ("idle_memory", "rss_mb"), "rss_mb")
        | {"pss": side(merged, ("idle_memory", "pss_mb"), "pss_mb")}
        | {"processes": {v: get(merged.get(v), "idle_memory", "processes") for v in merged}},
        "log_metric": side(merged, ("log_metric", "per_call_ms_p50"), "p50_ms")
        | {"p95": side(merged, ("log_metric", "per_call_ms_p95"), "p95_ms")}
        | {
            "loopml_async": {
                "p50_ms": get(async_metric, "per_call_ms_p50"),
                "p95_ms": get(async_metric, "per_call_ms_p95"),
                "calls_wall_s": get(async_metric, "wall_s"),
                "end_run_s": get(async_metric, "end_run_s"),
                "wall_incl_end_run_s": get(async_metric, "wall_incl_end_run_s"),
                "note": "each call queues the point; end_run waits until every point is sent",
            }
        },
        "create_runs": side(merged, ("create_runs", "wall_s"), "s")
        | {"per_run_p50": side(merged, ("create_runs", "per_call_ms_p50"), "ms")},
        "memory_at_end": {v: get(merged.get(v), "memory_at_end") for v in merged},
        "settle": {v: get(merged.get(v), "settle") for v in merged},
        "variants": merged,
    }


# name, what, kind, threshold, figure path (kinds: see _harness.MEETS)
TARGETS: tuple[h.Target, ...] = (
    (
        "log_metric_p50",
        "log_metric over HTTP, p50: at most 1 ms",
        "at_most",
        1.0,
        ("log_metric", "loopml_p50_ms"),
    ),
    (
        "create_runs",
        "500 runs x (10 params, 10 metrics, 3 tags) over HTTP: at least 20x faster than MLflow's server",
        "ratio",
        20.0,
        ("create_runs", "ratio"),
    ),
    (
        "idle_memory",
        "server idle memory under 200 MB (sum of its processes' RSS)",
        "under",
        200.0,
        ("idle_memory", "loopml_rss_mb"),
    ),
    ("start_to_healthy", "server start-to-healthy under 2 s", "under", 2.0, ("start_to_healthy", "loopml_s")),
)


def checks_ok(res: dict[str, Any] | None, target: str) -> bool | None:
    if res is None or "error" in res:
        return None
    if target in ("idle_memory", "start_to_healthy"):
        return True
    workload = "log_metric" if target == "log_metric_p50" else target
    return get(res, workload, "check", "ok") is True


def build_report(args: argparse.Namespace, results: h.Results) -> dict[str, Any]:
    merged = h.merge_tools(results)
    w = workload_figures(merged)
    targets = []
    for target in TARGETS:
        name, _, kind, _, path = target
        ok = {"loopml": checks_ok(merged.get("loopml"), name)}
        if kind == "ratio":
            ok["mlflow"] = checks_ok(merged.get("mlflow"), name)
        wrong = "loopml returned wrong results (see the workload's check)"
        targets.append(h.judge(target, get(w, *path), ok, wrong, args.scale))
    return h.report_body(targets, {"workloads": w}, results, args.repeats)


def make_meta(
    args: argparse.Namespace, peer: peer_venv.PeerEnv | None, variants: list[str], precompiled: bool
) -> dict[str, Any]:
    return h.meta_head("benchmarks/bench_server.py", precompiled) | {
        "scale": args.scale,
        "repeats": args.repeats,
        "variants": variants,
        "sizes": sizes_for(args.scale),
        "workdir": str(args.workdir),
        "servers": "each variant: a fresh server on a fresh SQLite database in WORKDIR/<variant>/rK, "
        "started and stopped by this script, 127.0.0.1, defaults otherwise (access log on for both)",
        "loopml_server": {
            "uvloop": importlib.util.find_spec("uvloop") is not None,
            "httptools": importlib.util.find_spec("httptools") is not None,
            "note": "uvicorn's loop/http 'auto' picks uvloop and httptools when installed",
        },
        "peers": {"mlflow": h.peer_status(peer, telemetry=h.mlflow_telemetry())},
        "ratios": "mlflow / loopml (ratio) and mlflow --workers 1 / loopml (ratio_w1): "
        "> 1 means loopml is faster",
    }


def parse_args() -> argparse.Namespace:
    ap = h.new_parser(__doc__)
    h.add_scale_flag(ap)
    h.add_repeats_flag(ap, "fresh-server")
    h.add_peer_flags(ap, "MLflow")
    ap.add_argument("--no-mlflow-w1", action="store_true", help="skip MLflow's server with --workers 1")
    ap.add_argument("--settle-max", type=float, default=120.0, help="longest wait for an idle server (s)")
    ap.add_argument("--start-timeout", type=float, default=180.0, help="longest wait for /health (s)")
    h.add_run_flags(ap)
    return ap.parse_args()


def main() -> int:
    args = parse_args()
    if args._worker:
        worker_main(args.workdir, args.sizes)
        return 0
    t_all = pc()
    temp = h.use_workdir(args, "loopml-bench-server-")
    peer = h.find_peer(args, peer_venv.mlflow_python, WHO)
    variants = ["loopml", "loopml_async"]
    if peer is not None and peer.python is not None:
        variants += ["mlflow"] + ([] if args.no_mlflow_w1 else ["mlflow_w1"])
    precompiled = h.precompile_loopml(WHO)
    meta = make_meta(args, peer, variants, precompiled)
    results = run_repeats(args, variants, peer)
    meta["versions"] = h.versions(results)
    return h.finish({"meta": meta, **build_report(args, results)}, args, temp, t_all)


if __name__ == "__main__":
    sys.exit(main())
