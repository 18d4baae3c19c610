"""The orchestration records on every backend: flow runs, task runs, logs, artifacts, the cache."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import time
import uuid
from typing import Any

import pytest

from loopml import AlreadyExists, Client, InvalidInput, NotFound
from loopml.entities import CacheEntry, FlowRun, LogRecord, RunArtifact, StateType, TaskRun
from loopml.store.base import OrchestrationStore
from loopml.store.sql.orchestration import SqlOrchestration

S = StateType
NOW = int(time.time() * 1000)


@pytest.fixture(autouse=True)
def _now_is_now() -> None:
    """NOW is the time of each test, not of collection: a flow run whose heartbeat is a minute
    old is crashed when read, and the suite may reach these tests minutes after collecting them."""
    global NOW
    NOW = int(time.time() * 1000)


@pytest.fixture
def store(client: Client) -> OrchestrationStore:
    return client.store.orchestration


def _id() -> str:
    return uuid.uuid4().hex


def _flow_run(**changes: Any) -> FlowRun:
    base = FlowRun(
        flow_run_id=_id(),
        flow_name="etl",
        name="brave-fox",
        state=S.RUNNING,
        start_time=NOW,
        host=socket.gethostname(),
        pid=os.getpid(),
        heartbeat_time=NOW,
        history=((S.PENDING, NOW), (S.RUNNING, NOW)),
    )
    return dataclasses.replace(base, **changes)


def _task_run(flow_run_id: str, i: int = 0, **changes: Any) -> TaskRun:
    base = TaskRun(
        task_run_id=_id(),
        flow_run_id=flow_run_id,
        name="train",
        task_key="pipeline:train",
        dynamic_key=str(i),
        state=S.COMPLETED,
        start_time=NOW + i,
        end_time=NOW + i + 5,
        attempts=1,
        parameters={"lr": 0.1, "epochs": i},
        history=((S.PENDING, NOW + i), (S.RUNNING, NOW + i), (S.COMPLETED, NOW + i + 5)),
    )
    return dataclasses.replace(base, **changes)


def _exited_pid() -> int:
    """The pid of a process that has exited and been waited for."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


# ---------------------------------------------------------------------------------------- flow runs


def test_a_flow_run_reads_back_with_every_field(store: OrchestrationStore) -> None:
    parent = _flow_run()
    store.create_flow_run(parent)
    full = FlowRun(
        flow_run_id=_id(),
        flow_name="train-pipeline",
        name="quiet-owl",
        state=S.RUNNING,
        start_time=NOW - 100,
        end_time=None,
        flow_version="3f2a",
        entrypoint="pipelines.train:train_pipeline",
        parameters={"lr": 0.01, "layers": [64, 32], "name": "résumé", "nested": {"a": None}},
        parameters_ref="file:///results/params.pkl",
        tags=("nightly", "gpu"),
        parent_flow_run_id=parent.flow_run_id,
        parent_task_run_id=_id(),
        tracking_run_id=_id(),
        host=socket.gethostname(),
        pid=os.getpid(),
        heartbeat_time=NOW,
        attempts=2,
        error="ValueError: earlier attempt",
        history=((S.PENDING, NOW - 100), (S.RUNNING, NOW - 90)),
    )
    store.create_flow_run(full)
    assert store.get_flow_run(full.flow_run_id) == full
    bare = FlowRun(flow_run_id=_id(), flow_name="f", name="n", state=S.PENDING, start_time=NOW)
    store.create_flow_run(bare)
    assert store.get_flow_run(bare.flow_run_id) == bare


