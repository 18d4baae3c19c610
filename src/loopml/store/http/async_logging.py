"""Asynchronous logging over HTTP (``LOOPML_ASYNC_LOGGING=true``).

The HTTP store's ``log_metric``, ``log_param`` and ``set_tag`` put their value in a queue and
return; a background thread sends what queued up with ``log_batch``, at most every
:data:`INTERVAL_S` or as soon as :data:`MAX_VALUES` values wait. Guarantees:

- **checked at the call**: keys and values are validated as the server would, so a bad key or
  value raises InvalidInput in the caller, as in synchronous mode;
- **order per run**: the values of a run go out in the order they were logged (a later
  ``set_tag`` of a key wins, metric points keep their order), and any other call of the store
  (``set_terminated`` at run end, a read, ``log_batch``, ``delete_tag``) first waits for the
  queue, so it sees everything logged before it;
- **flushed**: :meth:`AsyncLogging.flush` waits until every queued value is sent; the store
  flushes at run end (``set_terminated``), on ``close`` and at interpreter exit (atexit);
- **never lost silently**: an error of a background send (a param re-logged with another
  value: Conflict; a finished run; the server unreachable) is raised, as the same LoopmlError
  class with the server's message and what was not stored, at the next call of the store or
  at the flush. When a batch fails on a Conflict and holds params, its metrics and tags are
  sent again without them and each param alone, so only the offending param is lost (the
  rejected batch stored nothing: sending its values again cannot duplicate them).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ...entities import Metric, Param, RunTag
from ...errors import Conflict, LoopmlError, StoreError, error_from_wire
from .. import validation as v

__all__ = ["INTERVAL_S", "MAX_VALUES", "AsyncLogging", "Batch"]

logger = logging.getLogger(__name__)

#: The longest a value waits in the queue before it is sent.
INTERVAL_S = 0.05
#: A batch is sent as soon as this many values wait, and holds at most this many.
MAX_VALUES = 1000

T = TypeVar("T")
Value = Metric | Param | RunTag
#: ``send(run_id, metrics, params, tags)``: one ``log_batch`` request.
Send = Callable[[str, Sequence[Metric], Sequence[Param], Sequence[RunTag]], None]


@dataclass
class Batch:
    """The values of one run sent in one request, in the order they were logged."""

    run_id: str
    metrics: list[Metric] = field(default_factory=list)
    params: dict[str, Param] = field(default_factory=dict)
    tags: dict[str, RunTag] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.metrics) + len(self.params) + len(self.tags)

    def accepts(self, value: Value, max_values: int = MAX_VALUES) -> bool:
        """False when ``value`` must go in a later batch: this one is full, or it holds the
        same param with another value (the server would refuse the whole batch, where
        synchronous calls store the first value and refuse the second)."""
        if len(self) >= max_values:
            return False
        if isinstance(value, Param):
            held = self.params.get(value.key)
            return held is None or held.value == value.value
        return True

    def add(self, value: Value) -> None:
        if isinstance(value, Metric):
            self.metrics.append(value)
        elif isinstance(value, Param):
            self.params[value.key] = value
        else:
            self.tags.pop(value.key, None)  # re-inserted last: the later value wins
            self.tags[value.key] = value

    def describe(self) -> str:
        parts = [(len(self.metrics), "metric point"), (len(self.params), "param"), (len(self.tags), "tag")]
        return ", ".join(f"{n} {what}{'s' if n > 1 else ''}" for n, what in parts if n)


def batches(queued: Sequence[tuple[str, Value]], max_values: int = MAX_VALUES) -> list[Batch]:
    """The queued ``(run_id, value)`` pairs as batches: per run in logging order, a new batch
    when one is full or would hold a param twice with different values."""
    out: list[Batch] = []
    current: dict[str, Batch] = {}
    for run_id, value in queued:
        batch = current.get(run_id)
        if batch is None or not batch.accepts(value, max_values):
            batch = current[run_id] = Batch(run_id)
            out.append(batch)
        batch.add(value)
    return out


class AsyncLogging:
    """The queue of one HTTP store and the thread that empties it (started at the first value).

    ``send`` is the store's ``log_batch`` request, without the wait for the queue.
    """

    def __init__(self, send: Send, *, interval_s: float = INTERVAL_S, max_values: int = MAX_VALUES) -> None:
        self._send = send
        self.interval_s = interval_s
        self.max_values = max_values
        self._reset()
        _LIVE.add(self)
        _install_hooks()

    def _reset(self) -> None:
        """Fresh state: at creation, and in a forked child (the parent's values are the parent's
        to send, and its thread does not exist there)."""
        self._pid = os.getpid()
        self._cond = threading.Condition(threading.Lock())
        self._queue: list[tuple[str, Value]] = []
        self._sending = 0  # values taken by the thread, not yet answered
        self._flushes = 0  # callers waiting in flush(): the thread sends without delay
        self._errors: list[LoopmlError] = []
        self._thread: threading.Thread | None = None
        self._closed = False

    # ---- the calls the store queues ------------------------------------------------------------

    def log_metric(self, run_id: str, metric: Metric) -> None:
        self._put(run_id, checked_metric(metric))

    def log_param(self, run_id: str, param: Param) -> None:
        key = v.check_key(param.key, "param key")
        self._put(run_id, Param(key, v.param_value(key, _text(param.value))))

    def set_tag(self, run_id: str, tag: RunTag) -> None:
        key = v.check_key(tag.key, "tag key")
        self._put(run_id, RunTag(key, v.tag_value(key, _text(tag.value))))

    def _put(self, run_id: str, value: Value) -> None:
        """Queue ``value`` (always), then raise what a background send raised since the last call."""
        if self._pid != os.getpid():
            self._reset()
        with self._cond:
            self._queue.append((run_id, value))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="loopml-async-logging", daemon=True)
                self._thread.start()
            if len(self._queue) >= self.max_values:
                self._cond.notify_all()
            self._raise_errors()

    # ---- waiting for the queue -----------------------------------------------------------------

    def before(self, call: Callable[[], T]) -> T:
        """Flush, then make ``call`` (another call of the store, which must see every value
        logged before it). The call is made even when the flush raises a background error,
        which is raised after it (a run still ends when an earlier param was refused)."""
        try:
            self.flush()
        except LoopmlError:
            call()  # an error of its own is raised with the background one as its context
            raise
        return call()

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every value queued so far is sent; raise the first error of a background
        send since the last call (the others are in its ``details["more_errors"]``).

        ``timeout`` (seconds): StoreError when the queue is not empty by then.
        """
        if self._pid != os.getpid():
            self._reset()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            if self._queue or self._sending:
                self._flushes += 1
                self._cond.notify_all()
                try:
                    while self._queue or self._sending:
                        left = None if deadline is None else deadline - time.monotonic()
                        if left is not None and left <= 0:
                            waiting = len(self._queue) + self._sending
                            raise StoreError(
                                f"asynchronous logging: {waiting} values still unsent after {timeout} s"
                            )
                        self._cond.wait(left)
                finally:
                    self._flushes -= 1
            self._raise_errors()

    def close(self) -> None:
        """Flush, then stop the thread (a value logged later starts a new one)."""
        try:
            self.flush()
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()
                thread = self._thread
            if thread is not None and thread is not threading.current_thread():
                thread.join()
            with self._cond:
                self._closed = False

    def _raise_errors(self) -> None:
        """Raise (and forget) the errors of background sends; called with the lock held."""
        if not self._errors:
            return
        first, *more = self._errors
        self._errors = []
        if not more:
            raise first
        details = {**first.details, "more_errors": [str(e) for e in more]}
        message = f"{first.message}; and {len(more)} more failed asynchronous send(s): {more[0].message}"
        raise error_from_wire(type(first), message, details)

    # ---- the thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                taken = self._take()
                if taken is None:  # closed and empty: a value queued later starts a new thread
                    if self._thread is threading.current_thread():
                        self._thread = None
                    return
                self._sending = len(taken)
            errors: list[LoopmlError] = []
            try:
                for batch in batches(taken, self.max_values):
                    errors.extend(self._send_batch(batch))
            finally:
                with self._cond:
                    self._sending = 0
                    self._errors.extend(errors)
                    self._cond.notify_all()

    def _take(self) -> list[tuple[str, Value]] | None:
        """Wait for values, then up to ``interval_s`` more for a full batch (none when a flush
        waits); take them all. None: closed with nothing left. Called with the lock held."""
        while not self._queue:
            if self._closed:
                return None
            self._cond.wait()
        deadline = time.monotonic() + self.interval_s
        while len(self._queue) < self.max_values and not self._flushes and not self._closed:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._cond.wait(left)
        taken, self._queue = self._queue, []
        return taken

    def _send_batch(self, batch: Batch) -> list[LoopmlError]:
        try:
            self._send(batch.run_id, batch.metrics, list(batch.params.values()), list(batch.tags.values()))
        except LoopmlError as exc:
            if isinstance(exc, Conflict) and batch.params and len(batch) > 1:
                return self._isolate_params(batch)
            return [_unsent(exc, batch)]
        except Exception as exc:  # a bug: still never silent
            logger.exception("asynchronous logging failed")
            return [_unsent(LoopmlError(f"{type(exc).__name__}: {exc}"), batch)]
        return []

    def _isolate_params(self, batch: Batch) -> list[LoopmlError]:
        """The batch was refused (nothing of it stored) with a Conflict that may be one param's:
        send its metrics and tags without the params, then each param alone."""
        rest = Batch(batch.run_id, batch.metrics, {}, batch.tags)
        errors = self._send_batch(rest) if len(rest) else []
        for param in batch.params.values():
            errors.extend(self._send_batch(Batch(batch.run_id, params={param.key: param})))
        return errors


