"""The tracking workloads on MLflow's SQLite store (no server), run INSIDE the MLflow venv.

Does not import loopml. ``bench_tracking.py`` runs it as::

    benchmarks/.peers/mlflow/bin/python benchmarks/peers/mlflow_peer.py \\
        --workdir DIR --sizes '{"single_metrics": 2000, ...}'

and reads the one JSON line it prints last on stdout (progress goes to stderr). The
tracking URI is ``sqlite:///DIR/mlflow.db``, artifacts go to ``DIR/artifacts``. Every
workload mirrors the loopml one in ``bench_tracking.py`` (same data, same calls).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

# Run as a script, sys.path[0] is benchmarks/peers, whose venv.py would shadow the stdlib
# module of that name: swap it for benchmarks/ (home of _common).
sys.path[0] = str(Path(__file__).resolve().parents[1])

import _common as c  # noqa: E402
from _common import pc  # noqa: E402

WHO = "mlflow_peer"


def log_metric_workload(mlflow: Any, client: Any, sizes: dict[str, Any]) -> dict[str, Any]:
    """``mlflow.log_metric`` called ``single_metrics`` times in one run."""
    n = sizes["single_metrics"]
    vals = c.values(n, c.SEED)
    durs = []
    with mlflow.start_run(run_name="single-metrics") as run:
        t0 = pc()
        for i in range(n):
            t = pc()
            mlflow.log_metric("loss", vals[i], step=i)
            durs.append(pc() - t)
        wall = pc() - t0
    got = len(client.get_metric_history(run.info.run_id, "loss"))
    return {"n": n, **c.per_call(durs, wall, n), "check": {"points": got, "ok": got == n}}


def log_batch_workload(mlflow: Any, client: Any, sizes: dict[str, Any]) -> dict[str, Any]:
    """``MlflowClient.log_batch`` of ``batch_metrics`` values, ``batch_keys`` keys."""
    from mlflow.entities import Metric

    nb, bs, nk = sizes["batch_metrics"], sizes["batch_size"], sizes["batch_keys"]
    vals, ts = c.values(nb, c.SEED + 1), c.now_ms()
    metrics = [Metric(f"b{i % nk}", vals[i], ts + i, i // nk) for i in range(nb)]
    batches = [metrics[i : i + bs] for i in range(0, nb, bs)]
    with mlflow.start_run(run_name="batch-metrics") as run:
        run_id = run.info.run_id
        durs = []
        t0 = pc()
        for b in batches:
            t = pc()
            client.log_batch(run_id, metrics=b)
            durs.append(pc() - t)
        wall = pc() - t0
    got = sum(len(client.get_metric_history(run_id, f"b{k}")) for k in range(nk))
    per_batch = c.per_call(durs, wall, len(batches))
    return {
        "n_values": nb,
        "batch_size": bs,
        "n_batches": len(batches),
        **per_batch,
        "check": {"points": got, "ok": got == nb},
    }


def create_runs_workload(mlflow: Any, client: Any, sizes: dict[str, Any]) -> dict[str, Any]:
    """``runs`` runs: start_run + log_params + log_metrics + set_tags + end, one after another."""
    n = sizes["runs"]
    exp_id = mlflow.create_experiment("bench-runs")
    specs = list(c.iter_run_specs(n, sizes, c.SEED + 2))
    durs = []
    t0 = pc()
    for s in specs:
        t = pc()
        with mlflow.start_run(experiment_id=exp_id):
            mlflow.log_params(s.params)
            mlflow.log_metrics(s.metrics)
            mlflow.set_tags(s.tags)
        durs.append(pc() - t)
    wall = pc() - t0
    got = [r for r in client.search_runs([exp_id], max_results=n + 1) if r.info.status == "FINISHED"]
    ok = len(got) == n and all(len(r.data.params) == len(specs[0].params) for r in got)
    return {"n_runs": n, **c.per_call(durs, wall, n), "check": {"runs": len(got), "ok": ok}}


def populate(client: Any, exp_id: str, specs: Any, count: int, expect: c.SearchExpectation) -> None:
    """Create ``count`` runs from ``specs``: create_run + one log_batch each."""
    from mlflow.entities import Metric, Param, RunTag

    ts = c.now_ms()
    step = max(count // 10, 1)
    for i in range(count):
        s = next(specs)
        run_id = client.create_run(exp_id).info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, ts, 0) for k, v in s.metrics.items()],
            params=[Param(k, v) for k, v in s.params.items()],
            tags=[RunTag(k, v) for k, v in s.tags.items()],
        )
        expect.add(s)
        if (i + 1) % step == 0:
            c.log(WHO, f"  search runs: {i + 1}/{count}")


def search_once(mlflow: Any, client: Any, exp_id: str, expect: c.SearchExpectation, reps: int) -> dict:
    """Client first page (max_results=1000) and fluent DataFrame of all matches, median of ``reps``."""
    order = [c.SEARCH_ORDER_BY]
    cdurs, page = c.time_each(
        lambda: client.search_runs(
            [exp_id], filter_string=c.SEARCH_FILTER, order_by=order, max_results=c.SEARCH_PAGE
        ),
        reps,
    )
    fdurs, df = c.time_each(
        lambda: mlflow.search_runs(experiment_ids=[exp_id], filter_string=c.SEARCH_FILTER, order_by=order),
        reps,
    )
    m1 = [r.data.metrics["m1"] for r in page]
    return {
        "client_first_page_s": c.stats(cdurs),
        "fluent_all_matches_s": c.stats(fdurs),
        "check": expect.check(m1, len(df)),
    }


def search_workload(mlflow: Any, client: Any, sizes: dict[str, Any]) -> dict[str, Any]:
    """Populate runs up to each of ``search_sizes`` and search at each size."""
    exp_id = client.create_experiment("bench-search")
    targets = sorted(sizes["search_sizes"])
    specs = c.iter_run_specs(targets[-1], sizes, c.SEED + 3)
    expect = c.SearchExpectation()
    out: dict[str, Any] = {"filter": c.SEARCH_FILTER, "order_by": c.SEARCH_ORDER_BY, "by_size": []}
    have, populate_s = 0, 0.0
    for n in targets:
        t = pc()
        populate(client, exp_id, specs, n - have, expect)
        populate_s += pc() - t
        have = n
        c.log(WHO, f"  searching {n} runs")
        res = search_once(mlflow, client, exp_id, expect, sizes["search_repeats"])
        out["by_size"].append({"runs": n, **res})
    out["populate"] = {"runs": have, "wall_s": populate_s, "per_run_ms": 1000 * populate_s / max(have, 1)}
    return out


def history_workload(client: Any, exp_id: str, sizes: dict[str, Any]) -> dict[str, Any]:
    """Log ``history_points`` points of one key with log_batch, then time get_metric_history."""
    from mlflow.entities import Metric

    n, bs = sizes["history_points"], sizes["batch_size"]
    vals, ts = c.values(n, c.SEED + 4), c.now_ms()
    run_id = client.create_run(exp_id, run_name="history").info.run_id
    t = pc()
    for lo in range(0, n, bs):
        client.log_batch(
            run_id, metrics=[Metric("loss", vals[i], ts + i, i) for i in range(lo, min(lo + bs, n))]
        )
    log_s = pc() - t
    client.set_terminated(run_id)
    durs, hist = c.time_each(lambda: client.get_metric_history(run_id, "loss"), sizes["history_repeats"])
    ok = len(hist) == n and sorted(m.step for m in hist) == list(range(n))
    return {
        "points": n,
        "log_batch_wall_s": log_s,
        "get_metric_history_s": c.stats(durs),
        "check": {"points_returned": len(hist), "ok": ok},
    }


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
    for name, fn in (
        ("log_metric", lambda: log_metric_workload(mlflow, client, sizes)),
        ("log_batch", lambda: log_batch_workload(mlflow, client, sizes)),
        ("create_runs", lambda: create_runs_workload(mlflow, client, sizes)),
    ):
        c.log(WHO, f"workload {name}")
        res[name] = fn()
    res["db_mb_after_common"] = c.db_bytes(str(db)) / 1e6
    c.log(WHO, "workload search_runs")
    res["search_runs"] = search_workload(mlflow, client, sizes)
    c.log(WHO, "workload metric_history")
    res["metric_history"] = history_workload(client, exp_id, sizes)
    res["db_mb"] = c.db_bytes(str(db)) / 1e6
    res["peak_rss_mb"] = c.peak_rss_mb()
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
