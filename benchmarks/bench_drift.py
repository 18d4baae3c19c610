#!/usr/bin/env python3
"""Drift benchmark: loopml's ``detect_drift`` against Evidently 0.7's data-drift preset, in the same run.

Each perf sample runs in a fresh subprocess: a warm-up drift computation on 1,000 rows, the data
generated (before the timer), then one timed computation with its peak memory, then its HTML
report timed on its own. Workloads (see README.md):

  first_use   ``import loopml.monitoring`` / ``import evidently``, and that plus the first drift
              computation, in a fresh interpreter.
  perf        100,000 x 25 columns (20 numeric, 5 categorical), 100,000 x 100 (80 numeric, 20
              categorical), 1,000,000 x 25: loopml ``detect_drift(ref, cur)`` + ``to_dict()``
              against Evidently ``Report([DataDriftPreset()], include_tests=True).run(...)``;
              time, CPU time, the absolute peak RSS and the peak above the RSS before the run.
  soundness   false alarms with no drift (1,000 to 1,000,000 rows, several seed pairs) and
              sensitivity to a 0.2-std mean shift and a category share doubled (1,000 to
              100,000 rows), with each tool's default rule.
  profiling   ``profile(path, chunk_size=...)`` of 2M- and 10M-row Parquet files: rows/s and
              peak RSS (constant memory).

Prints one JSON object on stdout (progress on stderr): both tools' figures, the ratios
Evidently / loopml and a pass/fail per target. Usage::

  .venv/bin/python benchmarks/bench_drift.py --install-peers        # full run (~15 min)
  .venv/bin/python benchmarks/bench_drift.py --quick                # smoke run (~2 min)
  .venv/bin/python benchmarks/bench_drift.py --no-peers             # loopml only
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _common as c
import _drift_workloads as dw
import _harness as h
from _common import pc
from _harness import get
from peers import venv as peer_venv

WHO = "bench_drift"
HERE = Path(__file__).resolve().parent
MARKER = ".bench_drift"
PHASES = ("perf", "first_use", "soundness", "parquet", "profile")
LOOPML_MODULE = "loopml.monitoring"
EVIDENTLY_VERSION = "0.7.23"
# evidently 0.7.23 does not import with pandas 3 (it uses a helper pandas 3 removed)
EVIDENTLY_REQUIREMENTS = (f"evidently=={EVIDENTLY_VERSION}", "scipy", "numpy", "pandas<3")
NO_TELEMETRY = {"DO_NOT_TRACK": "1"}  # Evidently's switch (no network here anyway)
PARQUET_BYTES_PER_ROW = 220  # 20 float64 + 5 dictionary-encoded strings, rounded up
DISK_SHARE = 0.5  # the Parquet files may take at most this share of the free disk


@dataclass(frozen=True)
class PerfConfig:
    name: str
    rows: int
    n_num: int
    n_cat: int
    repeats: int


@dataclass(frozen=True)
class Sizes:
    perf: tuple[PerfConfig, ...]
    false_alarms: tuple[tuple[int, int], ...]  # (rows, seed pairs)
    sensitivity: tuple[tuple[int, int], ...]
    profile_rows: tuple[int, int]  # (small, large)
    chunk_size: int
    import_repeats: int


def sizes_of(args: argparse.Namespace) -> Sizes:
    if args.quick:
        perf = (PerfConfig("25col", 10_000, 20, 5, 1), PerfConfig("100col", 10_000, 80, 20, 1))
        return Sizes(
            perf, ((1_000, 2), (10_000, 1)), ((1_000, 1), (10_000, 1)), (200_000, 1_000_000), 100_000, 2
        )
    perf = (
        PerfConfig("25col", 100_000, 20, 5, args.repeats),
        PerfConfig("100col", 100_000, 80, 20, args.repeats),
    )
    if not args.skip_1m:
        perf += (PerfConfig("25col_1M", 1_000_000, 20, 5, args.repeats_1m),)
    large = args.profile_rows
    return Sizes(
        perf,
        ((1_000, 10), (10_000, 6), (100_000, 3), (1_000_000, 1)),
        ((1_000, 3), (10_000, 3), (100_000, 2)),
        (max(1, large // 5), large),
        args.chunk_size,
        args.import_repeats,
    )


def evidently_python(install: bool) -> peer_venv.PeerEnv:
    """The Evidently venv ``benchmarks/.peers/evidently``; with ``install``, create it first."""
    return peer_venv.peer_python("evidently", "evidently", EVIDENTLY_VERSION, EVIDENTLY_REQUIREMENTS, install)


# ----------------------------------------------------------------------------------------
# The loopml worker (``--_worker --phase ...``, loopml's venv).
# ----------------------------------------------------------------------------------------


def load_loopml() -> dw.DriftTool:
    import loopml
    from loopml.monitoring import detect_drift

    def run(ref: Any, cur: Any, schema: dict[str, Any]) -> Any:
        report = detect_drift(ref, cur)
        return report, report.to_dict()

    def extract(res: Any) -> dict[str, bool | None]:
        return {name: col.get("drift_detected") for name, col in res[1]["columns"].items()}

    def save_html(res: Any, path: str) -> None:
        res[0].to_html(path)

    def check(res: Any, rows: int, n_columns: int) -> dict[str, Any]:
        d = res[1]
        cols, ds = d["columns"], d["dataset"]
        judged = sum(col.get("drift_detected") is not None for col in cols.values())
        rows_seen = (ds.get("reference_rows"), ds.get("current_rows"))
        ok = len(cols) == n_columns and judged == n_columns and rows_seen == (rows, rows)
        return {"ok": ok, "columns": len(cols), "judged": judged, "rows": list(rows_seen)}

    return dw.DriftTool("loopml", loopml.__version__, LOOPML_MODULE, run, extract, save_html, check)


def profile_sample(p: dict[str, Any]) -> dict[str, Any]:
    """``profile(path, chunk_size=...)`` of one Parquet file: time, rows/s and memory (numpy,
    pandas and pyarrow loaded before the baseline, as any reader of the file needs them)."""
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    from loopml.monitoring import profile

    with dw.RssSampler() as sampler:
        prof, m = dw.measured(lambda: profile(p["path"], chunk_size=p["chunk_size"]))
    ok = prof.n_rows == p["rows"] and len(prof.columns) == p["columns"]
    kinds: dict[str, int] = {}
    for col in prof.columns.values():
        kinds[col.kind] = kinds.get(col.kind, 0) + 1
    return {
        "rows": p["rows"],
        "chunk_size": p["chunk_size"],
        "wall_s": m["s"],
        "cpu_s": m["cpu_s"],
        "rows_per_s": p["rows"] / m["s"] if m["s"] else None,
        "rss_before_mb": m["rss_before_mb"],
        "rss_peak_mb": m["rss_peak_mb"],
        "rss_increment_mb": m["rss_increment_mb"],
        "peak_reset_ok": m["peak_reset_ok"],
        "rss_anon_peak_mb_sampled": sampler.peak["RssAnon"],
        "rss_file_peak_mb_sampled": sampler.peak["RssFile"],
        "check": {"ok": ok, "n_rows": prof.n_rows, "columns": len(prof.columns), "kinds": kinds},
    }


def loopml_versions() -> dict[str, str]:
    import importlib.metadata as md

    return {d: md.version(d) for d in ("loopml", "numpy", "pandas", "pyarrow", "scipy")}


def worker_main(phase: str, params_json: str | None) -> None:
    p = json.loads(params_json or "{}")
    if phase == "first_use":
        res = dw.first_use(load_loopml, LOOPML_MODULE)
    elif phase == "perf":
        res = dw.perf_sample(load_loopml(), p)
    elif phase == "soundness":
        res = dw.soundness(load_loopml(), p)
    elif phase == "parquet":
        res = dw.write_parquet(p["paths"], p["n_num"], p["n_cat"], p["chunk"])
    else:
        res = profile_sample(p)
    c.emit(res | {"versions": loopml_versions()} if phase != "parquet" else res)


# ----------------------------------------------------------------------------------------
# Running the workers.
# ----------------------------------------------------------------------------------------


@dataclass
class Bench:
    args: argparse.Namespace
    root: Path
    peer: peer_venv.PeerEnv | None
    sizes: Sizes
    tools: list[str] = field(default_factory=list)
    loopml_missing: str | None = None
    results: h.Results = field(default_factory=dict)  # every worker's result, by "workload:tool"

    def worker(self, tool: str, phase: str, params: dict[str, Any]) -> dict[str, Any]:
        """One worker in a fresh subprocess: loopml's under this interpreter, Evidently's in its venv."""
        if tool == "loopml":
            if self.loopml_missing and phase != "parquet":
                return {"error": f"loopml: {self.loopml_missing}"}
            cmd = [sys.executable, str(HERE / "bench_drift.py"), "--_worker", "--phase", phase]
            cmd += ["--sizes", json.dumps(params)]
            env = h.clean_env()
        else:
            assert self.peer is not None and self.peer.python is not None
            cmd = [str(self.peer.python), str(HERE / "peers" / "drift_peers.py"), "--phase", phase]
            cmd += ["--params", json.dumps(params)]
            env = h.clean_env() | NO_TELEMETRY
        return h.run_worker(f"{tool} {phase}", cmd, self.root, env)

    def record(self, key: str, res: dict[str, Any]) -> dict[str, Any]:
        self.results.setdefault(key, []).append(res)
        if "error" in res:
            c.log(WHO, f"{key} FAILED: {res['error']}")
        return res


def module_missing() -> str | None:
    """Why loopml's drift API cannot be used (None when it imports)."""
    code = "from loopml.monitoring import detect_drift, profile"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=h.clean_env(), check=False
    )
    if proc.returncode == 0:
        return None
    said = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return f"`{code}` fails: {said}"


