from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from loopml import Client, SchemaOutdated
from loopml.store.sql.engine import sqlalchemy_url
from loopml.store.sql.migration import MIGRATIONS_DIR, VERSION_TABLE, current_revision, upgrade
from loopml.store.sql.schema import SCHEMA_REVISION, metadata


def test_code_expects_the_newest_migration() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_REVISION


def _diffs(uri: str) -> list:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = sa.create_engine(sqlalchemy_url(uri))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_sqlite_store_creates_its_schema(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert current_revision(uri) is None
    Client(tracking_uri=uri).close()
    assert current_revision(uri) == SCHEMA_REVISION
    assert _diffs(uri) == []


def test_postgres_refuses_an_empty_schema_until_upgraded(postgres_url: str) -> None:
    with pytest.raises(SchemaOutdated, match="loopml db upgrade"):
        Client(tracking_uri=postgres_url)
    assert upgrade(postgres_url) == (None, SCHEMA_REVISION)
    assert upgrade(postgres_url) == (SCHEMA_REVISION, SCHEMA_REVISION)
    assert _diffs(postgres_url) == []
    client = Client(tracking_uri=postgres_url)
    assert client.create_experiment("works")
    client.close()


def test_postgres_refuses_an_older_schema(postgres_url: str) -> None:
    upgrade(postgres_url)
    engine = sa.create_engine(sqlalchemy_url(postgres_url))
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = '0000'"))
    engine.dispose()
    with pytest.raises(SchemaOutdated, match="schema revision 0000"):
        Client(tracking_uri=postgres_url)
