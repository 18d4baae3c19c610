#!/usr/bin/env python3
"""Orchestration benchmark: loopml's @flow/@task against Prefect 3.9.1's, in the same run.

Workloads (each tool in fresh subprocesses with its own store, see README.md; the
in-process ones are written once in _orchestration_workloads.py for both tools):

  import            ``import loopml`` / ``import prefect`` in fresh subprocesses (median of N).
  one_task_process  a one-task flow in a fresh Python process, process start to exit.
  persistence       a fresh process runs a flow of 300 tasks and exits at once: task runs
                    found in the store afterwards.
  first_flow        the first flow of a worker process (store creation; Prefect: API server).
  empty_flow        an empty flow (median after the warm-up flow).
  sequential        1,000 sequential trivial tasks in one flow: flow wall, task runs recorded
                    when it returns, and the wait until all are recorded (drain).
  store_bytes       SQLite file growth over that 1,000-task flow on a fresh store, per task run.
  submit, map       1,000 tasks through ``.submit()`` + ``wait``, and through ``.map()``.
  subflows          100 subflows of 5 tasks each.
  subflow_overhead  a flow calling 100 empty subflows: per-subflow ms.
  retries           a task failing twice then succeeding (retries=3, retry_delay_seconds=0).
  cache             an INPUTS-cached task: first call, then the cache hit.
  scale_10k         10,000 sequential tasks in one flow (fresh process): time per 1,000-task
                    slice, RSS (Prefect only with --prefect-10k at --scale >= 1: minutes).

Prints one JSON object on stdout (progress on stderr): the figures of both tools, ratios
``prefect / loopml`` and a pass/fail per target. Usage::

  .venv/bin/python benchmarks/bench_orchestration.py --install-peers    # both tools, ~13 min
  .venv/bin/python benchmarks/bench_orchestration.py --scale 0.05       # smoke run, ~3 min
  .venv/bin/python benchmarks/bench_orchestration.py --no-peers         # loopml only
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import _common as c
import _harness as h
import _orchestration_workloads as owl
from _common import pc
from _harness import get, ratio
from peers import venv as peer_venv

WHO = "bench_orchestration"
HERE = Path(__file__).resolve().parent
MARKER = ".bench_orchestration"
TOOLS = ("loopml", "prefect")

BASE_SIZES: dict[str, Any] = {
    "tasks": 1000,  # sequential, submit, map (and the store-bytes flow)
    "subflows": 100,
    "subflow_tasks": 5,
    "subflow_overhead": 100,  # empty subflows in one parent flow
    "big_tasks": 10_000,
    "big_slices": 10,
    "exit_tasks": 300,  # persistence: tasks of the flow that exits at once
    "light_samples": 5,  # empty flow, retries, cache
    "seq_samples": 3,  # sequential (the first one also measures the store bytes)
    "heavy_samples": 1,  # submit, map, subflows, subflow_overhead
}
SCALED = ("tasks", "subflows", "subflow_overhead", "big_tasks", "exit_tasks")


# Where each tool keeps its task runs: home variable, SQLite file, table, state column, and the
# states of a finished (successful) task run. Prefect records a cache hit as COMPLETED ("Cached").
STORES: dict[str, dict[str, Any]] = {
    "loopml": {
        "home_var": "LOOPML_HOME",
        "db": "loopml.db",
        "table": "task_runs",
        "state_col": "state",
        "finished": ("COMPLETED", "CACHED"),
    },
    "prefect": {
        "home_var": "PREFECT_HOME",
        "db": "prefect.db",
        "table": "task_run",
        "state_col": "state_type",
        "finished": ("COMPLETED",),
    },
}


def finished_where(tool: str) -> str:
    store = STORES[tool]
    return f"{store['state_col']} in ({', '.join(repr(x) for x in store['finished'])})"


# Prefect's only non-default setting (the peer worker sets the same): how long a process waits
# for its ephemeral API server to answer. It does not change how fast anything runs.
PREFECT_EXTRA_ENV = {"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120"}


def sizes_for(scale: float) -> dict[str, Any]:
    sizes = dict(BASE_SIZES)
    for k in SCALED:
        sizes[k] = h.scaled(sizes[k], scale)
    sizes["big_slices"] = min(sizes["big_slices"], sizes["big_tasks"])
    return sizes


# ----------------------------------------------------------------------------------------
# The loopml worker: a fresh subprocess per phase (``--_worker --phase main|big``); the
# workloads are in _orchestration_workloads.py, shared with peers/prefect_peer.py.
# ----------------------------------------------------------------------------------------


def worker_main(phase: str, workdir: Path, sizes_json: str, drain_timeout: float) -> None:
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    os.chdir(workdir)
    os.environ["LOOPML_HOME"] = str(workdir)  # the store is LOOPML_HOME/loopml.db
    progress = owl.send_tool_output_to(workdir / "worker.log")
    t0 = pc()
    import loopml

    # attribute access: ``from loopml.cache_policies import INPUTS`` needs a real submodule
    INPUTS = loopml.cache_policies.INPUTS

    res: dict[str, Any] = {"tool": "loopml", "version": loopml.__version__, "phase": phase}
    res["import_in_worker_s"] = pc() - t0
    store = STORES["loopml"]
    tool = owl.Tool(
        who="loopml_orch_worker",
        flow=loopml.flow,
        task=loopml.task,
        wait=loopml.wait,
        INPUTS=INPUTS,
        db_path=workdir / store["db"],
        task_table=store["table"],
        finished_where=finished_where("loopml"),
        subflow_task_runs=0,
        progress=progress,
        drain_timeout=drain_timeout,
    )
    sizes = json.loads(sizes_json)
    res.update(owl.run_main(tool, sizes) if phase == "main" else owl.run_big(tool, sizes))
    res["store"] = "embedded, sqlite LOOPML_HOME/loopml.db"
    res["worker_wall_s"] = pc() - t0
    res["loadavg_end"] = os.getloadavg()
    c.emit(res)


# ----------------------------------------------------------------------------------------
# The harness: fresh processes, workers, repeats (the shared parts are in _harness.py).
# ----------------------------------------------------------------------------------------


def tool_env(tool: str | None = None, home: Path | None = None) -> dict[str, str]:
    """A clean environment (no LOOPML_*, MLFLOW_*, PREFECT_* settings), with the tool's home.

    Prefect also gets a longer wait for its ephemeral server to answer (its default, 20 s, is
    not enough on a busy box while the server creates its database): see PREFECT_EXTRA_ENV.
    """
    env = {k: v for k, v in h.clean_env().items() if not k.startswith("PREFECT_")}
    if tool is not None and home is not None:
        env[STORES[tool]["home_var"]] = str(home)
    if tool == "prefect":
        env |= PREFECT_EXTRA_ENV
    return env


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "".join(path.read_text(errors="replace").splitlines(keepends=True)[-lines:])
    except OSError:
        return ""


def run_script(python: str, source: str, tool: str, home: Path) -> tuple[float, int]:
    """Run ``source`` in a fresh interpreter: (process start to exit seconds, return code)."""
    with open(home / "process.log", "a") as err:
        t = pc()
        proc = subprocess.run(
            [python, "-c", source], stdout=err, stderr=err, env=tool_env(tool, home), cwd=home, check=False
        )
        return pc() - t, proc.returncode


def task_run_states(tool: str, home: Path) -> dict[str, str]:
    """Every task run in the tool's store: id -> state."""
    db = home / STORES[tool]["db"]
    if not db.exists():
        return {}
    table = STORES[tool]["table"]
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        cols = [r[1] for r in con.execute(f"pragma table_info({table})")]
        if not cols:
            return {}
        idc = "id" if "id" in cols else cols[0]
        sel = f"select {idc}, {STORES[tool]['state_col']} from {table}"
        return {str(r[0]): str(r[1]) for r in con.execute(sel)}
    finally:
        con.close()