def test_update_flow_run_sets_the_state_and_keeps_what_is_not_given(store: OrchestrationStore) -> None:
    fr = _flow_run(tracking_run_id=_id(), attempts=1)
    store.create_flow_run(fr)
    history = (*fr.history, (S.FAILED, NOW + 50))
    store.update_flow_run(fr.flow_run_id, state=S.FAILED, history=history, end_time=NOW + 50, error="boom")
    got = store.get_flow_run(fr.flow_run_id)
    assert (got.state, got.history, got.end_time, got.error) == (S.FAILED, history, NOW + 50, "boom")
    assert (got.tracking_run_id, got.attempts) == (fr.tracking_run_id, 1)
    assert (got.host, got.pid, got.heartbeat_time) == (fr.host, fr.pid, fr.heartbeat_time)
    run_id = _id()
    retry = (*history, (S.RUNNING, NOW + 60))
    store.update_flow_run(
        fr.flow_run_id,
        state=S.RUNNING,
        history=retry,
        tracking_run_id=run_id,
        attempts=2,
        host="retry-host",
        pid=os.getpid(),
        heartbeat_time=NOW + 60,
    )
    got = store.get_flow_run(fr.flow_run_id)
    assert (got.host, got.pid, got.heartbeat_time) == ("retry-host", os.getpid(), NOW + 60)
    assert (got.state, got.end_time, got.error, got.tracking_run_id, got.attempts) == (
        S.RUNNING,
        None,
        None,
        run_id,
        2,
    )
    assert got.history[-1] == (S.RUNNING, NOW + 60)


def test_flow_run_errors_name_the_id(store: OrchestrationStore) -> None:
    fr = _flow_run()
    store.create_flow_run(fr)
    with pytest.raises(AlreadyExists, match=f"a flow run with id '{fr.flow_run_id}' already exists"):
        store.create_flow_run(dataclasses.replace(fr, name="other"))
    assert store.get_flow_run(fr.flow_run_id).name == "brave-fox"
    with pytest.raises(NotFound, match="no flow run with id 'nope'"):
        store.get_flow_run("nope")
    with pytest.raises(NotFound, match="no flow run with id 'nope'"):
        store.update_flow_run("nope", state=S.COMPLETED, history=())
    with pytest.raises(NotFound, match="no flow run with id 'nope'"):
        store.get_task_runs("nope")
    with pytest.raises(NotFound, match="no flow run with id 'nope'"):
        store.get_logs("nope")


def test_invalid_flow_runs_are_refused_with_the_value(store: OrchestrationStore) -> None:
    with pytest.raises(InvalidInput, match=r"flow_run_id must be .* got 'a/b'"):
        store.create_flow_run(_flow_run(flow_run_id="a/b"))
    with pytest.raises(InvalidInput, match=r"state of flow run .* must be one of .* got 'DONE'"):
        store.create_flow_run(_flow_run(state="DONE"))
    with pytest.raises(InvalidInput, match=r"parameters of flow run .* JSON"):
        store.create_flow_run(_flow_run(parameters={"model": object()}))
    with pytest.raises(InvalidInput, match=r"start_time of flow run .* integer, got 'soon'"):
        store.create_flow_run(_flow_run(start_time="soon"))
    with pytest.raises(InvalidInput, match=r"flow name of flow run .* must not be empty"):
        store.create_flow_run(_flow_run(flow_name=" "))
    assert store.search_flow_runs() == []
    fr = _flow_run()
    store.create_flow_run(fr)
    with pytest.raises(InvalidInput, match=r"state in history of flow run .* got 'LATER'"):
        store.update_flow_run(fr.flow_run_id, state=S.COMPLETED, history=[("LATER", 1)])
    assert store.get_flow_run(fr.flow_run_id) == fr


def test_heartbeat_records_the_time(store: OrchestrationStore) -> None:
    a, b = _flow_run(), _flow_run()
    store.create_flow_run(a)
    store.create_flow_run(b)
    store.heartbeat([a.flow_run_id, _id()], NOW + 10_000)  # an unknown id is skipped
    assert store.get_flow_run(a.flow_run_id).heartbeat_time == NOW + 10_000
    assert store.get_flow_run(b.flow_run_id).heartbeat_time == NOW


# ------------------------------------------------------------------------- task runs, logs, artifacts


