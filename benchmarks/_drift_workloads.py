"""The drift workloads of ``bench_drift.py``, written once for loopml and Evidently.

Imported by loopml's worker (``bench_drift.py --_worker``, loopml's venv) and by Evidently's
(``peers/drift_peers.py``, the Evidently venv). Standard library only at import: numpy, pandas
and pyarrow are imported inside the functions. It never imports loopml or evidently; each
worker passes its tool in as a :class:`DriftTool`.

The data follow the design of the team's reference run (``../shared/bench/drift_bench.py``, not
imported): numeric columns cycle through normal / lognormal / uniform families, categorical
columns have 5..50 categories with Zipf-like shares; the distribution parameters come from a
fixed schema seed and the reference and current samples of seed pair ``r`` use the seeds
``(100 + 2r, 101 + 2r)``. Both sides generate exactly the same values (same numpy generator,
same order of draws); each side's pandas then stores the categorical columns its own way
(pandas 3: ``str`` dtype, pandas 2: ``object``).

- :func:`perf_sample`: one timed drift computation (a warm-up on 1,000 rows first, the data
  generated before the timer), its CPU time, the absolute peak RSS of the process (``VmHWM``
  after a reset through ``/proc/self/clear_refs``) and the peak above the RSS just before the
  run, then the HTML report timed on its own.
- :func:`first_use`: the import of the tool's module and its first drift computation, timed
  from a fresh interpreter.
- :func:`soundness`: false alarms (same distribution, different seeds) and sensitivity (a
  0.2-standard-deviation mean shift in three numeric columns, one category's share doubled).
- :func:`write_parquet`: the chunked-profiling input files, written in row groups.
"""

from __future__ import annotations

import gc
import importlib
import math
import os
import resource
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _common as c
from _common import pc

SCHEMA_SEED = 12345
FAMILIES = ("normal", "lognormal", "uniform")
WARMUP_ROWS = 1_000
NUM_SHIFT_STD = 0.2  # sensitivity: mean shift of three numeric columns, in standard deviations
CAT_FACTOR = 2.0  # sensitivity: one category's share multiplied by this
CAT_SHARE_TARGET = 0.10  # ... the category whose share is nearest this (8.5 % in cat_02_k28)
PARQUET_CHUNK = 500_000  # rows generated at a time (and row group size) of the Parquet files


def seeds(r: int) -> tuple[int, int]:
    """The reference and current seeds of seed pair ``r``."""
    return 100 + 2 * r, 101 + 2 * r


# ----------------------------------------------------------------------------------------
# The data.
# ----------------------------------------------------------------------------------------


def make_schema(n_num: int, n_cat: int, seed: int = SCHEMA_SEED) -> dict[str, Any]:
    """Column names and distribution parameters: numeric columns cycle normal / lognormal /
    uniform, categorical column j has 5..50 categories (evenly spread over the columns) with
    Zipf-like shares 1 / rank**s."""
    import numpy as np

    rng = np.random.default_rng(seed)
    num = []
    for i in range(n_num):
        fam = FAMILIES[i % 3]
        if fam == "normal":
            p = {"loc": float(rng.uniform(-5, 5)), "scale": float(rng.uniform(0.5, 3.0))}
            std = p["scale"]
        elif fam == "lognormal":
            p = {"mean": float(rng.uniform(0, 1)), "sigma": float(rng.uniform(0.25, 1.0))}
            s2 = p["sigma"] ** 2
            std = math.sqrt((math.exp(s2) - 1) * math.exp(2 * p["mean"] + s2))
        else:
            lo = float(rng.uniform(-10, 0))
            p = {"low": lo, "high": lo + float(rng.uniform(1, 20))}
            std = (p["high"] - p["low"]) / math.sqrt(12)
        num.append({"name": f"num_{i:02d}_{fam}", "family": fam, "params": p, "std": std})
    cat = []
    for j in range(n_cat):
        k = round(5 + 45 * j / max(n_cat - 1, 1))
        s = float(rng.uniform(0.8, 1.4))
        w = 1.0 / np.arange(1, k + 1) ** s
        probs = [float(x) for x in w / w.sum()]
        cat.append(
            {
                "name": f"cat_{j:02d}_k{k}",
                "k": k,
                "zipf_s": s,
                "probs": probs,
                "labels": [f"v{r:02d}" for r in range(k)],
            }
        )
    return {"num": num, "cat": cat}


