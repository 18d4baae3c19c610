#!/usr/bin/env python3
"""Model benchmark: loopml's log/register/load/predict against MLflow 3.17.2's, in the same run.

Workloads (each tool in fresh subprocesses with its own SQLite store, see README.md):

  log_model       ``log_model`` of a scikit-learn Pipeline (OneHotEncoder + StandardScaler,
                  LogisticRegression) with default settings, inside a run: the first call of
                  the process, then the median of later calls in fresh runs.
  registry        ``register_model`` of the first run's model, alias ``champion``.
  load_predict    ``load_model("models:/bench_pipeline@champion")`` + the first ``predict`` of
                  one row, measured twice: ``in_process``, in the process that registered it
                  (tool imported, store open: what ../shared/bench/mlflow_bench.py step 7d
                  measures, and the target), and ``fresh_process``, in a fresh subprocess where
                  ``load_model`` opens the store itself (imports timed separately, before;
                  reported with its MLflow ratio, not a target).
  predict         1,000 single-row predictions through the loaded model and the raw pipeline,
                  interleaved: overhead = model per-call median - raw per-call median.

Prints one JSON object on stdout (progress on stderr): per-workload figures of both tools,
ratios ``mlflow / loopml``, a pass/fail per target and the figures reported beside them
(``reported``, not judged). Usage::

  .venv/bin/python benchmarks/bench_models.py                 # both tools, ~1-2 min
  .venv/bin/python benchmarks/bench_models.py --no-peers      # loopml only
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common as c
import _model_workloads as mw
from _common import pc
from bench_tracking import busy_note, clean_env, get, merge_repeats, ratio
from peers import venv as peer_venv

WHO = "bench_models"
HERE = Path(__file__).resolve().parent
MARKER = ".bench_models"
PHASES = ("log", "serve")


# ----------------------------------------------------------------------------------------
# The loopml worker: one phase per fresh subprocess (``--_worker --phase log|serve``); the
# workloads are in _model_workloads.py, shared with peers/mlflow_models_peer.py.
# ----------------------------------------------------------------------------------------


def lm_tool(loopml: Any, workdir: Path, phase: str) -> mw.Tool:
    os.chdir(workdir)
    uri = f"sqlite:///{workdir / 'loopml.db'}"
    os.environ["LOOPML_HOME"] = str(workdir)  # nothing may land in ~/.loopml
    os.environ["LOOPML_ARTIFACT_ROOT"] = str(workdir / "artifacts")
    loopml.set_tracking_uri(uri)
    client = None  # serve: load_model opens the store itself, as a serving script's does
    if phase == "log":
        loopml.create_experiment("bench")
        loopml.set_experiment("bench")
        client = loopml.Client(tracking_uri=uri, artifact_root=str(workdir / "artifacts"))
    return mw.Tool(
        who="loopml_models_worker",
        fluent=loopml,
        client=client,
        log_model=loopml.log_model,
        load_model=loopml.load_model,
    )


def worker_main(phase: str, workdir: Path, sizes_json: str) -> None:
    t0 = pc()
    libs_s = mw.import_libs()
    t = pc()
    import loopml

    res: dict[str, Any] = {"tool": "loopml", "version": loopml.__version__, "phase": phase}
    res["import_s"] = {"libs": libs_s, "tool": pc() - t}
    tool = lm_tool(loopml, workdir.resolve(), phase)
    sizes = json.loads(sizes_json)
    res.update(mw.log_phase(tool, sizes) if phase == "log" else mw.serve_phase(tool, sizes))
    res["worker_wall_s"] = pc() - t0
    c.emit(res)


# ----------------------------------------------------------------------------------------
# The harness: two subprocesses per tool and repeat (log, then serve on the same store).
# ----------------------------------------------------------------------------------------


def prepare_dir(path: Path) -> None:
    """An empty dir; an existing one is only removed if this script made it (marker file)."""
    if path.exists():
        if not (path / MARKER).exists():
            sys.exit(f"refusing to reuse {path}: not created by this script (no {MARKER})")
        shutil.rmtree(path)
    path.mkdir(parents=True)
    (path / MARKER).touch()


def run_phase(tool: str, cmd: list[str], phase: str, workdir: Path, sizes: dict[str, Any]) -> dict[str, Any]:
    """One phase of one tool in a fresh subprocess; its result is the last stdout line."""
    cmd = [*cmd, "--phase", phase, "--workdir", str(workdir), "--sizes", json.dumps(sizes)]
    t = pc()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=clean_env(), cwd=workdir, check=False)
    wall = pc() - t
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if proc.returncode != 0 or not lines:
        return {"error": f"{tool} {phase} worker failed (rc={proc.returncode}); see stderr above"}
    try:
        res = json.loads(lines[-1])
    except json.JSONDecodeError:
        return {"error": f"{tool} {phase} worker printed no JSON result: {lines[-1][:200]!r}"}
    res["subprocess_wall_s"] = wall
    return res


def run_tool(tool: str, cmd: list[str], workdir: Path, sizes: dict[str, Any]) -> dict[str, Any]:
    """Both phases on a fresh store; a failed log phase skips the serve phase."""
    prepare_dir(workdir)
    out: dict[str, Any] = {"tool": tool}
    for phase in PHASES:
        c.log(WHO, f"{tool}: phase {phase}")
        res = run_phase(tool, cmd, phase, workdir, sizes)
        if "error" in res:
            out["error"] = res["error"]
            break
        out["version"] = res.get("version")
        out[phase] = res
    return out


def run_repeats(args: argparse.Namespace, cmds: dict[str, list[str]]) -> dict[str, list[dict[str, Any]]]:
    """``--repeats`` fresh-store runs per tool, interleaved (loopml r1, mlflow r1, loopml r2, ...)."""
    results: dict[str, list[dict[str, Any]]] = {tool: [] for tool in cmds}
    for rep in range(1, args.repeats + 1):
        for tool, cmd in cmds.items():
            c.log(WHO, f"{tool} repeat {rep}/{args.repeats}")
            results[tool].append(run_tool(tool, cmd, args.workdir / tool / f"r{rep}", sizes_of(args)))
    return results


def sizes_of(args: argparse.Namespace) -> dict[str, Any]:
    return {"rows": args.rows, "log_calls": args.log_calls, "predict_calls": args.predict_calls}


# ----------------------------------------------------------------------------------------
# Report: medians over repeats, ratios, targets.
# ----------------------------------------------------------------------------------------


def side_by_side(lm: Any, ml: Any, *path: str) -> dict[str, Any]:
    a, b = get(lm, *path), get(ml, *path)
    return {"loopml_s": a, "mlflow_s": b, "ratio": ratio(b, a)}


def overhead_figures(lm: Any, ml: Any) -> dict[str, Any]:
    lo, mo = get(lm, "serve", "predict", "overhead_ms"), get(ml, "serve", "predict", "overhead_ms")
    frac = lo / mo if isinstance(lo, float) and isinstance(mo, float) and mo > 0 else None
    return {
        "loopml_overhead_ms": lo,
        "mlflow_overhead_ms": mo,
        "loopml_over_mlflow": frac,
        "loopml": get(lm, "serve", "predict"),
        "mlflow": get(ml, "serve", "predict"),
    }


def load_figures(lm: Any, ml: Any, *where: str) -> dict[str, Any]:
    """load_model + first predict (both, then each) at ``where`` in the workers' results."""
    return {
        "load_and_first_predict": side_by_side(lm, ml, *where, "load_and_first_predict_s"),
        "load_model": side_by_side(lm, ml, *where, "load_model_s"),
        "first_predict": side_by_side(lm, ml, *where, "first_predict_s"),
    }


