"""Flows in real subprocesses: records complete at exit, cache keys shared across processes,
a SIGKILLed flow run seen as Crashed and resumed by retry_flow_run."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from loopml import Client, InvalidInput, StateType
from loopml.orchestration.flow_retry import retry_flow_run

S = StateType


def _python(
    code_or_script: str | Path, *args: str, cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run Python in a fresh process: a script file, or code (``-c``) with ``cwd`` importable.
    The LOOPML_* variables of the test (loopml_store's store) are inherited."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(cwd), os.environ.get("PYTHONPATH", "")])}
    head = [str(code_or_script)] if isinstance(code_or_script, Path) else ["-c", code_or_script]
    return subprocess.run(
        [sys.executable, *head, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def _write(path: Path, code: str) -> Path:
    path.write_text(textwrap.dedent(code))
    return path


def test_every_task_run_is_recorded_when_the_process_exits_right_after_the_flow(
    loopml_store: Client, tmp_path: Path
) -> None:
    script = _write(
        tmp_path / "many.py",
        """
        import os
        from loopml import flow, task

        @task
        def inc(x: int) -> int:
            return x + 1

        @flow
        def many(n: int) -> int:
            x = 0
            for _ in range(n):
                x = inc(x)
            return x

        if __name__ == "__main__":
            print(many(300, return_state=True).flow_run_id, flush=True)
            os._exit(0)  # no interpreter shutdown, no atexit: the records must already be written
        """,
    )
    done = _python(script, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    flow_run_id = done.stdout.strip()
    store = loopml_store.store.orchestration
    assert store.get_flow_run(flow_run_id).state is S.COMPLETED
    runs = store.get_task_runs(flow_run_id)
    assert len(runs) == 300
    assert all(r.state is S.COMPLETED and r.end_time is not None for r in runs)
    assert sorted(int(r.dynamic_key) for r in runs) == list(range(300))


def test_cache_keys_are_the_same_in_every_process(loopml_store: Client, tmp_path: Path) -> None:
    script = _write(
        tmp_path / "cached.py",
        """
        import sys
        from loopml import flow, task
        from loopml.cache_policies import INPUTS

        @task(cache_policy=INPUTS)
        def square(x: int, options: dict) -> int:
            with open(sys.argv[1], "a") as f:
                f.write("ran\\n")
            return x * x

        @flow
        def pipeline(x: int) -> None:
            state = square(x, {"b": [1, 2], "a": 1.5}, return_state=True)
            print(state.name, state.result(), state.flow_run_id)

        if __name__ == "__main__":
            pipeline(7)
        """,
    )
    ran = tmp_path / "ran.txt"
    first = _python(script, str(ran), cwd=tmp_path)
    second = _python(script, str(ran), cwd=tmp_path)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    (name1, value1, run1), (name2, value2, run2) = first.stdout.split(), second.stdout.split()
    assert (name1, value1) == ("Completed", "49")
    assert (name2, value2) == ("Cached", "49")  # read back from the persisted result
    assert ran.read_text() == "ran\n"  # the body ran once, in the first process
    store = loopml_store.store.orchestration
    (task1,), (task2,) = store.get_task_runs(run1), store.get_task_runs(run2)
    assert task1.cache_key is not None and task1.cache_key == task2.cache_key
    assert task2.state is S.CACHED and task2.result_ref == task1.result_ref

    # another script with a task of the same name is another task: it does not get this cache
    other = _write(tmp_path / "other.py", script.read_text().replace("return x * x", "return -x"))
    third = _python(other, str(ran), cwd=tmp_path)
    assert third.returncode == 0, third.stderr
    assert third.stdout.split()[:2] == ["Completed", "-7"]


CRASHING_FLOW = """
    import os
    import signal
    import time
    from pathlib import Path

    from loopml import flow, task

    HERE = Path(__file__).parent
    EXECUTIONS = HERE / "executions.txt"
    KILLED = HERE / "killed-once"

    @task
    def step(i: int) -> int:
        with EXECUTIONS.open("a") as f:
            f.write(f"{i}\\n")
        if i == 4 and not KILLED.exists():  # the first time only: the retry must get through
            KILLED.write_text("")
            time.sleep(0.5)  # the recorder writes the 4 completed task runs meanwhile
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.15)
        if i == 5:  # during the retry: what another reader sees of this flow run
            import loopml

            seen = loopml.Client().store.orchestration.get_flow_run(loopml.runtime.flow_run.id).state
            (HERE / "seen.txt").write_text(str(seen))
        return i * i

    @flow(persist_result=True)
    def pipeline(n: int) -> int:
        return sum(step(i) for i in range(n))
