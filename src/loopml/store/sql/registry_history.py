"""The registry's audit history and events: one history row and one event per change, written
in the caller's transaction, so a change, its history and its event are kept or lost together."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from ...entities import Event, ModelChange
from . import schema as t

__all__ = ["Change", "add_event", "model_subject", "read_events", "read_history", "record"]


@dataclass(frozen=True, slots=True)
class Change:
    """What one change did; ``action`` is the event type too (``model_alias.set``)."""

    name: str
    action: str
    version: int | None = None
    field: str | None = None
    old: str | None = None
    new: str | None = None
    comment: str | None = None

    @property
    def subject(self) -> str:
        return model_subject(self.name, self.version)


def model_subject(name: str, version: int | None) -> str:
    """The subject of an event about a registered model or one of its versions."""
    return f"models:/{name}" if version is None else f"models:/{name}/{version}"


def record(
    conn: sa.Connection, change: Change, *, actor: str, now: int, extra: dict[str, Any] | None = None
) -> None:
    """Write the history row and the event of ``change`` in ``conn``'s transaction."""
    conn.execute(
        t.model_history.insert(),
        {
            "timestamp": now,
            "actor": actor,
            "name": change.name,
            "version": change.version,
            "action": change.action,
            "field": change.field,
            "old_value": change.old,
            "new_value": change.new,
            "comment": change.comment,
        },
    )
    payload = {
        "name": change.name,
        "version": change.version,
        "field": change.field,
        "old": change.old,
        "new": change.new,
        "comment": change.comment,
        "actor": actor,
        **(extra or {}),
    }
    add_event(conn, change.action, change.subject, payload, now=now)


def add_event(conn: sa.Connection, type: str, subject: str, payload: dict[str, Any], *, now: int) -> Event:
    """Append one event in ``conn``'s transaction."""
    done = conn.execute(
        t.events.insert(),
        {"type": type, "subject": subject, "payload": orjson.dumps(payload).decode(), "timestamp": now},
    )
    key = done.inserted_primary_key
    assert key is not None
    return Event(int(key[0]), type, subject, payload, now)


def read_history(conn: sa.Connection, name: str) -> list[ModelChange]:
    h = t.model_history.c
    found = conn.execute(sa.select(t.model_history).where(h.name == name).order_by(h.id)).all()
    return [
        ModelChange(
            id=r.id,
            timestamp=r.timestamp,
            actor=r.actor,
            name=r.name,
            version=r.version,
            action=r.action,
            field=r.field,
            old_value=r.old_value,
            new_value=r.new_value,
            comment=r.comment,
        )
        for r in found
    ]


def read_events(conn: sa.Connection, after_id: int, types: Sequence[str] | None, limit: int) -> list[Event]:
    e = t.events.c
    stmt = sa.select(t.events).where(e.id > after_id)
    if types:
        stmt = stmt.where(e.type.in_(list(types)))
    found = conn.execute(stmt.order_by(e.id).limit(limit)).all()
    return [Event(r.id, r.type, r.subject, orjson.loads(r.payload), r.timestamp) for r in found]