def fresh_processes(
    pythons: dict[str, str], args: argparse.Namespace, sizes: dict[str, Any]
) -> dict[str, Any]:
    """One-task flows in fresh processes (first ever, then repeats), then the exit check."""
    out: dict[str, Any] = {tool: {} for tool in pythons}
    homes = {tool: args.workdir / tool / "process" for tool in pythons}
    for tool, python in pythons.items():
        h.prepare_dir(homes[tool], MARKER)
        bare = [run_script(python, "pass", tool, homes[tool])[0] for _ in range(3)]
        out[tool]["bare_python_process_s"] = c.stats(bare)
        wall, rc = run_script(python, owl.one_task_flow_source(tool), tool, homes[tool])
        out[tool]["first_ever_s"] = wall  # creates the store (Prefect: and migrates it)
        out[tool]["rcs"] = [rc]
        c.log(WHO, f"{tool}: first one-task flow process {wall:.3f}s (rc={rc})")
    walls: dict[str, list[float]] = {tool: [] for tool in pythons}
    for _ in range(args.process_repeats):
        for tool, python in pythons.items():
            wall, rc = run_script(python, owl.one_task_flow_source(tool), tool, homes[tool])
            walls[tool].append(wall)
            out[tool]["rcs"].append(rc)
    for tool, python in pythons.items():
        o = out[tool]
        o["one_task_process_s"] = {**(c.stats(walls[tool]) or {}), "samples": walls[tool]}
        o["ok"] = all(rc == 0 for rc in o["rcs"])
        c.log(WHO, f"{tool}: one-task flow process median {get(o, 'one_task_process_s', 'median')}")
        o["persistence"] = persistence(python, tool, homes[tool], sizes["exit_tasks"])
    return out


