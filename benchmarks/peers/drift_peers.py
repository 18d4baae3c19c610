"""The Evidently worker of ``bench_drift.py``, run INSIDE the Evidently venv (never imports loopml).

::

    benchmarks/.peers/evidently/bin/python benchmarks/peers/drift_peers.py --phase PHASE --params JSON

prints one JSON line last on stdout. Phases (``_drift_workloads`` does the measuring, the same
code as loopml's worker):

- ``perf``: one timed ``Report([DataDriftPreset()], include_tests=True).run(...)`` on data
  generated before the timer (``_drift_workloads.perf_sample``), then ``snapshot.save_html``.
- ``first_use``: ``import evidently`` and the first report, from a fresh interpreter.
- ``soundness``: false alarms and sensitivity with Evidently's defaults.

The column types are given to Evidently (a ``DataDefinition`` of the numeric and categorical
columns), as the reference run ``../shared/bench/drift_bench.py`` did. Per-column verdicts come
from the tests of the snapshot's ``dict()``: a ``ValueDrift`` test with status ``FAIL`` means
the column drifted (Evidently's own default test and threshold per column: at most 1,000
reference rows KS / chi-square p < 0.05, above that normed Wasserstein / Jensen-Shannon >= 0.1).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

# Run as a script, sys.path[0] is benchmarks/peers, whose venv.py would shadow the stdlib
# module of that name: swap it for benchmarks/ (home of _common and _drift_workloads).
sys.path[0] = str(Path(__file__).resolve().parents[1])

import _common as c  # noqa: E402
import _drift_workloads as dw  # noqa: E402

WHO = "evidently"
MODULE = "evidently"


def report_columns(d: dict[str, Any]) -> dict[str, bool | None]:
    """{column: drifted?} from ``Snapshot.dict()`` (a ValueDrift test FAIL = drifted; None when
    the column's metric has no test)."""
    status = {}
    for t in d.get("tests", []):
        mc = t.get("metric_config", {})
        if str(mc.get("params", {}).get("type", "")).endswith("ValueDrift"):
            status[mc["metric_id"]] = t["status"]
    cols: dict[str, bool | None] = {}
    for m in d["metrics"]:
        cfg = m["config"]
        if cfg["type"].endswith("ValueDrift"):
            s = status.get(m["id"])
            cols[cfg["column"]] = None if s is None else s == "FAIL"
    return cols


def load() -> dw.DriftTool:
    import evidently
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    def run(ref: Any, cur: Any, schema: dict[str, Any]) -> Any:
        num, cat = dw.column_names(schema)
        dd = DataDefinition(numerical_columns=num, categorical_columns=cat)
        return Report([DataDriftPreset()], include_tests=True).run(
            reference_data=Dataset.from_pandas(ref, data_definition=dd),
            current_data=Dataset.from_pandas(cur, data_definition=dd),
        )

    def extract(snapshot: Any) -> dict[str, bool | None]:
        return report_columns(snapshot.dict())

    def save_html(snapshot: Any, path: str) -> None:
        snapshot.save_html(path)

    def check(snapshot: Any, rows: int, n_columns: int) -> dict[str, Any]:
        cols = report_columns(snapshot.dict())
        judged = sum(v is not None for v in cols.values())
        return {"ok": len(cols) == n_columns and judged == n_columns, "columns": len(cols), "judged": judged}

    return dw.DriftTool("evidently", evidently.__version__, MODULE, run, extract, save_html, check)


def versions() -> dict[str, str]:
    import importlib.metadata as md

    return {d: md.version(d) for d in ("evidently", "numpy", "pandas", "scipy")}


def main() -> None:
    ap = argparse.ArgumentParser(description="Evidently worker of bench_drift.py")
    ap.add_argument("--phase", choices=("perf", "first_use", "soundness"), required=True)
    ap.add_argument("--params", default="{}")
    args = ap.parse_args()
    params = json.loads(args.params)
    # Evidently's chi-square divides by zero when a category is absent from the reference
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    if args.phase == "first_use":
        res = dw.first_use(load, MODULE)
    elif args.phase == "perf":
        res = dw.perf_sample(load(), params)
    else:
        res = dw.soundness(load(), params)
    c.emit(res | {"versions": versions()})


if __name__ == "__main__":
    main()