def column_names(schema: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(numeric column names, categorical column names)."""
    return [col["name"] for col in schema["num"]], [col["name"] for col in schema["cat"]]


def change_probs(probs: Any, idx: int, factor: float) -> Any:
    """Shares with category ``idx``'s multiplied by ``factor``, the others rescaled to sum to 1."""
    import numpy as np

    probs = np.asarray(probs, dtype=float)
    new = probs * (1 - probs[idx] * factor) / (1 - probs[idx])
    new[idx] = probs[idx] * factor
    return new


def generate(
    schema: dict[str, Any],
    n: int,
    seed: int,
    num_shift: dict[str, float] | None = None,
    cat_change: dict[str, tuple[int, float]] | None = None,
) -> Any:
    """A DataFrame of ``n`` rows. ``num_shift``: {column: mean shift in units of the column's
    standard deviation}; ``cat_change``: {column: (category index, factor of its share)}."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {}
    for col in schema["num"]:
        p = col["params"]
        if col["family"] == "normal":
            x = rng.normal(p["loc"], p["scale"], n)
        elif col["family"] == "lognormal":
            x = rng.lognormal(p["mean"], p["sigma"], n)
        else:
            x = rng.uniform(p["low"], p["high"], n)
        if num_shift and col["name"] in num_shift:
            x = x + num_shift[col["name"]] * col["std"]
        data[col["name"]] = x
    for col in schema["cat"]:
        probs = np.asarray(col["probs"])
        if cat_change and col["name"] in cat_change:
            probs = change_probs(probs, *cat_change[col["name"]])
        codes = rng.choice(col["k"], size=n, p=probs)
        data[col["name"]] = np.array(col["labels"], dtype=object)[codes]
    return pd.DataFrame(data)


def sensitivity_change(schema: dict[str, Any]) -> dict[str, Any]:
    """The sensitivity workload's change: +0.2 std in the first numeric column of each family;
    in the middle categorical column, the share of the category nearest 10 % doubled."""
    import numpy as np

    num_cols = [next(col["name"] for col in schema["num"] if col["family"] == f) for f in FAMILIES]
    cat = schema["cat"][len(schema["cat"]) // 2]
    probs = np.asarray(cat["probs"])
    idx = int(np.argmin(np.abs(probs - CAT_SHARE_TARGET)))
    new = change_probs(probs, idx, CAT_FACTOR)
    return {
        "num_shift": dict.fromkeys(num_cols, NUM_SHIFT_STD),
        "cat_change": {cat["name"]: (idx, CAT_FACTOR)},
        "description": {
            "numeric_columns": num_cols,
            "numeric_mean_shift_std": NUM_SHIFT_STD,
            "categorical_column": cat["name"],
            "category": cat["labels"][idx],
            "share_before": float(probs[idx]),
            "share_after": float(new[idx]),
        },
    }


def frame_mb(*frames: Any) -> float:
    """Memory of the DataFrames (deep: the strings of object columns counted)."""
    return float(sum(int(f.memory_usage(deep=True).sum()) for f in frames)) / 2**20


def dtypes(frame: Any) -> dict[str, str]:
    """The distinct dtypes of a DataFrame's columns and how many columns have each."""
    out: dict[str, int] = {}
    for dt in frame.dtypes:
        out[str(dt)] = out.get(str(dt), 0) + 1
    return {k: str(v) for k, v in out.items()}


# ----------------------------------------------------------------------------------------
# The tool under test, and the process's memory.
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DriftTool:
    """What a worker passes in: its tool's name, version and module, and four calls.

    ``run(ref, cur, schema)`` is the timed drift computation and returns the tool's result;
    ``extract(result)`` gives every column's verdict ({column: drifted?, None when not judged});
    ``save_html(result, path)`` writes the HTML report; ``check(result, rows, n_columns)`` says
    whether the result covers every column and row (``{"ok": bool, ...}``).
    """

    name: str
    version: str
    module: str
    run: Callable[[Any, Any, dict[str, Any]], Any]
    extract: Callable[[Any], dict[str, bool | None]]
    save_html: Callable[[Any, str], None]
    check: Callable[[Any, int, int], dict[str, Any]]


def vm_mb(field: str) -> float | None:
    """``VmRSS`` / ``VmHWM`` / ... of this process from ``/proc/self/status``, in MiB (Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def reset_peak() -> bool:
    """Reset the process's peak RSS (``VmHWM``) to its current RSS: ``5`` to ``/proc/self/clear_refs``."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def trim_heap() -> bool:
    """Hand the C heap's free memory back to the system (glibc ``malloc_trim``), so that the RSS
    before a run holds live memory only, not what the data generation freed."""
    try:
        import ctypes

        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        return False


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class RssSampler:
    """A thread reading ``RssAnon`` and ``RssFile`` every ``every_s`` seconds while in use: the
    peak of each (``VmHWM`` counts both; file-backed pages are mapped files, reclaimable)."""

    FIELDS = ("RssAnon", "RssFile")

    def __init__(self, every_s: float = 0.02) -> None:
        self.every_s = every_s
        self.peak: dict[str, float] = dict.fromkeys(self.FIELDS, 0.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.every_s)

    def sample(self) -> None:
        for k in self.FIELDS:
            v = vm_mb(k)
            if v is not None and v > self.peak[k]:
                self.peak[k] = v

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


class Timeout(Exception):
    pass


def _on_alarm(signum: int, frame: Any) -> None:
    raise Timeout


def measured(fn: Callable[[], Any], limit_s: int | None = None) -> tuple[Any, dict[str, Any]]:
    """Call ``fn`` after a garbage collection, a heap trim and a reset of the peak RSS; its result
    and figures: wall and CPU seconds, RSS before, absolute peak and the increment over the RSS before.

    With ``limit_s``, SIGALRM stops it after that many seconds (``Timeout``).
    """
    gc.collect()
    trim_heap()
    before = vm_mb("VmRSS")
    reset_ok = reset_peak()
    if limit_s:
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.alarm(int(limit_s))
    c0, t0 = cpu_s(), pc()
    try:
        out = fn()
    finally:
        if limit_s:
            signal.alarm(0)
    wall, cpu = pc() - t0, cpu_s() - c0
    peak = vm_mb("VmHWM")
    figures = {
        "s": wall,
        "cpu_s": cpu,
        "rss_before_mb": before,
        "rss_peak_mb": peak,
        "rss_increment_mb": peak - before if peak is not None and before is not None else None,
        "peak_reset_ok": reset_ok,
    }
    return out, figures


# ----------------------------------------------------------------------------------------
# The workloads.
# ----------------------------------------------------------------------------------------


def verdicts(flags: dict[str, bool | None]) -> dict[str, Any]:
    """Flagged columns, how many, and the columns left without a verdict."""
    flagged = sorted(k for k, v in flags.items() if v)
    return {
        "flagged": flagged,
        "n_flagged": len(flagged),
        "n_columns_judged": sum(v is not None for v in flags.values()),
        "not_judged": sorted(k for k, v in flags.items() if v is None),
    }


def warm_up(tool: DriftTool, schema: dict[str, Any]) -> float:
    """One drift computation on 1,000 rows (both sides), so the measured run finds its modules
    loaded: the cold first use is the ``first_use`` workload's."""
    sr, sc = seeds(99)
    ref, cur = generate(schema, WARMUP_ROWS, sr), generate(schema, WARMUP_ROWS, sc)
    t = pc()
    tool.extract(tool.run(ref, cur, schema))
    return pc() - t


def perf_sample(tool: DriftTool, p: dict[str, Any]) -> dict[str, Any]:
    """One timed drift computation of ``p["rows"]`` x (``n_num`` + ``n_cat``) columns, seed pair
    ``p["seed_pair"]``; ``p["html"]``: where the HTML report goes; ``p["limit_s"]``: time limit."""
    schema = make_schema(p["n_num"], p["n_cat"])
    n_columns = p["n_num"] + p["n_cat"]
    out: dict[str, Any] = {"tool": tool.name, "version": tool.version, "status": "ok"}
    out["warmup_s"] = warm_up(tool, schema) if p.get("warmup", True) else None
    sr, sc = seeds(p["seed_pair"])
    t = pc()
    ref, cur = generate(schema, p["rows"], sr), generate(schema, p["rows"], sc)
    out["datagen_s"] = pc() - t
    out["data_mb"] = frame_mb(ref, cur)
    out["dtypes"] = dtypes(ref)
    try:
        result, run = measured(lambda: tool.run(ref, cur, schema), p.get("limit_s"))
    except Timeout:
        return out | {"status": "timeout", "limit_s": p.get("limit_s"), "rss_peak_mb": vm_mb("VmHWM")}
    out |= {
        "run_s": run["s"],
        "run_cpu_s": run["cpu_s"],
        "rss_before_mb": run["rss_before_mb"],
        "rss_peak_mb": run["rss_peak_mb"],
        "rss_increment_mb": run["rss_increment_mb"],
        "peak_reset_ok": run["peak_reset_ok"],
    }
    t = pc()
    flags = tool.extract(result)
    out["extract_s"] = pc() - t
    out["run_plus_extract_s"] = out["run_s"] + out["extract_s"]
    out |= verdicts(flags)
    out["check"] = tool.check(result, p["rows"], n_columns)
    _, html = measured(lambda: tool.save_html(result, p["html"]))
    out |= {"html_s": html["s"], "rss_peak_html_mb": html["rss_peak_mb"]}
    out["html_mb"] = os.path.getsize(p["html"]) / 2**20 if os.path.exists(p["html"]) else None
    out["ru_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return out


def first_use(load: Callable[[], DriftTool], module: str) -> dict[str, Any]:
    """From a fresh interpreter: ``import MODULE`` alone, then the tool's drift entry points, data
    of 1,000 rows x 25 columns (numpy and pandas loaded here if the tool had not) and one drift
    computation with its per-column verdicts. Both timed from before the import."""
    t0 = pc()
    importlib.import_module(module)
    t_import = pc() - t0
    tool = load()
    schema = make_schema(20, 5)
    sr, sc = seeds(98)
    ref, cur = generate(schema, WARMUP_ROWS, sr), generate(schema, WARMUP_ROWS, sc)
    flags = tool.extract(tool.run(ref, cur, schema))
    total = pc() - t0
    return {
        "tool": tool.name,
        "version": tool.version,
        "import_s": t_import,
        "first_use_s": total,
        "n_columns_judged": verdicts(flags)["n_columns_judged"],
    }


def _flag_runs(
    tool: DriftTool, schema: dict[str, Any], n: int, pairs: int, change: dict[str, Any] | None
) -> list[dict[str, Any]]:
    runs = []
    for r in range(pairs):
        sr, sc = seeds(r)
        ref = generate(schema, n, sr)
        cur = generate(schema, n, sc, **(change or {}))
        t = pc()
        flags = tool.extract(tool.run(ref, cur, schema))
        runs.append({"seed_pair": r, "s": pc() - t, "n_columns": len(flags)} | verdicts(flags))
    return runs


def false_alarm_summary(runs: list[dict[str, Any]], n_columns: int) -> dict[str, Any]:
    """Share of the column tests flagged (all seed pairs pooled), and the worst seed pair's."""
    tests = n_columns * len(runs)
    flagged = sum(r["n_flagged"] for r in runs)
    return {
        "seed_pairs": len(runs),
        "column_tests": tests,
        "flagged": flagged,
        "share": flagged / tests if tests else None,
        "worst_pair_share": max(r["n_flagged"] / n_columns for r in runs) if runs else None,
        "not_judged": sum(len(r["not_judged"]) for r in runs),
        "flagged_by_pair": [r["flagged"] for r in runs],
        "run_s": c.stats(r["s"] for r in runs),
    }


def sensitivity_summary(runs: list[dict[str, Any]], changed: list[str], n_columns: int) -> dict[str, Any]:
    """Per changed column, the share of seed pairs where it was flagged; false alarms among the
    unchanged columns."""
    detected = {col: sum(col in r["flagged"] for r in runs) / len(runs) for col in changed}
    unchanged_tests = (n_columns - len(changed)) * len(runs)
    false_pos = [sorted(set(r["flagged"]) - set(changed)) for r in runs]
    return {
        "seed_pairs": len(runs),
        "detected_share": detected,
        "all_detected": all(v == 1.0 for v in detected.values()),
        "min_detected_share": min(detected.values()) if detected else None,
        "missed_by_pair": [sorted(set(changed) - set(r["flagged"])) for r in runs],
        "false_positive_share_unchanged": sum(map(len, false_pos)) / unchanged_tests
        if unchanged_tests
        else None,
        "false_positives_by_pair": false_pos,
        "not_judged": sum(len(r["not_judged"]) for r in runs),
        "run_s": c.stats(r["s"] for r in runs),
    }


def soundness(tool: DriftTool, p: dict[str, Any]) -> dict[str, Any]:
    """False alarms at each (rows, seed pairs) of ``p["false_alarms"]`` and sensitivity at each of
    ``p["sensitivity"]``, on the 25-column schema (20 numeric, 5 categorical)."""
    schema = make_schema(20, 5)
    n_columns = 25
    change = sensitivity_change(schema)
    changed = [*change["num_shift"], *change["cat_change"]]
    out: dict[str, Any] = {"tool": tool.name, "version": tool.version, "false_alarms": {}, "sensitivity": {}}
    out["sensitivity_change"] = change["description"]
    for n, pairs in p["false_alarms"]:
        t = pc()
        runs = _flag_runs(tool, schema, n, pairs, None)
        out["false_alarms"][str(n)] = summary = false_alarm_summary(runs, n_columns)
        c.log(tool.name, f"false alarms at {n} rows: {summary['share']:.3f} of columns ({pc() - t:.1f} s)")
    shift = {"num_shift": change["num_shift"], "cat_change": change["cat_change"]}
    for n, pairs in p["sensitivity"]:
        t = pc()
        runs = _flag_runs(tool, schema, n, pairs, shift)
        out["sensitivity"][str(n)] = summary = sensitivity_summary(runs, changed, n_columns)
        c.log(tool.name, f"sensitivity at {n} rows: detected {summary['detected_share']} ({pc() - t:.1f} s)")
    return out


# ----------------------------------------------------------------------------------------
# Chunked profiling: the Parquet files.
# ----------------------------------------------------------------------------------------


def write_parquet(
    paths: dict[str, int], n_num: int, n_cat: int, chunk: int = PARQUET_CHUNK
) -> dict[str, Any]:
    """Write each ``path: rows`` of ``paths`` (the same stream of rows: a smaller file holds the
    first rows of a larger one), generated ``chunk`` rows at a time, one row group per chunk."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = make_schema(n_num, n_cat)
    total = max(paths.values())
    writers: dict[str, Any] = {}
    t = pc()
    try:
        for i, start in enumerate(range(0, total, chunk)):
            n = min(chunk, total - start)
            table = pa.Table.from_pandas(generate(schema, n, 1000 + i), preserve_index=False)
            for path, rows in paths.items():
                if start >= rows:
                    continue
                if path not in writers:
                    writers[path] = pq.ParquetWriter(path, table.schema)
                writers[path].write_table(table.slice(0, min(n, rows - start)), row_group_size=chunk)
    finally:
        for w in writers.values():
            w.close()
    files = {}
    for path, rows in paths.items():
        meta = pq.ParquetFile(path).metadata
        files[path] = {
            "rows": meta.num_rows,
            "expected_rows": rows,
            "row_groups": meta.num_row_groups,
            "columns": meta.num_columns,
            "mb": Path(path).stat().st_size / 2**20,
        }
    return {"files": files, "write_s": pc() - t, "chunk_rows": chunk}
