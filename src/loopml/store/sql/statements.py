"""Every statement of the store's hot paths, built with Core and compiled once per dialect."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from . import schema as t
from .metric_blocks import BLOCK_COLUMNS
from .prepared import Prepared

METRIC_COLUMNS = ("run_id", "key", "value", "step", "timestamp")


def _binds(table: sa.Table, names: tuple[str, ...]) -> dict[str, Any]:
    return {n: sa.bindparam(n, type_=table.c[n].type) for n in names}


def _latest_upsert(insert: Any) -> Any:
    """Insert-or-update of a latest value that only moves forward in (step, timestamp)."""
    stmt = insert(t.latest_metrics).values(_binds(t.latest_metrics, METRIC_COLUMNS))
    new, old = stmt.excluded, t.latest_metrics.c
    return stmt.on_conflict_do_update(
        index_elements=["run_id", "key"],
        set_={"value": new.value, "step": new.step, "timestamp": new.timestamp},
        where=(new.step > old.step) | ((new.step == old.step) & (new.timestamp >= old.timestamp)),
    )


def _writable_metric_insert() -> Any:
    """Insert one history point only if its run exists, is active and RUNNING (rowcount says)."""
    r = t.runs.c
    source = sa.select(*_binds(t.metrics, METRIC_COLUMNS).values()).where(
        sa.exists().where(
            r.run_id == sa.bindparam("run_id"), r.status == "RUNNING", r.lifecycle_stage == "active"
        )
    )
    return sa.insert(t.metrics).from_select(list(METRIC_COLUMNS), source)


class Statements:
    """The prepared statements of one dialect."""

    def __init__(self, dialect: sa.Dialect) -> None:
        if dialect.name == "sqlite":
            insert: Any = sqlite.insert
        else:
            from sqlalchemy.dialects import postgresql  # imported only for PostgreSQL stores

            insert = postgresql.insert
        r, m, p = t.runs.c, t.metrics.c, t.params.c
        run_id: sa.BindParameter[str] = sa.bindparam("run_id")

        def prep(statement: Any) -> Prepared:
            return Prepared(statement, dialect)

        self.run_state = prep(sa.select(r.status, r.lifecycle_stage).where(r.run_id == run_id))
        self.experiment_for_run = prep(
            sa.select(t.experiments.c.lifecycle_stage, t.experiments.c.artifact_location).where(
                t.experiments.c.experiment_id == sa.bindparam("experiment_id")
            )
        )
        self.insert_run = prep(sa.insert(t.runs).values(_binds(t.runs, tuple(c.name for c in t.runs.c))))
        self.set_status = prep(
            sa.update(t.runs)
            .where(r.run_id == run_id)
            .values(status=sa.bindparam("status"), end_time=sa.bindparam("end_time", type_=r.end_time.type))
        )
        self.run_params = prep(sa.select(p.key, p.value).where(p.run_id == run_id))
        self.insert_param = prep(
            insert(t.params).values(_binds(t.params, ("run_id", "key", "value"))).on_conflict_do_nothing()
        )
        tag_insert = insert(t.tags).values(_binds(t.tags, ("run_id", "key", "value")))
        self.upsert_tag = prep(
            tag_insert.on_conflict_do_update(
                index_elements=["run_id", "key"], set_={"value": tag_insert.excluded.value}
            )
        )
        self.insert_metric = prep(sa.insert(t.metrics).inline().values(_binds(t.metrics, METRIC_COLUMNS)))
        self.insert_metric_if_writable = prep(_writable_metric_insert())
        self.upsert_latest = prep(_latest_upsert(insert))
        history = sa.select(m.value, m.step, m.timestamp).where(
            m.run_id == run_id, m.key == sa.bindparam("key")
        )
        self.history = prep(history.order_by(m.step, m.timestamp, m.id))
        self.history_with_ids = prep(history.add_columns(m.id).order_by(m.step, m.timestamp, m.id))
        self.last_metric_id = prep(sa.select(sa.func.max(m.id)))
        b = t.metric_blocks.c
        self.insert_block = prep(
            sa.insert(t.metric_blocks).inline().values(_binds(t.metric_blocks, BLOCK_COLUMNS))
        )
        self.history_blocks = prep(
            sa.select(b.step_data, b.timestamp_data, b.value_data, b.after_id)
            .where(b.run_id == run_id, b.key == sa.bindparam("key"))
            .order_by(b.id)
        )
