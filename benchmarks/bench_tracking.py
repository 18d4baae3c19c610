#!/usr/bin/env python3
"""Tracking benchmark: loopml against MLflow 3.17.2's SQLite store, in the same run.

Workloads (each side in a fresh subprocess with its own SQLite database, see README.md):

  import        ``import loopml`` / ``import mlflow`` in fresh subprocesses (median of N).
  log_metric    2,000 fluent ``log_metric`` calls in one run.
  log_batch     ``Client.log_batch`` of 20,000 values (batches of 1,000, 10 keys).
  create_runs   500 runs: start_run + log_params(10) + log_metrics(10) + set_tags(3) + end.
  search_runs   ``metrics.m0 > 0.5 and params.p1 = 'x'`` ordered by ``metrics.m1 DESC``:
                Client first page (max_results=1000) and fluent DataFrame of all matches,
                at 10,000 runs (both) and 100,000 runs (loopml only).
  metric_history  ``get_metric_history`` of 100,000 points of one key.

Prints one JSON object on stdout (progress on stderr): per-workload figures for both
tools, ratios ``mlflow / loopml`` and a pass/fail per target. Usage::

  .venv/bin/python benchmarks/bench_tracking.py                    # full run, a few minutes
  .venv/bin/python benchmarks/bench_tracking.py --scale 0.05       # smoke run
  .venv/bin/python benchmarks/bench_tracking.py --no-peers         # loopml only
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common as c
import _workloads as wl
from _common import pc
from peers import venv as peer_venv

WHO = "bench_tracking"
HERE = Path(__file__).resolve().parent
MARKER = ".bench_tracking"

BASE_SIZES: dict[str, Any] = {
    "single_metrics": 2000,
    "batch_metrics": 20_000,
    "batch_size": 1000,
    "batch_keys": 10,
    "runs": 500,
    "params_per_run": 10,
    "metrics_per_run": 10,
    "tags_per_run": 3,
    "history_points": 100_000,
    "search_repeats": 5,
    "history_repeats": 5,
}
SCALED = ("single_metrics", "batch_metrics", "runs", "history_points")
# MLflow creates a run in ~30 ms, so it is searched at 10,000 runs only.
SEARCH_SIZES = {"loopml": (10_000, 100_000), "mlflow": (10_000,)}
COMMON_SEARCH = 10_000  # the size both tools are searched at (scaled), for the ratio


def scaled(n: int, scale: float) -> int:
    return max(1, round(n * scale))


def sizes_for(tool: str, scale: float) -> dict[str, Any]:
    sizes = dict(BASE_SIZES)
    for k in SCALED:
        sizes[k] = scaled(sizes[k], scale)
    sizes["search_sizes"] = sorted({scaled(n, scale) for n in SEARCH_SIZES[tool]})
    return sizes


# ----------------------------------------------------------------------------------------
# The loopml worker: runs in a fresh subprocess (``--_worker``); the workloads are in
# _workloads.py, shared with peers/mlflow_peer.py.
# ----------------------------------------------------------------------------------------


def lm_workloads(workdir: Path, sizes: dict[str, Any]) -> dict[str, Any]:
    t = pc()
    import loopml

    res: dict[str, Any] = {"tool": "loopml", "version": loopml.__version__, "import_in_worker_s": pc() - t}
    os.chdir(workdir)
    db, arts = workdir / "loopml.db", workdir / "artifacts"
    uri = f"sqlite:///{db}"
    os.environ["LOOPML_HOME"] = str(workdir)  # nothing may land in ~/.loopml
    os.environ["LOOPML_ARTIFACT_ROOT"] = str(arts)  # the fluent API's artifact root
    loopml.set_tracking_uri(uri)
    client = loopml.Client(tracking_uri=uri, artifact_root=str(arts))
    t = pc()
    exp_id = loopml.create_experiment("bench")
    res["first_store_call_s"] = pc() - t  # creates the tables
    loopml.set_experiment("bench")
    res["tracking_uri"] = uri
    tool = wl.Tool(
        who="loopml_worker",
        fluent=loopml,
        client=client,
        Metric=loopml.Metric,
        Param=loopml.Param,
        RunTag=loopml.RunTag,
    )
    res.update(wl.run_all(tool, exp_id, db, sizes))
    return res


def worker_main(workdir: Path, sizes_json: str) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    t = pc()
    res = lm_workloads(workdir.resolve(), json.loads(sizes_json))
    res["worker_wall_s"] = pc() - t
    c.emit(res)


# ----------------------------------------------------------------------------------------
# The harness: import timing, workers, repeats.
# ----------------------------------------------------------------------------------------


def clean_env() -> dict[str, str]:
    """The environment of every subprocess: no tracking URIs or loopml settings leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
    for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID"):
        env.pop(k, None)
    return env


