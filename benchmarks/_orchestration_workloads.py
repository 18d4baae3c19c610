"""The orchestration workloads of ``bench_orchestration.py``, written once for loopml and Prefect.

Standard library only, and it never imports loopml or prefect itself: each worker imports
its tool and hands in its ``flow``, ``task``, ``wait`` and ``INPUTS`` as a :class:`Tool`
(loopml: ``loopml.flow``, ``loopml.task``, ``loopml.wait``, ``loopml.cache_policies.INPUTS``;
Prefect: ``prefect.flow``, ``prefect.task``, ``prefect.futures.wait``,
``prefect.cache_policies.INPUTS``). The loopml worker is ``bench_orchestration.py --_worker``
(``.venv``), the Prefect one ``peers/prefect_peer.py`` (the Prefect venv, which puts
``benchmarks/`` on ``sys.path`` to import this module).

Both tools run the same flows and tasks, defined in :func:`build_flows` with the tool's
decorators: the same calls, the same timing boundaries. What differs is where each stores
its records (``Tool.db_path``, ``Tool.task_table``) and how many task runs a subflow call
adds to its parent (Prefect: one wrapper task run per subflow).

Records complete: a tool may record task runs after the flow has returned (Prefect reports
them to its API server as events, which records them later). After every timed sample,
:func:`measure` counts the finished task runs in the tool's SQLite file right at return
(``recorded_at_return``) and then waits until all expected ones are there (``drain_s``,
polling the file), so each sample starts with an idle store and both "flow returned" and
"records complete" are reported. For a tool that writes before returning, drain is ~0.

The fresh-process workloads (one-task flow, exit right after a flow) are source templates,
:func:`one_task_flow_source` and :func:`exit_flow_source`, run by the harness under each
tool's interpreter.
"""

from __future__ import annotations

import gc
import os
import sqlite3
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TextIO

import _common as c
from _common import pc


@dataclass(frozen=True)
class Tool:
    """One tool's handles and store layout, as its worker set them up."""

    who: str  # progress prefix, e.g. "loopml_orch_worker", "prefect_peer"
    flow: Any  # decorator: loopml.flow / prefect.flow
    task: Any  # decorator: loopml.task / prefect.task
    wait: Any  # loopml.wait / prefect.futures.wait
    INPUTS: Any  # the INPUTS cache policy
    db_path: Path  # the SQLite file holding the task runs
    task_table: str  # "task_runs" (loopml) / "task_run" (Prefect)
    finished_where: str  # SQL condition of a finished task run ("" = every row counts)
    subflow_task_runs: int  # task runs a subflow call adds in its parent flow (Prefect: 1)
    progress: TextIO  # where progress lines go (the harness's stderr)
    drain_timeout: float = 300.0

    def log(self, msg: str) -> None:
        print(f"[{self.who} {time.strftime('%H:%M:%S')}] {msg}", file=self.progress, flush=True)


# ----------------------------------------------------------------------------------------
# Process helpers (no psutil: the Prefect venv stays as pip made it)
# ----------------------------------------------------------------------------------------


def send_tool_output_to(log_path: Path) -> TextIO:
    """Point fd 2 (the tool's logs, its subprocesses' too) at ``log_path``.

    Returns a stream on the original stderr, for progress lines. Both workers do this, so
    neither tool pays for writing its logs to a terminal.
    """
    sys.stderr.flush()
    progress = os.fdopen(os.dup(2), "w", buffering=1)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 2)
    os.close(fd)
    return progress


def rss_mb(pid: int | str = "self", key: str = "VmRSS") -> float | None:
    """Current (VmRSS) or peak (VmHWM) resident memory of a process, from /proc."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


# ----------------------------------------------------------------------------------------
# The store: counting task runs and measuring the file
# ----------------------------------------------------------------------------------------


def count_task_runs(tool: Tool) -> int:
    """Finished task runs in the tool's SQLite file now (a fresh connection: no stale snapshot)."""
    if not tool.db_path.exists():
        return 0
    where = f" where {tool.finished_where}" if tool.finished_where else ""
    try:
        con = sqlite3.connect(f"file:{tool.db_path}?mode=ro", uri=True, timeout=30)
        try:
            return int(con.execute(f"select count(*) from {tool.task_table}{where}").fetchone()[0])
        finally:
            con.close()
    except sqlite3.OperationalError:  # table not created yet
        return 0


