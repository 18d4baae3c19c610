"""The tracking workloads on MLflow's SQLite store (no server), run INSIDE the MLflow venv.

Does not import loopml. ``bench_tracking.py`` runs it as::

    benchmarks/.peers/mlflow/bin/python benchmarks/peers/mlflow_peer.py \\
        --workdir DIR --sizes '{"single_metrics": 2000, ...}'

and reads the one JSON line it prints last on stdout (progress goes to stderr). The
tracking URI is ``sqlite:///DIR/mlflow.db``, artifacts go to ``DIR/artifacts``. This file
only sets up MLflow's store; the workloads are those of ``_workloads.py``, the same code
the loopml worker in ``bench_tracking.py`` runs (same data, same calls).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

# Run as a script, sys.path[0] is benchmarks/peers, whose venv.py would shadow the stdlib
# module of that name: swap it for benchmarks/ (home of _common and _workloads).
sys.path[0] = str(Path(__file__).resolve().parents[1])

import _common as c  # noqa: E402
import _workloads as wl  # noqa: E402
from _common import pc  # noqa: E402

WHO = "mlflow_peer"


def run_workloads(workdir: Path, sizes: dict[str, Any]) -> dict[str, Any]:
    t = pc()
    import mlflow
    from mlflow import MlflowClient

    res: dict[str, Any] = {"tool": "mlflow", "version": mlflow.__version__, "import_in_worker_s": pc() - t}
    os.chdir(workdir)  # any default ./mlruns lands in the workdir
    db = workdir / "mlflow.db"
    mlflow.set_tracking_uri(f"sqlite:///{db}")
    client = MlflowClient()
    t = pc()
    exp_id = mlflow.create_experiment("bench", artifact_location=(workdir / "artifacts").as_uri())
    res["first_store_call_s"] = pc() - t  # creates the tables
    mlflow.set_experiment(experiment_id=exp_id)
    res["tracking_uri"] = mlflow.get_tracking_uri()
    from mlflow.entities import Metric, Param, RunTag

    tool = wl.Tool(who=WHO, fluent=mlflow, client=client, Metric=Metric, Param=Param, RunTag=RunTag)
    res.update(wl.run_all(tool, exp_id, db, sizes))
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", required=True, type=Path, help="empty dir for mlflow.db and artifacts")
    ap.add_argument("--sizes", required=True, help="JSON object of workload sizes (see bench_tracking.py)")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    t = pc()
    res = run_workloads(args.workdir.resolve(), json.loads(args.sizes))
    res["worker_wall_s"] = pc() - t
    c.emit(res)


if __name__ == "__main__":
    main()