def run_first_use(b: Bench) -> dict[str, Any]:
    c.log(WHO, f"first use: {b.sizes.import_repeats} fresh interpreter(s) per tool")
    for rep in range(1, b.sizes.import_repeats + 1):
        for tool in b.tools:
            res = b.record(f"first_use:{tool}", b.worker(tool, "first_use", {}))
            if "error" not in res:
                c.log(
                    WHO,
                    f"r{rep} {tool}: import {res['import_s']:.2f} s, first use {res['first_use_s']:.2f} s",
                )
    out: dict[str, Any] = {}
    for key in ("import_s", "first_use_s"):
        figures = {
            tool: c.stats(r[key] for r in b.results.get(f"first_use:{tool}", []) if "error" not in r)
            for tool in b.tools
        }
        a, e = get(figures, "loopml", "median"), get(figures, "evidently", "median")
        out[key] = {
            "loopml": figures.get("loopml"),
            "evidently": figures.get("evidently"),
            "ratio": h.ratio(e, a),
        }
    return out


def run_perf(b: Bench) -> dict[str, h.Results]:
    out: dict[str, h.Results] = {}
    for cfg in b.sizes.perf:
        c.log(
            WHO,
            f"perf {cfg.name}: {cfg.rows} rows x {cfg.n_num + cfg.n_cat} columns, {cfg.repeats} repeat(s)",
        )

        def one(tool: str, rep: int, cfg: PerfConfig = cfg) -> dict[str, Any]:
            html = b.root / "html" / f"{cfg.name}_{tool}_r{rep}.html"
            params = {"rows": cfg.rows, "n_num": cfg.n_num, "n_cat": cfg.n_cat, "seed_pair": rep - 1}
            params |= {"html": str(html), "limit_s": b.args.limit_s}
            res = b.record(f"perf:{cfg.name}:{tool}", b.worker(tool, "perf", params))
            if res.get("status") == "ok":
                c.log(
                    WHO,
                    f"r{rep} {cfg.name} {tool}: {res['run_s']:.2f} s, +{res['rss_increment_mb']:.0f} MB"
                    f" (peak {res['rss_peak_mb']:.0f} MB), html {res['html_s']:.2f} s,"
                    f" {res['n_flagged']} flagged",
                )
            elif res.get("status") == "timeout":
                c.log(WHO, f"r{rep} {cfg.name} {tool}: stopped after {res['limit_s']} s")
            return res

        out[cfg.name] = h.run_repeats(cfg.repeats, b.tools, one)
    return out