def workload_figures(lm: Any, ml: Any) -> dict[str, Any]:
    """Per-workload figures of both tools and the ratios mlflow / loopml."""
    later = ("log", "log_model", "later_s", "median")
    return {
        "log_model": {
            "first_call": side_by_side(lm, ml, "log", "log_model", "first_s"),
            "later_median": side_by_side(lm, ml, *later),
            "loopml": get(lm, "log", "log_model"),
            "mlflow": get(ml, "log", "log_model"),
        },
        "registry": {
            "register_model": side_by_side(lm, ml, "log", "registry", "register_model_s"),
            "set_alias": side_by_side(lm, ml, "log", "registry", "set_alias_s"),
        },
        "load_predict": {
            # the log process, right after register + alias: tool imported, store open
            "in_process": load_figures(lm, ml, "log", "load_in_process"),
            # a fresh subprocess: load_model opens the store (imports done before, reported)
            "fresh_process": load_figures(lm, ml, "serve")
            | {
                "imports_before_s": {
                    "loopml": get(lm, "serve", "import_s"),
                    "mlflow": get(ml, "serve", "import_s"),
                }
            },
        },
        "predict": overhead_figures(lm, ml),
    }


# name, what, kind ("ratio": >= threshold, "max_s": < threshold, "max_fraction": <= threshold), path
TARGETS: tuple[tuple[str, str, str, float, tuple[str, ...]], ...] = (
    (
        "log_model",
        "first log_model of the process at least 20x faster than mlflow.sklearn.log_model (defaults)",
        "ratio",
        20.0,
        ("log_model", "first_call", "ratio"),
    ),
    (
        "load_predict",
        "load_model('models:/bench_pipeline@champion') + first predict under 0.1 s, in the process"
        " that registered it (store open, as ../shared/bench/mlflow_bench.py measures)",
        "max_s",
        0.1,
        ("load_predict", "in_process", "load_and_first_predict", "loopml_s"),
    ),
    (
        "predict_overhead",
        "single-row predict overhead over the raw pipeline at most 1/4 of MLflow pyfunc's",
        "max_fraction",
        0.25,
        ("predict", "loopml_over_mlflow"),
    ),
)