def persistence(python: str, tool: str, home: Path, n: int) -> dict[str, Any]:
    """A fresh process runs a flow of ``n`` tasks and exits at once: the task runs it left in the store."""
    before = task_run_states(tool, home)
    wall, rc = run_script(python, owl.exit_flow_source(tool, n), tool, home)
    new = {k: v for k, v in task_run_states(tool, home).items() if k not in before}
    by_state: dict[str, int] = {}
    for v in new.values():
        by_state[str(v)] = by_state.get(str(v), 0) + 1
    done = sum(by_state.get(s, 0) for s in STORES[tool]["finished"])
    c.log(WHO, f"{tool}: exit right after a {n}-task flow: {len(new)} task runs found {by_state}")
    return {
        "tasks_run": n,
        "process_wall_s": wall,
        "rc": rc,
        "task_runs_found": len(new),
        "task_runs_finished": done,
        "by_state": by_state,
        "complete": rc == 0 and done >= n,
    }


def run_phase(
    tool: str, cmd: list[str], phase: str, workdir: Path, sizes: dict[str, Any], drain_timeout: float
) -> dict[str, Any]:
    """One phase of one tool in a fresh subprocess on a fresh store; its result is the last stdout line."""
    h.prepare_dir(workdir, MARKER)
    full = [*cmd, "--phase", phase, "--workdir", str(workdir), "--sizes", json.dumps(sizes)]
    full += ["--drain-timeout", str(drain_timeout)]

    def end_of_log(rc: int) -> str:
        tail = log_tail(workdir / "worker.log")
        c.log(WHO, f"{tool} {phase} worker failed (rc={rc}); end of its log:\n{tail}")
        return f": {tail[-1500:]}"

    return h.run_worker(f"{tool} {phase}", full, workdir, tool_env(), end_of_log)


def big_skip_note(tool: str, args: argparse.Namespace) -> str | None:
    if tool == "prefect" and not (args.prefect_10k and args.scale >= 1.0):
        return "Prefect's 10,000-task flow runs only with --prefect-10k at --scale >= 1 (it takes minutes)"
    return None


def run_main(args: argparse.Namespace, tool: str, cmd: list[str], rep: int) -> dict[str, Any]:
    """The main phase of one repeat: a repeat's result, with the main workloads."""
    c.log(WHO, f"{tool} main workloads, repeat {rep}/{args.repeats}")
    workdir = args.workdir / tool / f"r{rep}" / "main"
    res = run_phase(tool, cmd, "main", workdir, sizes_for(args.scale), args.drain_timeout)
    c.log(WHO, f"{tool} main done in {res.get('subprocess_wall_s', 0):.1f}s")
    out = {"tool": tool, "version": res.get("version"), "main": res}
    if "error" in res:
        out["error"] = res["error"]
    return out


