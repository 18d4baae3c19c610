"""The orchestration workloads on Prefect 3.9.1 with its defaults, run INSIDE the Prefect venv.

Does not import loopml. ``bench_orchestration.py`` runs it as::

    benchmarks/.peers/prefect/bin/python benchmarks/peers/prefect_peer.py \\
        --phase main --workdir DIR --sizes '{"tasks": 1000, ...}'

and reads the one JSON line it prints last on stdout. Progress goes to stderr; Prefect's own
log output (and its API server's) goes to ``DIR/worker.log``. ``PREFECT_HOME`` is ``DIR``;
the only setting changed from Prefect's defaults is a 120 s (instead of 20 s) wait for its
ephemeral server to answer. As in ``../shared/bench/prefect_bench.py``, with no
``PREFECT_API_URL`` the first flow of the process starts Prefect's ephemeral API server (a
uvicorn subprocess on ``DIR/prefect.db``, created and migrated on that first flow), which
stops when the process exits. Task runs reach that server as events and are recorded
after the flow returns: the workloads count them in ``DIR/prefect.db`` (COMPLETED rows of
``task_run``) and report the wait ("drain") separately. This file only sets Prefect up; the
workloads are those of ``_orchestration_workloads.py``, the same code the loopml worker in
``bench_orchestration.py`` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

# Run as a script, sys.path[0] is benchmarks/peers, whose venv.py would shadow the stdlib
# module of that name: swap it for benchmarks/ (home of _common and _orchestration_workloads).
sys.path[0] = str(Path(__file__).resolve().parents[1])

import _common as c  # noqa: E402
import _orchestration_workloads as owl  # noqa: E402
from _common import pc  # noqa: E402

WHO = "prefect_peer"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int | str) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def server_pid() -> int | None:
    """The ephemeral API server: this process's uvicorn child, if any."""
    me = os.getpid()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if int(_stat(d)[1]) != me:
                continue
            with open(f"/proc/{d}/cmdline", "rb") as f:
                if b"uvicorn" in f.read():
                    return int(d)
        except (OSError, IndexError, ValueError):
            continue
    return None


def server_figures(pid: int | None) -> dict[str, Any]:
    if pid is None:
        return {"found": False}
    try:
        st = _stat(pid)
        cpu = (int(st[11]) + int(st[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return {"found": False}
    return {
        "found": True,
        "cpu_s": cpu,
        "peak_rss_mb": owl.rss_mb(pid, "VmHWM"),
        "rss_mb": owl.rss_mb(pid, "VmRSS"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--phase", choices=("main", "big"), default="main")
    ap.add_argument("--workdir", required=True, type=Path, help="empty dir: PREFECT_HOME")
    ap.add_argument("--sizes", required=True, help="JSON object of workload sizes (bench_orchestration.py)")
    ap.add_argument("--drain-timeout", type=float, default=300.0)
    args = ap.parse_args()
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    os.chdir(workdir)
    os.environ["PREFECT_HOME"] = str(workdir)
    # the one non-default setting (as bench_orchestration.py's fresh processes): wait up to 120 s
    # instead of 20 s for the ephemeral server to answer; on a busy box its first start, which
    # creates and migrates the database, can take longer than 20 s
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    progress = owl.send_tool_output_to(workdir / "worker.log")
    t0 = pc()
    import prefect
    from prefect import flow, task
    from prefect.cache_policies import INPUTS
    from prefect.futures import wait

    res: dict[str, Any] = {"tool": "prefect", "version": prefect.__version__, "phase": args.phase}
    res["import_in_worker_s"] = pc() - t0
    tool = owl.Tool(
        who=WHO,
        flow=flow,
        task=task,
        wait=wait,
        INPUTS=INPUTS,
        db_path=workdir / "prefect.db",
        task_table="task_run",
        finished_where="state_type in ('COMPLETED')",  # a cache hit is COMPLETED ("Cached")
        subflow_task_runs=1,  # a subflow call also creates a wrapper task run in its parent
        progress=progress,
        drain_timeout=args.drain_timeout,
    )
    sizes = json.loads(args.sizes)
    res.update(owl.run_main(tool, sizes) if args.phase == "main" else owl.run_big(tool, sizes))
    res["server"] = server_figures(server_pid())
    res["store"] = "ephemeral API server (uvicorn subprocess), sqlite PREFECT_HOME/prefect.db"
    res["worker_wall_s"] = pc() - t0
    res["loadavg_end"] = os.getloadavg()
    tool.log(f"{args.phase} done in {res['worker_wall_s']:.1f}s at {time.strftime('%H:%M:%S')}")
    c.emit(res)


if __name__ == "__main__":
    main()
