"""Registry rows turned into entities, with the bulk reads of their tags and aliases."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from ...entities import ModelStage, ModelVersion, RegisteredModel
from . import schema as t

_STAGES = {s.value: s for s in ModelStage}
_v = t.model_versions.c


def load_versions(conn: sa.Connection, found: Sequence[Any]) -> list[ModelVersion]:
    """Versions of the rows of ``model_versions``, with their tags and aliases (two reads)."""
    if not found:
        return []
    names = sorted({r.name for r in found})
    tags: dict[tuple[str, int], dict[str, str]] = defaultdict(dict)
    vt = t.model_version_tags.c
    for tag in conn.execute(sa.select(vt.name, vt.version, vt.key, vt.value).where(vt.name.in_(names))):
        tags[(tag.name, tag.version)][tag.key] = tag.value
    aliases: dict[tuple[str, int], list[str]] = defaultdict(list)
    a = t.model_aliases.c
    stmt = sa.select(a.name, a.version, a.alias).where(a.name.in_(names)).order_by(a.alias)
    for alias in conn.execute(stmt):
        aliases[(alias.name, alias.version)].append(alias.alias)
    return [
        ModelVersion(
            name=r.name,
            version=r.version,
            source=r.source,
            storage_location=r.storage_location,
            run_id=r.run_id,
            current_stage=_STAGES[r.current_stage],
            description=r.description,
            creation_time=r.creation_time,
            last_update_time=r.last_update_time,
            user_id=r.user_id,
            tags=tags.get((r.name, r.version), {}),
            aliases=tuple(aliases.get((r.name, r.version), ())),
        )
        for r in found
    ]


def latest_version_rows(conn: sa.Connection, names: Sequence[str]) -> list[Any]:
    """For each model, the newest version of each stage that has one."""
    newest = (
        sa.select(_v.name, _v.current_stage, sa.func.max(_v.version).label("version"))
        .where(_v.name.in_(list(names)))
        .group_by(_v.name, _v.current_stage)
        .subquery()
    )
    stmt = (
        sa.select(t.model_versions)
        .join(newest, (newest.c.name == _v.name) & (newest.c.version == _v.version))
        .order_by(_v.name, _v.version)
    )
    return list(conn.execute(stmt).all())


def load_models(conn: sa.Connection, found: Sequence[Any]) -> list[RegisteredModel]:
    """Registered models of ``registered_models`` rows, with tags, aliases and latest versions."""
    if not found:
        return []
    names = [r.name for r in found]
    tags: dict[str, dict[str, str]] = defaultdict(dict)
    mt = t.registered_model_tags.c
    for tag in conn.execute(sa.select(mt.name, mt.key, mt.value).where(mt.name.in_(names))):
        tags[tag.name][tag.key] = tag.value
    aliases: dict[str, dict[str, int]] = defaultdict(dict)
    a = t.model_aliases.c
    stmt = sa.select(a.name, a.alias, a.version).where(a.name.in_(names)).order_by(a.alias)
    for alias in conn.execute(stmt):
        aliases[alias.name][alias.alias] = alias.version
    latest: dict[str, list[ModelVersion]] = defaultdict(list)
    for version in load_versions(conn, latest_version_rows(conn, names)):
        latest[version.name].append(version)
    return [
        RegisteredModel(
            name=r.name,
            description=r.description,
            creation_time=r.creation_time,
            last_update_time=r.last_update_time,
            tags=tags.get(r.name, {}),
            aliases=aliases.get(r.name, {}),
            latest_versions=tuple(latest.get(r.name, ())),
        )
        for r in found
    ]
