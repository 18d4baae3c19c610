"""The harness code shared by ``bench_tracking.py``, ``bench_models.py`` and ``bench_orchestration.py``.

Runs only under loopml's own interpreter (``.venv``), never in a peer's venv: the peer
workers import ``_common.py`` (standard library only), not this module. It does not import
loopml either, so a loopml worker that imports it still times its own ``import loopml``.

What is here: the precompilation of loopml, the clean environment of every subprocess,
the work directories, running a worker and reading its JSON result, import timing,
repeats and their medians, the targets' verdicts, the common CLI flags and the common
parts of the report (meta head, peer status, the final JSON and ``--out``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import _common as c
from _common import pc
from peers.venv import PeerEnv

# name, what, kind, threshold, path of the value in the workload figures
Target = tuple[str, str, str, float, tuple[str, ...]]
Results = dict[str, list[dict[str, Any]]]

# How a target's value is judged against its threshold, by kind (the kinds are in the JSON).
MEETS: dict[str, Callable[[float, float], bool]] = {
    "ratio": lambda value, threshold: value >= threshold,
    "at_least": lambda value, threshold: value >= threshold,
    "max_s": lambda value, threshold: value < threshold,
    "under": lambda value, threshold: value < threshold,
    "max_fraction": lambda value, threshold: value <= threshold,
    "at_most": lambda value, threshold: value <= threshold,
}
NOT_MEASURED = "not measured (tool skipped or failed)"
MLFLOW_RUN_VARS = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_EXPERIMENT_ID",
)


# ----------------------------------------------------------------------------------------
# Before measuring: loopml's bytecode, the environment and the work directories.
# ----------------------------------------------------------------------------------------


def loopml_package_dir() -> Path:
    """The directory of the loopml package (found without importing it)."""
    spec = importlib.util.find_spec("loopml")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("loopml is not importable by this interpreter: run the benchmarks with .venv/bin/python")
    return Path(next(iter(spec.submodule_search_locations)))


def precompile_loopml(who: str) -> bool:
    """Compile loopml's modules to ``.pyc`` once, as ``pip install loopml`` does at install time.

    loopml is an editable install and PYTHONDONTWRITEBYTECODE may be set, so without this
    every fresh loopml process would compile its modules from source while the peers read
    the ``.pyc`` files pip wrote into their venvs. Only this step writes bytecode: it runs
    without PYTHONDONTWRITEBYTECODE, the workers keep the environment as it is.
    """
    package = loopml_package_dir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cmd = [sys.executable, "-m", "compileall", "-q", str(package)]
    c.log(who, f"compiling {package} to bytecode (compileall) before measuring")
    proc = subprocess.run(cmd, env=env, stdout=sys.stderr, check=False)
    if proc.returncode != 0:
        c.log(who, f"compileall of {package} failed (rc={proc.returncode}): loopml compiles from source")
    return proc.returncode == 0


def clean_env() -> dict[str, str]:
    """The environment of every subprocess: no tracking URIs or loopml settings leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
    for k in MLFLOW_RUN_VARS:
        env.pop(k, None)
    return env


def use_workdir(args: argparse.Namespace, prefix: str) -> bool:
    """Resolve ``args.workdir`` (a new temp dir when not given); True when it is temporary."""
    temp = args.workdir is None
    args.workdir = Path(args.workdir or tempfile.mkdtemp(prefix=prefix)).resolve()
    return temp


def prepare_dir(path: Path, marker: str) -> None:
    """An empty dir; an existing one is only removed if this script made it (marker file)."""
    if path.exists():
        if not (path / marker).exists():
            sys.exit(f"refusing to reuse {path}: not created by this script (no {marker})")
        shutil.rmtree(path)
    path.mkdir(parents=True)
    (path / marker).touch()


def find_peer(args: argparse.Namespace, locate: Callable[..., PeerEnv], who: str) -> PeerEnv | None:
    """The peer's venv (None with --no-peers); says why when it is not usable."""
    if args.no_peers:
        return None
    peer = locate(install=args.install_peers)
    if peer.python is None:
        c.log(who, peer.note)
    return peer


# ----------------------------------------------------------------------------------------
# Running workers and timing imports.
# ----------------------------------------------------------------------------------------


def see_stderr(rc: int) -> str:
    return "; see stderr above"


def run_worker(
    label: str,
    cmd: list[str],
    cwd: Path,
    env: dict[str, str] | None = None,
    explain_failure: Callable[[int], str] = see_stderr,
) -> dict[str, Any]:
    """Run a worker in a fresh subprocess; its result is the last stdout line (JSON).

    Returns that result with ``subprocess_wall_s``, or ``{"error": ...}`` where the
    failure is explained by ``explain_failure(returncode)``.
    """
    t = pc()
    proc = subprocess.run(
        cmd, stdout=subprocess.PIPE, text=True, env=env or clean_env(), cwd=cwd, check=False
    )
    wall = pc() - t
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if proc.returncode != 0 or not lines:
        return {"error": f"{label} worker failed (rc={proc.returncode}){explain_failure(proc.returncode)}"}
    try:
        res: dict[str, Any] = json.loads(lines[-1])
    except json.JSONDecodeError:
        return {"error": f"{label} worker printed no JSON result: {lines[-1][:200]!r}"}
    res["subprocess_wall_s"] = wall
    return res


