"""WAL checkpoints of the embedded SQLite store, off the writing thread.

In WAL mode SQLite appends commits to the ``-wal`` file and, every N pages, copies them back
into the database in the thread that happened to commit: a ``log_metric`` that lands on a
checkpoint waits tens of milliseconds. The store instead turns the automatic checkpoint
into a rare safety net and asks this thread to run a PASSIVE checkpoint (it never blocks
writers or readers) at most every ``interval_s`` while writes keep coming.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

import sqlalchemy as sa


class Checkpointer:
    """A daemon thread that checkpoints the WAL of one SQLite database after writes."""

    def __init__(self, engine: sa.Engine, *, interval_s: float = 0.1) -> None:
        self._engine = engine
        self._interval_s = interval_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="loopml-wal-checkpoint", daemon=True)
        self._thread.start()

    def notify(self) -> None:
        """Called after a commit: a checkpoint will follow within ``interval_s``."""
        self._wake.set()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            raw: Any = self._engine.raw_connection()
        except sa.exc.SQLAlchemyError:
            return  # the database went away; SQLite's own checkpoints remain
        try:
            while not self._stop.is_set():
                self._wake.wait()
                self._wake.clear()
                if self._stop.wait(self._interval_s):  # let a burst of writes gather
                    break
                self._checkpoint(raw)
            self._checkpoint(raw)
        finally:
            raw.close()

    @staticmethod
    def _checkpoint(raw: Any) -> None:
        cursor = raw.cursor()
        try:
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error:
            pass  # a busy or closing database: the next round, or SQLite's own safety net, does it
        finally:
            cursor.close()
