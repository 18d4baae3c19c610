"""Task runners: where the tasks of ``.submit()`` and ``.map()`` run.

A runner is a small frozen configuration; each flow run opens its own session with
:meth:`open` and closes it when the flow ends (waiting for the tasks still running). The
engine (states, retries, caching, records) always runs in the flow's process; a session
decides where a task's *body* runs: in a thread of the pool (threads), in the caller
(inline), in a pool of processes, or on a Dask cluster. Results and exceptions come back the
same way from all of them.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextvars
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInput, MissingExtra


class Session:
    """A runner opened for one flow run."""

    def submit(self, call: Callable[[], Any]) -> cf.Future[Any]:
        """Run ``call`` (the engine of one task run) concurrently; a future of its result."""
        raise NotImplementedError

    def run_body(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run a task's body where this runner runs bodies; returns its value or raises."""
        return fn(*args, **kwargs)

    def close(self) -> None:
        """Wait for what was submitted, then release the workers."""


class _PoolSession(Session):
    def __init__(self, max_workers: int | None) -> None:
        self._pool = cf.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="loopml-task")

    def submit(self, call: Callable[[], Any]) -> cf.Future[Any]:
        return self._pool.submit(contextvars.copy_context().run, call)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


@dataclass(frozen=True)
class ThreadPoolTaskRunner:
    """Tasks run in a bounded pool of threads (the default): best for I/O and for libraries
    that release the GIL (numpy, scikit-learn, pandas)."""

    max_workers: int | None = None

    def __post_init__(self) -> None:
        if self.max_workers is not None and self.max_workers < 1:
            raise InvalidInput(f"max_workers must be >= 1, got {self.max_workers!r}")

    def open(self) -> Session:
        return _PoolSession(self.max_workers or min(32, (os.cpu_count() or 1) + 4))


class _InlineSession(Session):
    def submit(self, call: Callable[[], Any]) -> cf.Future[Any]:
        future: cf.Future[Any] = cf.Future()
        try:
            future.set_result(call())
        except BaseException as exc:  # the engine returns states; this is a failure of its own
            future.set_exception(exc)
        return future


@dataclass(frozen=True)
class InlineTaskRunner:
    """Tasks run one after another in the calling thread, when they are submitted."""

    def open(self) -> Session:
        return _InlineSession()


class _ProcessSession(_PoolSession):
    def __init__(self, max_workers: int | None) -> None:
        workers = max_workers or os.cpu_count() or 1
        super().__init__(workers)  # one engine thread per body in flight
        self._processes = cf.ProcessPoolExecutor(max_workers=workers)

    def run_body(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        from . import remote

        outcome = self._processes.submit(remote.call_remote, remote.payload(fn, args, kwargs)).result()
        return remote.received(outcome)

    def close(self) -> None:
        super().close()
        self._processes.shutdown(wait=True)


@dataclass(frozen=True)
class ProcessPoolTaskRunner:
    """Task bodies run in a pool of worker processes (CPU-bound pure-Python work).

    Arguments and return values must pickle (cloudpickle is used for the call itself).
    """

    max_workers: int | None = None

    def __post_init__(self) -> None:
        if self.max_workers is not None and self.max_workers < 1:
            raise InvalidInput(f"max_workers must be >= 1, got {self.max_workers!r}")

    def open(self) -> Session:
        return _ProcessSession(self.max_workers)


class _DaskSession(_PoolSession):
    def __init__(self, runner: DaskTaskRunner) -> None:
        try:
            import distributed
        except ImportError:
            raise MissingExtra("dask", module="distributed") from None
        Client: Any = distributed.Client  # untyped: called through Any
        LocalCluster: Any = distributed.LocalCluster
        self._cluster: Any = None
        self._client: Any
        if runner.address is None:
            self._cluster = LocalCluster(
                n_workers=runner.n_workers,
                processes=True,
                dashboard_address=None,
                **(runner.cluster_kwargs or {}),
            )
            self._client = Client(self._cluster)
        else:
            self._client = Client(runner.address)
        workers = max(4, sum(self._client.nthreads().values()))
        super().__init__(workers)

    def run_body(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        from . import remote

        future = self._client.submit(remote.call_remote, remote.payload(fn, args, kwargs), pure=False)
        return remote.received(future.result())

    def close(self) -> None:
        super().close()
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


@dataclass(frozen=True)
class DaskTaskRunner:
    """Task bodies run on a Dask cluster: ``address="tcp://scheduler:8786"``, or a LocalCluster
    started for the flow run when no address is given (extra ``dask``)."""

    address: str | None = None
    n_workers: int | None = None
    cluster_kwargs: dict[str, Any] | None = None

    def open(self) -> Session:
        return _DaskSession(self)

    def __hash__(self) -> int:
        return hash((self.address, self.n_workers))


def default_runner() -> ThreadPoolTaskRunner:
    return ThreadPoolTaskRunner()
