"""Batch scoring (``loopml.serving.batch.score_batch``) on real files with a real registered
scikit-learn model: formats, chunking, rejects, errors, fsspec, memory, flows and Dask."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import loopml
from loopml import Client, Conflict, InvalidInput, NotFound
from loopml.serving.batch import BatchResult, score_batch

pytest.importorskip("sklearn")
pytest.importorskip("pyarrow")
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

FEATURES = ["city", "age", "income"]


@pytest.fixture(scope="module")
def training() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(7)
    n = 300
    X = pd.DataFrame(
        {
            "city": rng.choice(["Lyon", "Oslo", "Lima"], n),
            "age": rng.integers(18, 80, n),
            "income": rng.normal(50_000, 12_000, n).round(2),
        }
    )
    y = ((X["age"] > 45) ^ (X["city"] == "Oslo")).to_numpy().astype(int)
    return X, y


@pytest.fixture(scope="module")
def pipeline(training: tuple[pd.DataFrame, np.ndarray]) -> Pipeline:
    X, y = training
    prep = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"]),
            ("num", StandardScaler(), ["age", "income"]),
        ]
    )
    return Pipeline([("prep", prep), ("clf", LogisticRegression(max_iter=500))]).fit(X, y)


@pytest.fixture
def model_uri(loopml_store: Client, pipeline: Pipeline, training: tuple[pd.DataFrame, np.ndarray]) -> str:
    """The pipeline logged and registered as ``churn`` version 1 in this test's store."""
    X, _ = training
    with loopml.start_run():
        loopml.log_model(pipeline, "model", input_example=X.head(3), registered_model_name="churn")
    return "models:/churn/1"


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A directory of its own for the files of a test (the store lives in tmp_path/loopml)."""
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    """200 rows to score, with an ``id`` column the model does not know."""
    rng = np.random.default_rng(11)
    n = 200
    return pd.DataFrame(
        {
            "id": np.arange(1000, 1000 + n),
            "city": rng.choice(["Lyon", "Oslo", "Lima"], n),
            "age": rng.integers(18, 80, n),
            "income": rng.normal(50_000, 12_000, n).round(2),
        }
    )


def write(frame: pd.DataFrame, path: Path) -> Path:
    """``frame`` as the file ``path`` names (.csv, .parquet, .jsonl, optionally .gz)."""
    name = path.name.removesuffix(".gz")
    compression = "gzip" if path.name.endswith(".gz") else None
    if name.endswith(".csv"):
        frame.to_csv(path, index=False, compression=compression)
    elif name.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_json(path, orient="records", lines=True, compression=compression)
    return path


def read(path: Path | str) -> pd.DataFrame:
    name = str(path)
    if name.endswith(".csv"):
        return pd.read_csv(path)
    if name.endswith(".jsonl"):
        return pd.read_json(path, orient="records", lines=True)
    return pd.read_parquet(path)


def expected(pipeline: Pipeline, frame: pd.DataFrame) -> np.ndarray:
    return pipeline.predict(frame[FEATURES])


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# ---------------------------------------------------------------------------------------- scoring


def test_importing_batch_scoring_loads_nothing_heavy() -> None:
    heavy = ("pandas", "pyarrow", "dask", "distributed", "rich", "sklearn")
    imports = "import sys, loopml.serving.batch, loopml.cli.batch"
    code = f"{imports}\nprint([m for m in {heavy} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_csv_to_parquet_with_id_model_name_and_version(
    work: Path, model_uri: str, pipeline: Pipeline, rows: pd.DataFrame
) -> None:
    source = write(rows, work / "in.csv")
    result = score_batch(model_uri, source, work / "scores.parquet", id_column="id")

    assert isinstance(result, BatchResult)
    assert (result.rows_read, result.rows_scored, result.rows_rejected) == (200, 200, 0)
    assert (result.model_name, result.model_version, result.rejects) == ("churn", "1", None)
    assert result.output == str(work / "scores.parquet") and result.seconds > 0
    out = pd.read_parquet(work / "scores.parquet")
    assert list(out.columns) == ["id", "prediction", "model_name", "model_version"]
    assert out["id"].tolist() == rows["id"].tolist()
    assert np.array_equal(out["prediction"].to_numpy(), expected(pipeline, rows))
    assert set(out["model_name"]) == {"churn"} and set(out["model_version"]) == {"1"}
    assert listing(work) == ["in.csv", "scores.parquet"]  # no rejects file, no temporary file
    assert result.to_dict()["rows_per_second"] > 0


@pytest.mark.parametrize(
    ("source_name", "output_name"),
    [
        ("in.csv", "out.jsonl"),
        ("in.parquet", "out.csv"),
        ("in.jsonl", "out.parquet"),
        ("in.csv.gz", "out.parquet"),
        ("in.ndjson.gz", "out.csv"),
    ],
)
def test_every_input_and_output_format(
    work: Path, model_uri: str, pipeline: Pipeline, rows: pd.DataFrame, source_name: str, output_name: str
) -> None:
    source = write(rows, work / source_name)
    result = score_batch(model_uri, str(source), str(work / output_name), id_column="id", chunk_size=64)
    assert (result.rows_read, result.rows_scored) == (200, 200)
    out = read(work / output_name)
    assert out["id"].tolist() == rows["id"].tolist()
    assert out["prediction"].tolist() == expected(pipeline, rows).tolist()
    assert out["model_version"].astype(str).tolist() == ["1"] * 200


def test_small_chunks_score_the_same_as_one_chunk(work: Path, model_uri: str, rows: pd.DataFrame) -> None:
    source = write(rows, work / "in.csv")
    whole = score_batch(model_uri, source, work / "whole.parquet", id_column="id", probabilities=True)
    pieces = score_batch(
        model_uri, source, work / "pieces.parquet", id_column="id", probabilities=True, chunk_size=17
    )
    assert whole.chunks == 1 and pieces.chunks >= 8
    pd.testing.assert_frame_equal(
        pd.read_parquet(work / "whole.parquet"), pd.read_parquet(work / "pieces.parquet")
    )


def test_probabilities_are_one_column_per_class(
    work: Path, model_uri: str, pipeline: Pipeline, rows: pd.DataFrame
) -> None:
    source = write(rows, work / "in.parquet")
    score_batch(model_uri, source, work / "out.parquet", probabilities=True, chunk_size=50)
    out = pd.read_parquet(work / "out.parquet")
    assert list(out.columns) == [
        "prediction",
        "probability_0",
        "probability_1",
        "model_name",
        "model_version",
    ]
    proba = pipeline.predict_proba(rows[FEATURES])
    assert np.allclose(out[["probability_0", "probability_1"]].to_numpy(), proba)


def test_globs_lists_and_directories_are_read_in_order(
    work: Path, model_uri: str, rows: pd.DataFrame
) -> None:
    parts = work / "parts"
    parts.mkdir()
    for i, start in enumerate(range(0, 200, 70)):
        write(rows.iloc[start : start + 70], parts / f"part-{i}.csv")
    (parts / "notes.txt").write_text("not data")

    by_glob = score_batch(model_uri, str(parts / "part-*.csv"), work / "glob.csv", id_column="id")
    assert by_glob.rows_read == 200
    assert read(work / "glob.csv")["id"].tolist() == rows["id"].tolist()

    by_list = score_batch(
        model_uri, [parts / "part-2.csv", parts / "part-0.csv"], work / "list.csv", id_column="id"
    )
    assert by_list.rows_read == 130
    assert read(work / "list.csv")["id"].tolist() == [*rows["id"][140:], *rows["id"][:70]]

    by_directory = score_batch(model_uri, parts, work / "dir.csv", id_column="id")
    assert by_directory.rows_read == 200  # notes.txt is not an input


def test_fsspec_memory_urls_round_trip(model_uri: str, pipeline: Pipeline, rows: pd.DataFrame) -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    root = f"memory://batch-{uuid.uuid4().hex}"
    bad = rows.astype({"income": object})
    bad.loc[105, "income"] = "unknown"
    try:
        with fs.open(f"{root}/in/day-1.parquet", "wb") as f:
            rows.iloc[:100].to_parquet(f, index=False)
        with fs.open(f"{root}/in/day-2.csv", "wb") as f:
            f.write(bad.iloc[100:].to_csv(index=False).encode())
        result = score_batch(model_uri, f"{root}/in/day-*", f"{root}/out/scores.csv", id_column="id")

        assert (result.rows_read, result.rows_scored, result.rows_rejected) == (200, 199, 1)
        assert result.rejects == f"{root}/out/scores.rejects.csv"
        with fs.open(f"{root}/out/scores.csv", "rb") as f:
            out = pd.read_csv(f)
        with fs.open(result.rejects, "rb") as f:
            rejected = pd.read_csv(f)
        kept = rows.drop(index=105)
        assert out["id"].tolist() == kept["id"].tolist()
        assert out["prediction"].tolist() == expected(pipeline, kept).tolist()
        assert rejected["id"].tolist() == [1105]
        assert fs.ls(f"{root}/out", detail=False) == [
            f"/{root[9:]}/out/scores.csv",
            f"/{root[9:]}/out/scores.rejects.csv",
        ]
    finally:
        fs.rm(root[len("memory://") :], recursive=True)


# ------------------------------------------------------------------------------------------ rejects


def test_rows_the_signature_refuses_go_to_the_rejects_file_with_a_reason(
    work: Path, model_uri: str, pipeline: Pipeline, rows: pd.DataFrame
) -> None:
    lines = rows.to_csv(index=False).splitlines()
    lines[3] = "1002,Lyon,41,abc"  # income is not a number
    lines[6] = "1005,Oslo,33.5,52000"  # age is not a whole number
    lines[8] = "1007,Lima,,48000"  # age is missing
    lines[10] = "1009,Lyon,52,"  # income is missing: the scikit-learn model fails on NaN
    lines[12] = "1011,Lyon,52,1,2"  # one field too many
    (work / "in.csv").write_text("\n".join(lines) + "\n")

    result = score_batch(model_uri, work / "in.csv", work / "out.parquet", id_column="id", chunk_size=50)

    assert (result.rows_read, result.rows_scored, result.rows_rejected) == (200, 195, 5)
    assert result.rejects == str(work / "out.rejects.parquet")
    rejected = pd.read_parquet(result.rejects)
    assert list(rejected.columns) == ["id", "city", "age", "income", "reject_reason"]
    reasons = dict(zip(rejected["id"], rejected["reject_reason"], strict=True))
    assert reasons["1002"] == "column 'income' must be double, got 'abc'"
    assert reasons["1005"] == "column 'age' must be long, got '33.5'"
    assert reasons["1007"] == "column 'age' must be long, got a missing value"
    assert reasons["1009"].startswith("column 'income' must be double, got a missing value (the model failed")
    assert "ValueError" in reasons["1009"]
    assert [r for r in reasons.values() if r.startswith("malformed")] == [
        "malformed CSV line: expected 4 fields, got 5: '1011,Lyon,52,1,2'"
    ]
    assert rejected.loc[rejected["id"] == "1002", ["city", "age", "income"]].values.tolist() == [
        ["Lyon", "41", "abc"]
    ]
    out = pd.read_parquet(work / "out.parquet")
    kept = rows[~rows["id"].isin([1002, 1005, 1007, 1009, 1011])]
    assert out["id"].tolist() == kept["id"].tolist()
    assert out["prediction"].tolist() == expected(pipeline, kept).tolist()


def test_jsonl_rows_with_values_of_the_wrong_type_are_rejected(
    work: Path, model_uri: str, rows: pd.DataFrame
) -> None:
    records = rows.to_dict(orient="records")
    records[4]["age"] = "forty"
    records[7]["city"] = 12  # a string column takes any value, as text
    (work / "in.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    result = score_batch(model_uri, work / "in.jsonl", work / "out.jsonl", id_column="id")
    assert (result.rows_scored, result.rows_rejected) == (199, 1)
    rejected = read(work / "out.rejects.jsonl")
    assert rejected["reject_reason"].tolist() == ["column 'age' must be long, got 'forty'"]


# ------------------------------------------------------------------------------------------- errors


def test_a_missing_required_column_fails_before_anything_is_written(
    work: Path, model_uri: str, rows: pd.DataFrame
) -> None:
    write(rows.drop(columns=["income"]), work / "in.csv")
    with pytest.raises(InvalidInput) as caught:
        score_batch(model_uri, work / "in.csv", work / "out.parquet")
    message = str(caught.value)
    assert "'income' (double)" in message and str(work / "in.csv") in message
    assert "columns found: 'id', 'city', 'age'" in message
    assert listing(work) == ["in.csv"]


def test_an_unknown_id_column_names_the_columns_found(work: Path, model_uri: str, rows: pd.DataFrame) -> None:
    write(rows, work / "in.parquet")
    with pytest.raises(
        InvalidInput, match=r"the id column 'customer' is not in input .*in\.parquet.*'id', 'city'"
    ):
        score_batch(model_uri, work / "in.parquet", work / "out.parquet", id_column="customer")


def test_an_existing_output_is_a_conflict_unless_overwritten(
    work: Path, model_uri: str, rows: pd.DataFrame
) -> None:
    source = write(rows, work / "in.csv")
    (work / "out.csv").write_text("old")
    (work / "out.rejects.csv").write_text("old rejects")
    with pytest.raises(Conflict, match=r"output '.*out\.csv' already exists; pass overwrite=True"):
        score_batch(model_uri, source, work / "out.csv")
    assert (work / "out.csv").read_text() == "old"

    result = score_batch(model_uri, source, work / "out.csv", overwrite=True)
    assert result.rejects is None
    assert len(read(work / "out.csv")) == 200
    assert listing(work) == ["in.csv", "out.csv"]  # the stale rejects file went too


def test_a_failure_midway_leaves_nothing_behind(work: Path, model_uri: str, rows: pd.DataFrame) -> None:
    records = rows.to_dict(orient="records")
    for record in records[120:]:
        del record["income"]  # the later lines lack a required column altogether
    (work / "in.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    with pytest.raises(InvalidInput, match=r"in\.jsonl' has no column 'income' \(double\)"):
        score_batch(model_uri, work / "in.jsonl", work / "out" / "scores.parquet", chunk_size=40)
    assert listing(work / "out") == []


def test_a_model_error_propagates_unchanged_and_leaves_nothing_behind(work: Path) -> None:
    def picky(frame: pd.DataFrame) -> Any:
        if (frame["x"] > 150).any():
            raise RuntimeError("x is too large for this model")
        return frame["x"] * 2

    loopml.save_model(picky, work / "picky")
    write(pd.DataFrame({"x": np.arange(200.0)}), work / "in.parquet")
    with pytest.raises(RuntimeError, match="x is too large"):
        score_batch(str(work / "picky"), work / "in.parquet", work / "out.parquet", chunk_size=50)
    assert listing(work) == ["in.parquet", "picky"]


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"chunk_size": 0}, InvalidInput, "chunk_size must be a positive number of rows, got 0"),
        ({"chunk_size": 2.5}, InvalidInput, "got 2.5"),
        ({"engine": "spark"}, InvalidInput, "unknown engine 'spark'; use 'local' or 'dask'"),
        ({"format": "xlsx"}, InvalidInput, "unknown output format 'xlsx'"),
        ({"input_format": "xml"}, InvalidInput, "unknown input format 'xml'"),
        ({"id_column": "prediction"}, InvalidInput, "the id column cannot be called 'prediction'"),
        ({"dask_address": "tcp://x:8786"}, InvalidInput, "dask_address 'tcp://x:8786' is for engine='dask'"),
        ({"input": "nowhere/*.csv"}, NotFound, "no input file matches 'nowhere/*.csv'"),
        ({"input": "in.txt"}, InvalidInput, "cannot tell the format of input"),
        (
            {"output": "out.xlsx"},
            InvalidInput,
            "cannot tell the output format from the extension of 'out.xlsx'",
        ),
        ({"output": "out.csv.gz"}, InvalidInput, "compressed CSV or JSON Lines are not written"),
    ],
)
def test_bad_options_name_the_offending_value(
    work: Path,
    monkeypatch: pytest.MonkeyPatch,
    rows: pd.DataFrame,
    options: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    monkeypatch.chdir(work)
    write(rows, work / "in.csv")
    (work / "in.txt").write_text("id\n1\n")
    arguments: dict[str, Any] = {"input": "in.csv", "output": "out.parquet", **options}
    with pytest.raises(error, match=re.escape(message)):
        score_batch("models:/unused/1", arguments.pop("input"), arguments.pop("output"), **arguments)
    assert not (work / "out.parquet").exists()


# --------------------------------------------------------------------------------- other models


def test_models_without_signature_do_not_see_the_id_and_may_return_several_outputs(work: Path) -> None:
    def two_outputs(frame: pd.DataFrame) -> Any:
        return np.column_stack([frame.sum(axis=1), frame.shape[1] * np.ones(len(frame))])

    loopml.save_model(two_outputs, work / "model")
    write(pd.DataFrame({"key": ["a", "b", "c"], "x": [1.0, 2.0, 3.0], "y": [10, 20, 30]}), work / "in.csv")
    score_batch(str(work / "model"), work / "in.csv", work / "out.parquet", id_column="key")
    out = pd.read_parquet(work / "out.parquet")
    assert list(out.columns) == ["key", "prediction_0", "prediction_1", "model_name", "model_version"]
    assert out["prediction_0"].tolist() == [11.0, 22.0, 33.0]  # x + y: the id column is not given
    assert out["prediction_1"].tolist() == [2.0, 2.0, 2.0]
    assert out["model_name"].tolist() == ["model"] * 3 and out["model_version"].isna().all()


# ---------------------------------------------------------------------------------- memory, flows


def test_memory_does_not_grow_with_the_input(work: Path) -> None:
    """In one process, the peak RSS after scoring 600 k rows (10 k per chunk) is close to the
    peak after scoring 60 k: the rows are never all in memory."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(500, 3)), columns=["a", "b", "c"])
    model = LogisticRegression().fit(X, (X["a"] > 0).to_numpy())
    loopml.save_model(model, work / "model", input_example=X.head(2))
    large = pa.table({c: rng.normal(size=600_000).round(4) for c in ["a", "b", "c"]})
    pacsv.write_csv(large.slice(0, 60_000), work / "small.csv")
    pacsv.write_csv(large, work / "large.csv")
    script = textwrap.dedent(
        """
        import resource, sys
        from loopml.serving.batch import score_batch
        model, directory = sys.argv[1:]
        for name in ("small", "large"):
            source, output = f"{directory}/{name}.csv", f"{directory}/{name}.parquet"
            result = score_batch(model, source, output, chunk_size=10_000)
            print(result.rows_scored, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(work / "model"), str(work)],
        capture_output=True,
        text=True,
        check=True,
    )
    (small_rows, small_peak), (large_rows, large_peak) = [
        map(int, line.split()) for line in done.stdout.splitlines()
    ]
    assert (small_rows, large_rows) == (60_000, 600_000)
    large_file_kib = (work / "large.csv").stat().st_size // 1024  # ~13 MiB; ~14 MiB as floats
    assert large_peak - small_peak < large_file_kib // 2, (small_peak, large_peak, large_file_kib)


def test_score_batch_runs_as_a_task_of_a_flow(
    loopml_store: Client, work: Path, model_uri: str, rows: pd.DataFrame
) -> None:
    source = write(rows, work / "in.csv")

    @loopml.flow
    def nightly(day: str) -> BatchResult:
        return loopml.task(score_batch)(model_uri, str(source), str(work / f"{day}.parquet"), id_column="id")

    state = nightly("2026-11-27", return_state=True)
    assert state.is_completed()
    result = state.result()
    assert isinstance(result, BatchResult) and result.rows_scored == 200
    assert len(pd.read_parquet(work / "2026-11-27.parquet")) == 200
    assert state.flow_run_id is not None
    (run,) = loopml_store.get_task_runs(state.flow_run_id)
    assert (run.name, run.state.value, run.parameters["id_column"]) == ("score_batch-0", "COMPLETED", "id")


def test_progress_bar_on_stderr(
    work: Path, model_uri: str, rows: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    write(rows, work / "in.parquet")
    score_batch(model_uri, work / "in.parquet", work / "out.parquet", progress=True, chunk_size=50)
    captured = capsys.readouterr()
    assert "200/200" in captured.err and "200 rows" in captured.err and captured.out == ""


# ---------------------------------------------------------------------------------------------- dask


@pytest.fixture(scope="module")
def dask_address() -> Iterator[str]:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        yield cluster.scheduler_address


def test_dask_engine_writes_one_part_per_partition(
    work: Path, model_uri: str, pipeline: Pipeline, rows: pd.DataFrame, dask_address: str
) -> None:
    lines = rows.to_csv(index=False).splitlines()
    lines[50] = "1049,Lyon,41,abc"
    (work / "a.csv").write_text("\n".join(lines[:121]) + "\n")  # rows 0-119
    write(rows.iloc[120:], work / "b.parquet")

    result = score_batch(
        model_uri,
        [work / "a.csv", work / "b.parquet"],
        work / "scores",
        id_column="id",
        engine="dask",
        dask_address=dask_address,
        chunk_size=30,
    )

    assert (result.rows_read, result.rows_scored, result.rows_rejected, result.engine) == (
        200,
        199,
        1,
        "dask",
    )
    parts = listing(work / "scores")
    assert len(parts) >= 5 and parts[0] == "part-00000.parquet"
    out = pd.concat(pd.read_parquet(work / "scores" / p) for p in parts)
    kept = rows[rows["id"] != 1049]
    assert out["id"].tolist() == kept["id"].tolist()
    assert out["prediction"].tolist() == expected(pipeline, kept).tolist()
    rejected = pd.read_parquet(work / "scores.rejects")
    assert rejected["reject_reason"].tolist() == ["column 'income' must be double, got 'abc'"]
    assert listing(work) == ["a.csv", "b.parquet", "scores", "scores.rejects"]


def test_dask_engine_failure_leaves_nothing_behind(
    work: Path, model_uri: str, rows: pd.DataFrame, dask_address: str
) -> None:
    records = rows.to_dict(orient="records")
    for record in records[150:]:
        del record["city"]
    (work / "in.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    with pytest.raises(InvalidInput, match="has no column 'city'"):
        score_batch(
            model_uri,
            work / "in.jsonl",
            work / "out.csv",
            engine="dask",
            dask_address=dask_address,
            chunk_size=40,
        )
    assert listing(work) == ["in.jsonl"]


@pytest.mark.slow
def test_dask_engine_starts_a_local_cluster_without_an_address(
    work: Path, model_uri: str, pipeline: Pipeline, rows: pd.DataFrame
) -> None:
    pytest.importorskip("distributed")
    write(rows, work / "in.csv")
    result = score_batch(model_uri, work / "in.csv", work / "scores.csv", engine="dask", chunk_size=80)
    assert (result.rows_scored, result.engine) == (200, "dask")
    parts = listing(work / "scores.csv")  # a directory of CSV parts, named like the output
    assert parts[0] == "part-00000.csv" and len(parts) >= 2
    out = pd.concat(pd.read_csv(work / "scores.csv" / p) for p in parts)
    assert out["prediction"].tolist() == expected(pipeline, rows).tolist()