def test_write_records_upserts_task_runs_and_appends_logs_and_artifacts(store: OrchestrationStore) -> None:
    fr = _flow_run()
    store.create_flow_run(fr)
    first = _task_run(fr.flow_run_id, state=S.RUNNING, end_time=None, history=((S.RUNNING, NOW),))
    log1 = LogRecord(fr.flow_run_id, NOW, 20, "started", task_run_id=first.task_run_id, logger="loopml.task")
    art1 = RunArtifact(_id(), "markdown", "# report", NOW, key="report", flow_run_id=fr.flow_run_id)
    store.write_records([first], [log1], [art1])
    assert store.get_task_runs(fr.flow_run_id) == [first]

    done = dataclasses.replace(
        first,
        state=S.COMPLETED,
        end_time=NOW + 9,
        result_ref="file:///results/abc",
        cache_key="c" * 64,
        history=((S.RUNNING, NOW), (S.COMPLETED, NOW + 9)),
    )
    log2 = LogRecord(fr.flow_run_id, NOW + 9, 40, "done with warnings", task_run_id=first.task_run_id)
    art2 = RunArtifact(
        _id(),
        "table",
        '[{"a": 1}]',
        NOW + 9,
        key="scores",
        description="per fold",
        flow_run_id=fr.flow_run_id,
        task_run_id=first.task_run_id,
    )
    store.write_records([done], [log2], [art2, art1])  # art1 again: a retried batch adds nothing
    assert store.get_task_runs(fr.flow_run_id) == [done]
    assert store.get_logs(fr.flow_run_id) == [log1, log2]
    assert store.get_logs(fr.flow_run_id, task_run_id=first.task_run_id) == [log1, log2]
    assert store.get_logs(fr.flow_run_id, task_run_id=_id()) == []
    assert store.get_artifacts(fr.flow_run_id) == [art1, art2]
    assert store.get_artifacts(key="scores") == [art2]
    assert store.get_artifacts(fr.flow_run_id, key="report") == [art1]


def test_task_dependencies_are_kept(store: OrchestrationStore) -> None:
    fr = _flow_run()
    store.create_flow_run(fr)
    first, second = _task_run(fr.flow_run_id, 0), _task_run(fr.flow_run_id, 1)
    third = _task_run(fr.flow_run_id, 2, upstream_task_run_ids=(first.task_run_id, second.task_run_id))
    store.write_records([first, second, third])
    found = {t.task_run_id: t.upstream_task_run_ids for t in store.get_task_runs(fr.flow_run_id)}
    assert found == {
        first.task_run_id: (),
        second.task_run_id: (),
        third.task_run_id: (first.task_run_id, second.task_run_id),
    }
    with pytest.raises(InvalidInput, match=r"upstream task run id of task run .* 'not an id'"):
        store.write_records([_task_run(fr.flow_run_id, 3, upstream_task_run_ids=("not an id",))])
    with pytest.raises(InvalidInput, match=r"upstream_task_run_ids of task run .* sequence of ids"):
        store.write_records([_task_run(fr.flow_run_id, 3, upstream_task_run_ids="abc")])


def test_the_last_snapshot_of_a_batch_wins(store: OrchestrationStore) -> None:
    fr = _flow_run()
    store.create_flow_run(fr)
    running = _task_run(fr.flow_run_id, state=S.RUNNING, end_time=None)
    done = dataclasses.replace(running, state=S.COMPLETED, end_time=NOW + 3)
    store.write_records([running, done])
    assert store.get_task_runs(fr.flow_run_id) == [done]


def test_a_failing_batch_leaves_nothing(store: OrchestrationStore) -> None:
    fr = _flow_run()
    store.create_flow_run(fr)
    kept = _task_run(fr.flow_run_id, 0)
    store.write_records([kept])
    changed = dataclasses.replace(kept, state=S.FAILED, error="boom")
    new = _task_run(fr.flow_run_id, 1)
    log = LogRecord(fr.flow_run_id, NOW, 20, "hello")
    with pytest.raises(
        InvalidInput, match=r"type of artifact .* must be one of markdown, table, link, got 'pdf'"
    ):
        store.write_records(
            [changed, new], [log], [RunArtifact(_id(), "pdf", "x", NOW, flow_run_id=fr.flow_run_id)]
        )
    # The database refuses the last statement (an artifact of an unknown flow run): the whole
    # transaction rolls back, the upserts and the logs before it included.
    orphan = RunArtifact(_id(), "link", "https://example.com", NOW, flow_run_id="f" * 32)
    with pytest.raises(NotFound, match=f"no flow run with id '{'f' * 32}'; nothing of the batch was written"):
        store.write_records([changed, new], [log], [orphan])
    assert store.get_task_runs(fr.flow_run_id) == [kept]
    assert store.get_logs(fr.flow_run_id) == []
    assert store.get_artifacts() == []
    with pytest.raises(NotFound, match="no flow run with id 'missing'"):
        store.write_records([_task_run("missing")])


