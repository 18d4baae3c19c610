"""@flow and @task on a real SQLite store: calling, records, failures, futures, subflows,
parameter validation and hooks."""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any

import pytest

import loopml
from loopml import (
    Client,
    InvalidInput,
    State,
    StateType,
    TaskRun,
    UpstreamFailed,
    as_completed,
    flow,
    task,
    unmapped,
    wait,
)

S = StateType


def _task_runs(client: Client, state: State) -> list[TaskRun]:
    assert state.flow_run_id is not None
    return client.store.orchestration.get_task_runs(state.flow_run_id)


def _states(run: Any) -> list[StateType]:
    return [s for s, _ in run.history]


@task
def inc(x: int) -> int:
    return x + 1


# ---- sequential tasks and their records ---------------------------------------------------------


def test_sequential_tasks_are_all_recorded(loopml_store: Client) -> None:
    @flow(tags=["nightly"], version="7")
    def count(n: int, label: str = "x") -> int:
        value = 0
        for _ in range(n):
            value = inc(value)
        return value

    before = int(time.time() * 1000)
    state = count(5, return_state=True)
    assert state.is_completed() and state.result() == 5

    runs = _task_runs(loopml_store, state)  # read right away: no waiting for a background writer
    assert len(runs) == 5
    assert [r.name for r in runs] == ["inc-0", "inc-1", "inc-2", "inc-3", "inc-4"]
    assert [r.parameters for r in runs] == [{"x": i} for i in range(5)]
    for run in runs:
        assert run.state is S.COMPLETED
        assert _states(run) == [S.RUNNING, S.COMPLETED]
        assert run.attempts == 1 and run.error is None
        assert run.start_time is not None and run.end_time is not None and run.start_time <= run.end_time
        assert run.task_key.endswith(":inc")

    flow_run = loopml_store.store.orchestration.get_flow_run(state.flow_run_id or "")
    assert flow_run.state is S.COMPLETED
    assert flow_run.flow_name == "count" and flow_run.name.startswith("count-")
    assert flow_run.parameters == {"n": 5, "label": "x"}
    assert flow_run.tags == ("nightly",) and flow_run.flow_version == "7"
    assert flow_run.start_time >= before and flow_run.end_time is not None
    assert flow_run.end_time >= flow_run.start_time
    assert flow_run.host == socket.gethostname() and flow_run.pid == os.getpid()
    assert _states(flow_run) == [S.RUNNING, S.COMPLETED]
    assert flow_run.attempts == 1 and flow_run.error is None
    assert (
        flow_run.entrypoint
        == f"{__name__}:{test_sequential_tasks_are_all_recorded.__qualname__}.<locals>.count"
    )


def test_a_flow_call_returns_the_value_and_a_task_outside_a_flow_is_the_plain_function(
    loopml_store: Client,
) -> None:
    @flow
    def double(x: int) -> int:
        return inc(x) * 2

    assert double(3) == 8
    assert inc(41) == 42  # outside a flow: the plain function
    assert inc(1, return_state=True).result() == 2
    assert inc.submit(1).result() == 2
    assert inc.map([1, 2]).result() == [2, 3]
    runs = loopml_store.store.orchestration.search_flow_runs()
    assert len(runs) == 1  # the flow's; the calls outside recorded nothing
    assert len(loopml_store.store.orchestration.get_task_runs(runs[0].flow_run_id)) == 1


def test_task_run_name_templates(loopml_store: Client) -> None:
    @task(task_run_name="fit-{model}-{fold}")
    def fit(model: str, fold: int) -> int:
        return fold

    @flow(flow_run_name="cv-{k}")
    def cv(k: int) -> list[int]:
        return [fit("ridge", i) for i in range(k)]

    state = cv(2, return_state=True)
    assert [r.name for r in _task_runs(loopml_store, state)] == ["fit-ridge-0", "fit-ridge-1"]
    assert loopml_store.store.orchestration.get_flow_run(state.flow_run_id or "").name == "cv-2"


# ---- failures -------------------------------------------------------------------------------------


class BadBatch(ValueError):
    pass


@task
def explode(x: int) -> int:
    raise BadBatch(f"batch {x} has NaNs")