def add_big(args: argparse.Namespace, tool: str, cmd: list[str], rep: int, out: dict[str, Any]) -> None:
    """The 10,000-task phase of one repeat (or why it is skipped), added to the repeat's result."""
    note = big_skip_note(tool, args)
    if note:
        out["big"] = {"skipped": note}
        return
    sizes = sizes_for(args.scale)
    c.log(WHO, f"{tool} {sizes['big_tasks']}-task flow, repeat {rep}/{args.repeats}")
    workdir = args.workdir / tool / f"r{rep}" / "big"
    res = run_phase(tool, cmd, "big", workdir, sizes, max(args.drain_timeout, 900.0))
    c.log(WHO, f"{tool} big done in {res.get('subprocess_wall_s', 0):.1f}s")
    out["big"] = res
    if "error" in res:
        out["error"] = res["error"]


def run_repeats(args: argparse.Namespace, cmds: dict[str, list[str]]) -> h.Results:
    """``--repeats`` fresh-store runs per tool, interleaved: main phase, then the 10k phase."""
    results: h.Results = {tool: [] for tool in cmds}
    for rep in range(1, args.repeats + 1):
        reps = {tool: run_main(args, tool, cmd, rep) for tool, cmd in cmds.items()}
        for tool, cmd in cmds.items():
            add_big(args, tool, cmd, rep, reps[tool])
            results[tool].append(reps[tool])
    return results


# ----------------------------------------------------------------------------------------
# Report: medians over repeats, ratios, targets.
# ----------------------------------------------------------------------------------------


def side(lm: Any, pf: Any, *path: Any) -> dict[str, Any]:
    """The figure at ``path`` of both tools, and the ratio prefect / loopml."""
    a, b = get(lm, *path), get(pf, *path)
    return {"loopml": a, "prefect": b, "ratio": ratio(b, a)}


def flow_workload(lm: Any, pf: Any, name: str) -> dict[str, Any]:
    """Flow wall (and flow wall + drain) of a main-phase workload, both tools."""
    wall = side(lm, pf, "main", name, "wall_s", "median")
    with_drain = side(lm, pf, "main", name, "wall_plus_drain_s", "median")
    return {
        "loopml_s": wall["loopml"],
        "prefect_s": wall["prefect"],
        "ratio": wall["ratio"],
        "prefect_drain_s": get(pf, "main", name, "drain_s", "median"),
        "ratio_incl_drain": ratio(with_drain["prefect"], wall["loopml"]),
        "recorded_at_return": {
            "loopml": get(lm, "main", name, "recorded_at_return"),
            "prefect": get(pf, "main", name, "recorded_at_return"),
            "expected": {
                "loopml": get(lm, "main", name, "expected_task_runs"),
                "prefect": get(pf, "main", name, "expected_task_runs"),
            },
        },
        "loopml": get(lm, "main", name),
        "prefect": get(pf, "main", name),
    }


def big_figures(lm: Any, pf: Any) -> dict[str, Any]:
    keys = (
        "n_tasks",
        "slice_tasks",
        "wall_s",
        "wall_first_slice_s",
        "wall_last_slice_s",
        "wall_last_over_first",
        "wall_trend",
        "cpu_first_slice_s",
        "cpu_last_slice_s",
        "cpu_last_over_first",
        "cpu_trend",
        "main_thread_cpu_trend",
        "slice_wall_s",
        "slice_cpu_s",
        "rss_by_slice_mb",
        "python_allocated_blocks_growth",
        "peak_rss_before_mb",
        "peak_rss_after_mb",
        "peak_rss_growth_mb",
        "rss_growth_first_to_last_slice_mb",
        "drain_s",
        "recorded_at_return",
        "recorded",
        "records_complete_on_return",
        "records_complete",
        "server",
        "skipped",
    )

    def pick(res: Any) -> Any:
        big = get(res, "big")
        if not isinstance(big, dict):
            return None
        return {k: big[k] for k in keys if k in big}

    return {
        "loopml": pick(lm),
        "prefect": pick(pf),
        "ratio_wall": ratio(get(pf, "big", "wall_s", "median"), get(lm, "big", "wall_s", "median")),
    }


