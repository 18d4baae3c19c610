"""``loopml profile``, ``loopml drift`` and ``loopml monitor`` end to end: the real commands in
a subprocess, on files and a model registered in the test's store (LOOPML_HOME inherited)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import loopml
from loopml.serving.prediction_log import PredictionLog

pytest.importorskip("sklearn")
from sklearn.linear_model import LogisticRegression

END = datetime(2026, 11, 20, tzinfo=UTC)


def loopml_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
    env["LOOPML_HOME"] = os.environ["LOOPML_HOME"]
    command = [sys.executable, "-m", "loopml", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=180, check=False)


def _frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"a": rng.normal(size=n) + shift, "b": rng.normal(size=n), "c": rng.choice(["x", "y"], n)}
    )


def test_profile_then_drift_between_files(tmp_path: Path) -> None:
    _frame(20_000, 1).to_parquet(tmp_path / "train.parquet")
    _frame(5_000, 2, shift=0.5).to_csv(tmp_path / "today.csv", index=False)

    made = loopml_cli(
        "profile", "train.parquet", "-o", "train.profile.parquet", "--chunk-size", "3000", cwd=tmp_path
    )
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("profiled 20,000 rows x 3 columns in ")

    found = loopml_cli("drift", "train.profile.parquet", "today.csv", "--json", cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    doc = json.loads(found.stdout)
    assert doc["columns"]["a"]["drift_detected"] is True
    assert doc["columns"]["b"]["drift_detected"] is False
    assert doc["dataset"]["reference_rows"] == 20_000 and doc["dataset"]["current_rows"] == 5_000

    table = loopml_cli("drift", "train.parquet", "today.csv", "--report", "drift.html", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "1 of 3 columns drifted (33%): no drift" in table.stdout
    assert "<svg" in (tmp_path / "drift.html").read_text()

    forced = loopml_cli(
        "drift", "train.parquet", "today.csv", "--test", "psi", "--column", "a", "--json", cwd=tmp_path
    )
    assert forced.returncode == 0, forced.stderr
    assert list(json.loads(forced.stdout)["columns"]) == ["a"]
    assert json.loads(forced.stdout)["columns"]["a"]["test"] == "psi"


def test_drift_and_profile_refuse_bad_input(tmp_path: Path) -> None:
    _frame(100, 1).to_csv(tmp_path / "a.csv", index=False)
    missing = loopml_cli("drift", "a.csv", "nothing-*.csv", cwd=tmp_path)
    assert missing.returncode == 3 and "error:" in missing.stderr
    unknown = loopml_cli("drift", "a.csv", "a.csv", "--column", "zz", cwd=tmp_path)
    assert unknown.returncode == 2 and "zz" in unknown.stderr
    bad = loopml_cli("profile", "a.csv", "-o", "p.parquet", "--column", "nope", cwd=tmp_path)
    assert bad.returncode == 2 and "nope" in bad.stderr
    assert not (tmp_path / "p.parquet").exists()


def test_monitor_reads_the_prediction_log_and_records_a_run(tmp_path: Path) -> None:
    train = _frame(5_000, 1)
    model = LogisticRegression().fit(train[["a", "b"]], (train["a"] > 0).to_numpy())
    with loopml.start_run():
        loopml.log_model(
            model,
            "model",
            input_example=train[["a", "b"]].head(),
            registered_model_name="risk",
            training_data=train[["a", "b"]],
        )
    log = PredictionLog(str(tmp_path / "predictions"))
    for day, shift in enumerate([0.0, 1.0]):
        rows = _frame(2_000, 10 + day, shift)[["a", "b"]]
        start = (END - timedelta(days=2 - day)).timestamp()
        log.append(
            model="risk",
            version="1",
            request_ids=[f"{day}-{i}" for i in range(len(rows))],
            timestamps=(start + np.arange(len(rows)) * 10.0).tolist(),
            inputs=rows,
            outputs=[0] * len(rows),
            latencies_ms=[1.0] * len(rows),
        )
    log.close()

    args = ["monitor", "models:/risk/1", "--since", "2d", "--window", "1d", "--until", END.isoformat()]
    args += ["--prediction-log", "predictions", "--report", "out/report.html"]
    done = loopml_cli(*args, "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert [w["rows"] for w in doc["windows"]] == [2_000, 2_000]
    assert [w["drift_detected"] for w in doc["windows"]] == [False, True]
    assert doc["drift_detected"] is True and doc["event_id"] is not None
    assert doc["windows"][1]["drifted_columns"][:1] == ["a"]
    assert (tmp_path / "out" / "report.html").exists()
    assert loopml.Client().get_run(doc["run_id"]).data.params["served_name"] == "risk"

    text = loopml_cli(*args, cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "risk version 1: DRIFT in the latest window" in text.stdout
    assert "event: drift.detected #" in text.stdout

    bad = loopml_cli("monitor", "models:/risk/1", "--since", "soon", cwd=tmp_path)
    assert bad.returncode == 2 and "invalid since 'soon'" in bad.stderr
    nothing = loopml_cli("monitor", "models:/nope/1", cwd=tmp_path)
    assert nothing.returncode == 3
