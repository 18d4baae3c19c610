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
import sys
from pathlib import Path
from typing import Any

import _common as c
import _harness as h
import _model_workloads as mw
from _common import pc
from _harness import get
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


def run_tool(tool: str, cmd: list[str], workdir: Path, sizes: dict[str, Any]) -> dict[str, Any]:
    """Both phases on a fresh store, each in a fresh subprocess; a failed log phase skips serve."""
    h.prepare_dir(workdir, MARKER)
    out: dict[str, Any] = {"tool": tool}
    for phase in PHASES:
        c.log(WHO, f"{tool}: phase {phase}")
        full = [*cmd, "--phase", phase, "--workdir", str(workdir), "--sizes", json.dumps(sizes)]
        res = h.run_worker(f"{tool} {phase}", full, workdir)
        if "error" in res:
            out["error"] = res["error"]
            break
        out["version"] = res.get("version")
        out[phase] = res
    return out


def run_repeats(args: argparse.Namespace, cmds: dict[str, list[str]]) -> h.Results:
    """``--repeats`` fresh-store runs per tool, interleaved (loopml r1, mlflow r1, loopml r2, ...)."""

    def run_one(tool: str, rep: int) -> dict[str, Any]:
        c.log(WHO, f"{tool} repeat {rep}/{args.repeats}")
        return run_tool(tool, cmds[tool], args.workdir / tool / f"r{rep}", sizes_of(args))

    return h.run_repeats(args.repeats, cmds, run_one)


def sizes_of(args: argparse.Namespace) -> dict[str, Any]:
    return {"rows": args.rows, "log_calls": args.log_calls, "predict_calls": args.predict_calls}


# ----------------------------------------------------------------------------------------
# Report: medians over repeats, ratios, targets.
# ----------------------------------------------------------------------------------------


def side_by_side(lm: Any, ml: Any, *path: str) -> dict[str, Any]:
    return h.side_by_side(lm, ml, "mlflow", *path)


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
TARGETS: tuple[h.Target, ...] = (
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


def evaluate(target: h.Target, w: dict[str, Any], lm: Any, ml: Any) -> dict[str, Any]:
    name, _, kind, _, path = target
    ok = {"loopml": checks_ok(lm)} | ({"mlflow": checks_ok(ml)} if kind != "max_s" else {})
    wrong = "loopml's loaded model did not predict what the raw pipeline predicts"
    out = h.judge(target, get(w, *path), ok, wrong)
    if (
        out["value"] is None
        and name == "predict_overhead"
        and get(w, "predict", "mlflow_overhead_ms") is not None
    ):
        out["note"] = "MLflow's overhead is not positive: no meaningful fraction"
    return out


def build_report(args: argparse.Namespace, results: h.Results) -> dict[str, Any]:
    merged = h.merge_tools(results)
    lm, ml = merged.get("loopml"), merged.get("mlflow")
    w = workload_figures(lm, ml)
    figures = {
        "reported": [{"name": name, "what": what, **(get(w, *path) or {})} for name, what, path in REPORTED],
        "correctness": {tool: correctness(res) for tool, res in merged.items()},
        "workloads": w,
    }
    return h.report_body([evaluate(t, w, lm, ml) for t in TARGETS], figures, results, args.repeats)


def make_meta(args: argparse.Namespace, peer: peer_venv.PeerEnv | None, precompiled: bool) -> dict[str, Any]:
    store = "sqlite:///WORKDIR/mlflow/rK/mlflow.db (no server), artifacts in WORKDIR/mlflow/rK/artifacts"
    return h.meta_head("benchmarks/bench_models.py", precompiled) | {
        "repeats": args.repeats,
        "sizes": sizes_of(args),
        "workdir": str(args.workdir),
        "model_uri": mw.MODEL_URI,
        "loopml_store": "sqlite:///WORKDIR/loopml/rK/loopml.db, artifacts in WORKDIR/loopml/rK/artifacts",
        "peers": {"mlflow": h.peer_status(peer, store=store, telemetry=h.mlflow_telemetry())},
        "ratios": "mlflow / loopml of the medians: > 1 means loopml is faster",
    }


def parse_args() -> argparse.Namespace:
    ap = h.new_parser(__doc__)
    h.add_repeats_flag(ap, "fresh-store")
    ap.add_argument("--log-calls", type=int, default=5, help="log_model calls after the first (default 5)")
    ap.add_argument("--predict-calls", type=int, default=1000, help="single-row predictions (default 1000)")
    ap.add_argument("--rows", type=int, default=2000, help="rows of the synthetic training data")
    h.add_peer_flags(ap, "MLflow")
    h.add_run_flags(ap, PHASES)
    return ap.parse_args()


def main() -> int:
    args = parse_args()
    if args._worker:
        worker_main(args.phase, args.workdir, args.sizes)
        return 0
    t_all = pc()
    temp = h.use_workdir(args, "loopml-bench-models-")
    peer = h.find_peer(args, peer_venv.mlflow_python, WHO)
    cmds = peer_venv.worker_commands(HERE / "bench_models.py", HERE / "peers" / "mlflow_models_peer.py", peer)
    precompiled = h.precompile_loopml(WHO)
    meta = make_meta(args, peer, precompiled)
    results = run_repeats(args, cmds)
    meta["versions"] = h.versions(results)
    return h.finish({"meta": meta, **build_report(args, results)}, args, temp, t_all)


if __name__ == "__main__":
    sys.exit(main())
