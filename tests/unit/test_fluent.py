from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

import loopml
from loopml import Client, Conflict


@pytest.fixture
def store(loopml_store: Client) -> Client:
    return loopml_store


def test_start_run_context_finishes_the_run(store: Client) -> None:
    loopml.set_experiment("fluent")
    with loopml.start_run(run_name="ctx") as run:
        assert loopml.active_run() is run
        loopml.log_param("lr", 0.1)
        loopml.log_params({"depth": 3, "model": "rf"})
        for step in range(3):
            loopml.log_metric("loss", 1 / (step + 1), step=step)
        loopml.log_metrics({"acc": 0.9, "f1": 0.8}, step=2)
        loopml.set_tag("team", "a")
        loopml.set_tags({"env": "test"})
    assert loopml.active_run() is None
    stored = store.get_run(run.run_id)
    assert stored.info.status == "FINISHED"
    assert stored.info.run_name == "ctx"
    assert stored.params == {"lr": "0.1", "depth": "3", "model": "rf"}
    assert stored.metrics == {"loss": pytest.approx(1 / 3), "acc": 0.9, "f1": 0.8}
    assert stored.tags == {"team": "a", "env": "test"}
    assert store.get_experiment(stored.info.experiment_id).name == "fluent"


def test_exception_marks_failed_and_propagates_unchanged(store: Client) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom) as err, loopml.start_run() as run:
        raise Boom("inside")
    assert str(err.value) == "inside"
    assert store.get_run(run.run_id).info.status == "FAILED"


def test_nested_runs(store: Client) -> None:
    with loopml.start_run(run_name="parent") as parent:
        with pytest.raises(Conflict, match="already active"):
            loopml.start_run()
        with loopml.start_run(run_name="child", nested=True) as child:
            assert loopml.active_run() is child
            loopml.log_metric("m", 1.0)
        assert loopml.active_run() is parent
    child_run = store.get_run(child.run_id)
    assert child_run.info.parent_run_id == parent.run_id
    assert child_run.metrics == {"m": 1.0}
    assert store.get_run(parent.run_id).metrics == {}


def test_logging_without_a_run_starts_one(store: Client) -> None:
    loopml.log_metric("auto", 2.0)
    run = loopml.active_run()
    assert run is not None
    loopml.end_run()
    assert store.get_run(run.run_id).metrics == {"auto": 2.0}
    assert store.get_run(run.run_id).info.experiment_id == "0"


def test_threads_see_their_own_active_run(store: Client) -> None:
    results: dict[str, str | None] = {}

    def worker(name: str) -> None:
        results[f"{name}-before"] = None if loopml.active_run() is None else "leaked"
        with loopml.start_run(run_name=name) as run:
            loopml.log_metric("thread_metric", 1.0)
            results[name] = run.run_id

    with loopml.start_run(run_name="main") as main:
        threads = [threading.Thread(target=worker, args=(f"t{i}",)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert loopml.active_run() is main
    assert all(results[f"t{i}-before"] is None for i in range(3))
    assert len({results[f"t{i}"] for i in range(3)}) == 3
    for i in range(3):
        assert store.get_run(str(results[f"t{i}"])).metrics == {"thread_metric": 1.0}


def test_asyncio_tasks_see_their_own_active_run(store: Client) -> None:
    async def job(name: str) -> str:
        with loopml.start_run(run_name=name) as run:
            await asyncio.sleep(0.01)
            assert loopml.active_run() is run
            loopml.log_metric("x", 1.0)
            return run.run_id

    async def main() -> list[str]:
        return await asyncio.gather(job("a"), job("b"))

    ids = asyncio.run(main())
    assert len(set(ids)) == 2
    assert {store.get_run(i).info.run_name for i in ids} == {"a", "b"}


def test_search_runs_as_dataframe_and_list(store: Client) -> None:
    loopml.set_experiment("search")
    for i in range(3):
        with loopml.start_run(run_name=f"r{i}"):
            loopml.log_param("i", i)
            loopml.log_metric("score", i / 10)
        time.sleep(0.002)  # distinct start times (ms): "newest first" below must not be a tie
    frame = loopml.search_runs(filter_string="metrics.score > 0.05", order_by=["metrics.score DESC"])
    assert list(frame["run_name"]) == ["r2", "r1"]
    assert list(frame["metrics.score"]) == [0.2, 0.1]
    assert list(frame["params.i"]) == ["2", "1"]
    assert str(frame["start_time"].dtype).startswith("datetime64")
    runs = loopml.search_runs(experiment_names=["search"], output_format="list")
    assert [r.info.run_name for r in runs] == ["r2", "r1", "r0"]  # newest first
    assert len(loopml.search_runs(experiment_names=["search"], max_results=2)) == 2


def test_artifacts_through_the_fluent_api(store: Client, tmp_path: Path) -> None:
    source = tmp_path / "notes.txt"
    source.write_text("hello")
    with loopml.start_run() as run:
        loopml.log_artifact(source)
        loopml.log_artifact(source, artifact_path="docs")
        loopml.log_text("report", "reports/summary.md")
        loopml.log_dict({"a": 1, "b": [1, 2]}, "config.json")
        loopml.log_dict({"a": 1}, "config.yaml")
        uri = loopml.get_artifact_uri()
    listing = {f.path: f.is_dir for f in store.list_artifacts(run.run_id)}
    assert listing == {
        "config.json": False,
        "config.yaml": False,
        "docs": True,
        "notes.txt": False,
        "reports": True,
    }
    local = Path(loopml.download_artifacts(run.run_id, "config.json", tmp_path / "out"))
    assert local.read_text().replace(" ", "").replace("\n", "") == '{"a":1,"b":[1,2]}'
    assert Path(uri, "reports", "summary.md").read_text() == "report"


def test_set_tracking_uri_takes_a_path(tmp_path: Path, store: Client) -> None:
    loopml.set_tracking_uri(tmp_path / "other.db")
    assert loopml.get_tracking_uri() == f"sqlite:///{tmp_path / 'other.db'}"
    with loopml.start_run() as run:
        loopml.log_metric("m", 1.0)
    assert Client(f"sqlite:///{tmp_path / 'other.db'}").get_run(run.run_id).metrics == {"m": 1.0}
