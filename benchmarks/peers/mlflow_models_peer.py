"""The model workloads on MLflow's SQLite store (no server), run INSIDE the MLflow venv.

Does not import loopml. ``bench_models.py`` runs it twice per repeat, each time in a fresh
process on the same workdir::

    benchmarks/.peers/mlflow/bin/python benchmarks/peers/mlflow_models_peer.py \\
        --phase log --workdir DIR --sizes '{"rows": 2000, "log_calls": 5, "predict_calls": 1000}'
    benchmarks/.peers/mlflow/bin/python benchmarks/peers/mlflow_models_peer.py \\
        --phase serve --workdir DIR --sizes '...'

and reads the one JSON line each prints last on stdout (progress goes to stderr). The
tracking (and registry) URI is ``sqlite:///DIR/mlflow.db``, artifacts go to ``DIR/artifacts``.
This file only sets up MLflow's store; the workloads are those of ``_model_workloads.py``,
the same code the loopml worker in ``bench_models.py`` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

# Run as a script, sys.path[0] is benchmarks/peers, whose venv.py would shadow the stdlib
# module of that name: swap it for benchmarks/ (home of _common and _model_workloads).
sys.path[0] = str(Path(__file__).resolve().parents[1])

import _common as c  # noqa: E402
import _model_workloads as mw  # noqa: E402
from _common import pc  # noqa: E402

WHO = "mlflow_models_peer"


def import_mlflow() -> tuple[Any, float]:
    """``import mlflow`` plus the flavor modules used (``mlflow.sklearn``, ``mlflow.pyfunc``)."""
    t = pc()
    import mlflow
    import mlflow.pyfunc
    import mlflow.sklearn

    return mlflow, pc() - t


def make_tool(mlflow: Any, workdir: Path, phase: str) -> mw.Tool:
    os.chdir(workdir)  # any default ./mlruns lands in the workdir
    mlflow.set_tracking_uri(f"sqlite:///{workdir / 'mlflow.db'}")
    if phase == "log":
        exp_id = mlflow.create_experiment("bench", artifact_location=(workdir / "artifacts").as_uri())
        mlflow.set_experiment(experiment_id=exp_id)
    return mw.Tool(
        who=WHO,
        fluent=mlflow,
        # serve: no client; load_model opens the store itself, as a serving script's does
        client=mlflow.MlflowClient() if phase == "log" else None,
        log_model=mlflow.sklearn.log_model,
        load_model=mlflow.pyfunc.load_model,
    )


def run_phase(phase: str, workdir: Path, sizes: dict[str, Any]) -> dict[str, Any]:
    libs_s = mw.import_libs()
    mlflow, tool_s = import_mlflow()
    res: dict[str, Any] = {"tool": "mlflow", "version": mlflow.__version__, "phase": phase}
    res["import_s"] = {"libs": libs_s, "tool": tool_s}
    tool = make_tool(mlflow, workdir, phase)
    res.update(mw.log_phase(tool, sizes) if phase == "log" else mw.serve_phase(tool, sizes))
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--phase", required=True, choices=("log", "serve"))
    ap.add_argument("--workdir", required=True, type=Path, help="dir for mlflow.db and artifacts")
    ap.add_argument("--sizes", required=True, help="JSON object of workload sizes (see bench_models.py)")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    t = pc()
    res = run_phase(args.phase, args.workdir.resolve(), json.loads(args.sizes))
    res["worker_wall_s"] = pc() - t
    c.emit(res)


if __name__ == "__main__":
    main()
