"""Logs of flow and task runs: ``get_run_logger()`` and ``print`` under ``log_prints``.

Records go to the Python logger ``loopml.runs`` (so they reach the console as the user's
logging is configured) and, through a handler on it, into the run's records.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import logging
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from ..entities.flow import LogRecord
from .context import flow_run_var, task_run_var

LOGGER_NAME = "loopml.runs"


class _RunHandler(logging.Handler):
    """Turns records carrying a run (``extra``) into the run's LogRecords."""

    def emit(self, record: logging.LogRecord) -> None:
        recorder = getattr(record, "loopml_recorder", None)
        if recorder is None:
            return
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
            recorder.log(
                LogRecord(
                    flow_run_id=record.loopml_flow_run_id,  # type: ignore[attr-defined]
                    task_run_id=record.loopml_task_run_id,  # type: ignore[attr-defined]
                    timestamp=int(record.created * 1000),
                    level=record.levelno,
                    message=message,
                    logger=record.name,
                )
            )
        except Exception:
            self.handleError(record)


def _logger() -> logging.Logger:
    logger = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(h, _RunHandler) for h in logger.handlers):
        logger.addHandler(_RunHandler())
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
    return logger


def get_run_logger() -> logging.LoggerAdapter[logging.Logger]:
    """A logger whose records are kept with the current task run (or flow run).

    Outside a flow it is the plain ``loopml.runs`` logger (nothing recorded).
    """
    flow = flow_run_var.get()
    if flow is None:
        return logging.LoggerAdapter(_logger(), {})
    task = task_run_var.get()
    extra = {
        "loopml_recorder": flow.recorder,
        "loopml_flow_run_id": flow.flow_run_id,
        "loopml_task_run_id": task.record.task_run_id if task is not None else None,
    }
    return logging.LoggerAdapter(_logger(), extra)


# ---- print capture ----------------------------------------------------------------------------
# ``print`` is a builtin: capturing it means replacing builtins.print while a log_prints run is
# active in the process. The replacement logs only for the threads and tasks whose context
# asks for it (a ContextVar) and prints normally everywhere else; the last run to end puts
# the original back.

_capturing: ContextVar[bool] = ContextVar("loopml_log_prints", default=False)
_patch_lock = threading.Lock()
_patch_users = [0]
_original_print = builtins.print


def _print(*args: Any, **kwargs: Any) -> None:
    if not _capturing.get() or kwargs.get("file") not in (None,):
        _original_print(*args, **kwargs)
        return
    buffer = io.StringIO()
    _original_print(*args, **{**kwargs, "file": buffer})
    _original_print(*args, **kwargs)
    get_run_logger().info(buffer.getvalue().rstrip("\n"))


def capturing() -> bool:
    """Whether ``print`` is logged to the current run here."""
    return _capturing.get()


@contextlib.contextmanager
def capture_prints(enabled: bool = True) -> Iterator[None]:
    """While inside, ``print`` in this context is also logged to the current run; with
    ``enabled=False`` it is not, even when an enclosing run logs its prints."""
    if not enabled:
        token = _capturing.set(False)
        try:
            yield
        finally:
            _capturing.reset(token)
        return
    with _patch_lock:
        if _patch_users[0] == 0:
            builtins.print = _print
        _patch_users[0] += 1
    token = _capturing.set(True)
    try:
        yield
    finally:
        _capturing.reset(token)
        with _patch_lock:
            _patch_users[0] -= 1
            if _patch_users[0] == 0:
                builtins.print = _original_print