def import_seconds(python: str, module: str) -> float:
    """``import MODULE`` alone, timed with perf_counter inside a fresh interpreter."""
    code = f"import time;t=time.perf_counter();import {module};print(time.perf_counter()-t)"
    out = subprocess.run(
        [python, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=clean_env(),
        cwd=tempfile.gettempdir(),
    )
    return float(out.stdout.strip().splitlines()[-1])


def measure_imports(pythons: dict[str, str], repeats: int) -> dict[str, Any]:
    """Median of ``repeats`` fresh-subprocess imports per tool, interleaved between tools."""
    samples: dict[str, list[float]] = {tool: [] for tool in pythons}
    for _ in range(repeats):
        for tool, python in pythons.items():
            samples[tool].append(import_seconds(python, tool))
    return {tool: {**(c.stats(xs) or {}), "samples": xs} for tool, xs in samples.items()}


def prepare_dir(path: Path) -> None:
    """An empty dir; an existing one is only removed if this script made it (marker file)."""
    if path.exists():
        if not (path / MARKER).exists():
            sys.exit(f"refusing to reuse {path}: not created by this script (no {MARKER})")
        shutil.rmtree(path)
    path.mkdir(parents=True)
    (path / MARKER).touch()


def run_worker(tool: str, cmd: list[str], workdir: Path, sizes: dict[str, Any]) -> dict[str, Any]:
    """Run one side's workloads in a fresh subprocess; its result is the last stdout line."""
    prepare_dir(workdir)
    cmd = [*cmd, "--workdir", str(workdir), "--sizes", json.dumps(sizes)]
    t = pc()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=clean_env(), cwd=workdir, check=False)
    wall = pc() - t
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if proc.returncode != 0 or not lines:
        return {"tool": tool, "error": f"{tool} worker failed (rc={proc.returncode}); see stderr above"}
    try:
        res = json.loads(lines[-1])
    except json.JSONDecodeError:
        return {"tool": tool, "error": f"{tool} worker printed no JSON result: {lines[-1][:200]!r}"}
    res["subprocess_wall_s"] = wall
    return res


def run_repeats(args: argparse.Namespace, cmds: dict[str, list[str]]) -> dict[str, list[dict[str, Any]]]:
    """``--repeats`` fresh-database runs per tool, interleaved (loopml r1, mlflow r1, loopml r2, ...)."""
    results: dict[str, list[dict[str, Any]]] = {tool: [] for tool in cmds}
    for rep in range(1, args.repeats + 1):
        for tool, cmd in cmds.items():
            c.log(WHO, f"{tool} workloads, repeat {rep}/{args.repeats}")
            res = run_worker(tool, cmd, args.workdir / tool / f"r{rep}", sizes_for(tool, args.scale))
            c.log(WHO, f"{tool} repeat {rep} done in {res.get('subprocess_wall_s', 0):.1f}s")
            results[tool].append(res)
    return results


# ----------------------------------------------------------------------------------------
# Report: medians over repeats, ratios, targets.
# ----------------------------------------------------------------------------------------


