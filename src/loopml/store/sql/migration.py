"""Schema migrations (Alembic), run programmatically: no alembic.ini to carry around."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from ...errors import SchemaOutdated, StoreError
from .engine import create_engines
from .schema import SCHEMA_REVISION

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
VERSION_TABLE = "loopml_alembic_version"


def _config(connection: sa.Connection):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def revision_of(connection: sa.Connection) -> str | None:
    """The schema revision stored in the database, ``None`` for an empty database."""
    if not sa.inspect(connection).has_table(VERSION_TABLE):
        return None
    row = connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).first()
    return None if row is None else str(row[0])


def upgrade_connection(connection: sa.Connection) -> None:
    from alembic import command

    command.upgrade(_config(connection), "head")


def upgrade(uri: str) -> tuple[str | None, str]:
    """Upgrade the database at ``uri`` to the newest schema; returns (from, to) revisions."""
    reader, writer = create_engines(uri)
    try:
        with _store_errors(uri, "upgrading the schema"), writer.begin() as conn:
            before = revision_of(conn)
            upgrade_connection(conn)
            after = revision_of(conn)
    finally:
        reader.dispose()
        writer.dispose()
    if after is None:  # pragma: no cover - alembic always stamps
        raise StoreError(f"the upgrade of {uri} left no schema revision")
    return before, after


def current_revision(uri: str) -> str | None:
    reader, writer = create_engines(uri)
    try:
        with _store_errors(uri, "reading the schema revision"), reader.connect() as conn:
            return revision_of(conn)
    finally:
        reader.dispose()
        writer.dispose()


def ensure_schema(writer: sa.Engine, uri: str, *, auto_upgrade: bool) -> None:
    """Create or upgrade the schema (embedded SQLite) or refuse an outdated one (servers)."""
    with writer.connect() as conn:
        current = revision_of(conn)
    if current == SCHEMA_REVISION:
        return
    if not auto_upgrade:
        found = "an empty database" if current is None else f"schema revision {current}"
        raise SchemaOutdated(
            f"the store at {_redact(uri)} has {found}; this loopml needs revision {SCHEMA_REVISION}. "
            f"Run: loopml db upgrade {_redact(uri)}",
            found=current,
            expected=SCHEMA_REVISION,
        )
    with writer.begin() as conn:
        # Another process may have upgraded it while we waited for the write lock.
        if revision_of(conn) != SCHEMA_REVISION:
            upgrade_connection(conn)


@contextmanager
def _store_errors(uri: str, doing: str) -> Iterator[None]:
    try:
        yield
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"the store at {_redact(uri)} failed while {doing}: {exc}") from exc


def _redact(uri: str) -> str:
    return sa.make_url(uri).render_as_string(hide_password=True) if "://" in uri else uri
