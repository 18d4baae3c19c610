"""``loopml batch`` end to end: the real command in a subprocess, on a model registered in the
test's store (LOOPML_HOME is the per-test home, which the subprocess inherits)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import loopml

pytest.importorskip("sklearn")
pytest.importorskip("pyarrow")
from sklearn.linear_model import LogisticRegression


def loopml_batch(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
    env["LOOPML_HOME"] = os.environ["LOOPML_HOME"]
    command = [sys.executable, "-m", "loopml", "batch", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=120, check=False)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A registered model ``risk`` (version 1) and ``in.csv`` (100 rows, one with a bad value)."""
    rng = np.random.default_rng(5)
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    model = LogisticRegression().fit(X, (X["a"] + X["b"] > 0).to_numpy())
    with loopml.start_run():
        loopml.log_model(model, "model", input_example=X.head(2), registered_model_name="risk")
    rows = pd.DataFrame({"key": [f"k{i}" for i in range(100)], "a": X["a"][:100], "b": X["b"][:100]})
    rows = rows.astype({"b": object})
    rows.loc[7, "b"] = "oops"
    rows.to_csv(tmp_path / "in.csv", index=False)
    return tmp_path


def test_batch_prints_a_summary_or_json(work: Path) -> None:
    done = loopml_batch(
        "models:/risk/1", "-i", "in.csv", "-o", "scores.parquet", "--id-column", "key", cwd=work
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("scored 99 of 100 rows (1 rejected) with risk version 1 in ")
    assert lines[1:] == ["output:  scores.parquet", "rejects: scores.rejects.parquet"]
    assert pd.read_parquet(work / "scores.parquet")["key"].tolist() == [f"k{i}" for i in range(100) if i != 7]
    assert done.stderr == ""  # no progress bar when stderr is not a terminal

    as_json = loopml_batch(
        "models:/risk/1",
        "-i",
        "in.csv",
        "-o",
        "scores.csv",
        "--probabilities",
        "--json",
        "--progress",
        cwd=work,
    )
    assert as_json.returncode == 0, as_json.stderr
    summary = json.loads(as_json.stdout)
    assert {
        k: summary[k] for k in ("rows_read", "rows_scored", "rows_rejected", "model_name", "model_version")
    } == {
        "rows_read": 100,
        "rows_scored": 99,
        "rows_rejected": 1,
        "model_name": "risk",
        "model_version": "1",
    }
    assert summary["rejects"] == "scores.rejects.csv" and summary["rows_per_second"] > 0
    assert "100 rows" in as_json.stderr  # the progress bar
    assert list(pd.read_csv(work / "scores.csv").columns) == [
        "prediction",
        "probability_False",
        "probability_True",
        "model_name",
        "model_version",
    ]


def test_bad_values_exit_with_the_error_code_and_message(work: Path) -> None:
    bad_size = loopml_batch(
        "models:/risk/1", "-i", "in.csv", "-o", "out.parquet", "--chunk-size", "0", cwd=work
    )
    assert bad_size.returncode == 2
    assert "Invalid value for '--chunk-size': 0 is not in the range x>=1" in bad_size.stderr

    missing = loopml_batch("models:/risk/1", "-i", "nope/*.csv", "-o", "out.parquet", cwd=work)
    assert (missing.returncode, missing.stderr.strip()) == (3, "error: no input file matches 'nope/*.csv'")

    (work / "out.parquet").write_text("taken")
    taken = loopml_batch("models:/risk/1", "-i", "in.csv", "-o", "out.parquet", cwd=work)
    assert taken.returncode == 5
    assert taken.stderr.startswith(
        "error: output 'out.parquet' already exists; pass overwrite=True (--overwrite)"
    )
    assert "Traceback" not in bad_size.stderr + missing.stderr + taken.stderr
