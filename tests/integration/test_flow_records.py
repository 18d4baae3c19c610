"""What flows see and keep beside their runs: the runtime context, logs (get_run_logger,
log_prints), run artifacts, and the tracking run that metrics logged inside a flow land in."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest

import loopml
from loopml import (
    Client,
    InvalidInput,
    RunStatus,
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
    flow,
    get_run_logger,
    task,
)

# ---- the runtime context --------------------------------------------------------------------------


def test_runtime_names_the_running_flow_and_task(loopml_store: Client) -> None:
    seen: dict[str, Any] = {}

    from loopml.runtime import flow_run, task_run  # Prefect's import path works too

    @task(task_run_name="probe-{x}")
    def probe(x: int) -> None:
        seen["task"] = (task_run.id, task_run.name)
        seen["flow_in_task"] = flow_run.id

    @flow(flow_run_name="run-{x}")
    def pipeline(x: int) -> None:
        seen["flow"] = (loopml.runtime.flow_run.id, loopml.runtime.flow_run.name)
        seen["parameters"] = loopml.runtime.flow_run.parameters
        seen["task_in_flow"] = loopml.runtime.task_run.id
        probe(x)

    state = pipeline(5, return_state=True)
    assert seen["flow"] == (state.flow_run_id, "run-5")
    assert seen["parameters"] == {"x": 5}
    assert seen["task_in_flow"] is None
    (run,) = loopml_store.store.orchestration.get_task_runs(state.flow_run_id or "")
    assert seen["task"] == (run.task_run_id, "probe-5") and seen["flow_in_task"] == state.flow_run_id
    assert loopml.runtime.flow_run.id is None and loopml.runtime.flow_run.name is None
    assert loopml.runtime.task_run.id is None and loopml.runtime.task_run.name is None
    assert loopml.runtime.flow_run.parameters == {}


# ---- logs -----------------------------------------------------------------------------------------


def test_run_logger_records_flow_and_task_logs(loopml_store: Client) -> None:
    ids: dict[str, Any] = {}

    @task
    def fit(fold: int) -> None:
        ids.setdefault("tasks", []).append(loopml.runtime.task_run.id)
        get_run_logger().info("fitting fold %d", fold)

    @task
    def warn() -> None:
        ids["warn"] = loopml.runtime.task_run.id
        get_run_logger().warning("few rows")

    @flow
    def pipeline() -> None:
        ids["flow"] = loopml.runtime.flow_run.id
        get_run_logger().info("starting")
        fit(0)
        fit.submit(1).wait()
        warn()
        get_run_logger().debug("not kept at INFO")

    pipeline()
    logs = loopml_store.store.orchestration.get_logs(ids["flow"])
    assert [(log.message, log.task_run_id) for log in logs] == [
        ("starting", None),
        ("fitting fold 0", ids["tasks"][0]),
        ("fitting fold 1", ids["tasks"][1]),
        ("few rows", ids["warn"]),
    ]
    assert [log.level for log in logs] == [logging.INFO, logging.INFO, logging.INFO, logging.WARNING]
    assert all(log.flow_run_id == ids["flow"] and log.logger == "loopml.runs" for log in logs)
    only_warn = loopml_store.store.orchestration.get_logs(ids["flow"], task_run_id=ids["warn"])
    assert [log.message for log in only_warn] == ["few rows"]


def test_logged_exceptions_keep_their_traceback(loopml_store: Client) -> None:
    @flow
    def pipeline() -> str | None:
        try:
            raise KeyError("feature")
        except KeyError:
            get_run_logger().exception("lookup failed")
        return loopml.runtime.flow_run.id

    flow_run_id = pipeline()
    (log,) = loopml_store.store.orchestration.get_logs(flow_run_id or "")
    assert log.level == logging.ERROR
    assert log.message.startswith("lookup failed\nTraceback") and "KeyError: 'feature'" in log.message


def test_log_prints_records_print_output_and_still_prints(
    loopml_store: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    ids: dict[str, Any] = {}

    @task
    def shout(word: str) -> None:
        ids["task"] = loopml.runtime.task_run.id
        print("task says", word)

    @task(log_prints=False)
    def quiet() -> None:
        print("not recorded")

    @flow(log_prints=True)
    def pipeline() -> None:
        ids["flow"] = loopml.runtime.flow_run.id
        print("flow says hi")
        shout("hello")
        quiet()

    @flow
    def plain() -> str | None:
        print("plain flow")
        return loopml.runtime.flow_run.id

    pipeline()
    plain_id = plain()
    print("after the flows")
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "flow says hi",
        "task says hello",
        "not recorded",
        "plain flow",
        "after the flows",
    ]
    logs = loopml_store.store.orchestration.get_logs(ids["flow"])
    assert [(log.message, log.task_run_id) for log in logs] == [
        ("flow says hi", None),
        ("task says hello", ids["task"]),
    ]
    assert loopml_store.store.orchestration.get_logs(plain_id or "") == []
    import builtins

    assert builtins.print is loopml.orchestration.run_logger._original_print  # put back


# ---- run artifacts --------------------------------------------------------------------------------


def test_task_runs_keep_the_task_runs_they_waited_for(loopml_store: Client) -> None:
    @task
    def load(part: int) -> list[int]:
        return [part]

    @task
    def join(parts: list[list[int]], scale: int = 1) -> int:
        return sum(p[0] for p in parts) * scale

    @task
    def report(total: int) -> str:
        return f"total {total}"

    @flow
    def pipeline() -> str:
        first, second = load.submit(1), load.submit(2)
        total = join.submit([first, second], scale=2)
        summary = report.submit(5, wait_for=[total])  # an ordering dependency, no data
        return str(report(total.result())) + summary.result()

    state = pipeline(return_state=True)
    runs = loopml_store.store.orchestration.get_task_runs(state.flow_run_id)
    by_name = {r.name: r for r in runs}
    loads = [by_name["load-0"].task_run_id, by_name["load-1"].task_run_id]
    assert by_name["load-0"].upstream_task_run_ids == ()
    assert by_name["join-0"].upstream_task_run_ids == tuple(loads)
    assert by_name["report-0"].upstream_task_run_ids == (by_name["join-0"].task_run_id,)
    assert by_name["report-1"].upstream_task_run_ids == ()  # given a plain value


def test_artifacts_are_kept_with_the_flow_and_task_runs(loopml_store: Client) -> None:
    ids: dict[str, Any] = {}

    @task
    def evaluate() -> None:
        ids["task"] = loopml.runtime.task_run.id
        create_table_artifact([{"model": "ridge", "rmse": 1.5}], key="scores", description="cv scores")

    @flow
    def pipeline() -> None:
        ids["flow"] = loopml.runtime.flow_run.id
        evaluate()
        create_markdown_artifact("# Report\nall good", key="report")
        create_link_artifact("https://example.com/dash", link_text="dashboard")
        create_table_artifact({"a": [1, 2], "b": [3, 4]})

    pipeline()
    artifacts = loopml_store.store.orchestration.get_artifacts(ids["flow"])
    assert [a.type for a in artifacts] == ["table", "markdown", "link", "table"]
    table, markdown, link, columns = artifacts
    assert table.key == "scores" and table.description == "cv scores" and table.task_run_id == ids["task"]
    assert orjson.loads(table.data) == [{"model": "ridge", "rmse": 1.5}]
    assert markdown.data == "# Report\nall good" and markdown.task_run_id is None
    assert orjson.loads(link.data) == {"link": "https://example.com/dash", "link_text": "dashboard"}
    assert orjson.loads(columns.data) == {"a": [1, 2], "b": [3, 4]}
    assert all(a.flow_run_id == ids["flow"] for a in artifacts)
    (report,) = loopml_store.store.orchestration.get_artifacts(key="report")
    assert report.flow_run_id == ids["flow"]


def test_bad_artifacts_are_rejected(loopml_store: Client) -> None:
    @flow
    def pipeline(kind: str) -> None:
        if kind == "key":
            create_markdown_artifact("x", key="Bad Key!")
        elif kind == "columns":
            create_table_artifact({"a": [1], "b": [1, 2]})
        else:
            create_link_artifact("")

    with pytest.raises(InvalidInput, match="artifact key 'Bad Key!' may hold only lowercase"):
        pipeline("key")
    with pytest.raises(InvalidInput, match="differ in length"):
        pipeline("columns")
    with pytest.raises(InvalidInput, match="link must be a non-empty string"):
        pipeline("link")


# ---- the tracking run of a flow -------------------------------------------------------------------


def test_a_flow_with_an_experiment_logs_its_tasks_metrics_in_one_tracking_run(loopml_store: Client) -> None:
    @task
    def train(fold: int) -> None:
        loopml.log_metric("rmse", 1.0 + fold, step=fold)

    @flow(experiment="exp")
    def pipeline() -> str | None:
        train(0)
        train.submit(1).wait()
        loopml.log_param("model", "ridge")
        return loopml.runtime.flow_run.tracking_run_id

    state = pipeline(return_state=True)
    tracking_run_id = state.result()
    experiment = loopml_store.get_experiment_by_name("exp")
    assert experiment is not None
    (run,) = loopml_store.search_runs(experiment.experiment_id)
    assert run.info.run_id == tracking_run_id
    assert run.data.tags["loopml.flow_run_id"] == state.flow_run_id
    assert run.data.tags["loopml.flow_name"] == "pipeline"
    assert run.data.params == {"model": "ridge"} and run.data.metrics == {"rmse": 2.0}
    assert [m.value for m in loopml_store.get_metric_history(run.info.run_id, "rmse")] == [1.0, 2.0]
    assert run.info.status is RunStatus.FINISHED
    flow_run = loopml_store.store.orchestration.get_flow_run(state.flow_run_id or "")
    assert flow_run.tracking_run_id == run.info.run_id


def test_a_metric_logged_in_a_flow_opens_its_tracking_run_lazily(loopml_store: Client) -> None:
    @task
    def train() -> None:
        loopml.log_metric("loss", 0.5)

    @flow
    def quiet() -> None:
        pass

    @flow
    def logs_metric() -> None:
        train()
        loopml.log_metric("loss", 0.25)

    @flow
    def fails_after_metric() -> None:
        train()
        raise RuntimeError("late failure")

    quiet_state = quiet(return_state=True)
    experiment_id = loopml_store.default_experiment_id()
    assert len(loopml_store.search_runs(experiment_id)) == 0  # no metric, no tracking run
    store = loopml_store.store.orchestration
    assert store.get_flow_run(quiet_state.flow_run_id or "").tracking_run_id is None

    state = logs_metric(return_state=True)
    (run,) = loopml_store.search_runs(experiment_id)
    assert run.data.tags["loopml.flow_run_id"] == state.flow_run_id
    assert run.data.metrics == {"loss": 0.25} and run.info.status is RunStatus.FINISHED
    assert store.get_flow_run(state.flow_run_id or "").tracking_run_id == run.info.run_id
    assert loopml.active_run() is None  # nothing left active after the flow

    failed = fails_after_metric(return_state=True)
    runs = {r.data.tags["loopml.flow_run_id"]: r for r in loopml_store.search_runs(experiment_id)}
    assert runs[failed.flow_run_id or ""].info.status is RunStatus.FAILED


def test_a_burst_of_records_is_written_in_chunks(
    loopml_store: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A tight logging loop can buffer more records than a store takes in one batch (100,000):
    # here the store takes 30 and the recorder writes at most 7 of each kind at once.
    from loopml.orchestration import records
    from loopml.store import validation

    monkeypatch.setattr(validation, "MAX_BATCH_SIZE", 30)
    monkeypatch.setattr(records, "WRITE_CHUNK", 7)
    monkeypatch.setattr(records, "FLUSH_INTERVAL_S", 60.0)  # all of it in the final write

    @task
    def step(i: int) -> None:
        get_run_logger().info("step %d", i)
        create_markdown_artifact(f"step {i}")

    @flow
    def burst() -> str | None:
        for i in range(20):
            step(i)
        for i in range(15):
            get_run_logger().info("line %d", i)
        return loopml.runtime.flow_run.id

    flow_run_id = burst() or ""
    store = loopml_store.store.orchestration
    assert len(store.get_task_runs(flow_run_id)) == 20
    assert len(store.get_logs(flow_run_id)) == 35
    assert len(store.get_artifacts(flow_run_id)) == 20
