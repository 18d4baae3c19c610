"""The tracking workloads of ``bench_tracking.py``, written once for loopml and MLflow.

Standard library only, and it never imports loopml or mlflow itself: each worker imports
its tool, sets up its store and hands the tool in as a :class:`Tool`. The loopml worker is
``bench_tracking.py --_worker`` (``.venv``), the MLflow one ``peers/mlflow_peer.py`` (the
MLflow venv, which puts ``benchmarks/`` on ``sys.path`` to import this module).

loopml's API is MLflow-compatible for every call made here (fluent ``start_run``,
``log_metric``, ``log_params``, ``log_metrics``, ``set_tags``, ``create_experiment``,
``search_runs``; client ``log_batch``, ``create_run``, ``create_experiment``,
``search_runs``, ``get_metric_history``, ``set_terminated``; the ``Metric``, ``Param`` and
``RunTag`` entities), so both tools run the same code: the same data, the same calls, the
same timing boundaries. What differs between them is the store setup (tracking URI,
client construction, artifact root, the ``bench`` experiment), which stays in each worker.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _common as c
from _common import pc


@dataclass(frozen=True)
class Tool:
    """One tool's handles, as its worker set them up.

    ``fluent`` is the top-level module (``loopml`` / ``mlflow``), ``client`` its tracking
    client (``loopml.Client`` / ``mlflow.MlflowClient``) on the same store, and ``Metric``,
    ``Param``, ``RunTag`` its entity classes (``loopml.*`` / ``mlflow.entities.*``).
    """

    who: str  # progress-log prefix on stderr, e.g. "loopml_worker", "mlflow_peer"
    fluent: Any
    client: Any
    Metric: Any
    Param: Any
    RunTag: Any


def log_metric(tool: Tool, sizes: dict[str, Any]) -> dict[str, Any]:
    """Fluent ``log_metric`` called ``single_metrics`` times in one run."""
    fluent, client = tool.fluent, tool.client
    n = sizes["single_metrics"]
    vals = c.values(n, c.SEED)
    durs = []
    with fluent.start_run(run_name="single-metrics") as run:
        t0 = pc()
        for i in range(n):
            t = pc()
            fluent.log_metric("loss", vals[i], step=i)
            durs.append(pc() - t)
        wall = pc() - t0
    got = len(client.get_metric_history(run.info.run_id, "loss"))
    return {"n": n, **c.per_call(durs, wall, n), "check": {"points": got, "ok": got == n}}


def log_batch(tool: Tool, sizes: dict[str, Any]) -> dict[str, Any]:
    """Client ``log_batch`` of ``batch_metrics`` values, ``batch_keys`` keys."""
    fluent, client, Metric = tool.fluent, tool.client, tool.Metric
    nb, bs, nk = sizes["batch_metrics"], sizes["batch_size"], sizes["batch_keys"]
    vals, ts = c.values(nb, c.SEED + 1), c.now_ms()
    metrics = [Metric(f"b{i % nk}", vals[i], ts + i, i // nk) for i in range(nb)]
    batches = [metrics[i : i + bs] for i in range(0, nb, bs)]
    with fluent.start_run(run_name="batch-metrics") as run:
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


def create_runs(tool: Tool, sizes: dict[str, Any]) -> dict[str, Any]:
    """``runs`` runs: start_run + log_params + log_metrics + set_tags + end, one after another."""
    fluent, client = tool.fluent, tool.client
    n = sizes["runs"]
    exp_id = fluent.create_experiment("bench-runs")
    specs = list(c.iter_run_specs(n, sizes, c.SEED + 2))
    durs = []
    t0 = pc()
    for s in specs:
        t = pc()
        with fluent.start_run(experiment_id=exp_id):
            fluent.log_params(s.params)
            fluent.log_metrics(s.metrics)
            fluent.set_tags(s.tags)
        durs.append(pc() - t)
    wall = pc() - t0
    got = [r for r in client.search_runs([exp_id], max_results=n + 1) if r.info.status == "FINISHED"]
    ok = len(got) == n and all(len(r.data.params) == len(specs[0].params) for r in got)
    return {"n_runs": n, **c.per_call(durs, wall, n), "check": {"runs": len(got), "ok": ok}}


def populate(tool: Tool, exp_id: str, specs: Iterator[Any], count: int, expect: c.SearchExpectation) -> None:
    """Create ``count`` runs from ``specs``: create_run + one log_batch each."""
    client, Metric, Param, RunTag = tool.client, tool.Metric, tool.Param, tool.RunTag
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
            c.log(tool.who, f"  search runs: {i + 1}/{count}")


def search_once(tool: Tool, exp_id: str, expect: c.SearchExpectation, reps: int) -> dict[str, Any]:
    """Client first page (max_results=1000) and fluent DataFrame of all matches, median of ``reps``."""
    fluent, client = tool.fluent, tool.client
    order = [c.SEARCH_ORDER_BY]
    cdurs, page = c.time_each(
        lambda: client.search_runs(
            [exp_id], filter_string=c.SEARCH_FILTER, order_by=order, max_results=c.SEARCH_PAGE
        ),
        reps,
    )
    fdurs, df = c.time_each(
        lambda: fluent.search_runs(experiment_ids=[exp_id], filter_string=c.SEARCH_FILTER, order_by=order),
        reps,
    )
    m1 = [r.data.metrics["m1"] for r in page]
    return {
        "client_first_page_s": c.stats(cdurs),
        "fluent_all_matches_s": c.stats(fdurs),
        "check": expect.check(m1, len(df)),
    }


def search(tool: Tool, sizes: dict[str, Any]) -> dict[str, Any]:
    """Populate runs up to each of ``search_sizes`` and search at each size."""
    exp_id = tool.client.create_experiment("bench-search")
    targets = sorted(sizes["search_sizes"])
    specs = c.iter_run_specs(targets[-1], sizes, c.SEED + 3)
    expect = c.SearchExpectation()
    out: dict[str, Any] = {"filter": c.SEARCH_FILTER, "order_by": c.SEARCH_ORDER_BY, "by_size": []}
    have, populate_s = 0, 0.0
    for n in targets:
        t = pc()
        populate(tool, exp_id, specs, n - have, expect)
        populate_s += pc() - t
        have = n
        c.log(tool.who, f"  searching {n} runs")
        res = search_once(tool, exp_id, expect, sizes["search_repeats"])
        out["by_size"].append({"runs": n, **res})
    out["populate"] = {"runs": have, "wall_s": populate_s, "per_run_ms": 1000 * populate_s / max(have, 1)}
    return out


def history(tool: Tool, exp_id: str, sizes: dict[str, Any]) -> dict[str, Any]:
    """Log ``history_points`` points of one key with log_batch, then time get_metric_history."""
    client, Metric = tool.client, tool.Metric
    n, bs = sizes["history_points"], sizes["batch_size"]
    vals, ts = c.values(n, c.SEED + 4), c.now_ms()
    run_id = client.create_run(exp_id, run_name="history").info.run_id
    t = pc()
    for lo in range(0, n, bs):
        batch = [Metric("loss", vals[i], ts + i, i) for i in range(lo, min(lo + bs, n))]
        client.log_batch(run_id, metrics=batch)
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


def run_all(tool: Tool, exp_id: str, db: Path, sizes: dict[str, Any]) -> dict[str, Any]:
    """Every workload in order, on the store the worker set up.

    ``exp_id`` is the worker's ``bench`` experiment (the fluent API's current one, which also
    holds the history run), ``db`` its SQLite file (sizes are read after the common workloads
    and at the end). Returns the workloads' part of the worker's JSON result.
    """
    res: dict[str, Any] = {}
    for name, fn in (("log_metric", log_metric), ("log_batch", log_batch), ("create_runs", create_runs)):
        c.log(tool.who, f"workload {name}")
        res[name] = fn(tool, sizes)
    res["db_mb_after_common"] = c.db_bytes(str(db)) / 1e6
    c.log(tool.who, "workload search_runs")
    res["search_runs"] = search(tool, sizes)
    c.log(tool.who, "workload metric_history")
    res["metric_history"] = history(tool, exp_id, sizes)
    res["db_mb"] = c.db_bytes(str(db)) / 1e6
    res["peak_rss_mb"] = c.peak_rss_mb()
    return res
