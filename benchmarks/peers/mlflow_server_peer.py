"""The client side of ``bench_server.py`` against an MLflow server, run INSIDE the MLflow venv.

Does not import loopml. ``bench_server.py`` starts ``mlflow server`` itself, then runs::

    benchmarks/.peers/mlflow/bin/python benchmarks/peers/mlflow_server_peer.py \\
        --url http://127.0.0.1:PORT --workdir DIR --sizes '{"single_metrics": 1000, ...}'

and reads the one JSON line it prints last on stdout (progress goes to stderr). The fluent
API's tracking URI is the server's URL; the workloads are those of ``_server_workloads.py``,
the same code the loopml worker runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

# Run as a script, sys.path[0] is benchmarks/peers, whose venv.py would shadow the stdlib
# module of that name: swap it for benchmarks/ (home of _common and the workloads).
sys.path[0] = str(Path(__file__).resolve().parents[1])

import _common as c  # noqa: E402
import _server_workloads as swl  # noqa: E402
import _workloads as wl  # noqa: E402
from _common import pc  # noqa: E402

WHO = "mlflow_server_peer"


def run_workloads(url: str, workdir: Path, sizes: dict[str, Any]) -> dict[str, Any]:
    t = pc()
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    res: dict[str, Any] = {"tool": "mlflow", "version": mlflow.__version__, "import_in_worker_s": pc() - t}
    os.chdir(workdir)
    mlflow.set_tracking_uri(url)
    client = MlflowClient()
    t = pc()
    exp_id = mlflow.create_experiment("bench")
    res["first_call_s"] = pc() - t
    mlflow.set_experiment(experiment_id=exp_id)
    res["tracking_uri"] = mlflow.get_tracking_uri()
    tool = wl.Tool(who=WHO, fluent=mlflow, client=client, Metric=Metric, Param=Param, RunTag=RunTag)
    res.update(swl.run_all(tool, sizes))
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True, help="the MLflow server, http://127.0.0.1:PORT")
    ap.add_argument("--workdir", required=True, type=Path, help="a directory of the worker's own")
    ap.add_argument("--sizes", required=True, help="JSON object of workload sizes (see bench_server.py)")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    t = pc()
    res = run_workloads(args.url, args.workdir.resolve(), json.loads(args.sizes))
    res["worker_wall_s"] = pc() - t
    c.emit(res)


if __name__ == "__main__":
    main()
