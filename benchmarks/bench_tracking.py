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
import sys
from pathlib import Path
from typing import Any

import _common as c
import _harness as h
import _workloads as wl
from _common import pc
from _harness import get, ratio
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


def sizes_for(tool: str, scale: float) -> dict[str, Any]:
    sizes = dict(BASE_SIZES)
    for k in SCALED:
        sizes[k] = h.scaled(sizes[k], scale)
    sizes["search_sizes"] = sorted({h.scaled(n, scale) for n in SEARCH_SIZES[tool]})
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
# The harness: workers and repeats (the shared parts are in _harness.py).
# ----------------------------------------------------------------------------------------


def run_worker(tool: str, cmd: list[str], workdir: Path, sizes: dict[str, Any]) -> dict[str, Any]:
    """Run one side's workloads in a fresh subprocess on a fresh database."""
    h.prepare_dir(workdir, MARKER)
    res = h.run_worker(tool, [*cmd, "--workdir", str(workdir), "--sizes", json.dumps(sizes)], workdir)
    return {"tool": tool} | res


def run_repeats(args: argparse.Namespace, cmds: dict[str, list[str]]) -> h.Results:
    """``--repeats`` fresh-database runs per tool, interleaved (loopml r1, mlflow r1, loopml r2, ...)."""

    def run_one(tool: str, rep: int) -> dict[str, Any]:
        c.log(WHO, f"{tool} workloads, repeat {rep}/{args.repeats}")
        res = run_worker(tool, cmds[tool], args.workdir / tool / f"r{rep}", sizes_for(tool, args.scale))
        c.log(WHO, f"{tool} repeat {rep} done in {res.get('subprocess_wall_s', 0):.1f}s")
        return res

    return h.run_repeats(args.repeats, cmds, run_one)


# ----------------------------------------------------------------------------------------
# Report: medians over repeats, ratios, targets.
# ----------------------------------------------------------------------------------------


def search_at(res: dict[str, Any] | None, runs: int) -> dict[str, Any] | None:
    entries: list[dict[str, Any]] = get(res, "search_runs", "by_size") or []
    return next((entry for entry in entries if entry.get("runs") == runs), None)


def search_figures(lm: dict[str, Any] | None, ml: dict[str, Any] | None, scale: float) -> dict[str, Any]:
    common, big = h.scaled(COMMON_SEARCH, scale), h.scaled(max(SEARCH_SIZES["loopml"]), scale)
    lm_big, lm_common, ml_common = search_at(lm, big), search_at(lm, common), search_at(ml, common)
    first_page, all_matches = ("client_first_page_s", "median"), ("fluent_all_matches_s", "median")
    return {
        "loopml_runs": big,
        "loopml_client_first_page_s": get(lm_big, *first_page),
        "loopml_fluent_all_matches_s": get(lm_big, *all_matches),
        "mlflow_runs": common,
        "mlflow_client_first_page_s": get(ml_common, *first_page),
        "mlflow_fluent_all_matches_s": get(ml_common, *all_matches),
        "ratio_at_same_runs": {
            "runs": common,
            "client_first_page": h.side_by_side(lm_common, ml_common, "mlflow", *first_page)["ratio"],
            "fluent_all_matches": h.side_by_side(lm_common, ml_common, "mlflow", *all_matches)["ratio"],
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
    w: dict[str, Any] = {"import": h.import_figures(imports, "mlflow")}
    for name in ("log_metric", "log_batch", "create_runs"):
        wall = h.side_by_side(lm, ml, "mlflow", name, "wall_s")
        w[name] = wall | {"loopml": get(lm, name), "mlflow": get(ml, name)}
    w["search_runs"] = search_figures(lm, ml, scale)
    history = h.side_by_side(lm, ml, "mlflow", "metric_history", "get_metric_history_s", "median")
    w["metric_history"] = {"points": get(lm, "metric_history", "points")} | history
    w["metric_history"] |= {"loopml": get(lm, "metric_history"), "mlflow": get(ml, "metric_history")}
    w["db_size"] = db_figures(lm, ml)
    return w


# name, what, kind ("ratio": value >= threshold, "max_s": value < threshold), figure path
TARGETS: tuple[h.Target, ...] = (
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


def evaluate(target: h.Target, w: dict[str, Any], lm: Any, ml: Any, scale: float) -> dict[str, Any]:
    name, _, kind, _, path = target
    ok = {"loopml": checks_ok(lm, name)} | ({"mlflow": checks_ok(ml, name)} if kind == "ratio" else {})
    wrong = "loopml returned wrong results (see the workload's check)"
    return h.judge(target, get(w, *path), ok, wrong, scale)


def build_report(args: argparse.Namespace, imports: dict[str, Any], results: h.Results) -> dict[str, Any]:
    merged = h.merge_tools(results)
    lm, ml = merged.get("loopml"), merged.get("mlflow")
    w = workload_figures(imports, lm, ml, args.scale)
    targets = [evaluate(t, w, lm, ml, args.scale) for t in TARGETS]
    return h.report_body(targets, {"workloads": w}, results, args.repeats)


def make_meta(
    args: argparse.Namespace, peer: peer_venv.PeerEnv | None, cmds: dict[str, Any], precompiled: bool
) -> dict[str, Any]:
    return h.meta_head("benchmarks/bench_tracking.py", precompiled) | {
        "scale": args.scale,
        "repeats": args.repeats,
        "import_repeats": args.import_repeats,
        "sizes": {tool: sizes_for(tool, args.scale) for tool in cmds},
        "workdir": str(args.workdir),
        "loopml_store": "sqlite:///WORKDIR/loopml/rK/loopml.db, artifacts in WORKDIR/loopml/rK/artifacts",
        "peers": {
            "mlflow": h.peer_status(
                peer,
                store="sqlite:///WORKDIR/mlflow/rK/mlflow.db (no server)",
                telemetry=h.mlflow_telemetry(),
            )
        },
        "ratios": "mlflow / loopml of the medians: > 1 means loopml is faster",
    }


def parse_args() -> argparse.Namespace:
    ap = h.new_parser(__doc__)
    h.add_scale_flag(ap)
    h.add_repeats_flag(ap, "fresh-database")
    h.add_import_repeats_flag(ap)
    h.add_peer_flags(ap, "MLflow")
    h.add_run_flags(ap)
    return ap.parse_args()


def main() -> int:
    args = parse_args()
    if args._worker:
        worker_main(args.workdir, args.sizes)
        return 0
    t_all = pc()
    temp = h.use_workdir(args, "loopml-bench-")
    peer = h.find_peer(args, peer_venv.mlflow_python, WHO)
    cmds = peer_venv.worker_commands(HERE / "bench_tracking.py", HERE / "peers" / "mlflow_peer.py", peer)
    precompiled = h.precompile_loopml(WHO)
    meta = make_meta(args, peer, cmds, precompiled)
    c.log(WHO, f"import timing ({args.import_repeats} fresh subprocesses per tool)")
    imports = h.measure_imports({tool: cmd[0] for tool, cmd in cmds.items()}, args.import_repeats)
    results = run_repeats(args, cmds)
    meta["versions"] = h.versions(results)
    return h.finish({"meta": meta, **build_report(args, imports, results)}, args, temp, t_all)


if __name__ == "__main__":
    sys.exit(main())
