"""Task runners: where submitted task bodies run. Results and exceptions come back the same way
from each, and the records are the same."""

from __future__ import annotations

import os
import threading
import time

import pytest

import loopml
from loopml import (
    Client,
    DaskTaskRunner,
    InlineTaskRunner,
    InvalidInput,
    ProcessPoolTaskRunner,
    StateType,
    ThreadPoolTaskRunner,
    flow,
    task,
)

S = StateType


class DataError(ValueError):
    """An exception class of this module: it must come back as itself from another process."""


@task
def pid_of(x: int) -> tuple[int, int]:
    return os.getpid(), x * 2


@task
def fail(x: int) -> None:
    raise DataError(f"row {x} is malformed")


def _assert_recorded(client: Client, flow_run_id: str | None, count: int) -> None:
    runs = client.store.orchestration.get_task_runs(flow_run_id or "")
    assert len(runs) == count
    assert sorted(r.state for r in runs) == sorted([S.COMPLETED] * (count - 1) + [S.FAILED])


def test_inline_runner_runs_submitted_tasks_in_the_calling_thread(loopml_store: Client) -> None:
    order: list[str] = []

    @task
    def where(label: str) -> int:
        order.append(label)
        return threading.get_ident()

    @flow(task_runner=InlineTaskRunner())
    def pipeline() -> tuple[list[int], int]:
        futures = [where.submit("a"), where.submit("b")]
        order.append("submitted")  # inline: both ran before this line
        return [f.result() for f in futures], threading.get_ident()

    idents, flow_thread = pipeline()
    assert idents == [flow_thread, flow_thread] == [threading.get_ident()] * 2
    assert order == ["a", "b", "submitted"]


def test_thread_pool_runner_bounds_the_concurrency(loopml_store: Client) -> None:
    lock = threading.Lock()
    running = [0]
    peak = [0]
    pair = threading.Barrier(2)  # each task waits for a second one: 2 run at once, or it breaks

    @task
    def busy(x: int) -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        pair.wait(10)
        time.sleep(0.02)
        with lock:
            running[0] -= 1
        return x

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=2))
    def pipeline() -> list[int]:
        return list(busy.map(range(6)).result())

    assert pipeline() == list(range(6))
    assert peak[0] == 2  # concurrent, but never more than 2 at once
    with pytest.raises(InvalidInput, match="max_workers must be >= 1"):
        ThreadPoolTaskRunner(max_workers=0)


def test_process_pool_runner_runs_bodies_in_other_processes(loopml_store: Client) -> None:
    @flow(task_runner=ProcessPoolTaskRunner(max_workers=2))
    def pipeline() -> tuple[list[tuple[int, int]], BaseException]:
        values = pid_of.map([1, 2, 3]).result()
        bad = fail.submit(5)
        return values, bad.result(raise_on_failure=False)

    state = pipeline(return_state=True)
    values, error = state.result()
    assert [v for _, v in values] == [2, 4, 6]
    assert all(pid != os.getpid() for pid, _ in values)
    assert type(error) is DataError and str(error) == "row 5 is malformed"
    _assert_recorded(loopml_store, state.flow_run_id, 4)

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
    def raising() -> None:
        fail.submit(6).result()

    with pytest.raises(DataError, match="row 6 is malformed"):
        raising()


def test_process_pool_bodies_see_their_own_task_run_and_no_stray_tracking_run(loopml_store: Client) -> None:
    @task
    def which() -> str | None:
        return loopml.runtime.task_run.id

    @task
    def logs_metric() -> None:
        loopml.log_metric("loss", 1.0)

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
    def pipeline() -> tuple[list[str | None], BaseException]:
        seen = [which.submit().result() for _ in range(3)]
        return seen, logs_metric.submit().result(raise_on_failure=False)

    state = pipeline(return_state=True)
    seen, error = state.result()
    runs = loopml_store.store.orchestration.get_task_runs(state.flow_run_id or "")
    assert seen == [
        r.task_run_id for r in runs if r.name.startswith("which")
    ]  # each its own, not the forker's
    assert isinstance(error, InvalidInput) and "worker process" in str(error)
    assert len(loopml_store.search_runs(loopml_store.default_experiment_id())) == 0  # no stray run


def test_process_pool_bodies_log_prints_and_metrics_into_the_flow_run(loopml_store: Client) -> None:
    @task
    def step(x: int) -> int:
        loopml.get_run_logger().info("step %d in %s", x, loopml.runtime.flow_run.name)
        print(f"printed {x}")
        loopml.log_metric("x", float(x), step=x)
        return x

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=2), experiment="remote", log_prints=True)
    def pipeline() -> list[int]:
        return step.map([1, 2]).result()

    state = pipeline(return_state=True)
    assert state.result() == [1, 2]
    flow_run_id = state.flow_run_id or ""
    runs = {r.task_run_id: r.name for r in loopml_store.store.orchestration.get_task_runs(flow_run_id)}
    logs = loopml_store.store.orchestration.get_logs(flow_run_id)
    by_task = sorted((runs[r.task_run_id], r.message) for r in logs if r.task_run_id in runs)
    flow_name = loopml_store.get_flow_run(flow_run_id).name
    assert by_task == [
        ("step-0", "printed 1"),
        ("step-0", f"step 1 in {flow_name}"),
        ("step-1", "printed 2"),
        ("step-1", f"step 2 in {flow_name}"),
    ]
    tracking = loopml_store.get_run(loopml_store.get_flow_run(flow_run_id).tracking_run_id or "")
    assert sorted(loopml_store.get_metric_history(tracking.info.run_id, "x").values) == [1.0, 2.0]


def test_dask_runner_runs_bodies_on_a_local_cluster(loopml_store: Client) -> None:
    pytest.importorskip("distributed")

    @task
    def logged_pid(x: int) -> tuple[int, int]:
        loopml.get_run_logger().info("dask worker got %d", x)
        return os.getpid(), x * 2

    @flow(task_runner=DaskTaskRunner(n_workers=1))
    def pipeline() -> tuple[list[tuple[int, int]], BaseException]:
        values = [logged_pid.submit(x).result() for x in (1, 2)]
        return values, fail.submit(7).result(raise_on_failure=False)

    state = pipeline(return_state=True)
    values, error = state.result()
    assert [v for _, v in values] == [2, 4]
    assert all(pid != os.getpid() for pid, _ in values)
    assert type(error) is DataError and str(error) == "row 7 is malformed"
    _assert_recorded(loopml_store, state.flow_run_id, 3)
    logged = [r.message for r in loopml_store.store.orchestration.get_logs(state.flow_run_id or "")]
    assert logged == ["dask worker got 1", "dask worker got 2"]
