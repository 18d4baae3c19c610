"""Engines for the SQL store: URL normalization, SQLite discipline, PostgreSQL driver."""

from __future__ import annotations

import atexit
import functools
import gc
import os
from typing import Any

import sqlalchemy as sa

from ...errors import InvalidInput, MissingExtra

SQLITE_SCHEMES = ("sqlite",)
POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")


def sqlalchemy_url(uri: str) -> sa.URL:
    """The SQLAlchemy URL for a loopml tracking URI (``postgresql://`` uses psycopg 3)."""
    scheme = uri.split(":", 1)[0].lower()
    if scheme in POSTGRES_SCHEMES:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise MissingExtra("postgres", module="psycopg") from None
        rest = uri.split("://", 1)[1]
        return sa.make_url(f"postgresql+psycopg://{rest}")
    if scheme in SQLITE_SCHEMES:
        url = sa.make_url(uri)
        if url.database and url.database != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(url.database)), exist_ok=True)
        return url
    raise InvalidInput(f"not a SQL store URI: {uri!r} (expected sqlite:///path or postgresql://...)", uri=uri)


def is_sqlite(url: sa.URL) -> bool:
    return url.get_backend_name() == "sqlite"


@functools.cache
def skip_final_collection() -> None:
    """At interpreter exit, skip the final garbage-collection passes over what is alive.

    With SQLAlchemy loaded those passes cost ~0.1 s of every process's exit — a fifth of a
    one-task flow run as a script. ``gc.freeze()`` in the last atexit hook moves the survivors
    out of the collector's reach; they are still freed by reference counting, and the
    operating system reclaims the rest (Python never promised ``__del__`` at exit). Registered
    once, when the first SQL store opens; atexit hooks run last-registered first, so this one
    runs after the hooks registered later (logging's, loopml's recorder flushes).
    """
    atexit.register(gc.freeze)


def create_engines(uri: str, *, busy_timeout_s: float = 60.0) -> tuple[sa.Engine, sa.Engine]:
    """(reader, writer) engines. On PostgreSQL both are one pooled engine.

    On SQLite the writer starts every transaction with ``BEGIN IMMEDIATE`` (it takes the
    write lock up front, so it waits on ``busy_timeout`` instead of failing with "database
    is locked" on upgrade); readers use deferred transactions and never block in WAL mode.
    """
    skip_final_collection()
    url = sqlalchemy_url(uri)
    if not is_sqlite(url):
        # Positional parameters (%s) on every dialect: prepared statements take plain tuples.
        engine = sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10, paramstyle="format")
        return engine, engine
    if url.database in (None, "", ":memory:"):
        raise InvalidInput("an in-memory SQLite store cannot be shared; give a file: sqlite:///path.db")
    reader = _sqlite_engine(url, busy_timeout_s, begin="BEGIN")
    writer = _sqlite_engine(url, busy_timeout_s, begin="BEGIN IMMEDIATE")
    return reader, writer


def _sqlite_engine(url: sa.URL, busy_timeout_s: float, *, begin: str) -> sa.Engine:
    engine = sa.create_engine(url, connect_args={"timeout": busy_timeout_s, "check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # the driver leaves transactions to us
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable once committed, unless the OS dies
        # Checkpoints run in the store's Checkpointer thread; SQLite's own (in the committing
        # thread) is only a safety net at ~40 MB of WAL. The file is truncated to 16 MB after one.
        cur.execute("PRAGMA wal_autocheckpoint=10000")
        cur.execute("PRAGMA journal_size_limit=16777216")
        cur.execute("PRAGMA mmap_size=268435456")  # reads of large stores come from the page cache
        cur.execute("PRAGMA cache_size=-32768")  # 32 MB per connection
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA case_sensitive_like=ON")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql(begin)

    return engine