def checked_metric(metric: Metric) -> Metric:
    """The metric as the server will store it, or InvalidInput with the store's message."""
    key = v.check_key(metric.key, "metric key")
    value = v.metric_value(key, metric.value)
    step = v.integer(f"step of metric {key!r}", metric.step)
    timestamp = v.integer(f"timestamp of metric {key!r}", metric.timestamp)
    if value is metric.value and step is metric.step and timestamp is metric.timestamp:
        return metric  # the common case: nothing to normalize
    return Metric(key, value, timestamp, step)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _unsent(error: LoopmlError, batch: Batch) -> LoopmlError:
    """``error`` as the same class, its message saying what was not stored."""
    message = (
        f"{error.message} (asynchronous logging: {batch.describe()} of run {batch.run_id} were not stored)"
    )
    return error_from_wire(type(error), message, dict(error.details))


# ---- process hooks: exit and fork ----------------------------------------------------------------

_LIVE: weakref.WeakSet[AsyncLogging] = weakref.WeakSet()
_hooks_installed = False
_hooks_lock = threading.Lock()


def _install_hooks() -> None:
    global _hooks_installed
    with _hooks_lock:
        if _hooks_installed:
            return
        atexit.register(_flush_at_exit)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_after_fork)
        _hooks_installed = True


def _flush_at_exit() -> None:
    """Send what is queued before the interpreter exits (the thread is a daemon: it still
    runs while atexit handlers do). An error is logged on stderr: never silent."""
    for queue in list(_LIVE):
        try:
            queue.close()
        except LoopmlError as exc:
            logger.error("loopml asynchronous logging, at exit: %s", exc)


def _after_fork() -> None:
    for queue in list(_LIVE):
        queue._reset()
