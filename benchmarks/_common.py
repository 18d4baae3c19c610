"""Timing, stats and workload-data helpers shared by the benchmark scripts.

Standard library only: this module is also imported by the peer runners, which run
inside the peers' own venvs (``benchmarks/peers/``) where loopml is not installed.
Both sides build their data with the same functions and seed, so they store and
search exactly the same values.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

pc = time.perf_counter

SEARCH_FILTER = "metrics.m0 > 0.5 and params.p1 = 'x'"
SEARCH_ORDER_BY = "metrics.m1 DESC"
SEARCH_PAGE = 1000  # max_results of the client (first page) search
SEED = 1234


def log(who: str, msg: str) -> None:
    """Progress line on stderr (stdout is reserved for the JSON result)."""
    print(f"[{who} {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def stats(xs: Iterable[float]) -> dict[str, Any] | None:
    """n, median, min, max and p95 of a sample (None for an empty one)."""
    xs = sorted(xs)
    if not xs:
        return None
    n = len(xs)
    return {
        "n": n,
        "median": statistics.median(xs),
        "min": xs[0],
        "max": xs[-1],
        "p95": xs[min(n - 1, round(0.95 * (n - 1)))],
    }


def time_each(fn: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    """Call ``fn`` ``repeats`` times; return the durations and the last result."""
    durs, out = [], None
    for _ in range(repeats):
        t = pc()
        out = fn()
        durs.append(pc() - t)
    return durs, out


def per_call(durs: list[float], wall: float, n: int) -> dict[str, float]:
    """Per-call figures (ms) of a loop of ``n`` timed calls taking ``wall`` seconds."""
    s = stats(durs) or {"median": 0.0, "p95": 0.0, "max": 0.0}
    return {
        "wall_s": wall,
        "per_call_ms_mean": 1000 * wall / max(n, 1),
        "per_call_ms_p50": 1000 * s["median"],
        "per_call_ms_p95": 1000 * s["p95"],
        "per_call_ms_max": 1000 * s["max"],
        "calls_per_s": n / wall if wall else None,
    }


def db_bytes(db_path: str) -> int:
    """Size of a SQLite database including its WAL/journal side files."""
    total = 0
    for suffix in ("", "-wal", "-shm", "-journal"):
        if os.path.exists(db_path + suffix):
            total += os.path.getsize(db_path + suffix)
    return total


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def now_ms() -> int:
    return int(time.time() * 1000)


# ----------------------------------------------------------------------------------------
# Workload data: identical on every side (same seed, same order of draws).
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSpec:
    """Params, metrics and tags of one run of the runs / search workloads."""

    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]


def iter_run_specs(n: int, sizes: dict[str, Any], seed: int) -> Iterator[RunSpec]:
    """``n`` runs: p1 alternates 'x'/'y', metrics are uniform in [0, 1).

    A generator, so 100,000 runs never sit in memory at once.
    """
    rnd = random.Random(seed)
    for i in range(n):
        params = {f"p{k}": f"v{k}_{i}" for k in range(sizes["params_per_run"])}
        params["p1"] = "x" if i % 2 == 0 else "y"
        metrics = {f"m{k}": rnd.random() for k in range(sizes["metrics_per_run"])}
        tags = {f"t{k}": f"tag{k}_{i % 7}" for k in range(sizes["tags_per_run"])}
        yield RunSpec(params, metrics, tags)


@dataclass
class SearchExpectation:
    """What SEARCH_FILTER / SEARCH_ORDER_BY must return over the runs :meth:`add` ed so far."""

    rows: int = 0
    top_m1: float | None = None

    def add(self, spec: RunSpec) -> None:
        if spec.metrics["m0"] > 0.5 and spec.params["p1"] == "x":
            self.rows += 1
            m1 = spec.metrics["m1"]
            self.top_m1 = m1 if self.top_m1 is None else max(self.top_m1, m1)

    def check(self, first_page_m1: list[float], all_rows: int) -> dict[str, Any]:
        """Compare a search's results (first page's m1 values, row count of all matches)."""
        ordered = all(a >= b for a, b in itertools.pairwise(first_page_m1))
        top_ok = self.top_m1 is None or (bool(first_page_m1) and first_page_m1[0] == self.top_m1)
        page_expected = min(self.rows, SEARCH_PAGE)
        return {
            "rows_expected": self.rows,
            "rows_all": all_rows,
            "first_page_rows": len(first_page_m1),
            "first_page_rows_expected": page_expected,
            "ok": all_rows == self.rows and len(first_page_m1) == page_expected and ordered and top_ok,
        }


def values(n: int, seed: int) -> list[float]:
    rnd = random.Random(seed)
    return [rnd.random() for _ in range(n)]


def emit(result: dict[str, Any]) -> None:
    """Print a worker's result as one JSON line on stdout (the last line)."""
    sys.stdout.write(json.dumps(result, default=str) + "\n")
    sys.stdout.flush()
