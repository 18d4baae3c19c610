"""The model workloads of ``bench_models.py``, written once for loopml and MLflow.

It never imports loopml or mlflow itself, and imports pandas and scikit-learn only inside
the functions that need them (both venvs have them): each worker imports its tool, sets up
its store and hands the tool in as a :class:`Tool`. The loopml worker is
``bench_models.py --_worker`` (``.venv``), the MLflow one ``peers/mlflow_models_peer.py``
(the MLflow venv, which puts ``benchmarks/`` on ``sys.path`` to import this module).

loopml's model API mirrors MLflow's: ``loopml.log_model(pipe, name=..., input_example=...)``
vs ``mlflow.sklearn.log_model(...)``, ``register_model``, ``set_registered_model_alias``,
``loopml.load_model("models:/NAME@champion")`` vs ``mlflow.pyfunc.load_model(...)``. Those
differences are the fields of :class:`Tool`; everything else (data, pipeline, calls, timing
boundaries, checks) is the same code for both.

Two phases, each in its own fresh subprocess per tool:

- :func:`log_phase`: fit the pipeline, ``log_model`` once (the first call in the process,
  what a script pays) and ``log_calls`` more times in fresh runs; register the first run's
  model and point the alias ``champion`` at it; then, in that same process (tool imported,
  store open), ``load_model("models:/NAME@champion")`` + the first ``predict`` of one row, as
  step 7d of ``../shared/bench/mlflow_bench.py`` measures it (``res["load_in_process"]``).
- :func:`serve_phase`: in a fresh process, ``load_model("models:/NAME@champion")`` + the first
  ``predict`` of one row (paying the store's first open), then ``predict_calls`` single-row
  predictions against the raw pipeline's.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import _common as c
from _common import pc

MODEL_NAME = "bench_pipeline"
ALIAS = "champion"
ARTIFACT = "model"
MODEL_URI = f"models:/{MODEL_NAME}@{ALIAS}"
CITIES = ("Lyon", "Paris", "Nantes", "Lille", "Nice", "Brest")
NUMERIC = ("age", "income")


@dataclass(frozen=True)
class Tool:
    """One tool's handles, as its worker set them up.

    ``fluent`` is the top-level module (``loopml`` / ``mlflow``: ``start_run``,
    ``register_model``), ``client`` its client on the same store
    (``set_registered_model_alias``; ``None`` in the serve phase, where ``load_model`` opens
    the store itself, as a serving script's does), ``log_model(model, name=..., input_example=...)`` and
    ``load_model(uri)`` its model functions (``loopml.log_model`` / ``mlflow.sklearn.log_model``,
    ``loopml.load_model`` / ``mlflow.pyfunc.load_model``).
    """

    who: str  # progress-log prefix on stderr
    fluent: Any
    client: Any
    log_model: Callable[..., Any]
    load_model: Callable[[str], Any]


def import_libs() -> float:
    """Import pandas and the scikit-learn modules the pipeline is made of; the seconds taken."""
    t = pc()
    import pandas  # noqa: F401
    import sklearn.compose
    import sklearn.linear_model
    import sklearn.pipeline
    import sklearn.preprocessing  # noqa: F401

    return pc() - t


def make_data(n: int, seed: int) -> tuple[Any, list[int]]:
    """``n`` rows (city: categorical, age: int, income: float) and a 0/1 label, seeded."""
    import pandas as pd

    rnd = random.Random(seed)
    city = [rnd.choice(CITIES) for _ in range(n)]
    age = [rnd.randint(18, 80) for _ in range(n)]
    income = [round(rnd.gauss(40_000, 12_000), 2) for _ in range(n)]
    bonus = {"Paris": 1.0, "Lyon": 0.5, "Nice": -0.5}
    y = [
        int((a - 45) / 15 + (inc - 40_000) / 12_000 + bonus.get(ci, 0.0) + rnd.gauss(0, 0.7) > 0)
        for ci, a, inc in zip(city, age, income, strict=True)
    ]
    return pd.DataFrame({"city": city, "age": age, "income": income}), y


def fit_pipeline(X: Any, y: list[int]) -> Any:
    """ColumnTransformer(OneHotEncoder on city, StandardScaler on age/income) + LogisticRegression."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    prep = ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="ignore"), ["city"]), ("num", StandardScaler(), list(NUMERIC))]
    )
    return Pipeline([("prep", prep), ("clf", LogisticRegression(max_iter=1000))]).fit(X, y)


def log_once(tool: Tool, pipe: Any, example: Any, run_name: str) -> tuple[float, str]:
    """One ``log_model`` with default settings in a fresh run: (seconds of the call, run id)."""
    with tool.fluent.start_run(run_name=run_name) as run:
        t = pc()
        tool.log_model(pipe, name=ARTIFACT, input_example=example)
        return pc() - t, run.info.run_id