# Figures reported next to the targets, not judged: name, what, path to a side_by_side.
REPORTED: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "load_predict_fresh_process",
        "load_model('models:/bench_pipeline@champion') + first predict in a fresh process (tool and"
        " libraries imported before, not timed): load_model opens the store itself",
        ("load_predict", "fresh_process", "load_and_first_predict"),
    ),
)


def correctness(res: dict[str, Any] | None) -> dict[str, Any] | None:
    """The checks of both loads: in the log process, and in the fresh (serve) process."""
    if res is None:
        return None
    return {
        "in_process": get(res, "log", "load_in_process", "check"),
        "fresh_process": get(res, "serve", "check"),
        "ok": checks_ok(res),
    }


def checks_ok(res: dict[str, Any] | None) -> bool | None:
    """Did the tool's loaded models (in process and fresh) predict what the raw pipeline
    predicts? None if not run."""
    if res is None or "error" in res:
        return None
    in_process = get(res, "log", "load_in_process", "check", "ok") is True
    return in_process and get(res, "serve", "check", "ok") is True


def met(kind: str, value: float, threshold: float) -> bool:
    if kind == "ratio":
        return value >= threshold
    return value < threshold if kind == "max_s" else value <= threshold


def evaluate(
    target: tuple[str, str, str, float, tuple[str, ...]], w: dict[str, Any], lm: Any, ml: Any
) -> dict[str, Any]:
    name, what, kind, threshold, path = target
    value = get(w, *path)
    ok = {"loopml": checks_ok(lm)} | ({"mlflow": checks_ok(ml)} if kind != "max_s" else {})
    out: dict[str, Any] = {"name": name, "target": what, "kind": kind, "threshold": threshold, "value": value}
    out["results_correct"] = ok
    if value is None:
        out["pass"], out["note"] = None, "not measured (tool skipped or failed)"
        if name == "predict_overhead" and get(w, "predict", "mlflow_overhead_ms") is not None:
            out["note"] = "MLflow's overhead is not positive: no meaningful fraction"
        return out
    out["pass"] = bool(met(kind, value, threshold) and ok["loopml"])
    if not ok["loopml"]:
        out["note"] = "loopml's loaded model did not predict what the raw pipeline predicts"
    return out