def merge_repeats(xs: list[Any]) -> Any:
    """Median of numbers across repeats, recursively through dicts and lists.

    Values equal in every repeat are kept as they are; differing non-numbers become a list.
    """
    first = xs[0]
    if all(x == first for x in xs):
        return first
    if all(isinstance(x, int | float) and not isinstance(x, bool) for x in xs):
        return statistics.median(xs)
    if all(isinstance(x, dict) for x in xs):
        return {k: merge_repeats([x[k] for x in xs if k in x]) for k in first}
    if all(isinstance(x, list) and len(x) == len(first) for x in xs):
        return [merge_repeats([x[i] for x in xs]) for i in range(len(first))]
    return xs


def get(d: dict[str, Any] | None, *path: Any) -> Any:
    for p in path:
        if isinstance(d, dict):
            d = d.get(p)
        elif isinstance(d, list) and isinstance(p, int) and -len(d) <= p < len(d):
            d = d[p]
        else:
            return None
    return d


def search_at(res: dict[str, Any] | None, runs: int) -> dict[str, Any] | None:
    for entry in get(res, "search_runs", "by_size") or []:
        if entry.get("runs") == runs:
            return entry
    return None


def ratio(mlflow_s: Any, loopml_s: Any) -> float | None:
    if isinstance(mlflow_s, int | float) and isinstance(loopml_s, int | float) and loopml_s > 0:
        return mlflow_s / loopml_s
    return None


def search_figures(lm: dict[str, Any] | None, ml: dict[str, Any] | None, scale: float) -> dict[str, Any]:
    common, big = scaled(COMMON_SEARCH, scale), scaled(max(SEARCH_SIZES["loopml"]), scale)
    lm_big, lm_common, ml_common = search_at(lm, big), search_at(lm, common), search_at(ml, common)
    return {
        "loopml_runs": big,
        "loopml_client_first_page_s": get(lm_big, "client_first_page_s", "median"),
        "loopml_fluent_all_matches_s": get(lm_big, "fluent_all_matches_s", "median"),
        "mlflow_runs": common,
        "mlflow_client_first_page_s": get(ml_common, "client_first_page_s", "median"),
        "mlflow_fluent_all_matches_s": get(ml_common, "fluent_all_matches_s", "median"),
        "ratio_at_same_runs": {
            "runs": common,
            "client_first_page": ratio(
                get(ml_common, "client_first_page_s", "median"),
                get(lm_common, "client_first_page_s", "median"),
            ),
            "fluent_all_matches": ratio(
                get(ml_common, "fluent_all_matches_s", "median"),
                get(lm_common, "fluent_all_matches_s", "median"),
            ),
        },
        "loopml": get(lm, "search_runs"),
        "mlflow": get(ml, "search_runs"),
    }


def db_figures(lm: dict[str, Any] | None, ml: dict[str, Any] | None) -> dict[str, Any]:
    def side(res: dict[str, Any] | None) -> dict[str, Any]:
        return {"after_common_mb": get(res, "db_mb_after_common"), "final_mb": get(res, "db_mb")}

    return {
        "loopml": side(lm),
        "mlflow": side(ml),
        "ratio_after_common": ratio(get(ml, "db_mb_after_common"), get(lm, "db_mb_after_common")),
        "note": "after_common: after log_metric, log_batch and create_runs (the same data on both sides); "
        "final: after everything, loopml holding 10x the search runs of mlflow",
    }


def workload_figures(imports: dict[str, Any], lm: Any, ml: Any, scale: float) -> dict[str, Any]:
    """Per-workload figures for both tools and the ratios mlflow / loopml (of medians)."""
    w: dict[str, Any] = {
        "import": {
            "loopml_s": get(imports, "loopml", "median"),
            "mlflow_s": get(imports, "mlflow", "median"),
            "ratio": ratio(get(imports, "mlflow", "median"), get(imports, "loopml", "median")),
            "loopml": imports.get("loopml"),
            "mlflow": imports.get("mlflow"),
        }
    }
    for name in ("log_metric", "log_batch", "create_runs"):
        w[name] = {
            "loopml_s": get(lm, name, "wall_s"),
            "mlflow_s": get(ml, name, "wall_s"),
            "ratio": ratio(get(ml, name, "wall_s"), get(lm, name, "wall_s")),
            "loopml": get(lm, name),
            "mlflow": get(ml, name),
        }
    w["search_runs"] = search_figures(lm, ml, scale)
    lm_h = get(lm, "metric_history", "get_metric_history_s", "median")
    ml_h = get(ml, "metric_history", "get_metric_history_s", "median")
    w["metric_history"] = {
        "points": get(lm, "metric_history", "points"),
        "loopml_s": lm_h,
        "mlflow_s": ml_h,
        "ratio": ratio(ml_h, lm_h),
        "loopml": get(lm, "metric_history"),
        "mlflow": get(ml, "metric_history"),
    }
    w["db_size"] = db_figures(lm, ml)
    return w


