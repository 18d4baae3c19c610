"""The client workloads of ``bench_server.py``, written once for loopml and MLflow.

Standard library only, and it never imports loopml or mlflow itself: each worker points its
tool's fluent API at its server, then hands the tool in as a ``_workloads.Tool``. The loopml
worker is ``bench_server.py --_worker`` (``.venv``), the MLflow one
``peers/mlflow_server_peer.py`` (the MLflow venv).

- ``log_metric``: ``single_metrics`` fluent ``log_metric(key, value, step=i)`` calls in one run,
  each timed (p50/p95), then ``end_run`` timed apart (with LOOPML_ASYNC_LOGGING=true the
  queued points are sent there), then the history read back.
- ``create_runs``: ``_workloads.create_runs``, the very code of ``bench_tracking.py`` (500 runs,
  each start_run + log_params(10) + log_metrics(10) + set_tags(3) + end), over HTTP here.
"""

from __future__ import annotations

from typing import Any

import _common as c
import _workloads as wl
from _common import pc


def log_metric(tool: wl.Tool, sizes: dict[str, Any]) -> dict[str, Any]:
    """Fluent ``log_metric`` called ``single_metrics`` times in one run, then the run's end."""
    fluent, client = tool.fluent, tool.client
    n = sizes["single_metrics"]
    vals = c.values(n, c.SEED)
    run_id = fluent.start_run(run_name="single-metrics").info.run_id
    durs = []
    t0 = pc()
    for i in range(n):
        t = pc()
        fluent.log_metric("loss", vals[i], step=i)
        durs.append(pc() - t)
    loop_s = pc() - t0
    t = pc()
    fluent.end_run()
    end_s = pc() - t
    history = client.get_metric_history(run_id, "loss")
    points = sorted((m.step, m.value) for m in history)
    ok = points == [(i, vals[i]) for i in range(n)]
    return {
        "n": n,
        **c.per_call(durs, loop_s, n),
        "end_run_s": end_s,
        "wall_incl_end_run_s": loop_s + end_s,
        "check": {"points": len(points), "ok": ok},
    }


def run_all(tool: wl.Tool, sizes: dict[str, Any]) -> dict[str, Any]:
    """Both workloads, in order, on the server the worker's fluent API points at."""
    res: dict[str, Any] = {}
    c.log(tool.who, f"workload log_metric ({sizes['single_metrics']} calls)")
    res["log_metric"] = log_metric(tool, sizes)
    c.log(tool.who, f"workload create_runs ({sizes['runs']} runs)")
    res["create_runs"] = wl.create_runs(tool, sizes)
    res["peak_rss_mb"] = c.peak_rss_mb()
    return res