def test_invalid_records_are_refused_with_the_value(store: OrchestrationStore) -> None:
    fr = _flow_run()
    store.create_flow_run(fr)
    with pytest.raises(InvalidInput, match=r"attempts of task run .* integer, got 1.5"):
        store.write_records([_task_run(fr.flow_run_id, attempts=1.5)])
    with pytest.raises(
        InvalidInput, match=r"task_key of task run .* is 600 characters long; the limit is 500"
    ):
        store.write_records([_task_run(fr.flow_run_id, task_key="k" * 600)])
    with pytest.raises(InvalidInput, match=r"time in history of task run .* integer"):
        store.write_records([_task_run(fr.flow_run_id, history=((S.RUNNING, None),))])
    with pytest.raises(InvalidInput, match="level of a log record must be an integer, got 'INFO'"):
        store.write_records(logs=[LogRecord(fr.flow_run_id, NOW, "INFO", "x")])  # type: ignore[arg-type]
    assert store.get_task_runs(fr.flow_run_id) == []


def test_task_runs_come_by_start_time_then_in_order_of_first_write(store: OrchestrationStore) -> None:
    fr = _flow_run()
    store.create_flow_run(fr)
    late = _task_run(fr.flow_run_id, 0, start_time=NOW + 50)
    pending = _task_run(fr.flow_run_id, 1, state=S.PENDING, start_time=None, end_time=None, history=())
    tie_a = _task_run(fr.flow_run_id, 2, start_time=NOW + 10)
    tie_b = _task_run(fr.flow_run_id, 3, start_time=NOW + 10)
    early = _task_run(fr.flow_run_id, 4, start_time=NOW)
    store.write_records([late, pending, tie_a])
    store.write_records([tie_b, early])
    store.write_records([dataclasses.replace(tie_a, attempts=2)])  # an update keeps its place
    got = store.get_task_runs(fr.flow_run_id)
    assert [r.dynamic_key for r in got] == ["4", "2", "3", "0", "1"]
    assert got[1].attempts == 2


# ------------------------------------------------------------------------------------------- search


def test_search_filters_and_pages_newest_first(store: OrchestrationStore) -> None:
    parent = _flow_run(flow_name="main", start_time=NOW - 1000, state=S.COMPLETED)
    store.create_flow_run(parent)
    runs = [
        _flow_run(
            flow_name="etl" if i % 2 else "train",
            start_time=NOW + i,
            state=S.COMPLETED if i % 3 else S.FAILED,
            parent_flow_run_id=parent.flow_run_id if i < 4 else None,
        )
        for i in range(10)
    ]
    for fr in runs:
        store.create_flow_run(fr)
    newest_first = [fr.flow_run_id for fr in reversed(runs)]

    def ids(**kwargs: Any) -> list[str]:
        return [fr.flow_run_id for fr in store.search_flow_runs(**kwargs)]

    assert ids() == [*newest_first, parent.flow_run_id]
    assert ids(flow_name="etl") == [fr.flow_run_id for fr in reversed(runs) if fr.flow_name == "etl"]
    assert ids(states=[S.FAILED]) == [fr.flow_run_id for fr in reversed(runs) if fr.state == S.FAILED]
    assert ids(flow_name="train", states=["FAILED", S.COMPLETED]) == [
        fr.flow_run_id for fr in reversed(runs) if fr.flow_name == "train"
    ]
    assert ids(parent_flow_run_id=parent.flow_run_id) == newest_first[-4:]
    assert ids(flow_name="nothing") == []

    pages, token = [], None
    while True:
        page = store.search_flow_runs(flow_name="etl", max_results=2, page_token=token)
        pages.append([fr.flow_run_id for fr in page])
        token = page.token
        if token is None:
            break
    etl = ids(flow_name="etl")
    assert pages == [etl[0:2], etl[2:4], etl[4:5]]
    assert store.search_flow_runs(flow_name="etl", max_results=5).token is None