FIRST_FLOW_NOTE = "first flow of a worker on a fresh store: creates it (Prefect: also starts its API server)"


def one_task_process_figures(procs: dict[str, Any]) -> dict[str, Any]:
    """One-task flow processes: the median of the repeats, the first ever, the raw figures."""
    lm, pf = procs.get("loopml") or {}, procs.get("prefect") or {}
    return h.side_by_side(lm, pf, "prefect", "one_task_process_s", "median") | {
        "first_ever": {"loopml_s": lm.get("first_ever_s"), "prefect_s": pf.get("first_ever_s")},
        "note": "process start to exit; the store was created by an earlier first_ever run",
        "loopml": {k: v for k, v in lm.items() if k != "persistence"},
        "prefect": {k: v for k, v in pf.items() if k != "persistence"},
    }


def workload_figures(imports: dict[str, Any], procs: dict[str, Any], lm: Any, pf: Any) -> dict[str, Any]:
    """Per-workload figures of both tools and the ratios prefect / loopml."""
    w: dict[str, Any] = {
        "import": h.import_figures(imports, "prefect"),
        "one_task_process": one_task_process_figures(procs),
        "persistence": {
            "loopml": get(procs, "loopml", "persistence"),
            "prefect": get(procs, "prefect", "persistence"),
        },
        "first_flow": side(lm, pf, "main", "first_flow_s") | {"note": FIRST_FLOW_NOTE},
        "empty_flow": flow_workload(lm, pf, "empty_flow"),
    }
    empty = get(lm, "main", "empty_flow", "wall_s", "median")
    w["empty_flow"]["loopml_ms"] = 1000 * empty if isinstance(empty, int | float) else None
    for name in ("sequential", "submit", "map", "subflows"):
        w[name] = flow_workload(lm, pf, name)
        w[name]["per_task_ms"] = side(lm, pf, "main", name, "per_task_ms")
    w["subflows"]["per_subflow_ms"] = side(lm, pf, "main", "subflows", "per_subflow_ms")
    ovh = flow_workload(lm, pf, "subflow_overhead")
    ovh["per_subflow_ms"] = side(lm, pf, "main", "subflow_overhead", "per_subflow_ms")
    ovh["loopml_ms"] = ovh["per_subflow_ms"]["loopml"]
    w["subflow_overhead"] = ovh
    w["retries"] = flow_workload(lm, pf, "retries") | {
        "task_call_s": side(lm, pf, "main", "retries", "task_call_s", "median")
    }
    w["cache"] = flow_workload(lm, pf, "cache") | {
        "first_call_s": side(lm, pf, "main", "cache", "first_call_s", "median"),
        "second_call_s": side(lm, pf, "main", "cache", "second_call_s", "median"),
    }
    sb = side(lm, pf, "main", "store_bytes", "bytes_per_task_run")
    w["store_bytes"] = {
        "loopml_bytes": sb["loopml"],
        "prefect_bytes": sb["prefect"],
        "ratio": sb["ratio"],
        "how": get(lm, "main", "store_bytes", "how") or get(pf, "main", "store_bytes", "how"),
        "loopml": get(lm, "main", "store_bytes"),
        "prefect": get(pf, "main", "store_bytes"),
    }
    w["scale_10k"] = big_figures(lm, pf)
    w["peak_rss_mb"] = {
        "main_worker": side(lm, pf, "main", "peak_rss_mb"),
        "prefect_server": get(pf, "main", "server", "peak_rss_mb"),
    }
    return w


