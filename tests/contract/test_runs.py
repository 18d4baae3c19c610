from __future__ import annotations

import math

import pytest

from loopml import Client, Conflict, InvalidInput, Metric, NotFound, Param, RunTag


def test_run_lifecycle(client: Client, experiment_id: str) -> None:
    run = client.create_run(experiment_id, run_name="first", tags={"stage": "dev"})
    assert run.info.status == "RUNNING"
    assert run.info.run_name == "first"
    assert run.tags == {"stage": "dev"}
    assert run.info.end_time is None
    assert run.info.artifact_uri.endswith(f"{run.info.run_id}/artifacts")
    client.set_terminated(run.info.run_id, "FAILED")
    ended = client.get_run(run.info.run_id)
    assert ended.info.status == "FAILED"
    assert ended.info.end_time is not None and ended.info.end_time >= ended.info.start_time


def test_params_metrics_tags_round_trip(client: Client, run_id: str) -> None:
    client.log_param(run_id, "lr", 0.01)
    client.log_param(run_id, "lr", "0.01")  # the same value again is fine
    client.log_metric(run_id, "loss", 0.5, step=1, timestamp=1000)
    client.log_metric(run_id, "loss", 0.25, step=2, timestamp=900)
    client.log_metric(run_id, "loss", 0.75, step=0, timestamp=5000)  # older step: not the latest
    client.set_tag(run_id, "note", "hello")
    client.set_tag(run_id, "note", "bye")
    run = client.get_run(run_id)
    assert run.params == {"lr": "0.01"}
    assert run.metrics == {"loss": 0.25}
    assert run.tags == {"note": "bye"}
    history = client.get_metric_history(run_id, "loss")
    assert [(m.step, m.value, m.timestamp) for m in history] == [
        (0, 0.75, 5000),
        (1, 0.5, 1000),
        (2, 0.25, 900),
    ]
    frame = history.to_pandas()
    assert list(frame.columns) == ["step", "timestamp", "value"]
    assert frame["value"].tolist() == [0.75, 0.5, 0.25]
    client.delete_tag(run_id, "note")
    assert client.get_run(run_id).tags == {}
    with pytest.raises(NotFound):
        client.delete_tag(run_id, "note")


def test_special_float_values(client: Client, run_id: str) -> None:
    client.log_metric(run_id, "nan", float("nan"))
    client.log_metric(run_id, "inf", float("inf"), step=1)
    client.log_metric(run_id, "neg", -float("inf"), step=1)
    metrics = client.get_run(run_id).metrics
    assert math.isnan(metrics["nan"])
    assert metrics["inf"] == float("inf")
    assert metrics["neg"] == -float("inf")
    assert math.isnan(client.get_metric_history(run_id, "nan")[0].value)


def test_param_change_is_a_conflict_naming_both_values(client: Client, run_id: str) -> None:
    client.log_param(run_id, "depth", 3)
    with pytest.raises(Conflict, match=r"'3'.*'4'"):
        client.log_param(run_id, "depth", 4)
    with pytest.raises(Conflict):
        client.log_batch(run_id, metrics=[Metric("m", 1.0, 1, 0)], params=[Param("depth", "5")])
    run = client.get_run(run_id)
    assert run.params == {"depth": "3"}
    assert run.metrics == {}  # the failed batch left nothing behind


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("", 1.0),
        ("a" * 251, 1.0),
        ("bad*key", 1.0),
        ("../up", 1.0),
        ("/abs", 1.0),
        ("ok", "1.0"),
        ("ok", True),
    ],
)
def test_bad_metric_is_invalid_input_and_stores_nothing(
    client: Client, run_id: str, key: str, value: object
) -> None:
    with pytest.raises(InvalidInput):
        client.log_metric(run_id, key, value)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        client.log_batch(run_id, metrics=[Metric("fine", 1.0, 1, 0), Metric(key, value, 1, 0)])  # type: ignore[arg-type]
    assert client.get_run(run_id).metrics == {}
    assert list(client.get_metric_history(run_id, "fine")) == []


def test_batch_with_contradicting_params_is_invalid(client: Client, run_id: str) -> None:
    with pytest.raises(InvalidInput, match="twice"):
        client.log_batch(run_id, params=[Param("a", "1"), Param("a", "2")])
    assert client.get_run(run_id).params == {}


def test_unknown_run_is_not_found(client: Client) -> None:
    for call in (
        lambda: client.get_run("nope"),
        lambda: client.log_metric("nope", "m", 1.0),
        lambda: client.log_param("nope", "p", 1),
        lambda: client.set_tag("nope", "t", 1),
        lambda: client.log_batch("nope", params={"a": 1}),
        lambda: client.get_metric_history("nope", "m"),
        lambda: client.set_terminated("nope"),
        lambda: client.delete_run("nope"),
    ):
        with pytest.raises(NotFound, match="'nope'"):
            call()


def test_finished_and_deleted_runs_refuse_data(client: Client, run_id: str) -> None:
    client.set_terminated(run_id)
    with pytest.raises(Conflict, match="FINISHED"):
        client.log_metric(run_id, "m", 1.0)
    with pytest.raises(Conflict, match="FINISHED"):
        client.log_param(run_id, "p", 1)
    client.set_tag(run_id, "reviewed", "yes")  # annotating a finished run is allowed
    client.delete_run(run_id)
    with pytest.raises(Conflict, match="deleted"):
        client.set_tag(run_id, "x", "y")
    client.restore_run(run_id)
    run = client.get_run(run_id)
    assert run.metrics == {} and run.params == {} and run.tags == {"reviewed": "yes"}


def test_log_batch_is_one_call(client: Client, run_id: str) -> None:
    metrics = [Metric(f"m{i % 3}", float(i), 1000 + i, i // 3) for i in range(30)]
    client.log_batch(run_id, metrics=metrics, params={"a": 1, "b": "two"}, tags=[RunTag("t", "v")])
    run = client.get_run(run_id)
    assert run.params == {"a": "1", "b": "two"}
    assert run.tags == {"t": "v"}
    assert run.metrics == {"m0": 27.0, "m1": 28.0, "m2": 29.0}
    assert client.get_metric_history(run_id, "m1").values == [float(i) for i in range(1, 30, 3)]


def test_nested_runs_record_the_parent(client: Client, experiment_id: str) -> None:
    parent = client.create_run(experiment_id, run_name="parent")
    child = client.create_run(experiment_id, run_name="child", parent_run_id=parent.info.run_id)
    assert client.get_run(child.info.run_id).info.parent_run_id == parent.info.run_id
    with pytest.raises(NotFound):
        client.create_run(experiment_id, parent_run_id="no-such-parent")


def test_metric_history_of_unknown_key_is_empty(client: Client, run_id: str) -> None:
    assert len(client.get_metric_history(run_id, "never")) == 0