def wait_recorded(tool: Tool, target: int) -> tuple[float, int]:
    """Wait until ``target`` finished task runs are in the store; (seconds waited, count)."""
    t = pc()
    n = count_task_runs(tool)
    while n < target:
        if pc() - t > tool.drain_timeout:
            tool.log(f"drain timeout: {n} < {target} task runs recorded")
            break
        time.sleep(0.1)
        n = count_task_runs(tool)
    return pc() - t, n


def store_size(db_path: Path) -> dict[str, Any]:
    """File sizes of a SQLite store after a WAL checkpoint (no VACUUM), and of its other files.

    ``main_bytes``: the database file after ``PRAGMA wal_checkpoint(TRUNCATE)`` (what the
    database holds); ``side_files_bytes_before_checkpoint``: ``-wal``/``-shm`` as found;
    ``other_files_bytes``: every other file under the store's home (result files...), logs
    of the benchmark excluded.
    """
    out: dict[str, Any] = {"side_files_bytes_before_checkpoint": c.db_bytes(str(db_path))}
    out["side_files_bytes_before_checkpoint"] -= os.path.getsize(db_path) if db_path.exists() else 0
    try:
        con = sqlite3.connect(str(db_path), timeout=30)
        try:
            out["checkpoint"] = list(con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone())
        finally:
            con.close()
    except sqlite3.Error as e:
        out["checkpoint"] = f"failed: {e}"
    out["main_bytes"] = os.path.getsize(db_path) if db_path.exists() else 0
    other = 0
    for root, _, files in os.walk(db_path.parent):
        for name in files:
            if not name.startswith(db_path.name) and name not in ("worker.log", "process.log"):
                other += os.path.getsize(os.path.join(root, name))
    out["other_files_bytes"] = other
    return out


# ----------------------------------------------------------------------------------------
# The flows and tasks, built with the tool's decorators
# ----------------------------------------------------------------------------------------


def state_info(state: Any) -> dict[str, Any]:
    """Type, name and completion of a State (``return_state=True``), whatever its class."""
    typ = getattr(state, "type", None)
    typ = getattr(typ, "value", typ)
    done = state.is_completed() if callable(getattr(state, "is_completed", None)) else None
    return {
        "type": None if typ is None else str(typ),
        "name": getattr(state, "name", None),
        "completed": done,
    }


