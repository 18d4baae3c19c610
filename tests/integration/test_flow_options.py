"""Task and flow options on a real store: retries, timeouts, caching, persisted results and the
options rejected at decoration time."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest

from loopml import (
    Client,
    InvalidInput,
    RunTimedOut,
    State,
    StateType,
    TaskRun,
    exponential_backoff,
    flow,
    task,
)
from loopml.cache_policies import FLOW_PARAMETERS, INPUTS, NO_CACHE, TASK_SOURCE
from loopml.orchestration.options import TaskOptions

S = StateType


def _task_runs(client: Client, state: State) -> list[TaskRun]:
    return client.store.orchestration.get_task_runs(state.flow_run_id or "")


# ---- retries --------------------------------------------------------------------------------------


def test_a_flaky_task_is_retried_until_it_succeeds(loopml_store: Client) -> None:
    calls: list[float] = []

    @task(retries=2, retry_delay_seconds=[0.05, 0.1])
    def flaky() -> str:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise ConnectionError(f"attempt {len(calls)} lost the connection")
        return "ok"

    @flow
    def pipeline() -> str:
        return flaky()

    state = pipeline(return_state=True)
    assert state.result() == "ok"
    assert len(calls) == 3
    assert calls[1] - calls[0] >= 0.045 and calls[2] - calls[1] >= 0.095  # the delays were waited
    (run,) = _task_runs(loopml_store, state)
    assert run.state is S.COMPLETED and run.attempts == 3 and run.error is None
    assert [s for s, _ in run.history] == [
        S.RUNNING, S.RETRYING, S.RUNNING, S.RETRYING, S.RUNNING, S.COMPLETED,
    ]  # fmt: skip


def test_retries_run_out_and_the_last_error_is_recorded(loopml_store: Client) -> None:
    @task(retries=1)
    def always() -> None:
        raise RuntimeError("still broken")

    @flow
    def pipeline() -> None:
        always()

    state = pipeline(return_state=True)
    (run,) = _task_runs(loopml_store, state)
    assert run.state is S.FAILED and run.attempts == 2
    assert "RuntimeError: still broken" in (run.error or "")


def test_retry_on_and_retry_condition_fn_choose_what_is_retried(loopml_store: Client) -> None:
    attempts: dict[str, int] = {"io": 0, "value": 0, "cond": 0}

    @task(retries=3, retry_on=OSError)
    def io_then_value(kind: str) -> None:
        attempts[kind] += 1
        raise (OSError if kind == "io" else ValueError)(kind)

    def only_transient(tsk: Any, run: TaskRun, state: State) -> bool:
        return "transient" in str(state.result(raise_on_failure=False))

    @task(retries=3, retry_condition_fn=only_transient)
    def conditional() -> str:
        attempts["cond"] += 1
        raise RuntimeError("transient" if attempts["cond"] == 1 else "permanent")

    @flow
    def pipeline() -> list[State]:
        return [
            io_then_value("io", return_state=True),
            io_then_value("value", return_state=True),
            conditional(return_state=True),
        ]

    io_state, value_state, cond_state = pipeline()
    assert attempts == {"io": 4, "value": 1, "cond": 2}  # a ValueError is not an OSError: no retry
    assert isinstance(io_state.result(raise_on_failure=False), OSError)
    assert isinstance(value_state.result(raise_on_failure=False), ValueError)
    assert "permanent" in cond_state.message


def test_retry_delay_forms() -> None:
    assert TaskOptions(retries=3, retry_delay_seconds=1.5).retry_delays() == [1.5, 1.5, 1.5]
    assert TaskOptions(retries=4, retry_delay_seconds=(1, 2)).retry_delays() == [1.0, 2.0, 2.0, 2.0]
    assert TaskOptions(retries=3, retry_delay_seconds=exponential_backoff(2)).retry_delays() == [2, 4, 8]
    assert TaskOptions(retries=2, retry_delay_seconds=exponential_backoff(10)).retry_delays() == [10, 20]
    assert TaskOptions().retry_delays() == []
    jittered = TaskOptions(retries=50, retry_delay_seconds=10, retry_jitter_factor=0.5).retry_delays()
    assert all(5 <= w <= 15 for w in jittered) and len(set(jittered)) > 1
    # the decorator takes a list, as Prefect's does
    assert task(retries=2, retry_delay_seconds=[3, 4])(lambda: 1).options.retry_delays() == [3, 4]


def test_flow_retries_run_the_flow_again(loopml_store: Client) -> None:
    body_runs: list[int] = []
    loads: list[int] = []

    @task(persist_result=True)
    def load() -> int:
        loads.append(1)
        return 10

    checks: list[int] = []

    @task(retries=1)
    def check(x: int) -> int:
        checks.append(len(body_runs))
        if checks.count(len(body_runs)) == 1:  # the first try in each attempt of the flow fails
            raise TimeoutError("the warehouse was slow")
        if len(body_runs) == 1:
            raise ValueError("a bad row")
        return x + len(body_runs)

    @flow(retries=1)
    def pipeline() -> int:
        body_runs.append(1)
        return check(load())

    state = pipeline(return_state=True)
    assert state.result() == 12 and len(body_runs) == 2
    assert loads == [1]  # its persisted result was reused by the second attempt
    flow_run = loopml_store.store.orchestration.get_flow_run(state.flow_run_id or "")
    assert flow_run.state is S.COMPLETED and flow_run.attempts == 2 and flow_run.error is None
    assert [s for s, _ in flow_run.history] == [S.RUNNING, S.RETRYING, S.RUNNING, S.COMPLETED]
    loaded, checked = _task_runs(loopml_store, state)  # one record per call, continued
    assert loaded.state is S.COMPLETED and loaded.attempts == 1
    assert checks == [1, 1, 2, 2]  # its retries again in the second attempt of the flow run
    assert checked.state is S.COMPLETED and checked.attempts == 4
    assert [s for s, _ in checked.history] == [
        S.RUNNING, S.RETRYING, S.RUNNING, S.FAILED, S.RUNNING, S.RETRYING, S.RUNNING, S.COMPLETED,
    ]  # fmt: skip


# ---- timeouts -------------------------------------------------------------------------------------


def test_a_task_over_its_timeout_is_timed_out(loopml_store: Client) -> None:
    @task(timeout_seconds=0.2)
    def sleepy() -> None:
        time.sleep(2)

    @flow
    def pipeline() -> None:
        sleepy()

    started = time.monotonic()
    with pytest.raises(RunTimedOut, match=r"task 'sleepy-0' did not finish within 0.2 s"):
        pipeline()
    assert time.monotonic() - started < 1.5
    (flow_run,) = loopml_store.store.orchestration.search_flow_runs()
    (run,) = loopml_store.store.orchestration.get_task_runs(flow_run.flow_run_id)
    assert run.state is S.TIMED_OUT and "RunTimedOut" in (run.error or "")
    assert flow_run.state is S.FAILED  # the flow itself had no timeout: its task's time-out fails it


def test_a_flow_over_its_timeout_is_timed_out(loopml_store: Client) -> None:
    @task
    def nap() -> None:
        time.sleep(0.5)

    @flow(timeout_seconds=0.2)
    def sleepy() -> None:
        nap()  # still running when the flow times out
        time.sleep(2)

    state = sleepy(return_state=True)
    assert state.type is S.TIMED_OUT and state.is_failed()
    with pytest.raises(RunTimedOut, match=r"flow 'sleepy' did not finish within 0\.2 s"):
        state.result()
    flow_run = loopml_store.store.orchestration.get_flow_run(state.flow_run_id or "")
    assert flow_run.state is S.TIMED_OUT
    (run,) = _task_runs(loopml_store, state)  # not left Running forever
    assert run.state is S.CANCELLED and "the flow run timed out after 0.2 s" in (run.error or "")

    @flow
    def parent() -> None:
        sleepy()

    state = parent(return_state=True)
    (child,) = loopml_store.store.orchestration.search_flow_runs(parent_flow_run_id=state.flow_run_id)
    assert child.state is S.TIMED_OUT and state.type is S.FAILED


# ---- caching --------------------------------------------------------------------------------------


def test_inputs_cache_skips_the_body_on_a_hit(loopml_store: Client) -> None:
    ran: list[int] = []

    @task(cache_policy=INPUTS)
    def square(x: int) -> int:
        ran.append(x)
        return x * x

    @flow
    def pipeline(x: int) -> list[State]:
        return [square(x, return_state=True), square(x, return_state=True), square(x + 1, return_state=True)]

    first, second, other = pipeline(3)
    assert [first.result(), second.result(), other.result()] == [9, 9, 16]
    assert ran == [3, 4]
    assert first.type is S.COMPLETED and second.type is S.CACHED and second.is_completed()
    again = pipeline(3)  # another flow run: still a hit
    assert [s.type for s in again] == [S.CACHED, S.CACHED, S.CACHED] and ran == [3, 4]
    state = pipeline(3, return_state=True)
    runs = _task_runs(loopml_store, state)
    assert [r.state for r in runs] == [S.CACHED] * 3
    assert runs[0].cache_key == runs[1].cache_key != runs[2].cache_key
    assert runs[0].result_ref is not None and runs[0].result_ref.endswith(".pkl")


def test_task_source_and_flow_parameters_policies(loopml_store: Client) -> None:
    ran: list[str] = []

    @task(cache_policy=TASK_SOURCE + INPUTS)
    def by_source(x: int) -> int:
        ran.append("source")
        return x

    @task(cache_policy=FLOW_PARAMETERS)
    def by_flow(x: int) -> int:
        ran.append(f"flow{x}")
        return x

    @flow
    def pipeline(p: int) -> None:
        by_source(1)
        by_flow(1)
        by_flow(2)  # other inputs, same flow parameters: a hit

    pipeline(1)
    assert ran == ["source", "flow1"]
    pipeline(1)
    assert ran == ["source", "flow1"]
    pipeline(2)  # other flow parameters: by_flow runs again, by_source is still cached
    assert ran == ["source", "flow1", "flow1"]
    assert repr(TASK_SOURCE + INPUTS) == "TASK_SOURCE + INPUTS"


def test_no_cache_cache_key_fn_expiration_and_refresh(loopml_store: Client) -> None:
    ran: list[str] = []

    @task(cache_policy=NO_CACHE)
    def never(x: int) -> int:
        ran.append("never")
        return x

    @task(cache_key_fn=lambda context, inputs: f"parity-{inputs['x'] % 2}")
    def parity(x: int) -> int:
        ran.append(f"parity{x}")
        return x % 2

    @task(cache_policy=INPUTS, cache_expiration=0.3)
    def short(x: int) -> int:
        ran.append("short")
        return x

    @flow
    def pipeline() -> list[int]:
        return [never(1), never(1), parity(1), parity(3), parity(2), short(1)]

    state = pipeline(return_state=True)
    assert state.result() == [1, 1, 1, 1, 0, 1]
    assert ran == ["never", "never", "parity1", "parity2", "short"]
    (entry,) = (r for r in _task_runs(loopml_store, state) if r.name == "short-0")
    assert entry.cache_key is not None and entry.end_time is not None
    store = loopml_store.store.orchestration
    created = store.get_cache_entry(entry.cache_key, 0)
    assert created is not None and created.expires_time == created.created_time + 300
    assert store.get_cache_entry(entry.cache_key, created.created_time + 299) is not None
    assert store.get_cache_entry(entry.cache_key, created.created_time + 300) is None
    time.sleep(max(0.0, (created.created_time + 350) / 1000 - time.time()))
    ran.clear()
    pipeline()
    assert ran == ["never", "never", "short"]  # the expired entry ran again; parity is still cached

    refreshed = parity.with_options(refresh_cache=True)

    @flow
    def refresh() -> int:
        return refreshed(5)

    ran.clear()
    assert refresh() == 1 and ran == ["parity5"]  # refresh_cache ignores the hit and rewrites it
    ran.clear()

    @flow
    def reuse() -> int:
        return parity(7)

    assert reuse() == 1 and ran == []

    @task(cache_key_fn=lambda context, inputs: f"../parity-{inputs['x'] % 2}")
    def other(x: int) -> str:
        ran.append("other")
        return "mine"

    @flow
    def same_key_other_task() -> str:
        return str(other(1))

    assert same_key_other_task() == "mine" and ran == ["other"]  # the key is the task's own
    state = same_key_other_task(return_state=True)
    (run,) = _task_runs(loopml_store, state)
    assert run.state is S.CACHED and "parity" not in (run.result_ref or "")  # a hashed file name


# ---- persisted results and options rejected at decoration ----------------------------------------


def test_an_unpicklable_persisted_result_is_a_clear_error_naming_the_task(loopml_store: Client) -> None:
    @task(persist_result=True)
    def make_lock() -> Any:
        return threading.Lock()

    @flow
    def pipeline() -> None:
        make_lock()

    with pytest.raises(InvalidInput, match=r"the result of task 'make_lock-0' cannot be persisted") as info:
        pipeline()
    assert "persist_result=False" in str(info.value)
    (flow_run,) = loopml_store.store.orchestration.search_flow_runs()
    (run,) = loopml_store.store.orchestration.get_task_runs(flow_run.flow_run_id)
    assert run.state is S.FAILED and "cannot be persisted" in (run.error or "")
    assert make_lock.with_options(persist_result=False)() is not None  # fine without persisting


def test_persisted_results_are_readable_by_reference(loopml_store: Client) -> None:
    @task
    def table() -> dict[str, list[int]]:
        return {"a": [1, 2]}

    @flow(persist_result=True, result_storage=None)
    def pipeline() -> None:
        table()

    state = pipeline(return_state=True)
    (run,) = _task_runs(loopml_store, state)
    assert run.result_ref is not None
    import cloudpickle
    import fsspec

    with fsspec.open(run.result_ref, "rb") as f:
        assert cloudpickle.loads(f.read()) == {"a": [1, 2]}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cache_key_fn": lambda c, i: "k", "cache_policy": NO_CACHE}, "contradicts cache_policy=NO_CACHE"),
        ({"persist_result": False, "cache_policy": INPUTS}, "caching needs the result persisted"),
        ({"retries": -1}, "retries must be an integer >= 0"),
        ({"retry_on": [ValueError], "retry_condition_fn": lambda *a: True}, "not both"),
        ({"retry_on": ["ValueError"]}, "retry_on takes exception types"),
        ({"retry_delay_seconds": -1}, "retry_delay_seconds"),
        ({"timeout_seconds": 0}, "timeout_seconds must be > 0"),
        ({"refresh_cache": True}, "refresh_cache needs a cache_policy"),
        ({"cache_expiration": dt.timedelta(seconds=5)}, "cache_expiration needs"),
        ({"retires": 3}, r"unknown TaskOptions option\(s\) \['retires'\]"),
    ],
)
def test_contradictory_task_options_are_rejected_at_decoration(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):

        @task(**options)
        def t() -> None: ...


def test_bad_flow_options_are_rejected_at_decoration() -> None:
    with pytest.raises(InvalidInput, match=r"unknown FlowOptions option\(s\) \['cache_policy'\]"):
        flow(cache_policy=INPUTS)(lambda: None)
    with pytest.raises(InvalidInput, match="retries must be an integer >= 0"):
        flow(retries=-2)(lambda: None)
    with pytest.raises(InvalidInput, match="hooks must be callables"):
        flow(on_failure=["notify"])(lambda: None)

    @task
    def t() -> None: ...

    with pytest.raises(InvalidInput, match="not both"):
        t.with_options(retry_on=OSError, retry_condition_fn=lambda *a: True)