def test_search_refuses_bad_arguments(store: OrchestrationStore) -> None:
    with pytest.raises(InvalidInput, match="max_results must be between 1 and 10000, got 0"):
        store.search_flow_runs(max_results=0)
    with pytest.raises(InvalidInput, match="max_results must be between 1 and 10000, got 10001"):
        store.search_flow_runs(max_results=10_001)
    with pytest.raises(InvalidInput, match="invalid page token 'garbage!'"):
        store.search_flow_runs(page_token="garbage!")
    with pytest.raises(InvalidInput, match=r"state filter must be one of .* got 'DONE'"):
        store.search_flow_runs(states=["DONE"])  # type: ignore[list-item]


# ------------------------------------------------------------------------------------ crash detection


def test_a_flow_run_whose_process_exited_is_crashed_with_its_unfinished_task_runs(
    store: OrchestrationStore,
) -> None:
    pid = _exited_pid()
    fr = _flow_run(pid=pid, heartbeat_time=int(time.time() * 1000))
    store.create_flow_run(fr)
    running = _task_run(fr.flow_run_id, 0, state=S.RUNNING, end_time=None, history=((S.RUNNING, NOW),))
    pending = _task_run(fr.flow_run_id, 1, state=S.PENDING, start_time=None, end_time=None, history=())
    done = _task_run(fr.flow_run_id, 2)
    store.write_records([running, pending, done])
    before = int(time.time() * 1000)

    got = store.get_flow_run(fr.flow_run_id)
    assert got.state == S.CRASHED
    assert got.error is not None
    assert got.error.startswith(
        f"the process running this flow run (host {socket.gethostname()}, pid {pid}) is gone"
    )
    assert got.end_time is not None and got.end_time >= before
    assert got.history == (*fr.history, (S.CRASHED, got.end_time))
    tasks = {t.dynamic_key: t for t in store.get_task_runs(fr.flow_run_id)}
    assert tasks["0"].state == tasks["1"].state == S.CRASHED
    assert tasks["0"].history == ((S.RUNNING, NOW), (S.CRASHED, got.end_time))
    assert tasks["0"].end_time == got.end_time and tasks["0"].error == got.error
    assert tasks["2"] == done
    assert store.get_flow_run(fr.flow_run_id) == got  # marked once


def test_a_pid_no_process_can_have_is_gone(store: OrchestrationStore) -> None:
    fr = _flow_run(pid=2**22 + 12345)
    store.create_flow_run(fr)
    running = _task_run(fr.flow_run_id, state=S.RUNNING, end_time=None)
    store.write_records([running])
    assert [t.state for t in store.get_task_runs(fr.flow_run_id)] == [S.CRASHED]
    assert store.get_flow_run(fr.flow_run_id).state == S.CRASHED


def test_a_stale_heartbeat_on_another_host_is_a_crash_and_a_live_run_stays_running(
    store: OrchestrationStore,
) -> None:
    now = int(time.time() * 1000)
    stale = _flow_run(host="elsewhere", pid=1, start_time=now - 600_000, heartbeat_time=now - 120_000)
    never = _flow_run(host="elsewhere", pid=1, start_time=now - 120_000, heartbeat_time=None)
    beating = _flow_run(host="elsewhere", pid=1, start_time=now - 600_000, heartbeat_time=now)
    here = _flow_run(start_time=now - 1000, heartbeat_time=now)  # this process: alive
    finished = _flow_run(
        host="elsewhere", pid=1, start_time=now - 600_000, heartbeat_time=None, state=S.COMPLETED
    )
    for fr in (stale, never, beating, here, finished):
        store.create_flow_run(fr)

    crashed = store.search_flow_runs(states=[S.CRASHED])
    assert {fr.flow_run_id for fr in crashed} == {stale.flow_run_id, never.flow_run_id}
    assert all(
        fr.error is not None
        and fr.error.startswith("the process running this flow run (host elsewhere, pid 1) is gone")
        for fr in crashed
    )
    running = store.search_flow_runs(states=[S.RUNNING])
    assert {fr.flow_run_id for fr in running} == {beating.flow_run_id, here.flow_run_id}
    assert store.get_flow_run(finished.flow_run_id) == finished


