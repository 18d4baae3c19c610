"""The prepared statements fed with tuples take their parameters in the order the tuples are built."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from loopml.store.sql import orchestration_rows as rows
from loopml.store.sql.metric_blocks import BLOCK_COLUMNS
from loopml.store.sql.orchestration import WriteStatements
from loopml.store.sql.statements import METRIC_COLUMNS, Statements


@pytest.mark.parametrize("url", ["sqlite://", "postgresql+psycopg://"])
def test_tuple_fed_statements_take_their_columns_in_order(url: str) -> None:
    dialect = sa.create_engine(
        url, paramstyle="format" if "postgres" in url else None
    ).dialect  # as the store
    sql = Statements(dialect)  # type: ignore[arg-type]
    assert sql.insert_metric.parameters == METRIC_COLUMNS
    assert sql.upsert_latest.parameters == METRIC_COLUMNS
    assert sql.insert_block.parameters == BLOCK_COLUMNS
    write = WriteStatements(dialect)  # type: ignore[arg-type]
    assert write.upsert_task_run.parameters == rows.TASK_RUN_COLUMNS
    assert write.insert_log.parameters == rows.LOG_COLUMNS
    assert write.insert_artifact.parameters == rows.ARTIFACT_COLUMNS


def test_statements_compile_when_first_used() -> None:
    sql = Statements(sqlite.dialect())
    assert sql.history.sql == ""  # nothing compiled when the store opens
    assert sql.history.parameters == ("run_id", "key")
    assert sql.history.sql.startswith("SELECT metrics.value")