# name, what, kind ("ratio": value >= threshold, "max_s": value < threshold), figure path
TARGETS: tuple[tuple[str, str, str, float, tuple[str, ...]], ...] = (
    ("import", "import loopml at least 8x faster than import mlflow", "ratio", 8.0, ("import", "ratio")),
    ("log_metric", "2,000 log_metric calls at least 50x faster", "ratio", 50.0, ("log_metric", "ratio")),
    ("log_batch", "log_batch of 20,000 values at least 25x faster", "ratio", 25.0, ("log_batch", "ratio")),
    (
        "create_runs",
        "500 runs (params, metrics, tags) at least 30x faster",
        "ratio",
        30.0,
        ("create_runs", "ratio"),
    ),
    (
        "search_runs",
        "Client.search_runs first page (1,000) over 100,000 runs under 0.3 s",
        "max_s",
        0.3,
        ("search_runs", "loopml_client_first_page_s"),
    ),
    (
        "metric_history",
        "get_metric_history of 100,000 points under 0.1 s",
        "max_s",
        0.1,
        ("metric_history", "loopml_s"),
    ),
)


def checks_ok(res: dict[str, Any] | None, workload: str) -> bool | None:
    """Did the tool return the right data in this workload? None if it did not run."""
    if res is None or "error" in res:
        return None
    if workload == "import":
        return True
    if workload == "search_runs":
        return all(get(e, "check", "ok") is True for e in get(res, "search_runs", "by_size") or [None])
    return get(res, workload, "check", "ok") is True


def evaluate(
    target: tuple[str, str, str, float, tuple[str, ...]], w: dict[str, Any], lm: Any, ml: Any, scale: float
) -> dict[str, Any]:
    name, what, kind, threshold, path = target
    value = get(w, *path)
    ok = {"loopml": checks_ok(lm, name)}
    if kind == "ratio":
        ok["mlflow"] = checks_ok(ml, name)
    out: dict[str, Any] = {"name": name, "target": what, "kind": kind, "threshold": threshold, "value": value}
    out["results_correct"] = ok
    if value is None:
        out["pass"], out["note"] = None, "not measured (tool skipped or failed)"
    else:
        met = value >= threshold if kind == "ratio" else value < threshold
        out["pass"] = bool(met and ok["loopml"])
        if not ok["loopml"]:
            out["note"] = "loopml returned wrong results (see the workload's check)"
    if scale != 1.0:
        out["note"] = (out.get("note", "") + f"; sizes scaled by {scale}, targets are set at 1.0").lstrip(
            "; "
        )
    return out


def peer_meta(args: argparse.Namespace, peer: peer_venv.PeerEnv | None) -> dict[str, Any]:
    if peer is None:
        return {"status": "skipped", "note": "--no-peers"}
    telemetry = os.environ.get("MLFLOW_DISABLE_TELEMETRY")
    return {
        "status": "ran" if peer.python else "skipped",
        "note": peer.note,
        "python": str(peer.python) if peer.python else None,
        "store": "sqlite:///WORKDIR/mlflow/rK/mlflow.db (no server)",
        "telemetry": f"MLFLOW_DISABLE_TELEMETRY={telemetry}" if telemetry else "MLflow default (on)",
    }