def build_flows(tool: Tool) -> SimpleNamespace:
    """Every flow and task of the workloads, decorated by the tool's ``flow`` and ``task``."""
    flow, task, wait, INPUTS = tool.flow, tool.task, tool.wait, tool.INPUTS

    def inc_fn(x: int) -> int:
        return x + 1

    inc = task(inc_fn)

    @flow
    def empty_flow() -> int:
        return 0

    @flow
    def seq_flow(n: int) -> float:
        t = pc()
        for i in range(n):
            inc(i)
        return pc() - t

    @flow
    def submit_flow(n: int) -> int:
        futs = [inc.submit(i) for i in range(n)]
        wait(futs)
        return sum(f.result() for f in futs)

    @flow
    def map_flow(n: int) -> int:
        return sum(inc.map(range(n)).result())

    @flow
    def sub_flow(j: int, k: int) -> int:
        return sum(inc(j * 1000 + i) for i in range(k))

    @flow
    def parent_flow(s: int, k: int) -> int:
        return sum(sub_flow(j, k) for j in range(s))

    @flow
    def many_empty_subflows(s: int) -> float:
        t = pc()
        for _ in range(s):
            empty_flow()
        return pc() - t

    attempts: dict[str, int] = {}

    @task(retries=3, retry_delay_seconds=0)
    def flaky(key: str) -> int:
        attempts[key] = attempts.get(key, 0) + 1
        if attempts[key] <= 2:
            raise RuntimeError(f"planned failure {attempts[key]}")
        return attempts[key]

    @flow
    def retry_flow(key: str) -> dict[str, Any]:
        t = pc()
        st = flaky(key, return_state=True)
        return {"task_call_s": pc() - t, "state": state_info(st), "attempts": attempts.get(key)}

    body_calls: dict[int, int] = {}

    @task(cache_policy=INPUTS)
    def cached(x: int) -> int:
        body_calls[x] = body_calls.get(x, 0) + 1
        return x * 2

    @flow
    def cache_flow(x: int) -> dict[str, Any]:
        t0 = pc()
        s1 = cached(x, return_state=True)
        t1 = pc()
        s2 = cached(x, return_state=True)
        t2 = pc()
        return {
            "x": x,
            "first_s": t1 - t0,
            "second_s": t2 - t1,
            "first_state": state_info(s1),
            "second_state": state_info(s2),
            "second_result": s2.result(),
            "body_calls": body_calls.get(x),
        }

    @flow
    def sliced_flow(n: int, slices: int) -> list[tuple[float, float, float, float | None, int]]:
        """``n`` sequential tasks; at the end of each of ``slices`` slices: (wall s, process CPU
        s, main-thread CPU s, current RSS MB, Python's allocated memory blocks after a full
        garbage collection). The collection and the readings are left out of the timings."""
        per = max(1, n // slices)
        marks = []
        t, cpu, main_cpu = pc(), time.process_time(), time.thread_time()
        for i in range(n):
            inc(i)
            if (i + 1) % per == 0:
                now = (pc() - t, time.process_time() - cpu, time.thread_time() - main_cpu)
                gc.collect()
                marks.append((*now, rss_mb(), sys.getallocatedblocks()))
                paused = (pc() - t, time.process_time() - cpu, time.thread_time() - main_cpu)
                t += paused[0] - now[0]
                cpu += paused[1] - now[1]
                main_cpu += paused[2] - now[2]
        return marks

    return SimpleNamespace(**{k: v for k, v in locals().items() if k not in ("tool", "flow", "task")})


# ----------------------------------------------------------------------------------------
# Measuring: wall, client CPU, records at return, drain
# ----------------------------------------------------------------------------------------


def sample(tool: Tool, name: str, fn: Callable[[], Any], expected: int, samples: int) -> list[dict[str, Any]]:
    """Call ``fn`` ``samples`` times; each call must leave ``expected`` new finished task runs.

    Per sample: flow wall, client CPU (the worker process, all threads), task runs recorded
    when the call returned, then the wait until all ``expected`` are recorded (drain).
    """
    rows = []
    for r in range(samples):
        base = count_task_runs(tool)
        cpu0 = time.process_time()
        t = pc()
        extra = fn()
        wall = pc() - t
        cpu = time.process_time() - cpu0
        at_return = count_task_runs(tool) - base
        drain, total = wait_recorded(tool, base + expected)
        rows.append(
            {"wall": wall, "cpu": cpu, "at_return": at_return, "drain": drain, "recorded": total - base}
            | {"extra": extra}
        )
        tool.log(
            f"{name} sample {r + 1}/{samples}: wall={wall:.4f}s at_return={at_return} drain={drain:.3f}s"
        )
    return rows


def summarize(rows: list[dict[str, Any]], expected: int) -> dict[str, Any]:
    """Medians (and min/max/p95) of :func:`sample` rows; ``_extras`` holds what the flows returned."""
    return {
        "wall_s": c.stats(x["wall"] for x in rows),
        "wall_samples_s": [x["wall"] for x in rows],
        "client_cpu_s": c.stats(x["cpu"] for x in rows),
        "drain_s": c.stats(x["drain"] for x in rows),
        "wall_plus_drain_s": c.stats(x["wall"] + x["drain"] for x in rows),
        "expected_task_runs": expected,
        "recorded_at_return": [x["at_return"] for x in rows],
        "recorded": [x["recorded"] for x in rows],
        "records_complete_on_return": all(x["at_return"] >= expected for x in rows),
        "records_complete": all(x["recorded"] >= expected for x in rows),
        "_extras": [x["extra"] for x in rows],
    }


def measure(tool: Tool, name: str, fn: Callable[[], Any], expected: int, samples: int) -> dict[str, Any]:
    return summarize(sample(tool, name, fn, expected, samples), expected)


def median_of(block: dict[str, Any], key: str = "wall_s") -> float:
    return float(block[key]["median"])


def per_task(block: dict[str, Any], n: int, empty_s: float) -> None:
    w = median_of(block)
    block["n_tasks"] = n
    block["per_task_ms"] = 1000 * w / n
    block["marginal_per_task_ms"] = 1000 * (w - empty_s) / n  # minus the empty flow's fixed cost
    block["per_task_ms_incl_drain"] = 1000 * median_of(block, "wall_plus_drain_s") / n


# ----------------------------------------------------------------------------------------
# The workloads of one worker process
# ----------------------------------------------------------------------------------------


def run_main(tool: Tool, sizes: dict[str, Any]) -> dict[str, Any]:
    """Every in-process workload, in order, on a fresh store (see the harness for sizes)."""
    f = build_flows(tool)
    n, s, k, so = sizes["tasks"], sizes["subflows"], sizes["subflow_tasks"], sizes["subflow_overhead"]
    res: dict[str, Any] = {}

    # first flow of the process: creates the store (Prefect: also starts its API server)
    t = pc()
    f.empty_flow()
    res["first_flow_s"] = pc() - t
    tool.log(f"first flow: {res['first_flow_s']:.3f}s")

    plain = []
    for _ in range(5):
        t = pc()
        for i in range(n):
            f.inc_fn(i)
        plain.append(pc() - t)
    res["plain_python_loop_s"] = c.stats(plain)

    res["empty_flow"] = measure(tool, "empty_flow", f.empty_flow, 0, sizes["light_samples"])
    empty_s = median_of(res["empty_flow"])

    # sequential; its first sample is bracketed by store sizes (a fresh store: only the
    # empty flows above in it) for the bytes per task run
    size0 = store_size(tool.db_path)
    rows = sample(tool, f"sequential x{n} (store size)", lambda: f.seq_flow(n), n, 1)
    size1 = store_size(tool.db_path)
    rows += sample(tool, f"sequential x{n}", lambda: f.seq_flow(n), n, sizes["seq_samples"] - 1)
    seq = summarize(rows, n)
    seq["inner_loop_s"] = c.stats(seq.pop("_extras"))
    per_task(seq, n, empty_s)
    res["sequential"] = seq
    grown = size1["main_bytes"] - size0["main_bytes"]
    res["store_bytes"] = {
        "task_runs": n,
        "recorded": rows[0]["recorded"],
        "before": size0,
        "after": size1,
        "bytes_per_task_run": grown / n,
        "incl_other_files_bytes_per_task_run": (
            grown + size1["other_files_bytes"] - size0["other_files_bytes"]
        )
        / n,
        "how": "growth of the SQLite main file over one sequential flow of n trivial tasks on a fresh store "
        "(only the warm-up and empty flows before it), each size taken after all task runs were "
        "recorded and a PRAGMA wal_checkpoint(TRUNCATE) (no VACUUM), divided by n. Everything the tool "
        "writes to its database for those runs counts (Prefect: task runs, states, logs, events); "
        "incl_other_files adds the growth of the other files in the store's home (result files).",
    }

    def check_sum(block: dict[str, Any], want: int) -> None:
        block["check"] = {"ok": all(x == want for x in block.pop("_extras"))}

    res["submit"] = measure(tool, f"submit x{n}", lambda: f.submit_flow(n), n, sizes["heavy_samples"])
    check_sum(res["submit"], sum(range(1, n + 1)))
    per_task(res["submit"], n, empty_s)
    res["map"] = measure(tool, f"map x{n}", lambda: f.map_flow(n), n, sizes["heavy_samples"])
    check_sum(res["map"], sum(range(1, n + 1)))
    per_task(res["map"], n, empty_s)

    expected = s * k + s * tool.subflow_task_runs
    sub = measure(tool, f"subflows {s}x{k}", lambda: f.parent_flow(s, k), expected, sizes["heavy_samples"])
    check_sum(sub, sum(j * 1000 * k + k * (k + 1) // 2 for j in range(s)))
    sub.update({"n_subflows": s, "tasks_per_subflow": k})
    sub["per_subflow_ms"] = 1000 * (median_of(sub) - empty_s) / s
    res["subflows"] = sub

    ovh = measure(
        tool, f"{so} empty subflows", lambda: f.many_empty_subflows(so), so * tool.subflow_task_runs, 1
    )
    loops = ovh.pop("_extras")
    ovh["n_subflows"] = so
    ovh["subflow_loop_s"] = c.stats(loops)
    ovh["per_subflow_ms"] = 1000 * statistics.median(loops) / so  # the loop inside the parent flow
    ovh["per_subflow_ms_minus_empty_flow"] = 1000 * (median_of(ovh) - empty_s) / so
    res["subflow_overhead"] = ovh

    ret = measure(tool, "retries", lambda: f.retry_flow(uuid.uuid4().hex), 1, sizes["light_samples"])
    ex = ret.pop("_extras")
    ret["task_call_s"] = c.stats(e["task_call_s"] for e in ex)
    ret["final_states"] = [e["state"] for e in ex]
    ret["attempts"] = [e["attempts"] for e in ex]
    ret["check"] = {
        "ok": all(e["state"]["completed"] is True and e["attempts"] == 3 for e in ex),
        "what": "the task failed twice, then completed on its 3rd attempt",
    }
    res["retries"] = ret

    cache = measure(tool, "cache", lambda: f.cache_flow(uuid.uuid4().int % 10**12), 2, sizes["light_samples"])
    ex = cache.pop("_extras")
    cache["first_call_s"] = c.stats(e["first_s"] for e in ex)
    cache["second_call_s"] = c.stats(e["second_s"] for e in ex)
    cache["second_states"] = [e["second_state"] for e in ex]
    cache["check"] = {
        "ok": all(e["body_calls"] == 1 and e["second_state"]["completed"] is True for e in ex)
        and all(e["second_result"] == 2 * e["x"] for e in ex),
        "what": "second call with the same input: body not run again, completed state",
    }
    res["cache"] = cache

    res["peak_rss_mb"] = c.peak_rss_mb()
    return res


def deltas(ends: list[float]) -> list[float]:
    """Per-slice amounts from cumulative ones."""
    return [b - a for a, b in zip([0.0, *ends[:-1]], ends, strict=True)]


def trend(per_slice: list[float]) -> float | None:
    """Median of the last third of the slices over the median of the first third (robust to
    one slow slice on a busy machine): about 1 when a flow does not slow down as it goes."""
    k = max(1, len(per_slice) // 3)
    first = statistics.median(per_slice[:k])
    return statistics.median(per_slice[-k:]) / first if first > 0 else None


def run_big(tool: Tool, sizes: dict[str, Any]) -> dict[str, Any]:
    """A flow of ``big_tasks`` sequential tasks in a fresh process: time and RSS per slice."""
    f = build_flows(tool)
    n, slices = sizes["big_tasks"], sizes["big_slices"]
    t = pc()
    f.empty_flow()  # store creation / server start, outside the measurement
    res: dict[str, Any] = {"first_flow_s": pc() - t, "n_tasks": n, "slices": slices}
    rss0, peak0 = rss_mb(), c.peak_rss_mb()
    block = measure(tool, f"sliced flow x{n}", lambda: f.sliced_flow(n, slices), n, 1)
    rss1, peak1 = rss_mb(), c.peak_rss_mb()
    marks = block.pop("_extras")[0]
    res.update(block)
    res["slice_tasks"] = n // slices
    for key, col in (("wall", 0), ("cpu", 1), ("main_thread_cpu", 2)):
        per_slice = deltas([m[col] for m in marks])
        res[f"slice_{key}_s"] = per_slice
        res[f"{key}_first_slice_s"], res[f"{key}_last_slice_s"] = per_slice[0], per_slice[-1]
        res[f"{key}_last_over_first"] = per_slice[-1] / per_slice[0] if per_slice[0] > 0 else None
        res[f"{key}_trend"] = trend(per_slice)
    rss = [m[3] for m in marks]
    res["rss_by_slice_mb"] = rss
    res["python_allocated_blocks_by_slice"] = [m[4] for m in marks]
    res["python_allocated_blocks_growth"] = marks[-1][4] - marks[0][4]
    res["rss_before_mb"], res["rss_after_mb"] = rss0, rss1
    res["peak_rss_before_mb"], res["peak_rss_after_mb"] = peak0, peak1
    res["peak_rss_growth_mb"] = peak1 - peak0
    known = [x for x in rss if x is not None]
    res["rss_growth_first_to_last_slice_mb"] = known[-1] - known[0] if known else None
    return res


# ----------------------------------------------------------------------------------------
# Fresh-process workloads: sources run by the harness under each tool's interpreter
# ----------------------------------------------------------------------------------------


def one_task_flow_source(module: str) -> str:
    """A script running a one-task flow: timed by the harness from process start to exit."""
    return (
        f"from {module} import flow, task\n"
        "@task\n"
        "def inc(x):\n"
        "    return x + 1\n"
        "@flow\n"
        "def one_task_flow():\n"
        "    return inc(1)\n"
        "assert one_task_flow() == 2\n"
    )


def exit_flow_source(module: str, n: int) -> str:
    """A script running a flow of ``n`` tasks, then exiting at once: what got recorded?"""
    return (
        f"from {module} import flow, task\n"
        "@task\n"
        "def inc(x):\n"
        "    return x + 1\n"
        "@flow\n"
        "def exit_flow(n):\n"
        "    for i in range(n):\n"
        "        inc(i)\n"
        "    return n\n"
        f"assert exit_flow({n}) == {n}\n"
    )