def run_repeats(repeats: int, tools: Iterable[str], run_one: Callable[[str, int], dict[str, Any]]) -> Results:
    """``run_one(tool, rep)`` for ``repeats`` repeats, interleaved (loopml r1, peer r1, loopml r2, ...)."""
    results: Results = {tool: [] for tool in tools}
    for rep in range(1, repeats + 1):
        for tool, reps in results.items():
            reps.append(run_one(tool, rep))
    return results


def import_seconds(python: str, module: str, env: dict[str, str], cwd: str | Path) -> float:
    """``import MODULE`` alone, timed with perf_counter inside a fresh interpreter."""
    code = f"import time;t=time.perf_counter();import {module};print(time.perf_counter()-t)"
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True, env=env, cwd=cwd)
    return float(out.stdout.strip().splitlines()[-1])


def measure_imports(
    pythons: dict[str, str],
    repeats: int,
    cwd: str | Path | None = None,
    env_for: Callable[[str], dict[str, str]] = lambda tool: clean_env(),
) -> dict[str, Any]:
    """Median of ``repeats`` fresh-subprocess ``import TOOL`` per tool, interleaved between tools."""
    samples: dict[str, list[float]] = {tool: [] for tool in pythons}
    for _ in range(repeats):
        for tool, python in pythons.items():
            samples[tool].append(import_seconds(python, tool, env_for(tool), cwd or tempfile.gettempdir()))
    return {tool: {**(c.stats(xs) or {}), "samples": xs} for tool, xs in samples.items()}


# ----------------------------------------------------------------------------------------
# Figures: medians over repeats, lookups, ratios.
# ----------------------------------------------------------------------------------------


def scaled(n: int, scale: float) -> int:
    return max(1, round(n * scale))


def merge_repeats(xs: list[Any]) -> Any:
    """Median of numbers across repeats, recursively through dicts and lists.

    Values equal in every repeat are kept as they are; differing non-numbers become a list.
    """
    first = xs[0]
    if all(x == first for x in xs):
        return first
    if all(isinstance(x, int | float) and not isinstance(x, bool) for x in xs):
        return statistics.median(xs)
    if all(isinstance(x, dict) for x in xs):
        return {k: merge_repeats([x[k] for x in xs if k in x]) for k in first}
    if all(isinstance(x, list) and len(x) == len(first) for x in xs):
        return [merge_repeats([x[i] for x in xs]) for i in range(len(first))]
    return xs


def merge_tools(results: Results) -> dict[str, Any]:
    """Per tool, the median over its successful repeats (None when none succeeded)."""
    return {
        tool: merge_repeats(ok) if (ok := [r for r in reps if "error" not in r]) else None
        for tool, reps in results.items()
    }


def worker_errors(results: Results) -> list[str]:
    return [r["error"] for reps in results.values() for r in reps if "error" in r]


def versions(results: Results) -> dict[str, Any]:
    return {tool: get(reps, 0, "version") for tool, reps in results.items()}


def get(d: Any, *path: Any) -> Any:
    """The value at ``path`` (dict keys, list indexes) in ``d``, None when any step is missing."""
    for p in path:
        if isinstance(d, dict):
            d = d.get(p)
        elif isinstance(d, list) and isinstance(p, int) and -len(d) <= p < len(d):
            d = d[p]
        else:
            return None
    return d


def ratio(peer_s: Any, loopml_s: Any) -> float | None:
    """``peer / loopml`` (above 1: loopml is faster), None unless both are numbers."""
    if isinstance(peer_s, int | float) and isinstance(loopml_s, int | float) and loopml_s > 0:
        return peer_s / loopml_s
    return None


def side_by_side(lm: Any, other: Any, peer: str, *path: Any) -> dict[str, Any]:
    """The figure at ``path`` of loopml and the peer, and the ratio peer / loopml."""
    a, b = get(lm, *path), get(other, *path)
    return {"loopml_s": a, f"{peer}_s": b, "ratio": ratio(b, a)}


def import_figures(imports: dict[str, Any], peer: str) -> dict[str, Any]:
    """The ``import`` workload: medians and ratio, then the samples of both tools."""
    medians = side_by_side(imports.get("loopml"), imports.get(peer), peer, "median")
    return medians | {"loopml": imports.get("loopml"), peer: imports.get(peer)}


# ----------------------------------------------------------------------------------------
# Targets and the report.
# ----------------------------------------------------------------------------------------