def test_a_failing_task_fails_the_flow_with_the_same_exception(loopml_store: Client) -> None:
    seen: dict[str, Any] = {}

    @flow
    def pipeline() -> int:
        seen["flow_run_id"] = loopml.runtime.flow_run.id
        inc(1)
        return explode(7)

    with pytest.raises(BadBatch, match="batch 7 has NaNs"):
        pipeline()
    store = loopml_store.store.orchestration
    first, failed = store.get_task_runs(seen["flow_run_id"])
    assert first.state is S.COMPLETED
    assert failed.state is S.FAILED and failed.name == "explode-0"
    assert _states(failed) == [S.RUNNING, S.FAILED]
    assert failed.error is not None
    assert "Traceback (most recent call last)" in failed.error
    assert "BadBatch: batch 7 has NaNs" in failed.error
    assert 'raise BadBatch(f"batch {x} has NaNs")' in failed.error  # the source line
    flow_run = store.get_flow_run(seen["flow_run_id"])
    assert flow_run.state is S.FAILED and flow_run.end_time is not None
    assert flow_run.error is not None and "BadBatch: batch 7 has NaNs" in flow_run.error


def test_return_state_gives_a_failed_state_holding_the_exception(loopml_store: Client) -> None:
    @flow
    def pipeline() -> State:
        state = explode(1, return_state=True)
        assert state.is_failed() and state.name == "Failed"
        error = state.result(raise_on_failure=False)
        assert isinstance(error, BadBatch) and str(error) == "batch 1 has NaNs"
        with pytest.raises(BadBatch):
            state.result()
        return state

    flow_state = pipeline(return_state=True)
    assert flow_state.is_completed()  # the flow handled its task's failure
    outer = explode.with_options(name="again")

    @flow
    def failing() -> None:
        outer(2)

    state = failing(return_state=True)
    assert state.is_failed() and state.type is S.FAILED
    assert isinstance(state.result(raise_on_failure=False), BadBatch)
    assert "BadBatch: batch 2 has NaNs" in state.message


# ---- futures, map, wait, as_completed, dependencies ----------------------------------------------


def test_submit_result_state_wait(loopml_store: Client) -> None:
    release = threading.Event()

    @task
    def slow(x: int) -> int:
        release.wait(5)
        return x * 10

    @flow
    def pipeline() -> int:
        future = slow.submit(4)
        assert not future.state.is_final()  # Pending or Running while it waits
        release.set()
        future.wait()
        assert future.state.is_completed() and future.state.name == "Completed"
        assert isinstance(future.task_run_id, str)
        return int(future.result())

    state = pipeline(return_state=True)
    assert state.result() == 40
    (run,) = _task_runs(loopml_store, state)
    assert run.state is S.COMPLETED and run.name == "slow-0"


def test_map_with_unmapped_wait_and_as_completed(loopml_store: Client) -> None:
    @task
    def scale(x: int, factor: int, offsets: list[int]) -> int:
        time.sleep(0.01 * (3 - x))
        return x * factor + sum(offsets)

    @flow
    def pipeline() -> tuple[list[int], set[int], list[int]]:
        futures = scale.map([1, 2, 3], 10, unmapped([1, 1]))
        done, not_done = wait(futures)
        assert len(done) == 3 and not not_done
        in_order = [f.result() for f in as_completed(scale.map([0, 1, 2], unmapped(2), offsets=unmapped([])))]
        return futures.result(), {f.result() for f in done}, in_order

    state = pipeline(return_state=True)
    values, done_values, in_order = state.result()
    assert values == [12, 22, 32] and done_values == {12, 22, 32}
    assert sorted(in_order) == [0, 2, 4]
    runs = _task_runs(loopml_store, state)
    assert len(runs) == 6 and all(r.state is S.COMPLETED for r in runs)
    assert sorted(r.name for r in runs) == [f"scale-{i}" for i in range(6)]
    assert {"x": 1, "factor": 10, "offsets": "[1, 1]"} in [r.parameters for r in runs]


def test_mapped_arguments_of_different_lengths_are_rejected(loopml_store: Client) -> None:
    @task
    def add(a: int, b: int) -> int:
        return a + b

    @flow
    def pipeline() -> None:
        add.map([1, 2, 3], [1, 2])

    with pytest.raises(InvalidInput, match="differ in length"):
        pipeline()


def test_wait_for_orders_tasks_and_an_upstream_failure_cancels_the_downstream(loopml_store: Client) -> None:
    order: list[str] = []

    @task
    def first() -> None:
        time.sleep(0.1)
        order.append("first")

    @task
    def second() -> None:
        order.append("second")

    @flow
    def ordered() -> None:
        a = first.submit()
        second.submit(wait_for=[a]).result()

    ordered()
    assert order == ["first", "second"]

    @flow
    def broken() -> State:
        bad = explode.submit(3)
        return inc.submit(bad).wait_state()

    flow_state = broken(return_state=True)
    downstream = flow_state.result()
    assert downstream.is_cancelled() and downstream.name == "Cancelled"
    error = downstream.result(raise_on_failure=False)
    assert isinstance(error, UpstreamFailed) and "Failed" in str(error)
    runs = {r.task_key.rsplit(":", 1)[1]: r for r in _task_runs(loopml_store, flow_state)}
    assert runs["explode"].state is S.FAILED
    assert runs["inc"].state is S.CANCELLED and runs["inc"].name == "inc-0"
    assert runs["inc"].error is not None and "UpstreamFailed" in runs["inc"].error

    @flow
    def waits_on_failure() -> None:
        bad = explode.submit(4)
        inc.submit(1, wait_for=[bad]).result()

    with pytest.raises(UpstreamFailed):
        waits_on_failure()