"""


def test_a_killed_flow_run_is_crashed_and_a_retry_resumes_it(loopml_store: Client, tmp_path: Path) -> None:
    _write(tmp_path / "crashflow.py", CRASHING_FLOW)
    killed = _python("import crashflow; crashflow.pipeline(6)", cwd=tmp_path)
    assert killed.returncode == -9, killed.stderr
    assert (tmp_path / "executions.txt").read_text().split() == ["0", "1", "2", "3", "4"]

    store = loopml_store.store.orchestration
    (flow_run,) = store.search_flow_runs()
    assert flow_run.state is S.CRASHED  # its process is gone: the read marks it
    assert flow_run.entrypoint == "crashflow:pipeline" and flow_run.end_time is not None
    assert "is gone" in (flow_run.error or "")
    runs = store.get_task_runs(flow_run.flow_run_id)
    assert [r.state for r in runs] == [S.COMPLETED] * 4 + [S.CRASHED]
    assert all(r.result_ref for r in runs[:4])

    retry = _python(
        "import sys, loopml\n"
        "from loopml.orchestration.flow_retry import retry_flow_run\n"
        "state = retry_flow_run(loopml.Client(), sys.argv[1])\n"
        "print(state.name, state.result())",
        flow_run.flow_run_id,
        cwd=tmp_path,
    )
    assert retry.returncode == 0, retry.stderr
    assert retry.stdout.split() == ["Completed", str(sum(i * i for i in range(6)))]
    # the 4 completed calls were not run again: their persisted results were reused
    assert (tmp_path / "executions.txt").read_text().split() == ["0", "1", "2", "3", "4", "4", "5"]

    flow_run = store.get_flow_run(flow_run.flow_run_id)
    assert flow_run.state is S.COMPLETED and flow_run.attempts == 2 and flow_run.error is None
    assert [s for s, _ in flow_run.history] == [S.RUNNING, S.CRASHED, S.RUNNING, S.COMPLETED]
    retried = store.get_task_runs(flow_run.flow_run_id)  # the same 6 calls, not a second set
    assert [r.dynamic_key for r in retried] == ["0", "1", "2", "3", "4", "5"]
    assert [r.task_run_id for r in retried[:5]] == [r.task_run_id for r in runs]
    assert retried[:4] == runs[:4]  # reused, untouched
    crashed = retried[4]  # continued: its record holds both attempts
    assert crashed.state is S.COMPLETED and crashed.attempts == 2 and crashed.error is None
    assert [s for s, _ in crashed.history] == [S.RUNNING, S.CRASHED, S.RUNNING, S.COMPLETED]
    assert retried[5].state is S.COMPLETED and retried[5].attempts == 1
    with pytest.raises(InvalidInput, match="only failed, crashed"):
        retry_flow_run(loopml_store, flow_run.flow_run_id)  # a completed run is not run again

    # While the retry ran, another reader saw it Running (the retry recorded its own process).
    assert (tmp_path / "seen.txt").read_text() == "RUNNING"


def test_a_failed_flow_run_of_a_script_is_retried_by_its_path(loopml_store: Client, tmp_path: Path) -> None:
    script = _write(
        tmp_path / "etl.py",
        """
        from pathlib import Path
        from loopml import flow, task

        HERE = Path(__file__).parent

        @task(persist_result=True)
        def extract() -> int:
            with (HERE / "extracted.txt").open("a") as f:
                f.write("x\\n")
            return 20

        @task
        def load(x: int) -> int:
            if not (HERE / "fixed").exists():
                raise RuntimeError("the warehouse is down")
            return x + 1

        @flow
        def etl() -> int:
            return load(extract())

        if __name__ == "__main__":
            state = etl(return_state=True)
            print(state.flow_run_id, state.name)
        """,
    )
    failed = _python(script, cwd=tmp_path)
    flow_run_id, name = failed.stdout.split()
    assert name == "Failed", failed.stderr
    store = loopml_store.store.orchestration
    assert store.get_flow_run(flow_run_id).entrypoint == f"{script}:etl"

    (tmp_path / "fixed").touch()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    retry = _python(
        "import sys, loopml\n"
        "from loopml.orchestration.flow_retry import retry_flow_run\n"
        "print(retry_flow_run(loopml.Client(), sys.argv[1]).result())",
        flow_run_id,
        cwd=elsewhere,
    )
    assert retry.returncode == 0, retry.stderr
    assert retry.stdout.split() == ["21"]
    assert (tmp_path / "extracted.txt").read_text() == "x\n"  # reused, not run again
    assert store.get_flow_run(flow_run_id).state is S.COMPLETED
    assert [r.state for r in store.get_task_runs(flow_run_id)] == [S.COMPLETED, S.COMPLETED]