def judge(
    target: Target, value: Any, ok: dict[str, Any], wrong_note: str, scale: float = 1.0
) -> dict[str, Any]:
    """A target's verdict: it passes when the value meets the threshold and loopml's results are right."""
    name, what, kind, threshold, _ = target
    out: dict[str, Any] = {"name": name, "target": what, "kind": kind, "threshold": threshold, "value": value}
    out["results_correct"] = ok
    if value is None:
        out["pass"], out["note"] = None, NOT_MEASURED
    else:
        out["pass"] = bool(MEETS[kind](value, threshold) and ok["loopml"])
        if not ok["loopml"]:
            out["note"] = wrong_note
    if scale != 1.0:
        note = out.get("note", "") + f"; sizes scaled by {scale}, targets are set at 1.0"
        out["note"] = note.lstrip("; ")
    return out


def verdicts(targets: list[dict[str, Any]]) -> dict[str, Any]:
    """The targets, whether all pass, and their names by verdict."""
    return {
        "targets": targets,
        "all_targets_pass": all(t["pass"] is True for t in targets),
        "targets_summary": {
            verdict: [t["name"] for t in targets if t["pass"] is flag]
            for verdict, flag in (("passed", True), ("failed", False), ("not_measured", None))
        },
    }


def report_body(
    targets: list[dict[str, Any]], figures: dict[str, Any], results: Results, repeats: int
) -> dict[str, Any]:
    """Verdicts, then the script's figures, the worker errors and (with repeats) the raw repeats."""
    body = {**verdicts(targets), **figures, "errors": worker_errors(results)}
    if repeats > 1:
        body["repeats_raw"] = results
    return body


def busy_note() -> str | None:
    load, cpus = os.getloadavg()[0], os.cpu_count() or 1
    if load > 0.5 * cpus:
        return f"machine busy at start (1-min load {load:.1f} on {cpus} CPUs): timings are noisy"
    return None


def meta_head(benchmark: str, precompiled: bool) -> dict[str, Any]:
    """The first keys of every script's ``meta``: script, time, machine, load, bytecode."""
    return {
        "benchmark": benchmark,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
        "note": busy_note(),
        "env_PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE"),
        "loopml_precompiled": precompiled,
    }


def peer_status(peer: PeerEnv | None, **details: Any) -> dict[str, Any]:
    """``meta.peers.<peer>``: ran or skipped and why, its python, then ``details``."""
    if peer is None:
        return {"status": "skipped", "note": "--no-peers"}
    return {
        "status": "ran" if peer.python else "skipped",
        "note": peer.note,
        "python": str(peer.python) if peer.python else None,
        **details,
    }


def mlflow_telemetry() -> str:
    telemetry = os.environ.get("MLFLOW_DISABLE_TELEMETRY")
    return f"MLFLOW_DISABLE_TELEMETRY={telemetry}" if telemetry else "MLflow default (on)"


def finish(report: dict[str, Any], args: argparse.Namespace, temp: bool, t_all: float) -> int:
    """Close the meta, remove a temporary workdir, print the JSON (and write ``--out``).

    Returns the exit status: 1 when a worker failed.
    """
    meta = report["meta"]
    meta["loadavg_end"] = os.getloadavg()
    meta["total_wall_s"] = pc() - t_all
    if temp:
        shutil.rmtree(args.workdir, ignore_errors=True)
        meta["workdir"] += " (temporary, removed)"
    text = json.dumps(report, indent=1, default=str)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)
    return 1 if report["errors"] else 0


# ----------------------------------------------------------------------------------------
# The command line.
# ----------------------------------------------------------------------------------------


def new_parser(doc: str | None) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(description=(doc or "").split("\n")[0])


def add_scale_flag(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the workload sizes (default 1.0)")


def add_repeats_flag(ap: argparse.ArgumentParser, runs: str) -> None:
    ap.add_argument("--repeats", type=int, default=1, help=f"{runs} runs per tool (medians reported)")


def add_import_repeats_flag(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--import-repeats", type=int, default=5, help="fresh-subprocess imports per tool")


def add_peer_flags(ap: argparse.ArgumentParser, peer: str) -> None:
    ap.add_argument("--no-peers", action="store_true", help=f"loopml only ({peer} not needed)")
    ap.add_argument("--install-peers", action="store_true", help=f"create the {peer} venv if missing")


def add_run_flags(ap: argparse.ArgumentParser, phases: tuple[str, ...] | None = None) -> None:
    """``--workdir``, ``--out`` and the hidden flags of a worker run."""
    ap.add_argument("--workdir", type=Path, help="where the stores go (default: a temp dir, removed)")
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    ap.add_argument("--_worker", action="store_true", help=argparse.SUPPRESS)
    if phases:
        ap.add_argument("--phase", choices=phases, help=argparse.SUPPRESS)
    ap.add_argument("--sizes", help=argparse.SUPPRESS)