# ---- subflows ------------------------------------------------------------------------------------


def test_subflows_are_linked_to_their_parent_flow_and_task_runs(loopml_store: Client) -> None:
    ids: dict[str, Any] = {}

    @flow
    def child(x: int) -> int:
        ids.setdefault("children", []).append(loopml.runtime.flow_run.id)
        return inc(x)

    @task
    def runs_child(x: int) -> int:
        ids["task"] = loopml.runtime.task_run.id
        return child(x) * 100

    @flow
    def parent() -> int:
        ids["parent"] = loopml.runtime.flow_run.id
        return child(1) + runs_child(2)

    assert parent() == 2 + 300
    store = loopml_store.store.orchestration
    direct, in_task = (store.get_flow_run(i) for i in ids["children"])
    assert direct.parent_flow_run_id == ids["parent"] and direct.parent_task_run_id is None
    assert in_task.parent_flow_run_id == ids["parent"] and in_task.parent_task_run_id == ids["task"]
    assert direct.state is S.COMPLETED and in_task.state is S.COMPLETED
    assert [r.name for r in store.get_task_runs(direct.flow_run_id)] == ["inc-0"]
    assert [r.name for r in store.get_task_runs(ids["parent"])] == ["runs_child-0"]
    children = store.search_flow_runs(parent_flow_run_id=ids["parent"])
    assert {r.flow_run_id for r in children} == set(ids["children"])


def test_a_failing_subflow_fails_its_parent(loopml_store: Client) -> None:
    @flow
    def child() -> None:
        explode(9)

    @flow
    def parent() -> None:
        child()

    state = parent(return_state=True)
    assert state.is_failed() and isinstance(state.result(raise_on_failure=False), BadBatch)
    store = loopml_store.store.orchestration
    (sub,) = store.search_flow_runs(parent_flow_run_id=state.flow_run_id)
    assert sub.state is S.FAILED and "batch 9 has NaNs" in (sub.error or "")
    assert store.get_flow_run(state.flow_run_id or "").state is S.FAILED


# ---- parameter validation --------------------------------------------------------------------------


def test_parameters_are_validated_before_the_flow_starts(loopml_store: Client) -> None:
    calls: list[Any] = []

    @flow
    def train(n: int, rate: float = 0.1) -> None:
        calls.append((n, rate))

    with pytest.raises(InvalidInput, match="'n'") as excinfo:
        train("abc")
    assert "abc" in str(excinfo.value)
    assert calls == []
    assert len(loopml_store.store.orchestration.search_flow_runs()) == 0  # no flow run stored

    train("3", rate="0.5")
    assert calls == [(3, 0.5)]
    train.with_options(validate_parameters=False)("abc")
    assert calls[-1] == ("abc", 0.1)
    with pytest.raises(InvalidInput, match="train"):
        train(1, 2, 3)


# ---- hooks ----------------------------------------------------------------


def test_hooks_receive_the_final_state(loopml_store: Client) -> None:
    calls: list[tuple[str, str, str]] = []

    def on_task_done(tsk: Any, run: TaskRun, state: State) -> None:
        calls.append(("task-completed", run.name, state.name))

    def on_task_failed(tsk: Any, run: TaskRun, state: State) -> None:
        calls.append(("task-failed", run.name, type(state.result(raise_on_failure=False)).__name__))

    def on_flow_done(flw: Any, run: Any, state: State) -> None:
        calls.append(("flow-completed", flw.name, str(state.result())))

    def on_flow_failed(flw: Any, run: Any, state: State) -> None:
        calls.append(("flow-failed", flw.name, state.name))

    good = inc.with_options(on_completion=[on_task_done], on_failure=[on_task_failed])
    bad = explode.with_options(on_completion=on_task_done, on_failure=on_task_failed)

    @flow(on_completion=[on_flow_done], on_failure=[on_flow_failed])
    def fine() -> int:
        return good(1)

    @flow(on_completion=on_flow_done, on_failure=on_flow_failed)
    def broken() -> None:
        bad(1)

    assert fine() == 2
    with pytest.raises(BadBatch):
        broken()
    assert calls == [
        ("task-completed", "inc-0", "Completed"),
        ("flow-completed", "fine", "2"),
        ("task-failed", "explode-0", "BadBatch"),
        ("flow-failed", "broken", "Failed"),
    ]