# name, what, kind, threshold, path of the value in the workload figures
#   kind "at_least": value >= threshold; "at_most": value <= threshold; "under": value < threshold
TARGETS: tuple[h.Target, ...] = (
    (
        "sequential",
        "1,000 sequential trivial tasks in one flow, records complete on return: at least 40x faster"
        " than Prefect's flow wall time",
        "at_least",
        40.0,
        ("sequential", "ratio"),
    ),
    ("empty_flow", "an empty flow at most 5 ms", "at_most", 5.0, ("empty_flow", "loopml_ms")),
    (
        "subflow",
        "a subflow at most 5 ms (flow calling 100 empty subflows: loop time / 100)",
        "at_most",
        5.0,
        ("subflow_overhead", "loopml_ms"),
    ),
    (
        "one_task_process",
        "a one-task flow in a fresh Python process, process start to exit, under 0.5 s",
        "under",
        0.5,
        ("one_task_process", "loopml_s"),
    ),
    ("store_bytes", "store bytes per task run under 2 KB", "under", 2048.0, ("store_bytes", "loopml_bytes")),
    (
        "scale_10k_no_slowdown",
        "10,000-task flow does not slow down: CPU time (all threads of the process) per 1,000-task"
        " slice, median of the last 3 slices at most 1.5x the median of the first 3 (benchmark's"
        " threshold; wall per slice is reported next to it, noisy on a busy machine)",
        "at_most",
        1.5,
        ("scale_10k", "loopml", "cpu_trend"),
    ),
    (
        "scale_10k_bounded_memory",
        "10,000-task flow with bounded memory: peak RSS growth during the flow under 50 MB"
        " (benchmark's threshold)",
        "under",
        50.0,
        ("scale_10k", "loopml", "peak_rss_growth_mb"),
    ),
)


def checks(res: Any, target: str) -> bool | None:
    """Did the tool do what the target's workload asks (right results, records)? None: not run."""
    if not isinstance(res, dict) or "error" in res:
        return None
    main = res.get("main")
    if target == "sequential":
        return get(main, "sequential", "records_complete_on_return") is True
    if target == "empty_flow":
        return get(main, "empty_flow", "wall_s") is not None
    if target == "subflow":
        return (
            get(main, "subflows", "check", "ok") is True and get(main, "subflows", "records_complete") is True
        )
    if target == "store_bytes":
        return bool(get(main, "store_bytes", "recorded") == get(main, "store_bytes", "task_runs"))
    if target.startswith("scale_10k"):
        return get(res, "big", "records_complete") is True
    return True


def evaluate(
    target: h.Target, w: dict[str, Any], lm: Any, pf: Any, procs: dict[str, Any], scale: float
) -> dict[str, Any]:
    name, _, _, _, path = target
    if name == "one_task_process":
        ok: dict[str, Any] = {"loopml": get(procs, "loopml", "ok")}
    else:
        ok = {"loopml": checks(lm, name)}
    if name == "sequential":
        ok["prefect"] = get(pf, "main", "sequential", "records_complete")  # after its drain
    wrong = "loopml's results or records were not complete (see the workload's checks)"
    return h.judge(target, get(w, *path), ok, wrong, scale)


# Figures shown next to the targets, not judged: name, what, path to a figure with loopml/prefect/ratio.
REPORTED: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("import", "import loopml / import prefect, fresh subprocess (s)", ("import",)),
    ("submit", "{tasks:,} tasks through .submit() + wait, flow wall (s)", ("submit",)),
    ("map", "{tasks:,} tasks through .map(), flow wall (s)", ("map",)),
    ("subflows", "{subflows:,} subflows of {subflow_tasks} tasks each, flow wall (s)", ("subflows",)),
    ("retries", "a flow whose task fails twice then succeeds, flow wall (s)", ("retries",)),
    ("cache", "a flow calling an INPUTS-cached task twice (miss, hit), flow wall (s)", ("cache",)),
)


