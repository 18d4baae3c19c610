"""The options of ``@task`` and ``@flow``: one frozen dataclass per kind, checked at decoration.

``with_options(**changes)`` is ``dataclasses.replace`` followed by the same checks, so an
option set that contradicts itself is rejected when it is written, not when a run starts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Callable, Sequence
from typing import Any

from ..cache_policies import NO_CACHE, CachePolicy
from ..errors import InvalidInput

Hook = Callable[..., Any]
RetryDelay = float | Sequence[float] | Callable[[int], Sequence[float]]


def exponential_backoff(backoff_factor: float) -> Callable[[int], list[float]]:
    """``retry_delay_seconds=exponential_backoff(2)``: waits of 2, 4, 8, ... seconds."""
    if backoff_factor < 0:
        raise InvalidInput(f"backoff_factor must be >= 0, got {backoff_factor!r}")

    def delays(retries: int) -> list[float]:
        return [backoff_factor * 2**i for i in range(retries)]

    return delays


@dataclasses.dataclass(frozen=True)
class RetryOptions:
    """What tasks and flows share: retries, timeouts, results, logs and hooks."""

    name: str = ""
    description: str = ""
    version: str | None = None
    tags: tuple[str, ...] = ()
    retries: int = 0
    retry_delay_seconds: RetryDelay = 0.0
    retry_jitter_factor: float | None = None
    timeout_seconds: float | None = None
    persist_result: bool | None = None
    result_storage: str | None = None
    log_prints: bool | None = None
    on_completion: tuple[Hook, ...] = ()
    on_failure: tuple[Hook, ...] = ()

    def retry_delays(self) -> list[float]:
        """The wait before each retry, jittered when asked."""
        delay = self.retry_delay_seconds
        if callable(delay):
            waits = [float(x) for x in delay(self.retries)]
        elif isinstance(delay, int | float):
            waits = [float(delay)] * self.retries
        else:
            waits = [float(x) for x in delay]
        waits = (waits + [waits[-1] if waits else 0.0] * self.retries)[: self.retries]
        if self.retry_jitter_factor:
            factor = self.retry_jitter_factor
            waits = [max(0.0, w + random.uniform(-factor * w, factor * w)) for w in waits]
        return waits

    def _check_common(self, kind: str) -> None:
        if not isinstance(self.retries, int) or self.retries < 0:
            raise InvalidInput(f"{kind} {self.name!r}: retries must be an integer >= 0, got {self.retries!r}")
        delay = self.retry_delay_seconds
        if not callable(delay):
            values = [delay] if isinstance(delay, int | float) else list(delay)
            if any(not isinstance(x, int | float) or x < 0 for x in values):
                raise InvalidInput(
                    f"{kind} {self.name!r}: retry_delay_seconds must be seconds >= 0, a list of them "
                    f"or a callable such as exponential_backoff(2), got {delay!r}"
                )
        if self.retry_jitter_factor is not None and self.retry_jitter_factor < 0:
            raise InvalidInput(
                f"{kind} {self.name!r}: retry_jitter_factor must be >= 0, got {self.retry_jitter_factor!r}"
            )
        if self.timeout_seconds is not None and not self.timeout_seconds > 0:
            raise InvalidInput(
                f"{kind} {self.name!r}: timeout_seconds must be > 0, got {self.timeout_seconds!r}"
            )
        for hook in (*self.on_completion, *self.on_failure):
            if not callable(hook):
                raise InvalidInput(f"{kind} {self.name!r}: hooks must be callables, got {hook!r}")


@dataclasses.dataclass(frozen=True)
class TaskOptions(RetryOptions):
    """The options of a task (Prefect's names)."""

    retry_on: tuple[type[BaseException], ...] = ()
    retry_condition_fn: Hook | None = None
    cache_policy: CachePolicy | None = None
    cache_key_fn: Hook | None = None
    cache_expiration: dt.timedelta | None = None
    refresh_cache: bool = False
    task_run_name: str | Callable[[], str] | None = None

    def __post_init__(self) -> None:
        self._check_common("task")
        for kind in self.retry_on:
            if not (isinstance(kind, type) and issubclass(kind, BaseException)):
                raise InvalidInput(f"task {self.name!r}: retry_on takes exception types, got {kind!r}")
        if self.retry_on and self.retry_condition_fn is not None:
            raise InvalidInput(f"task {self.name!r}: give retry_on or retry_condition_fn, not both")
        if self.cache_key_fn is not None and self.cache_policy is NO_CACHE:
            raise InvalidInput(f"task {self.name!r}: cache_key_fn contradicts cache_policy=NO_CACHE")
        if self.caches and self.persist_result is False:
            raise InvalidInput(
                f"task {self.name!r}: caching needs the result persisted; drop persist_result=False "
                "or the cache policy"
            )
        if self.refresh_cache and not self.caches:
            raise InvalidInput(f"task {self.name!r}: refresh_cache needs a cache_policy or cache_key_fn")
        if self.cache_expiration is not None and not self.caches:
            raise InvalidInput(f"task {self.name!r}: cache_expiration needs a cache_policy or cache_key_fn")

    @property
    def caches(self) -> bool:
        return self.cache_key_fn is not None or (
            self.cache_policy is not None and self.cache_policy is not NO_CACHE
        )


@dataclasses.dataclass(frozen=True)
class FlowOptions(RetryOptions):
    """The options of a flow (Prefect's names, plus ``experiment``: the tracking run it opens)."""

    flow_run_name: str | Callable[[], str] | None = None
    validate_parameters: bool = True
    task_runner: Any = None  # a TaskRunner; None: a thread pool, created when a task is submitted
    experiment: str | None = None

    def __post_init__(self) -> None:
        self._check_common("flow")


def normalize(changes: dict[str, Any]) -> dict[str, Any]:
    """Decorator arguments as option values: lists become tuples, a single hook a 1-tuple,
    ``cache_expiration`` in seconds a timedelta."""
    out = dict(changes)
    for key in ("tags", "retry_on"):
        if key in out and out[key] is not None:
            value = out[key]
            out[key] = (value,) if isinstance(value, type | str) else tuple(value)
    for key in ("on_completion", "on_failure"):
        if key in out and out[key] is not None:
            value = out[key]
            out[key] = (value,) if callable(value) else tuple(value)
    if isinstance(out.get("cache_expiration"), int | float):
        out["cache_expiration"] = dt.timedelta(seconds=out["cache_expiration"])
    if isinstance(out.get("retry_delay_seconds"), list):
        out["retry_delay_seconds"] = tuple(out["retry_delay_seconds"])
    return {k: v for k, v in out.items() if v is not None or k in _NULLABLE}


_NULLABLE = frozenset({"version", "timeout_seconds", "persist_result", "result_storage", "log_prints"})


def build(cls: type[Any], base: Any | None, changes: dict[str, Any]) -> Any:
    """New options from ``changes`` over ``base`` (or the defaults), rejecting unknown names."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise InvalidInput(f"unknown {cls.__name__} option(s) {unknown}; valid: {sorted(known)}")
    values = normalize(changes)
    return dataclasses.replace(base, **values) if base is not None else cls(**values)