# in process only: the limit is a setting of the store (over HTTP, of the server's store)
@pytest.mark.backends("sqlite", "postgres")
def test_the_heartbeat_limit_is_the_store_s(store: OrchestrationStore) -> None:
    assert isinstance(store, SqlOrchestration)
    now = int(time.time() * 1000)
    young = _flow_run(host="elsewhere", pid=1, start_time=now - 120_000, heartbeat_time=None)
    store.create_flow_run(young)
    store.stale_after_ms = 10 * 60_000
    assert store.get_flow_run(young.flow_run_id).state == S.RUNNING
    store.stale_after_ms = 60_000
    assert store.get_flow_run(young.flow_run_id).state == S.CRASHED


# ------------------------------------------------------------------------------------------- cache


def _entry(key: str, **changes: Any) -> CacheEntry:
    base = CacheEntry(
        cache_key=key,
        result_ref=f"file:///results/{key}",
        task_key="pipelines.train:featurize",
        flow_name="train",
        created_time=NOW,
        expires_time=None,
    )
    return dataclasses.replace(base, **changes)


def test_cache_entries_expire(store: OrchestrationStore) -> None:
    forever, soon = _entry("a" * 64), _entry("b" * 64, expires_time=NOW + 1000)
    store.put_cache_entry(forever)
    store.put_cache_entry(soon)
    assert store.get_cache_entry(forever.cache_key, NOW + 10**9) == forever
    assert store.get_cache_entry(soon.cache_key, NOW + 999) == soon
    assert store.get_cache_entry(soon.cache_key, NOW + 1000) is None
    assert store.get_cache_entry("missing", NOW) is None
    newer = _entry("b" * 64, result_ref="file:///results/new", created_time=NOW + 2000, expires_time=None)
    store.put_cache_entry(newer)  # a newer result replaces the entry
    assert store.get_cache_entry(soon.cache_key, NOW + 5000) == newer


def test_clear_cache_by_flow_and_by_task(store: OrchestrationStore) -> None:
    entries = [
        _entry("1"),
        _entry("2", task_key="pipelines.train:evaluate"),
        _entry("3", flow_name="etl", task_key="etl:load"),
        _entry("4", flow_name="etl", task_key="pipelines.train:featurize"),
        _entry("5", task_key="featurize"),
        _entry("6", task_key="pipelines.train:prefeaturize"),
    ]
    for entry in entries:
        store.put_cache_entry(entry)

    def left() -> list[str]:
        return [e.cache_key for e in entries if store.get_cache_entry(e.cache_key, NOW) is not None]

    assert store.clear_cache(flow_name="etl", task_key="featurize") == 1  # by name, in one flow
    assert left() == ["1", "2", "3", "5", "6"]
    assert store.clear_cache(task_key="featurize") == 2  # "...:featurize" and "featurize"
    assert left() == ["2", "3", "6"]
    assert store.clear_cache(task_key="pipelines.train:evaluate") == 1  # by the full key
    assert store.clear_cache(task_key="%") == 0  # no wildcards
    assert store.clear_cache(flow_name="etl") == 1
    assert left() == ["6"]
    assert store.clear_cache() == 1
    assert left() == []


def test_invalid_cache_entries_are_refused(store: OrchestrationStore) -> None:
    with pytest.raises(InvalidInput, match="cache_key must not be empty"):
        store.put_cache_entry(_entry(""))
    with pytest.raises(InvalidInput, match="expires_time of cache entry 'k' must be an integer, got 'never'"):
        store.put_cache_entry(_entry("k", expires_time="never"))