def run_soundness(b: Bench) -> dict[str, dict[str, Any]]:
    """Each tool's soundness worker; Evidently's 1,000,000-row false alarms come from its perf
    samples at that size (a Report takes minutes there), not from a run of their own."""
    out = {}
    for tool in b.tools:
        fa = [list(x) for x in b.sizes.false_alarms if tool == "loopml" or x[0] < 1_000_000]
        params = {"false_alarms": fa, "sensitivity": [list(x) for x in b.sizes.sensitivity]}
        c.log(WHO, f"soundness {tool}: false alarms {fa}, sensitivity {params['sensitivity']}")
        out[tool] = b.record(f"soundness:{tool}", b.worker(tool, "soundness", params))
    return out


def parquet_rows(b: Bench) -> tuple[tuple[int, int], str | None]:
    """The profiling files' rows, scaled down (with a note) when the disk is short."""
    small, large = b.sizes.profile_rows
    free = shutil.disk_usage(b.root).free
    budget = int(DISK_SHARE * free / PARQUET_BYTES_PER_ROW)
    if small + large <= budget:
        return (small, large), None
    large2 = int(budget / 1.2)
    note = f"profiling rows scaled down from {large} to {large2}: {free / 1e9:.1f} GB free on {b.root}"
    return (max(1, large2 // 5), large2), note


def run_profiling(b: Bench) -> dict[str, Any]:
    (small, large), note = parquet_rows(b)
    d = b.root / "parquet"
    d.mkdir()
    paths = {str(d / f"rows_{n}.parquet"): n for n in (small, large)}
    chunk = min(dw.PARQUET_CHUNK, max(1, b.sizes.chunk_size // 2))
    c.log(WHO, f"profiling: writing Parquet files of {small} and {large} rows (row groups of {chunk})")
    written = b.record(
        "parquet:loopml",
        b.worker("loopml", "parquet", {"paths": paths, "n_num": 20, "n_cat": 5, "chunk": chunk}),
    )
    out: dict[str, Any] = {"note": note, "chunk_size": b.sizes.chunk_size, "files": written, "runs": {}}
    if "error" in written:
        return out
    for path, n in paths.items():
        params = {"path": path, "rows": n, "columns": 25, "chunk_size": b.sizes.chunk_size}
        res = b.record(f"profile:{n}", b.worker("loopml", "profile", params))
        out["runs"][str(n)] = res
        if "error" not in res:
            c.log(
                WHO,
                f"profile {n} rows: {res['wall_s']:.1f} s, {res['rows_per_s']:,.0f} rows/s,"
                f" peak {res['rss_peak_mb']:.0f} MB (+{res['rss_increment_mb']:.0f} MB)",
            )
    return out


# ----------------------------------------------------------------------------------------
# Report: figures side by side, ratios Evidently / loopml, targets.
# ----------------------------------------------------------------------------------------


def pair(lm: Any, ev: Any, *path: str) -> dict[str, Any]:
    """loopml's and Evidently's figure at ``path``, and the ratio Evidently / loopml."""
    a, e = get(lm, *path), get(ev, *path)
    return {"loopml": a, "evidently": e, "ratio": h.ratio(e, a)}


def perf_figures(cfg: PerfConfig, merged: dict[str, Any]) -> dict[str, Any]:
    lm, ev = merged.get("loopml"), merged.get("evidently")
    return {
        "rows": cfg.rows,
        "columns": cfg.n_num + cfg.n_cat,
        "numeric": cfg.n_num,
        "categorical": cfg.n_cat,
        "repeats": cfg.repeats,
        "time_s": pair(lm, ev, "run_s"),
        "time_with_extract_s": pair(lm, ev, "run_plus_extract_s"),
        "cpu_s": pair(lm, ev, "run_cpu_s"),
        "memory_increment_mb": pair(lm, ev, "rss_increment_mb"),
        "memory_peak_abs_mb": pair(lm, ev, "rss_peak_mb"),
        "rss_before_mb": pair(lm, ev, "rss_before_mb"),
        "html_s": pair(lm, ev, "html_s"),
        "html_mb": pair(lm, ev, "html_mb"),
        "rss_peak_html_mb": pair(lm, ev, "rss_peak_html_mb"),
        "columns_flagged": {"loopml": get(lm, "n_flagged"), "evidently": get(ev, "n_flagged")},
        "status": {"loopml": get(lm, "status"), "evidently": get(ev, "status")},
        "samples": {"loopml": lm, "evidently": ev},
    }


def evidently_1m_false_alarms(perf: dict[str, h.Results]) -> dict[str, Any] | None:
    """Evidently's false alarms at 1,000,000 rows, from its 1M perf samples (no drift there)."""
    runs = [
        {"s": r["run_s"], **{k: r[k] for k in ("flagged", "n_flagged", "not_judged")}}
        for r in get(perf, "25col_1M", "evidently") or []
        if r.get("status") == "ok"
    ]
    if not runs:
        return None
    return dw.false_alarm_summary(runs, 25) | {"source": "the 1,000,000 x 25 perf samples (seed pairs 0..)"}


def soundness_figures(
    b: Bench, sound: dict[str, dict[str, Any]], perf: dict[str, h.Results]
) -> dict[str, Any]:
    ok = {tool: res for tool, res in sound.items() if "error" not in res}
    fa_sizes = sorted({n for n, _ in b.sizes.false_alarms})
    false_alarms = {
        str(n): {tool: get(ok.get(tool), "false_alarms", str(n)) for tool in b.tools} for n in fa_sizes
    }
    if "evidently" in b.tools and "1000000" in false_alarms:
        false_alarms["1000000"]["evidently"] = evidently_1m_false_alarms(perf)

    def measured_at(table: dict[str, Any], tool: str, key: str) -> dict[str, Any]:
        return {n: v for n, by_tool in table.items() if (v := get(by_tool, tool, key)) is not None}

    sens_sizes = [n for n, _ in b.sizes.sensitivity]
    sensitivity = {
        str(n): {tool: get(ok.get(tool), "sensitivity", str(n)) for tool in b.tools} for n in sens_sizes
    }
    fa_max: dict[str, Any] = {"sizes_measured": {}}
    detection: dict[str, Any] = {"sizes_measured": {}}
    for tool in b.tools:
        shares = measured_at(false_alarms, tool, "share")
        fa_max[tool] = max(shares.values()) if shares else None
        fa_max["sizes_measured"][tool] = list(shares)
        found = {
            n: v for n, v in measured_at(sensitivity, tool, "min_detected_share").items() if int(n) >= 10_000
        }
        detection[tool] = min(found.values()) if found else None
        detection["sizes_measured"][tool] = list(found)
    change = next((get(r, "sensitivity_change") for r in ok.values()), None)
    return {
        "false_alarms": false_alarms,
        "false_alarm_max_share": fa_max,
        "sensitivity_change": change,
        "sensitivity": sensitivity,
        "detection_from_10k": detection,
    }


def profiling_figures(prof: dict[str, Any]) -> dict[str, Any]:
    runs = prof.get("runs", {})
    ok = {n: r for n, r in runs.items() if "error" not in r}
    sizes = sorted(int(n) for n in ok)
    small, large = (ok[str(sizes[0])], ok[str(sizes[-1])]) if len(sizes) == 2 else (None, None)
    return {
        "rows": [int(n) for n in runs],
        "chunk_size": prof.get("chunk_size"),
        "note": prof.get("note"),
        "rows_per_s": get(large, "rows_per_s"),
        "wall_s": {n: get(r, "wall_s") for n, r in ok.items()},
        "peak_rss_mb": {n: get(r, "rss_peak_mb") for n, r in ok.items()},
        "increment_mb": {n: get(r, "rss_increment_mb") for n, r in ok.items()},
        "peak_growth": h.ratio(get(large, "rss_peak_mb"), get(small, "rss_peak_mb")),
        "increment_growth": h.ratio(get(large, "rss_increment_mb"), get(small, "rss_increment_mb")),
        "files": get(prof, "files", "files"),
        "write_s": get(prof, "files", "write_s"),
        "runs": runs,
    }


PEAK_GROWTH_MAX = 1.10
TARGETS: tuple[h.Target, ...] = (
    (
        "speed_100k_25col",
        "100,000 x 25 columns (20 numeric, 5 categorical): loopml's detect_drift + to_dict at least 20x"
        " faster than Evidently's Report(DataDriftPreset).run (value: Evidently's time / loopml's)",
        "ratio",
        20.0,
        ("perf", "25col", "time_s", "ratio"),
    ),
    (
        "memory_100k_25col",
        "100,000 x 25 columns: at least 5x less peak memory (value: Evidently's peak RSS above the RSS before"
        " the run / loopml's; absolute peaks in perf.25col.memory_peak_abs_mb)",
        "ratio",
        5.0,
        ("perf", "25col", "memory_increment_mb", "ratio"),
    ),
    (
        "speed_100k_100col",
        "100,000 x 100 columns (80 numeric, 20 categorical): loopml at least 20x faster than Evidently",
        "ratio",
        20.0,
        ("perf", "100col", "time_s", "ratio"),
    ),
    (
        "memory_100k_100col",
        "100,000 x 100 columns: at least 5x less peak memory (value: the ratio of the peaks above the RSS"
        " before the run; absolute peaks in perf.100col.memory_peak_abs_mb)",
        "ratio",
        5.0,
        ("perf", "100col", "memory_increment_mb", "ratio"),
    ),
    (
        "false_alarms",
        "no drift (same distribution, different seeds): at most 5% of columns flagged at every size from"
        " 1,000 to 1,000,000 rows (value: the largest share over the sizes, seed pairs pooled)",
        "at_most",
        0.05,
        ("soundness", "false_alarm_max_share", "loopml"),
    ),
    (
        "sensitivity_from_10k",
        "a 0.2-std mean shift in three numeric columns and one category's share doubled (8.5% -> 17%):"
        " each changed column flagged in every seed pair from 10,000 rows on (value: the smallest share of"
        " seed pairs a changed column was flagged in)",
        "at_least",
        1.0,
        ("soundness", "detection_from_10k", "loopml"),
    ),
    (
        "profile_constant_memory",
        "profiling 10 million rows from Parquet in chunks: constant memory, the peak RSS at 10M rows at most"
        " 1.10x the peak at 2M rows",
        "at_most",
        PEAK_GROWTH_MAX,
        ("profiling", "peak_growth"),
    ),
)
WRONG = "loopml's results do not cover every column and row (see the workload's check)"


def loopml_ok(b: Bench, target: h.Target, w: dict[str, Any]) -> bool | None:
    """Whether loopml's results behind ``target`` are complete (every column judged, every row seen)."""
    path = target[4]
    if path[0] == "perf":
        samples = b.results.get(f"perf:{path[1]}:loopml", [])
        checks = [get(r, "check", "ok") for r in samples if "error" not in r]
        return all(checks) if checks else None
    if path[0] == "soundness":
        res = get(b.results, "soundness:loopml", 0)
        if res is None or "error" in res:
            return None
        parts = [*res["false_alarms"].values(), *res["sensitivity"].values()]
        return all(part.get("not_judged") == 0 for part in parts)
    runs = get(w, "profiling", "runs") or {}
    checks = [get(r, "check", "ok") for r in runs.values() if "error" not in r]
    return all(checks) if checks else None


def target_note(b: Bench, target: h.Target, w: dict[str, Any]) -> str | None:
    name, path = target[0], target[4]
    notes = []
    if b.args.quick:
        notes.append(
            "--quick: smaller sizes than the target's (see meta.sizes); the targets are set at full size"
        )
    if name in ("false_alarms", "sensitivity_from_10k"):
        measured = get(w, *path[:-1], "sizes_measured", "loopml") or []
        notes.append(f"sizes measured: {', '.join(measured) or 'none'}")
    if path[0] == "profiling" and get(w, "profiling", "note"):
        notes.append(w["profiling"]["note"])
    return "; ".join(notes) or None


def evaluate(b: Bench, target: h.Target, w: dict[str, Any]) -> dict[str, Any]:
    ok: dict[str, Any] = {"loopml": loopml_ok(b, target, w)}
    out = h.judge(target, get(w, *target[4]), ok, WRONG)
    extra = target_note(b, target, w)
    if extra:
        out["note"] = "; ".join(x for x in (out.get("note"), extra) if x)
    return out


NOTES = {
    "time": "loopml: detect_drift(ref, cur) + report.to_dict(); Evidently: Report([DataDriftPreset()],"
    " include_tests=True).run(reference_data=Dataset.from_pandas(ref, data_definition=dd), ...), the column"
    " types given in a DataDefinition; Evidently's snapshot.dict() is added in time_with_extract_s. The HTML"
    " report (to_html / save_html) is timed on its own (html_s).",
    "memory": "The memory targets are evaluated on the peak RSS above the RSS just before the run"
    " (memory_increment_mb: VmHWM after a reset through /proc/self/clear_refs, minus VmRSS before, the data"
    " generated, the modules loaded and the warm-up done): the memory the drift computation itself adds. The"
    " absolute peaks of the process are shown beside them (memory_peak_abs_mb): they are dominated by the"
    " interpreter and numpy / pandas / pyarrow / scipy, which any Python tool pays.",
    "warm_up": "Each perf worker runs one drift computation on 1,000 rows (both tools) before generating the"
    " data, so the timed run finds its modules loaded; the cold cost (imports + first computation) is the"
    " first_use workload.",
    "ratios": "ratio = Evidently / loopml: above 1 means loopml is faster or uses less memory.",
    "data": "The same values on both sides (_drift_workloads.generate, fixed seeds); each side's pandas"
    " stores the categorical columns its own way (loopml's venv: pandas 3, str dtype; Evidently's:"
    " pandas < 3, object), see perf.*.samples.*.dtypes.",
    "evidently_1m_false_alarms": "Evidently's false alarms at 1,000,000 rows are its 1M perf samples'"
    " verdicts (no drift there), not a run of their own.",
    "rules": "loopml: its default rule (numeric: KS p < 0.05 and Wasserstein / std >= 0.1; categorical:"
    " chi-square p < 0.05 and max |Cohen's h| >= 0.1). Evidently: its defaults (reference <= 1,000 rows: KS /"
    " chi-square p < 0.05; above: normed Wasserstein / Jensen-Shannon >= 0.1).",
}


def build_report(
    b: Bench, first: dict[str, Any], perf: dict[str, h.Results], sound: Any, prof: Any
) -> dict[str, Any]:
    w = {
        "first_use": first,
        "perf": {cfg.name: perf_figures(cfg, h.merge_tools(perf[cfg.name])) for cfg in b.sizes.perf},
        "soundness": soundness_figures(b, sound, perf),
        "profiling": profiling_figures(prof),
    }
    if b.args.skip_1m and not b.args.quick:
        w["perf"]["25col_1M"] = {"note": "skipped by --skip-1m"}
    targets = [evaluate(b, t, w) for t in TARGETS]
    repeats = max(cfg.repeats for cfg in b.sizes.perf)
    return h.report_body(targets, {"workloads": w}, b.results, repeats)


def make_meta(b: Bench) -> dict[str, Any]:
    s = b.sizes
    lm_versions = next(
        (r["versions"] for k, v in b.results.items() if k.endswith(":loopml") for r in v if "versions" in r),
        None,
    )
    ev_versions = next(
        (
            r["versions"]
            for k, v in b.results.items()
            if k.endswith(":evidently")
            for r in v
            if "versions" in r
        ),
        None,
    )
    return {
        "quick": b.args.quick,
        "repeats": b.args.repeats,
        "repeats_1m": b.args.repeats_1m,
        "skip_1m": b.args.skip_1m,
        "limit_s": b.args.limit_s,
        "workdir": str(b.args.workdir),
        "sizes": {
            "perf": [vars(cfg) for cfg in s.perf],
            "false_alarms_rows_seed_pairs": s.false_alarms,
            "sensitivity_rows_seed_pairs": s.sensitivity,
            "profile_rows": s.profile_rows,
            "profile_chunk_size": s.chunk_size,
            "import_repeats": s.import_repeats,
        },
        "loopml": {"versions": lm_versions, "unavailable": b.loopml_missing},
        "peers": {
            "evidently": h.peer_status(b.peer, versions=ev_versions, env=NO_TELEMETRY)
            | {"requirements": list(EVIDENTLY_REQUIREMENTS)}
        },
        "notes": NOTES,
    }


# ----------------------------------------------------------------------------------------
# The command line.
# ----------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    ap = h.new_parser(__doc__)
    ap.add_argument(
        "--quick", action="store_true", help="smoke run: 10,000-row perf samples, fewer seeds, 1M profiled"
    )
    ap.add_argument(
        "--repeats", type=int, default=3, help="perf runs per tool of the 100,000-row configs (default 3)"
    )
    ap.add_argument(
        "--repeats-1m", type=int, default=1, help="perf runs of the 1,000,000-row config (default 1)"
    )
    ap.add_argument("--skip-1m", action="store_true", help="skip the 1,000,000-row perf config")
    ap.add_argument("--limit-s", type=int, default=600, help="time limit of one perf run (default 600 s)")
    ap.add_argument("--import-repeats", type=int, default=5, help="fresh-interpreter first uses per tool")
    ap.add_argument("--profile-rows", type=int, default=10_000_000, help="rows of the big profiling file")
    ap.add_argument("--chunk-size", type=int, default=1_000_000, help="profile()'s chunk_size (default 1M)")
    h.add_peer_flags(ap, "Evidently")
    h.add_run_flags(ap, PHASES)
    return ap.parse_args()


def main() -> int:
    args = parse_args()
    if args._worker:
        worker_main(args.phase, args.sizes)
        return 0
    t_all = pc()
    temp = h.use_workdir(args, "loopml-bench-drift-")
    peer = h.find_peer(args, evidently_python, WHO)
    head = h.meta_head("benchmarks/bench_drift.py", h.precompile_loopml(WHO))
    b = Bench(args, args.workdir / "drift", peer, sizes_of(args))
    h.prepare_dir(b.root, MARKER)
    (b.root / "html").mkdir()
    b.loopml_missing = module_missing()
    if b.loopml_missing:
        c.log(WHO, f"loopml side unavailable: {b.loopml_missing}")
    b.tools = ["loopml"] + (["evidently"] if peer is not None and peer.python is not None else [])
    first = run_first_use(b)
    perf = run_perf(b)
    sound = run_soundness(b)
    prof = run_profiling(b)
    report = {"meta": head | make_meta(b), **build_report(b, first, perf, sound, prof)}
    return h.finish(report, args, temp, t_all)


if __name__ == "__main__":
    sys.exit(main())