def build_report(args: argparse.Namespace, results: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    errors = [r["error"] for reps in results.values() for r in reps if "error" in r]
    merged = {
        tool: merge_repeats(ok) if (ok := [r for r in reps if "error" not in r]) else None
        for tool, reps in results.items()
    }
    lm, ml = merged.get("loopml"), merged.get("mlflow")
    w = workload_figures(lm, ml)
    targets = [evaluate(t, w, lm, ml) for t in TARGETS]
    report: dict[str, Any] = {
        "targets": targets,
        "all_targets_pass": all(t["pass"] is True for t in targets),
        "targets_summary": {
            verdict: [t["name"] for t in targets if t["pass"] is flag]
            for verdict, flag in (("passed", True), ("failed", False), ("not_measured", None))
        },
        "reported": [{"name": name, "what": what, **(get(w, *path) or {})} for name, what, path in REPORTED],
        "correctness": {tool: correctness(res) for tool, res in merged.items()},
        "workloads": w,
        "errors": errors,
    }
    if args.repeats > 1:
        report["repeats_raw"] = results
    return report


def peer_meta(peer: peer_venv.PeerEnv | None) -> dict[str, Any]:
    if peer is None:
        return {"status": "skipped", "note": "--no-peers"}
    telemetry = os.environ.get("MLFLOW_DISABLE_TELEMETRY")
    return {
        "status": "ran" if peer.python else "skipped",
        "note": peer.note,
        "python": str(peer.python) if peer.python else None,
        "store": "sqlite:///WORKDIR/mlflow/rK/mlflow.db (no server),"
        " artifacts in WORKDIR/mlflow/rK/artifacts",
        "telemetry": f"MLFLOW_DISABLE_TELEMETRY={telemetry}" if telemetry else "MLflow default (on)",
    }


def make_meta(args: argparse.Namespace, peer: peer_venv.PeerEnv | None) -> dict[str, Any]:
    return {
        "benchmark": "benchmarks/bench_models.py",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
        "note": busy_note(),
        "repeats": args.repeats,
        "sizes": sizes_of(args),
        "workdir": str(args.workdir),
        "model_uri": mw.MODEL_URI,
        "loopml_store": "sqlite:///WORKDIR/loopml/rK/loopml.db, artifacts in WORKDIR/loopml/rK/artifacts",
        "peers": {"mlflow": peer_meta(peer)},
        "ratios": "mlflow / loopml of the medians: > 1 means loopml is faster",
    }


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=1, help="fresh-store runs per tool (medians reported)")
    ap.add_argument("--log-calls", type=int, default=5, help="log_model calls after the first (default 5)")
    ap.add_argument("--predict-calls", type=int, default=1000, help="single-row predictions (default 1000)")
    ap.add_argument("--rows", type=int, default=2000, help="rows of the synthetic training data")
    ap.add_argument("--no-peers", action="store_true", help="loopml only (MLflow not needed)")
    ap.add_argument("--install-peers", action="store_true", help="create the MLflow venv if missing")
    ap.add_argument("--workdir", type=Path, help="where the stores go (default: a temp dir, removed)")
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    ap.add_argument("--_worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    ap.add_argument("--sizes", help=argparse.SUPPRESS)
    return ap.parse_args()


def main() -> int:
    args = parse_args()
    if args._worker:
        worker_main(args.phase, args.workdir, args.sizes)
        return 0
    t_all = pc()
    temp = args.workdir is None
    args.workdir = Path(args.workdir or tempfile.mkdtemp(prefix="loopml-bench-models-")).resolve()
    peer = None if args.no_peers else peer_venv.mlflow_python(install=args.install_peers)
    if peer is not None and peer.python is None:
        c.log(WHO, peer.note)
    meta = make_meta(args, peer)
    results = run_repeats(
        args,
        peer_venv.worker_commands(HERE / "bench_models.py", HERE / "peers" / "mlflow_models_peer.py", peer),
    )
    meta["versions"] = {tool: get(reps, 0, "version") for tool, reps in results.items()}
    report = {"meta": meta, **build_report(args, results)}
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
