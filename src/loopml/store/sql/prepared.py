"""Statements built with SQLAlchemy Core, compiled once, executed on the driver's cursor.

The hot paths (``log_metric``, metric history) run thousands of times a second; compiling
and processing a Core statement per call would cost more than the database work itself.
The SQL still comes from Core (one implementation for every dialect); only the per-call
execution skips SQLAlchemy's machinery.
"""

from __future__ import annotations

import gc
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa


class Prepared:
    """A statement compiled for one dialect, executed with a plain parameter mapping.

    It is compiled when first used, not when the store opens: a short-lived process (a
    script, a one-task flow) pays only for the statements it runs.
    """

    __slots__ = ("_constants", "_dialect", "_order", "_statement", "sql")

    def __init__(self, statement: sa.ClauseElement, dialect: sa.Dialect) -> None:
        self._statement: sa.ClauseElement | None = statement
        self._dialect = dialect
        self.sql: str = ""
        self._constants: dict[str, Any] = {}
        self._order: Sequence[str] | None = None

    def _compile(self) -> None:
        statement, self._statement = self._statement, None
        if statement is None:
            return
        compiled = statement.compile(dialect=self._dialect)
        # Bound literals (e.g. a status compared to 'RUNNING') travel with the statement.
        self._constants = {k: v for k, v in compiled.params.items() if v is not None}
        self._order = getattr(compiled, "positiontup", None)  # positional (sqlite: qmark); None when named
        self.sql = compiled.string

    @property
    def parameters(self) -> tuple[str, ...]:
        """The parameter names in the order the SQL takes them."""
        if not self.sql:
            self._compile()
        return tuple(self._order or ())

    def _args(self, params: Mapping[str, Any] | tuple[Any, ...]) -> Any:
        if isinstance(params, tuple):  # already in the order of ``parameters``
            return params
        merged = {**self._constants, **params} if self._constants else params
        if self._order is None:
            return merged
        return tuple(map(merged.__getitem__, self._order))

    def execute(self, cursor: Any, params: Mapping[str, Any] | tuple[Any, ...]) -> int:
        """Run it; returns the number of rows changed."""
        if not self.sql:
            self._compile()
        cursor.execute(self.sql, self._args(params))
        return int(cursor.rowcount)

    def executemany(self, cursor: Any, rows: Sequence[Mapping[str, Any] | tuple[Any, ...]]) -> None:
        if not self.sql:
            self._compile()
        cursor.executemany(self.sql, [self._args(row) for row in rows])

    def executemany_rows(self, cursor: Any, rows: Sequence[tuple[Any, ...]]) -> None:
        """Like :meth:`executemany` for rows already in the order of ``parameters``."""
        if not self.sql:
            self._compile()
        cursor.executemany(self.sql, rows)

    def fetchall(self, cursor: Any, params: Mapping[str, Any]) -> list[Any]:
        if not self.sql:
            self._compile()
        cursor.execute(self.sql, self._args(params))
        return cursor.fetchall()  # type: ignore[no-any-return]

    def fetch_columns(self, cursor: Any, params: Mapping[str, Any]) -> list[list[Any]]:
        """The result as one list per selected column, for reads of many rows.

        Building a tuple per row would trigger the cyclic garbage collector every few hundred
        rows, and each pass walks every live object of the process: in a process holding a
        large heap that costs more than the query. The rows hold no reference cycles, so the
        collector is paused while they are built (and resumed if it was running).
        """
        paused = gc.isenabled()
        gc.disable()
        try:
            if not self.sql:
                self._compile()
            cursor.execute(self.sql, self._args(params))
            rows = cursor.fetchall()
            width = len(cursor.description)
            return [[row[i] for row in rows] for i in range(width)]
        finally:
            if paused:
                gc.enable()