def reported(w: dict[str, Any], sizes: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, what, path in REPORTED:
        fig = get(w, *path) or {}
        row: dict[str, Any] = {"name": name, "what": what.format(**sizes)}
        row |= {
            k: fig.get(k) for k in ("loopml_s", "prefect_s", "ratio", "prefect_drain_s", "ratio_incl_drain")
        }
        out.append({k: v for k, v in row.items() if v is not None or k in ("loopml_s", "prefect_s")})
    p = w["persistence"]
    out.append(
        {
            "name": "persistence",
            "what": f"a fresh process runs a flow of {sizes['exit_tasks']:,} tasks and exits at once:"
            " finished task runs found",
            "loopml": get(p, "loopml", "task_runs_finished"),
            "prefect": get(p, "prefect", "task_runs_finished"),
            "of": get(p, "loopml", "tasks_run") or get(p, "prefect", "tasks_run"),
        }
    )
    return out


def build_report(
    args: argparse.Namespace, imports: dict[str, Any], procs: dict[str, Any], results: h.Results
) -> dict[str, Any]:
    merged = h.merge_tools(results)
    lm, pf = merged.get("loopml"), merged.get("prefect")
    w = workload_figures(imports, procs, lm, pf)
    targets = [evaluate(t, w, lm, pf, procs, args.scale) for t in TARGETS]
    figures = {"reported": reported(w, sizes_for(args.scale)), "workloads": w}
    return h.report_body(targets, figures, results, args.repeats)


PREFECT_STORE = (
    "Prefect defaults: ephemeral API server (uvicorn subprocess) started by the first flow of"
    " each process, sqlite PREFECT_HOME/prefect.db, PREFECT_HOME=WORKDIR/prefect/..."
)


def make_meta(args: argparse.Namespace, peer: peer_venv.PeerEnv | None, precompiled: bool) -> dict[str, Any]:
    return h.meta_head("benchmarks/bench_orchestration.py", precompiled) | {
        "scale": args.scale,
        "repeats": args.repeats,
        "import_repeats": args.import_repeats,
        "process_repeats": args.process_repeats,
        "prefect_10k": args.prefect_10k,
        "sizes": sizes_for(args.scale),
        "workdir": str(args.workdir),
        "loopml_store": "embedded, sqlite LOOPML_HOME/loopml.db, LOOPML_HOME=WORKDIR/loopml/...",
        "peers": {"prefect": h.peer_status(peer, store=PREFECT_STORE, settings=PREFECT_EXTRA_ENV)},
        "ratios": "prefect / loopml of the medians: > 1 means loopml is faster",
        "records": "task runs are counted in each tool's SQLite file right when a flow returns "
        "(recorded_at_return), then polled until all are there (drain_s; Prefect records them "
        "asynchronously through its API server)",
    }


def parse_args() -> argparse.Namespace:
    ap = h.new_parser(__doc__)
    h.add_scale_flag(ap)
    h.add_repeats_flag(ap, "fresh-store worker")
    h.add_import_repeats_flag(ap)
    ap.add_argument("--process-repeats", type=int, default=5, help="one-task flow processes per tool")
    h.add_peer_flags(ap, "Prefect")
    ap.add_argument(
        "--prefect-10k", action="store_true", help="also run Prefect's 10,000-task flow (minutes)"
    )
    ap.add_argument("--drain-timeout", type=float, default=300.0, help="max wait for a tool's records (s)")
    h.add_run_flags(ap, ("main", "big"))
    return ap.parse_args()


def main() -> int:
    args = parse_args()
    if args._worker:
        worker_main(args.phase, args.workdir, args.sizes, args.drain_timeout)
        return 0
    t_all = pc()
    temp = h.use_workdir(args, "loopml-bench-orch-")
    peer = h.find_peer(args, peer_venv.prefect_python, WHO)
    cmds = peer_venv.worker_commands(
        HERE / "bench_orchestration.py", HERE / "peers" / "prefect_peer.py", peer
    )
    pythons = {tool: cmd[0] for tool, cmd in cmds.items()}
    precompiled = h.precompile_loopml(WHO)
    meta = make_meta(args, peer, precompiled)
    home = args.workdir / "imports"
    h.prepare_dir(home, MARKER)
    c.log(WHO, f"import timing ({args.import_repeats} fresh subprocesses per tool)")
    imports = h.measure_imports(pythons, args.import_repeats, home, lambda tool: tool_env(tool, home / tool))
    c.log(WHO, f"fresh processes: one-task flow ({args.process_repeats}x per tool), exit after a flow")
    procs = fresh_processes(pythons, args, sizes_for(args.scale))
    results = run_repeats(args, cmds)
    meta["versions"] = h.versions(results)
    return h.finish({"meta": meta, **build_report(args, imports, procs, results)}, args, temp, t_all)


if __name__ == "__main__":
    sys.exit(main())