def log_models(tool: Tool, pipe: Any, example: Any, later: int) -> dict[str, Any]:
    """The first ``log_model`` of the process, then ``later`` more, each in a fresh run."""
    c.log(tool.who, "log_model: first call")
    first_s, first_run = log_once(tool, pipe, example, "model-first")
    c.log(tool.who, f"log_model: first call {first_s:.3f}s; {later} later calls")
    durs = [log_once(tool, pipe, example, f"model-{i + 1}")[0] for i in range(later)]
    return {"first_s": first_s, "later_s": c.stats(durs), "later_samples": durs, "first_run_id": first_run}


def register(tool: Tool, run_id: str) -> dict[str, Any]:
    """Register the first run's model and point the alias at the new version."""
    t = pc()
    mv = tool.fluent.register_model(f"runs:/{run_id}/{ARTIFACT}", MODEL_NAME)
    register_s = pc() - t
    t = pc()
    tool.client.set_registered_model_alias(MODEL_NAME, ALIAS, mv.version)
    alias_s = pc() - t
    return {"register_model_s": register_s, "set_alias_s": alias_s, "version": str(mv.version)}


def load_and_first_predict(tool: Tool, row0: Any) -> tuple[Any, Any, dict[str, Any]]:
    """``load_model(MODEL_URI)`` + the first ``predict`` of ``row0``: (model, prediction, figures)."""
    t = pc()
    model = tool.load_model(MODEL_URI)
    load_s = pc() - t
    first = model.predict(row0)
    total_s = pc() - t
    figures: dict[str, Any] = {"uri": MODEL_URI, "load_model_s": load_s, "first_predict_s": total_s - load_s}
    figures["load_and_first_predict_s"] = total_s
    return model, first, figures


def log_phase(tool: Tool, sizes: dict[str, Any]) -> dict[str, Any]:
    """Phase 1 (its own subprocess): fit, log_model first + later calls, register, alias; then
    load_model by alias + first predict in this same process (store open, as the reference does)."""
    X, y = make_data(sizes["rows"], c.SEED)
    t = pc()
    pipe = fit_pipeline(X, y)
    res: dict[str, Any] = {"fit_s": pc() - t, "rows": len(X)}
    res["log_model"] = log_models(tool, pipe, X.head(3), sizes["log_calls"])
    c.log(tool.who, f"register {MODEL_NAME} and set alias {ALIAS}")
    res["registry"] = register(tool, res["log_model"]["first_run_id"])
    c.log(tool.who, f"load_model({MODEL_URI!r}) + first predict, in this process")
    row0 = X.iloc[[0]]
    _, first, res["load_in_process"] = load_and_first_predict(tool, row0)
    ok = same(first, pipe.predict(row0))
    res["load_in_process"]["check"] = {"first_predict_ok": ok, "ok": ok}
    res["peak_rss_mb"] = c.peak_rss_mb()
    return res


def same(a: Any, b: Any) -> bool:
    """Equal predictions (numpy arrays, lists or pandas objects)."""
    import numpy as np

    return bool(np.array_equal(np.asarray(a).ravel(), np.asarray(b).ravel()))


def per_row(model: Any, pipe: Any, rows: list[Any]) -> dict[str, Any]:
    """Single-row predictions through the loaded model and the raw pipeline, interleaved."""
    mdurs, rdurs, mismatches = [], [], 0
    for r in rows:
        t = pc()
        p = model.predict(r)
        mdurs.append(pc() - t)
        t = pc()
        q = pipe.predict(r)
        rdurs.append(pc() - t)
        mismatches += not same(p, q)
    m, r = c.stats(mdurs) or {}, c.stats(rdurs) or {}
    return {
        "n": len(rows),
        "model_per_call_ms": {k: 1000 * v if k != "n" else v for k, v in m.items()},
        "raw_per_call_ms": {k: 1000 * v if k != "n" else v for k, v in r.items()},
        "overhead_ms": 1000 * (m["median"] - r["median"]),
        "check": {"mismatches": mismatches, "ok": mismatches == 0},
    }


def serve_phase(tool: Tool, sizes: dict[str, Any]) -> dict[str, Any]:
    """Phase 2 (a fresh subprocess, tool and libraries already imported): load + predict."""
    X, y = make_data(sizes["rows"], c.SEED)
    row0 = X.iloc[[0]]
    model, first, res = load_and_first_predict(tool, row0)
    pipe = fit_pipeline(X, y)  # the raw pipeline, refitted on the same seeded data
    n = sizes["predict_calls"]
    rows = [X.iloc[[i % len(X)]] for i in range(n)]
    c.log(tool.who, f"{n} single-row predictions, model and raw pipeline interleaved")
    res["predict"] = per_row(model, pipe, rows)
    full_ok = same(model.predict(X), pipe.predict(X))
    res["check"] = {
        "first_predict_ok": same(first, pipe.predict(row0)),
        "all_rows_ok": full_ok,
        "ok": same(first, pipe.predict(row0)) and full_ok and res["predict"]["check"]["ok"],
    }
    res["peak_rss_mb"] = c.peak_rss_mb()
    return res