def build_report(
    args: argparse.Namespace, imports: dict[str, Any], results: dict[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    errors = [r["error"] for reps in results.values() for r in reps if "error" in r]
    merged = {
        tool: merge_repeats(ok) if (ok := [r for r in reps if "error" not in r]) else None
        for tool, reps in results.items()
    }
    lm, ml = merged.get("loopml"), merged.get("mlflow")
    w = workload_figures(imports, lm, ml, args.scale)
    targets = [evaluate(t, w, lm, ml, args.scale) for t in TARGETS]
    report: dict[str, Any] = {
        "targets": targets,
        "all_targets_pass": all(t["pass"] is True for t in targets),
        "targets_summary": {
            verdict: [t["name"] for t in targets if t["pass"] is flag]
            for verdict, flag in (("passed", True), ("failed", False), ("not_measured", None))
        },
        "workloads": w,
        "errors": errors,
    }
    if args.repeats > 1:
        report["repeats_raw"] = results
    return report


def busy_note() -> str | None:
    load, cpus = os.getloadavg()[0], os.cpu_count() or 1
    if load > 0.5 * cpus:
        return f"machine busy at start (1-min load {load:.1f} on {cpus} CPUs): timings are noisy"
    return None


def make_meta(
    args: argparse.Namespace, peer: peer_venv.PeerEnv | None, cmds: dict[str, Any]
) -> dict[str, Any]:
    return {
        "benchmark": "benchmarks/bench_tracking.py",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
        "note": busy_note(),
        "scale": args.scale,
        "repeats": args.repeats,
        "import_repeats": args.import_repeats,
        "sizes": {tool: sizes_for(tool, args.scale) for tool in cmds},
        "workdir": str(args.workdir),
        "loopml_store": "sqlite:///WORKDIR/loopml/rK/loopml.db, artifacts in WORKDIR/loopml/rK/artifacts",
        "peers": {"mlflow": peer_meta(args, peer)},
        "ratios": "mlflow / loopml of the medians: > 1 means loopml is faster",
    }


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the workload sizes (default 1.0)")
    ap.add_argument("--repeats", type=int, default=1, help="fresh-database runs per tool (medians reported)")
    ap.add_argument("--import-repeats", type=int, default=5, help="fresh-subprocess imports per tool")
    ap.add_argument("--no-peers", action="store_true", help="loopml only (MLflow not needed)")
    ap.add_argument("--install-peers", action="store_true", help="create the MLflow venv if missing")
    ap.add_argument("--workdir", type=Path, help="where databases go (default: a temp dir, removed)")
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    ap.add_argument("--_worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--sizes", help=argparse.SUPPRESS)
    return ap.parse_args()


def main() -> int:
    args = parse_args()
    if args._worker:
        worker_main(args.workdir, args.sizes)
        return 0
    t_all = pc()
    temp = args.workdir is None
    args.workdir = Path(args.workdir or tempfile.mkdtemp(prefix="loopml-bench-")).resolve()
    peer = None if args.no_peers else peer_venv.mlflow_python(install=args.install_peers)
    if peer is not None and peer.python is None:
        c.log(WHO, peer.note)
    cmds = peer_venv.worker_commands(HERE / "bench_tracking.py", HERE / "peers" / "mlflow_peer.py", peer)
    meta = make_meta(args, peer, cmds)
    c.log(WHO, f"import timing ({args.import_repeats} fresh subprocesses per tool)")
    pythons = {"loopml": sys.executable} | ({"mlflow": cmds["mlflow"][0]} if "mlflow" in cmds else {})
    imports = measure_imports(pythons, args.import_repeats)
    results = run_repeats(args, cmds)
    meta["versions"] = {tool: get(reps, 0, "version") for tool, reps in results.items()}
    report = {"meta": meta, **build_report(args, imports, results)}
    meta["loadavg_end"] = os.getloadavg()
    meta["total_wall_s"] = pc() - t_all
    if temp:
        shutil.rmtree(args.workdir, ignore_errors=True)
        meta["workdir"] += " (temporary, removed)"
    text = json.dumps(report, indent=1, default=str)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
