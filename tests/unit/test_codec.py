"""The wire format: every entity survives encode -> JSON -> decode unchanged."""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest

from loopml import codec
from loopml.entities import (
    CacheEntry,
    Dataset,
    DatasetInput,
    Event,
    Experiment,
    FileInfo,
    FlowRun,
    LifecycleStage,
    LogRecord,
    Metric,
    MetricHistory,
    ModelChange,
    ModelStage,
    ModelVersion,
    PagedList,
    Param,
    RegisteredModel,
    Run,
    RunArtifact,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    StateType,
    TaskRun,
)
from loopml.errors import InvalidInput

VERSION = ModelVersion(
    "churn",
    3,
    "runs:/r/model",
    "/a/model",
    "r",
    ModelStage.PRODUCTION,
    "best",
    1,
    2,
    "ana",
    {"t": "v"},
    ("champion",),
)
RUN = Run(
    RunInfo(
        "r1", "0", "first", RunStatus.FINISHED, 1, 2, LifecycleStage.ACTIVE, "/a/r1", "ana", "x.py", None
    ),
    RunData({"loss": 0.5, "nan": math.nan, "inf": -math.inf}, {"lr": "0.1"}, {"t": "v"}),
)
EXAMPLES: list[tuple[Any, Any]] = [
    (Experiment, Experiment("1", "exp", "/a", LifecycleStage.DELETED, 1, 2, {"k": "v"})),
    (Run, RUN),
    (Metric, Metric("m", math.nan, 5, 2)),
    (Param, Param("p", "1")),
    (RunTag, RunTag("t", "v")),
    (FileInfo, FileInfo("a/b.txt", False, 12)),
    (DatasetInput, DatasetInput(Dataset("d", "abc", "/x", "file", {"a": "int"}, {"a": {"n": 1}}, 3), "test")),
    (ModelVersion, VERSION),
    (RegisteredModel, RegisteredModel("churn", "", 1, 2, {"t": "v"}, {"champion": 3}, (VERSION,))),
    (ModelChange, ModelChange(1, 2, "ana", "churn", 3, "model_alias.set", "alias", None, "3", "ok")),
    (Event, Event(1, "model_alias.set", "models:/churn", {"alias": "champion", "version": 3}, 5)),
    (
        FlowRun,
        FlowRun(
            "f1", "etl", "etl-1", StateType.FAILED, 1, 2, "1.0", "m:etl", {"n": 3}, None, ("a", "b"),
            history=((StateType.RUNNING, 1), (StateType.FAILED, 2)), error="boom",
        ),
    ),
    (
        TaskRun,
        TaskRun("t1", "f1", "inc-0", "m:inc", "0", StateType.CACHED, 1, 2, 1, "k", "/r/k.pkl", {"x": 1},
                ((StateType.RUNNING, 1), (StateType.CACHED, 2))),
    ),
    (LogRecord, LogRecord("f1", 1, 20, "hello", "t1", "loopml.runs")),
    (RunArtifact, RunArtifact("a1", "markdown", "# hi", 1, "report", "d", "f1", None)),
    (CacheEntry, CacheEntry("k", "/r/k.pkl", "m:inc", "etl", 1, None)),
]  # fmt: skip


def _same(a: Any, b: Any) -> bool:
    """Equality where NaN equals NaN."""
    return orjson.dumps(codec.encode(a)) == orjson.dumps(codec.encode(b))


@pytest.mark.parametrize(("kind", "value"), EXAMPLES, ids=[k.__name__ for k, _ in EXAMPLES])
def test_every_entity_round_trips_through_json(kind: Any, value: Any) -> None:
    back = codec.loads(kind, codec.dumps(value))
    assert type(back) is type(value)
    assert _same(back, value)


def test_special_floats_travel_as_strings() -> None:
    history = MetricHistory(
        "m", values=[1.0, math.nan, math.inf, -math.inf], steps=[0, 1, 2, 3], timestamps=[5] * 4
    )
    wire = orjson.loads(codec.dumps(history))
    assert wire["values"] == [1.0, "NaN", "Infinity", "-Infinity"]
    back = codec.loads(MetricHistory, codec.dumps(history))
    assert back.values[0] == 1.0 and math.isnan(back.values[1]) and back.values[2:] == [math.inf, -math.inf]
    assert back.steps == [0, 1, 2, 3]
    run = codec.loads(Run, codec.dumps(RUN))
    assert math.isnan(run.data.metrics["nan"]) and run.data.metrics["inf"] == -math.inf


def test_pages_keep_their_token() -> None:
    page = PagedList([RUN, RUN], "next")
    back = codec.loads(PagedList[Run], codec.dumps(page))
    assert isinstance(back, PagedList) and back.token == "next" and back == [RUN, RUN]


def test_malformed_data_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="expected an object for Param"):
        codec.decode(Param, ["p", "1"])
    with pytest.raises(InvalidInput, match="Param"):
        codec.decode(Param, {"key": "p"})
    with pytest.raises(InvalidInput, match="expected int"):
        codec.decode(FileInfo, {"path": "a", "is_dir": False, "file_size": "big"})
    with pytest.raises(ValueError, match="NOPE"):
        codec.decode(RunStatus, "NOPE")
