"""PredictionLog: predictions appended in the background to hive-partitioned Parquet files.

Real files throughout (a temporary directory, fsspec's ``memory://``), no mocks.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from loopml.errors import Conflict, InvalidInput, MissingExtra
from loopml.serving.prediction_log import (
    LOG_COLUMNS,
    PredictionLog,
    default_prediction_log_root,
    read_predictions,
)

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

T0 = datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC).timestamp()
PART = re.compile(r"part-\d{8}T\d{6}-[0-9a-f]{8}\.parquet")
# a log that never writes on its own: only flush() and close() do
MANUAL: dict[str, Any] = {"flush_rows": 1_000_000, "flush_interval_s": 3600.0}


def features(n: int, start: int = 0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": [float(i) / 2 for i in range(start, start + n)],
            "color": [f"c{i}" for i in range(start, start + n)],
            "k": list(range(start, start + n)),
        }
    )


def append(
    log: PredictionLog,
    n: int,
    *,
    at: float = T0,
    start: int = 0,
    model: str = "churn",
    version: str | None = "3",
    inputs: pd.DataFrame | None = None,
    outputs: Sequence[Any] | None = None,
) -> None:
    log.append(
        model=model,
        version=version,
        request_ids=[f"req-{i}" for i in range(start, start + n)],
        timestamps=[at + i for i in range(n)],
        inputs=features(n, start) if inputs is None else inputs,
        outputs=[i / 10 for i in range(start, start + n)] if outputs is None else outputs,
        latencies_ms=[1.5 + i for i in range(n)],
    )


def files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "predictions"


@pytest.fixture
def log(root: Path) -> Iterator[PredictionLog]:
    log = PredictionLog(str(root), **MANUAL)
    yield log
    log.close()


# ---- what is written --------------------------------------------------------------------------


def test_rows_are_written_and_read_back_exactly(root: Path, log: PredictionLog) -> None:
    append(log, 3, outputs=[0.25, np.float64(0.5), 0.75])
    log.close()

    (name,) = files(root)
    directory, file_name = name.rsplit("/", 1)
    assert directory == "model=churn/date=2024-05-01"
    assert re.fullmatch(r"part-20240501T100000-[0-9a-f]{8}\.parquet", file_name)
    assert (log.written, log.dropped) == (3, 0)

    table = pq.read_table(root / name)
    assert table.schema.names == [*LOG_COLUMNS, "x", "color", "k"]
    types = {field.name: field.type for field in table.schema}
    # features as pyarrow infers them from the DataFrame: large_string for pandas 3's str dtype
    assert types.pop("color") in (pa.string(), pa.large_string())
    assert types == {
        "loopml_request_id": pa.string(),
        "loopml_timestamp": pa.timestamp("us", tz="UTC"),
        "loopml_model": pa.string(),
        "loopml_version": pa.string(),
        "loopml_latency_ms": pa.float64(),
        "loopml_prediction": pa.float64(),
        "x": pa.float64(),
        "k": pa.int64(),
    }
    assert table.to_pydict() == {
        "loopml_request_id": ["req-0", "req-1", "req-2"],
        "loopml_timestamp": [datetime.fromtimestamp(T0 + i, UTC) for i in range(3)],
        "loopml_model": ["churn"] * 3,
        "loopml_version": ["3"] * 3,
        "loopml_latency_ms": [1.5, 2.5, 3.5],
        "loopml_prediction": [0.25, 0.5, 0.75],
        "x": [0.0, 0.5, 1.0],
        "color": ["c0", "c1", "c2"],
        "k": [0, 1, 2],
    }
    assert table.column("loopml_timestamp")[0].as_py().microsecond == 123456

    frame = read_predictions(str(root))
    assert list(frame.columns) == [*LOG_COLUMNS, "x", "color", "k"]
    assert frame["loopml_request_id"].tolist() == ["req-0", "req-1", "req-2"]
    assert frame["loopml_timestamp"].tolist() == [
        pd.Timestamp(datetime.fromtimestamp(T0 + i, UTC)) for i in range(3)
    ]
    assert frame["k"].tolist() == [0, 1, 2]

    whole = pd.read_parquet(root)  # hive partitions: model and date are columns
    assert whole["model"].astype(str).tolist() == ["churn"] * 3
    assert whole["date"].astype(str).tolist() == ["2024-05-01"] * 3


@pytest.mark.parametrize(
    ("outputs", "arrow_type", "stored"),
    [
        ([True, np.bool_(False)], pa.bool_(), [True, False]),
        (np.array([3, 7]), pa.int64(), [3, 7]),
        (["yes", np.str_("no")], pa.string(), ["yes", "no"]),
        ([[0.1, 0.9], np.array([0.8, 0.2])], pa.string(), ["[0.1,0.9]", "[0.8,0.2]"]),
        (np.array([[1, 2], [3, 4]]), pa.string(), ["[1,2]", "[3,4]"]),
        (
            [{"label": "a", "p": 0.5}, {"label": "b", "p": 1}],
            pa.string(),
            ['{"label":"a","p":0.5}', '{"label":"b","p":1}'],
        ),
        (pd.DataFrame({"a": [1, 2], "b": [0.5, 0.25]}), pa.string(), ['{"a":1,"b":0.5}', '{"a":2,"b":0.25}']),
        ([1, "one"], pa.string(), ["1", "one"]),
        ([None, 2.5], pa.float64(), [None, 2.5]),
    ],
    ids=["bool", "int", "str", "lists", "2d-array", "dicts", "frame", "mixed", "null"],
)
def test_predictions_are_stored_as_values_or_json(
    root: Path, log: PredictionLog, outputs: Any, arrow_type: Any, stored: list[Any]
) -> None:
    append(log, 2, outputs=outputs)
    log.flush()
    (name,) = files(root)
    column = pq.read_table(root / name).column("loopml_prediction")
    assert column.type == arrow_type
    assert column.to_pylist() == stored


def test_a_version_of_none_is_null(root: Path, log: PredictionLog) -> None:
    append(log, 2, version=None)
    log.flush()
    assert read_predictions(str(root))["loopml_version"].isna().all()


def test_rows_split_across_midnight_utc(root: Path, log: PredictionLog) -> None:
    before = datetime(2024, 5, 1, 23, 59, 59, 500000, tzinfo=UTC).timestamp()
    append(log, 2, at=before)  # 23:59:59.5 and 00:00:00.5
    log.flush()
    names = files(root)
    assert [n.rsplit("/", 1)[0] for n in names] == [
        "model=churn/date=2024-05-01",
        "model=churn/date=2024-05-02",
    ]
    assert re.fullmatch(r"part-20240501T235959-[0-9a-f]{8}\.parquet", names[0].rsplit("/", 1)[1])
    assert re.fullmatch(r"part-20240502T000000-[0-9a-f]{8}\.parquet", names[1].rsplit("/", 1)[1])
    assert [pq.read_table(root / n).column("loopml_request_id").to_pylist() for n in names] == [
        ["req-0"],
        ["req-1"],
    ]
    assert read_predictions(str(root))["loopml_request_id"].tolist() == ["req-0", "req-1"]


def test_model_name_is_percent_encoded_in_the_directory(root: Path, log: PredictionLog) -> None:
    append(log, 1, model="fraud detector=v2")
    log.flush()
    assert files(root)[0].startswith("model=fraud%20detector%3Dv2/date=2024-05-01/")
    frame = read_predictions(str(root), model="fraud detector=v2")
    assert frame["loopml_model"].tolist() == ["fraud detector=v2"]


def test_a_feature_named_like_a_partition_reads_back(root: Path, log: PredictionLog) -> None:
    append(log, 2, inputs=pd.DataFrame({"date": ["2020-01-01", "2020-01-02"], "model": ["m1", "m2"]}))
    log.flush()
    frame = read_predictions(str(root), model="churn", start="2024-05-01")
    assert frame["date"].tolist() == ["2020-01-01", "2020-01-02"]
    assert frame["model"].tolist() == ["m1", "m2"]


def test_other_feature_columns_go_to_another_file_and_read_back_by_name(
    root: Path, log: PredictionLog
) -> None:
    append(log, 1, version="1", inputs=pd.DataFrame({"x": [1.0]}))
    append(log, 1, at=T0 + 10, start=1, version="2", inputs=pd.DataFrame({"x": [2.0], "y": ["new"]}))
    log.flush()
    assert len(files(root)) == 2
    frame = read_predictions(str(root))
    assert frame["loopml_version"].tolist() == ["1", "2"]
    assert frame["x"].tolist() == [1.0, 2.0]
    assert frame["y"].isna().tolist() == [True, False]
    assert frame["y"].iloc[1] == "new"


def test_predictions_of_other_types_in_other_files_read_back_together(root: Path, log: PredictionLog) -> None:
    append(log, 1, version="1", outputs=[0.5])
    log.flush()
    append(log, 1, at=T0 + 1, start=1, version="2", outputs=["yes"])
    log.flush()
    assert len(files(root)) == 2
    assert read_predictions(str(root))["loopml_prediction"].tolist() == [0.5, "yes"]


# ---- when it is written -----------------------------------------------------------------------


def test_flush_rows_triggers_a_write(root: Path) -> None:
    log = PredictionLog(str(root), flush_rows=5, flush_interval_s=3600.0)
    try:
        append(log, 2)
        append(log, 3, start=2, at=T0 + 2)
        wait_for(lambda: log.written == 5, "5 rows written")
        append(log, 2, start=5, at=T0 + 5)  # below flush_rows: waits for the interval
        time.sleep(0.2)
        assert log.written == 5
        assert len(files(root)) == 1
    finally:
        log.close()
    assert log.written == 7
    assert len(read_predictions(str(root))) == 7


def test_flush_interval_triggers_a_write(root: Path) -> None:
    log = PredictionLog(str(root), flush_rows=1_000_000, flush_interval_s=0.05)
    try:
        append(log, 1)
        wait_for(lambda: log.written == 1, "the row written after flush_interval_s")
        append(log, 2, start=1, at=T0 + 1)
        wait_for(lambda: log.written == 3, "the next rows written after flush_interval_s")
        assert len(files(root)) == 2
    finally:
        log.close()


def test_flush_writes_everything_before_returning(root: Path, log: PredictionLog) -> None:
    append(log, 4)
    time.sleep(0.05)
    assert log.written == 0
    assert files(root) == []
    log.flush()
    assert log.written == 4
    assert len(read_predictions(str(root))) == 4
    log.flush()  # nothing buffered: returns at once
    assert log.written == 4


def test_close_writes_is_idempotent_and_refuses_later_appends(root: Path) -> None:
    log = PredictionLog(str(root), **MANUAL)
    append(log, 3)
    log.close()
    assert log.written == 3
    assert len(files(root)) == 1
    log.close()
    with pytest.raises(Conflict, match="the prediction log is closed"):
        append(log, 1)
    assert log.written == 3


def test_close_without_appends_writes_nothing(root: Path) -> None:
    log = PredictionLog(str(root))
    log.close()
    log.flush()
    assert not root.exists()


def test_close_from_another_thread_while_appending(root: Path) -> None:
    log = PredictionLog(str(root), flush_rows=50, flush_interval_s=0.05)
    accepted = 0
    refused: list[Exception] = []

    def serve() -> None:
        nonlocal accepted
        for i in range(100_000):
            try:
                append(log, 1, start=i, at=T0 + i / 1000)
            except Conflict as exc:
                refused.append(exc)
                return
            accepted += 1

    server = threading.Thread(target=serve)
    server.start()
    wait_for(lambda: accepted >= 200, "200 appends")
    log.close()
    server.join(10)
    assert not server.is_alive()
    assert len(refused) == 1
    assert log.dropped == 0
    assert log.written == accepted
    assert len(read_predictions(str(root))) == accepted


def test_a_process_exiting_without_close_leaves_every_row(root: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        import pandas as pd
        from loopml.serving.prediction_log import PredictionLog

        log = PredictionLog({str(root)!r}, flush_rows=1_000_000, flush_interval_s=3600.0)
        for i in range(50):
            log.append(model="churn", version="1", request_ids=[f"r{{i}}"], timestamps=[{T0} + i],
                       inputs=pd.DataFrame({{"x": [float(i)]}}), outputs=[i], latencies_ms=[1.0])
        assert log.written == 0
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    frame = read_predictions(str(root))
    assert frame["loopml_request_id"].tolist() == [f"r{i}" for i in range(50)]
    assert frame["x"].tolist() == [float(i) for i in range(50)]


def test_importing_the_module_loads_neither_pandas_nor_pyarrow() -> None:
    code = (
        "import sys, loopml.serving.prediction_log; "
        "print(sorted(m for m in ('pandas', 'pyarrow', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "[]"


# ---- bounded memory and failures --------------------------------------------------------------


def test_a_full_buffer_drops_rows_without_blocking(root: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="loopml.serving")
    log = PredictionLog(str(root), max_rows_in_memory=10, **MANUAL)
    try:
        append(log, 4)
        append(log, 4, start=4, at=T0 + 4)
        append(log, 4, start=8, at=T0 + 8)  # 12 > 10: dropped whole

        def overflow() -> None:  # a server thread: must not wait for the writer
            for i in range(1000):
                append(log, 3, start=100 + 3 * i)

        server = threading.Thread(target=overflow)
        server.start()
        server.join(10)
        assert not server.is_alive()
        assert log.dropped == 4 + 3000
        warnings = [r for r in caplog.records if r.name == "loopml.serving"]
        assert len(warnings) == 1  # one per burst
        assert "max_rows_in_memory=10" in warnings[0].getMessage()

        log.flush()
        assert log.written == 8
        append(log, 2, start=20, at=T0 + 20)  # room again
        append(log, 9, start=30, at=T0 + 30)  # a new burst: a new warning
        assert log.dropped == 3004 + 9
        assert len([r for r in caplog.records if r.name == "loopml.serving"]) == 2
    finally:
        log.close()
    assert log.written == 10
    assert read_predictions(str(root))["loopml_request_id"].tolist() == [
        *[f"req-{i}" for i in range(8)],
        "req-20",
        "req-21",
    ]


def test_a_write_error_is_logged_and_counted_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    log = PredictionLog(str(blocker / "predictions"), **MANUAL)
    try:
        append(log, 3)
        log.flush()
        assert (log.written, log.dropped) == (0, 3)
        errors = [r for r in caplog.records if r.name == "loopml.serving" and r.levelno == logging.ERROR]
        assert errors
        assert errors[0].exc_info is not None
        append(log, 2, start=3)  # the log goes on
        log.flush()
        assert (log.written, log.dropped) == (0, 5)
    finally:
        log.close()


def test_an_append_pyarrow_cannot_store_loses_only_its_rows(
    root: Path, log: PredictionLog, caplog: pytest.LogCaptureFixture
) -> None:
    append(log, 1, inputs=pd.DataFrame({"x": [1.0]}))
    append(log, 1, start=1, at=T0 + 1, inputs=pd.DataFrame({"x": [object()]}))
    log.flush()
    assert (log.written, log.dropped) == (1, 1)
    assert read_predictions(str(root))["loopml_request_id"].tolist() == ["req-0"]
    assert any(r.levelno == logging.ERROR for r in caplog.records if r.name == "loopml.serving")


def test_a_feature_named_loopml_is_refused(root: Path, log: PredictionLog) -> None:
    with pytest.raises(InvalidInput, match="'loopml_score'") as info:
        append(log, 1, inputs=pd.DataFrame({"x": [1.0], "loopml_score": [2.0]}))
    assert info.value.details["feature"] == "loopml_score"
    log.flush()
    assert log.written == 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"request_ids": ["a", "b"]}, "2 request_ids, 1 timestamps"),
        ({"outputs": []}, "0 outputs"),
        ({"inputs": {"x": [1.0]}}, "inputs must be the DataFrame"),
        ({"model": ""}, "model must be a non-empty string"),
        ({"version": 3}, "version must be a string or None"),
    ],
)
def test_bad_appends_are_refused(log: PredictionLog, changes: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {
        "model": "churn",
        "version": "1",
        "request_ids": ["a"],
        "timestamps": [T0],
        "inputs": pd.DataFrame({"x": [1.0]}),
        "outputs": [1],
        "latencies_ms": [1.0],
    }
    with pytest.raises(InvalidInput, match=message):
        log.append(**{**arguments, **changes})


@pytest.mark.parametrize(
    ("option", "value"),
    [("max_rows_in_memory", 0), ("flush_rows", -1), ("flush_rows", 1.5), ("flush_interval_s", 0)],
)
def test_bad_options_are_refused(root: Path, option: str, value: Any) -> None:
    with pytest.raises(InvalidInput, match=option):
        PredictionLog(str(root), **{option: value})


def test_concurrent_appends_are_all_written(root: Path) -> None:
    log = PredictionLog(str(root), flush_rows=100, flush_interval_s=0.05)

    def serve(worker: int) -> None:
        for i in range(150):
            append(log, 3, start=(worker * 1000 + i) * 3, at=T0 + i)

    threads = [threading.Thread(target=serve, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    assert (log.written, log.dropped) == (6 * 150 * 3, 0)
    frame = read_predictions(str(root))
    assert len(frame) == log.written
    assert frame["loopml_request_id"].is_unique


def test_a_missing_pyarrow_is_a_missing_extra(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # what `import pyarrow` sees when it is absent
    with pytest.raises(MissingExtra, match=r"loopml\[parquet\]"):
        PredictionLog(str(root))
    with pytest.raises(MissingExtra, match="pyarrow"):
        read_predictions(str(root))


# ---- reading back -----------------------------------------------------------------------------


@pytest.fixture
def three_days(root: Path) -> Path:
    """Models a and b, one row each at noon UTC on 2024-05-01, 02 and 03."""
    log = PredictionLog(str(root), **MANUAL)
    for day in (1, 2, 3):
        noon = datetime(2024, 5, day, 12, tzinfo=UTC).timestamp()
        for model in ("a", "b"):
            append(log, 1, at=noon, model=model, start=day * 10 + (model == "b"))
    log.close()
    return root


def ids(frame: pd.DataFrame) -> list[str]:
    return list(frame["loopml_request_id"])


def test_read_predictions_filters_by_model_and_dates(three_days: Path) -> None:
    root = str(three_days)
    assert ids(read_predictions(root)) == ["req-10", "req-11", "req-20", "req-21", "req-30", "req-31"]
    assert ids(read_predictions(root, model="a")) == ["req-10", "req-20", "req-30"]
    assert ids(read_predictions(root, model="nope")) == []
    assert ids(read_predictions(root, start="2024-05-02")) == ["req-20", "req-21", "req-30", "req-31"]
    assert ids(read_predictions(root, end=date(2024, 5, 2), model="b")) == ["req-11", "req-21"]
    assert ids(read_predictions(root, start="2024-05-02", end="2024-05-02")) == ["req-20", "req-21"]
    # a datetime bounds the timestamp itself (naive means UTC)
    assert ids(read_predictions(root, start=datetime(2024, 5, 2, 12, 0, 1))) == ["req-30", "req-31"]
    assert ids(read_predictions(root, end="2024-05-02T12:00:00Z", model="a")) == ["req-10", "req-20"]


def test_read_predictions_refuses_bad_bounds(three_days: Path) -> None:
    with pytest.raises(InvalidInput, match="'yesterday' is not an ISO date"):
        read_predictions(str(three_days), start="yesterday")
    with pytest.raises(InvalidInput, match="is after end"):
        read_predictions(str(three_days), start="2024-05-03", end="2024-05-01")
    with pytest.raises(InvalidInput, match="must be a date"):
        read_predictions(str(three_days), end=20240501)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="model must be a string"):
        read_predictions(str(three_days), model=3)  # type: ignore[arg-type]


@pytest.mark.parametrize("make", [False, True], ids=["missing", "empty"])
def test_read_predictions_of_an_empty_root(root: Path, make: bool) -> None:
    if make:
        root.mkdir()
    frame = read_predictions(str(root))
    assert frame.empty
    assert list(frame.columns) == list(LOG_COLUMNS)
    assert str(frame["loopml_timestamp"].dtype) == "datetime64[us, UTC]"


def test_memory_url_round_trip() -> None:
    import fsspec

    root = f"memory://loopml-test-{uuid.uuid4().hex[:8]}/predictions"
    fs = fsspec.filesystem("memory")
    log = PredictionLog(root, **MANUAL)
    try:
        append(log, 3)
        before = datetime(2024, 5, 1, 23, 59, 59, tzinfo=UTC).timestamp()
        append(log, 2, at=before, start=3, model="other")
        log.close()
        names = sorted(fs.find(root))
        assert len(names) == 3
        assert [n.split("/predictions/", 1)[1].rsplit("/", 1)[0] for n in names] == [
            "model=churn/date=2024-05-01",
            "model=other/date=2024-05-01",
            "model=other/date=2024-05-02",
        ]
        assert all(PART.fullmatch(n.rsplit("/", 1)[1]) for n in names)
        frame = read_predictions(root)
        assert ids(frame) == ["req-0", "req-1", "req-2", "req-3", "req-4"]
        assert ids(read_predictions(root, model="other", start="2024-05-02")) == ["req-4"]
        assert ids(read_predictions(f"memory://loopml-test-{uuid.uuid4().hex[:8]}")) == []
    finally:
        fs.rm(root.split("://", 1)[1].split("/", 1)[0], recursive=True)


def test_file_url_root(tmp_path: Path) -> None:
    log = PredictionLog(f"file://{tmp_path}/preds", **MANUAL)
    append(log, 1)
    log.close()
    assert files(tmp_path / "preds")[0].startswith("model=churn/date=2024-05-01/part-")
    assert ids(read_predictions(f"file://{tmp_path}/preds")) == ["req-0"]


def test_default_root_is_under_the_artifact_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = Path(os.environ["LOOPML_HOME"])
    assert default_prediction_log_root() == f"{home.as_posix()}/artifacts/predictions"
    monkeypatch.setenv("LOOPML_ARTIFACT_ROOT", "s3://bucket/loopml/")
    assert default_prediction_log_root() == "s3://bucket/loopml/predictions"
