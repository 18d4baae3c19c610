"""SqlRegistry: registered models, versions, stages, aliases and tags on the SQL store.

Every change is one write transaction holding the change, its audit-history row and its
event (``registry_history.record``). Version numbers are computed inside that transaction
under the model row's lock (``SELECT ... FOR UPDATE`` on PostgreSQL, the database write lock
on SQLite), and ``(name, version)`` is the primary key, so two writers never share a number.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

from ...entities import Event, ModelChange, ModelStage, ModelVersion, PagedList, RegisteredModel
from ...errors import AlreadyExists, Conflict, InvalidInput, NotFound
from .. import validation as v
from . import registry_rows as rows
from . import schema as t
from .registry_history import Change, add_event, model_subject, read_events, read_history, record

if TYPE_CHECKING:
    from .registry_query import SearchSpec
    from .store import SqlStore

__all__ = ["MAX_REGISTRY_PAGE", "SqlRegistry"]

MAX_REGISTRY_PAGE = 10_000
T = TypeVar("T")
_m, _v, _a = t.registered_models.c, t.model_versions.c, t.model_aliases.c
_mt, _vt = t.registered_model_tags.c, t.model_version_tags.c


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _tag_rows(tags: dict[str, str] | None, **ids: Any) -> list[dict[str, Any]]:
    return [
        {**ids, "key": v.check_key(k, "tag key"), "value": v.tag_value(k, val)}
        for k, val in (tags or {}).items()
    ]


class SqlRegistry:
    """The RegistryStore protocol on a :class:`SqlStore`'s connections and write lock."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store

    # ---- helpers ----------------------------------------------------------------------------

    def _change(
        self, conn: sa.Connection, change: Change, actor: str, now: int | None = None, **extra: Any
    ) -> None:
        """Record ``change`` (history + event) and touch the model's and version's update time."""
        now = _now_ms() if now is None else now
        conn.execute(t.registered_models.update().where(_m.name == change.name).values(last_update_time=now))
        if change.version is not None:
            conn.execute(
                t.model_versions.update()
                .where(_v.name == change.name, _v.version == change.version)
                .values(last_update_time=now)
            )
        record(conn, change, actor=actor, now=now, extra=extra or None)

    def _model_row(self, conn: sa.Connection, name: str, *, lock: bool = False) -> Any:
        stmt = sa.select(t.registered_models).where(_m.name == name)
        row = conn.execute(stmt.with_for_update() if lock else stmt).first()
        if row is None:
            raise NotFound(f"no registered model named {name!r}", name=name)
        return row

    def _version_row(self, conn: sa.Connection, name: str, version: int) -> Any:
        row = conn.execute(sa.select(t.model_versions).where(_v.name == name, _v.version == version)).first()
        if row is None:
            self._model_row(conn, name)
            existing = conn.execute(
                sa.select(_v.version).where(_v.name == name).order_by(_v.version)
            ).scalars()
            listed = ", ".join(str(n) for n in existing) or "none yet"
            raise NotFound(
                f"registered model {name!r} has no version {version}; its versions: {listed}",
                name=name,
                version=version,
            )
        return row

    def _aliases(self, conn: sa.Connection, name: str, version: int | None = None) -> dict[str, int]:
        stmt = sa.select(_a.alias, _a.version).where(_a.name == name)
        if version is not None:
            stmt = stmt.where(_a.version == version)
        return {r.alias: r.version for r in conn.execute(stmt.order_by(_a.alias))}

    def _insert_model(self, conn: sa.Connection, name: str, description: str, actor: str) -> bool:
        """Insert the model row unless it exists; True when this call created it."""
        now = _now_ms()
        # RETURNING says whether a row went in (psycopg's rowcount does not, for ON CONFLICT DO NOTHING).
        stmt = self._store._insert(t.registered_models).on_conflict_do_nothing().returning(_m.name)
        row = {"name": name, "description": description, "creation_time": now, "last_update_time": now}
        if conn.execute(stmt, row).first() is None:
            return False
        record(conn, Change(name, "registered_model.created", new=name), actor=actor, now=now)
        return True

    # ---- registered models ----------------------------------------------------------------------

    def create_registered_model(
        self, name: str, *, description: str = "", tags: dict[str, str] | None = None, actor: str = ""
    ) -> RegisteredModel:
        name = v.check_model_name(name)
        tag_rows = _tag_rows(tags, name=name)
        with self._store._write("creating a registered model") as conn:
            if not self._insert_model(conn, name, description or "", actor):
                raise AlreadyExists(f"a registered model named {name!r} already exists", name=name)
            if tag_rows:
                conn.execute(t.registered_model_tags.insert(), tag_rows)
        return self.get_registered_model(name)

    def get_registered_model(self, name: str) -> RegisteredModel:
        with self._store._read("reading a registered model") as conn:
            return rows.load_models(conn, [self._model_row(conn, name)])[0]

    def update_registered_model(
        self, name: str, description: str, *, comment: str | None = None, actor: str = ""
    ) -> RegisteredModel:
        with self._store._write("updating a registered model") as conn:
            old = self._model_row(conn, name).description
            conn.execute(t.registered_models.update().where(_m.name == name).values(description=description))
            change = Change(
                name, "registered_model.description_updated", None, "description", old, description, comment
            )
            self._change(conn, change, actor)
        return self.get_registered_model(name)

    def delete_registered_model(self, name: str, *, force: bool = False, actor: str = "") -> None:
        with self._store._write("deleting a registered model") as conn:
            self._model_row(conn, name, lock=True)
            versions = conn.execute(
                sa.select(_v.version, _v.current_stage).where(_v.name == name).order_by(_v.version)
            ).all()
            aliases = self._aliases(conn, name)
            production = [r.version for r in versions if r.current_stage == ModelStage.PRODUCTION]
            if not force and (production or aliases):
                raise Conflict(
                    f"registered model {name!r} is in use ({_in_use(production, aliases)}); "
                    "move those away first or delete with force=True",
                    name=name,
                )
            for row in versions:
                self._delete_version(conn, name, row.version, actor)
            conn.execute(t.registered_model_tags.delete().where(_mt.name == name))
            conn.execute(t.registered_models.delete().where(_m.name == name))
            record(conn, Change(name, "registered_model.deleted", old=name), actor=actor, now=_now_ms())

    def set_registered_model_tag(self, name: str, key: str, value: str, *, actor: str = "") -> None:
        row: dict[str, Any] = {
            "name": name,
            "key": v.check_key(key, "tag key"),
            "value": v.tag_value(key, value),
        }
        with self._store._write("tagging a registered model") as conn:
            self._model_row(conn, name, lock=True)
            where = (_mt.name == name) & (_mt.key == key)
            old = conn.execute(sa.select(_mt.value).where(where)).scalar()
            conn.execute(t.registered_model_tags.delete().where(where))
            conn.execute(t.registered_model_tags.insert(), row)
            self._change(conn, Change(name, "registered_model.tag_set", None, key, old, row["value"]), actor)

    def delete_registered_model_tag(self, name: str, key: str, *, actor: str = "") -> None:
        with self._store._write("deleting a registered model tag") as conn:
            self._model_row(conn, name)
            where = (_mt.name == name) & (_mt.key == key)
            old = conn.execute(sa.select(_mt.value).where(where)).scalar()
            if old is None:
                raise NotFound(f"registered model {name!r} has no tag {key!r}", name=name, key=key)
            conn.execute(t.registered_model_tags.delete().where(where))
            self._change(conn, Change(name, "registered_model.tag_deleted", None, key, old, None), actor)

    def search_registered_models(
        self,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        from .registry_query import MODELS

        return self._search(MODELS, filter_string, order_by, max_results, page_token, rows.load_models)

    def _search(
        self,
        spec: SearchSpec,
        filter_string: str | None,
        order_by: Sequence[str] | None,
        max_results: int,
        token: str | None,
        load: Callable[[sa.Connection, Sequence[Any]], list[T]],
    ) -> PagedList[T]:
        from ..paging import decode_page_token, encode_page_token
        from .registry_query import search_query

        if not 1 <= v.integer("max_results", max_results) <= MAX_REGISTRY_PAGE:
            raise InvalidInput(f"max_results must be between 1 and {MAX_REGISTRY_PAGE}, got {max_results}")
        expr, keys = spec.parse(filter_string, order_by)
        offset = decode_page_token(token)
        with self._store._read("searching the model registry") as conn:
            found = conn.execute(search_query(spec, expr, keys, offset, max_results + 1)).all()
            page = load(conn, found[:max_results])
        return PagedList(page, encode_page_token(offset + max_results) if len(found) > max_results else None)

    # ---- versions ----------------------------------------------------------------------------------

    def create_model_version(
        self,
        name: str,
        source: str,
        storage_location: str,
        *,
        run_id: str | None = None,
        tags: dict[str, str] | None = None,
        description: str = "",
        actor: str = "",
    ) -> ModelVersion:
        name = v.check_model_name(name)
        tag_rows = _tag_rows(tags, name=name)
        with self._store._write("registering a model version") as conn:
            self._insert_model(conn, name, "", actor)
            self._model_row(conn, name, lock=True)  # serializes version numbers of this model
            version = (
                int(conn.execute(sa.select(sa.func.max(_v.version)).where(_v.name == name)).scalar() or 0) + 1
            )
            now = _now_ms()
            conn.execute(
                t.model_versions.insert(),
                {
                    "name": name,
                    "version": version,
                    "description": description or "",
                    "source": source,
                    "storage_location": storage_location,
                    "run_id": run_id,
                    "current_stage": ModelStage.NONE.value,
                    "user_id": actor,
                    "creation_time": now,
                    "last_update_time": now,
                },
            )
            if tag_rows:
                conn.execute(t.model_version_tags.insert(), [{**r, "version": version} for r in tag_rows])
            change = Change(name, "model_version.created", version, new=str(version))
            self._change(
                conn, change, actor, now, source=source, storage_location=storage_location, run_id=run_id
            )
        return self.get_model_version(name, version)

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        number = v.model_version(version)
        with self._store._read("reading a model version") as conn:
            return rows.load_versions(conn, [self._version_row(conn, name, number)])[0]

    def update_model_version(
        self, name: str, version: int, description: str, *, comment: str | None = None, actor: str = ""
    ) -> ModelVersion:
        number = v.model_version(version)
        with self._store._write("updating a model version") as conn:
            old = self._version_row(conn, name, number).description
            conn.execute(
                t.model_versions.update()
                .where(_v.name == name, _v.version == number)
                .values(description=description)
            )
            change = Change(
                name, "model_version.description_updated", number, "description", old, description, comment
            )
            self._change(conn, change, actor)
        return self.get_model_version(name, number)

    def delete_model_version(self, name: str, version: int, *, force: bool = False, actor: str = "") -> None:
        number = v.model_version(version)
        with self._store._write("deleting a model version") as conn:
            row = self._version_row(conn, name, number)
            aliases = self._aliases(conn, name, number)
            production = [number] if row.current_stage == ModelStage.PRODUCTION else []
            if not force and (production or aliases):
                raise Conflict(
                    f"version {number} of {name!r} is in use ({_in_use(production, aliases)}); "
                    "move it away first or delete with force=True",
                    name=name,
                    version=number,
                )
            self._delete_version(conn, name, number, actor)

    def _delete_version(self, conn: sa.Connection, name: str, version: int, actor: str) -> None:
        for alias in self._aliases(conn, name, version):
            conn.execute(t.model_aliases.delete().where(_a.name == name, _a.alias == alias))
            self._change(conn, Change(name, "model_alias.deleted", version, alias, str(version), None), actor)
        conn.execute(t.model_version_tags.delete().where(_vt.name == name, _vt.version == version))
        conn.execute(t.model_versions.delete().where(_v.name == name, _v.version == version))
        self._change(conn, Change(name, "model_version.deleted", version, old=str(version)), actor)

    def set_model_version_tag(
        self, name: str, version: int, key: str, value: str, *, actor: str = ""
    ) -> None:
        number = v.model_version(version)
        row: dict[str, Any] = {
            "name": name,
            "version": number,
            "key": v.check_key(key, "tag key"),
            "value": v.tag_value(key, value),
        }
        with self._store._write("tagging a model version") as conn:
            self._model_row(conn, name, lock=True)
            self._version_row(conn, name, number)
            where = (_vt.name == name) & (_vt.version == number) & (_vt.key == key)
            old = conn.execute(sa.select(_vt.value).where(where)).scalar()
            conn.execute(t.model_version_tags.delete().where(where))
            conn.execute(t.model_version_tags.insert(), row)
            self._change(conn, Change(name, "model_version.tag_set", number, key, old, row["value"]), actor)

    def delete_model_version_tag(self, name: str, version: int, key: str, *, actor: str = "") -> None:
        number = v.model_version(version)
        with self._store._write("deleting a model version tag") as conn:
            self._version_row(conn, name, number)
            where = (_vt.name == name) & (_vt.version == number) & (_vt.key == key)
            old = conn.execute(sa.select(_vt.value).where(where)).scalar()
            if old is None:
                raise NotFound(f"version {number} of {name!r} has no tag {key!r}", name=name, key=key)
            conn.execute(t.model_version_tags.delete().where(where))
            self._change(conn, Change(name, "model_version.tag_deleted", number, key, old, None), actor)

    def get_latest_versions(self, name: str, stages: Sequence[str] | None = None) -> list[ModelVersion]:
        wanted = {ModelStage.parse(s) for s in stages} if stages else set(ModelStage)
        with self._store._read("reading the latest model versions") as conn:
            self._model_row(conn, name)
            found = [r for r in rows.latest_version_rows(conn, [name]) if r.current_stage in wanted]
            return rows.load_versions(conn, found)

    def search_model_versions(
        self,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        from .registry_query import VERSIONS

        return self._search(VERSIONS, filter_string, order_by, max_results, page_token, rows.load_versions)

    # ---- stages and aliases -------------------------------------------------------------------------

    def transition_model_version_stage(
        self,
        name: str,
        version: int,
        stage: str,
        *,
        archive_existing_versions: bool = False,
        comment: str | None = None,
        actor: str = "",
    ) -> ModelVersion:
        number, target = v.model_version(version), ModelStage.parse(stage)
        if archive_existing_versions and target not in (ModelStage.STAGING, ModelStage.PRODUCTION):
            raise InvalidInput(
                f"archive_existing_versions applies to Staging and Production only, not {target.value}",
                stage=target.value,
            )
        with self._store._write("transitioning a model version") as conn:
            self._model_row(conn, name, lock=True)
            old = self._version_row(conn, name, number).current_stage
            self._set_stage(conn, name, number, old, target, comment, actor)
            if archive_existing_versions:
                others = conn.execute(
                    sa.select(_v.version).where(
                        _v.name == name, _v.current_stage == target.value, _v.version != number
                    )
                ).scalars()
                note = f"archived because version {number} moved to {target.value}"
                for other in list(others):
                    self._set_stage(conn, name, other, target.value, ModelStage.ARCHIVED, note, actor)
        return self.get_model_version(name, number)

    def _set_stage(
        self,
        conn: sa.Connection,
        name: str,
        version: int,
        old: str,
        new: ModelStage,
        comment: str | None,
        actor: str,
    ) -> None:
        conn.execute(
            t.model_versions.update()
            .where(_v.name == name, _v.version == version)
            .values(current_stage=new.value)
        )
        change = Change(
            name, "model_version.stage_transitioned", version, "current_stage", old, new.value, comment
        )
        self._change(conn, change, actor)

    def set_registered_model_alias(
        self, name: str, alias: str, version: int, *, comment: str | None = None, actor: str = ""
    ) -> None:
        alias, number = v.check_alias(alias), v.model_version(version)
        with self._store._write("setting a model alias") as conn:
            self._model_row(conn, name, lock=True)  # one writer per model: delete + insert cannot race
            self._version_row(conn, name, number)
            old = self._aliases(conn, name).get(alias)
            conn.execute(t.model_aliases.delete().where(_a.name == name, _a.alias == alias))
            conn.execute(t.model_aliases.insert(), {"name": name, "alias": alias, "version": number})
            change = Change(
                name,
                "model_alias.set",
                number,
                alias,
                None if old is None else str(old),
                str(number),
                comment,
            )
            self._change(conn, change, actor)

    def delete_registered_model_alias(self, name: str, alias: str, *, actor: str = "") -> None:
        with self._store._write("deleting a model alias") as conn:
            self._model_row(conn, name)
            aliases = self._aliases(conn, name)
            if alias not in aliases:
                raise _no_alias(name, alias, aliases)
            conn.execute(t.model_aliases.delete().where(_a.name == name, _a.alias == alias))
            old = aliases[alias]
            self._change(conn, Change(name, "model_alias.deleted", old, alias, str(old), None), actor)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        with self._store._read("reading a model alias") as conn:
            self._model_row(conn, name)
            aliases = self._aliases(conn, name)
            if alias not in aliases:
                raise _no_alias(name, alias, aliases)
            return rows.load_versions(conn, [self._version_row(conn, name, aliases[alias])])[0]

    # ---- history and events ---------------------------------------------------------------------------

    def get_model_history(self, name: str) -> list[ModelChange]:
        with self._store._read("reading a model's history") as conn:
            changes = read_history(conn, name)
        if not changes:
            raise NotFound(f"no registered model named {name!r} has any history", name=name)
        return changes

    def get_events(
        self, after_id: int = 0, types: Sequence[str] | None = None, limit: int = 1000
    ) -> list[Event]:
        after, count = v.integer("after_id", after_id), v.integer("limit", limit)
        if not 1 <= count <= MAX_REGISTRY_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_REGISTRY_PAGE}, got {limit}")
        with self._store._read("reading events") as conn:
            return read_events(conn, after, types, count)

    def add_model_event(
        self,
        name: str,
        type: str,
        payload: Mapping[str, Any],
        *,
        version: int | None = None,
        actor: str = "",
    ) -> Event:
        kind, body = v.event_type(type), v.event_payload(payload)
        number = None if version is None else v.model_version(version)
        with self._store._write("adding a model event") as conn:
            self._model_row(conn, name)
            if number is not None:
                self._version_row(conn, name, number)
            return add_event(conn, kind, model_subject(name, number), {**body, "actor": actor}, now=_now_ms())


def _in_use(production: list[int], aliases: dict[str, int]) -> str:
    parts = [f"version {n} is in Production" for n in production]
    parts += [f"alias {a!r} points at version {n}" for a, n in aliases.items()]
    return "; ".join(parts)


def _no_alias(name: str, alias: str, aliases: dict[str, int]) -> NotFound:
    listed = ", ".join(aliases) or "none"
    return NotFound(
        f"registered model {name!r} has no alias {alias!r}; its aliases: {listed}", name=name, alias=alias
    )
