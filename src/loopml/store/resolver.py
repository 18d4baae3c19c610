"""Choosing the Store implementation from a tracking URI's scheme."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import InvalidInput

if TYPE_CHECKING:
    from .base import Store

SQL_SCHEMES = ("sqlite", "postgresql", "postgres", "postgresql+psycopg")
HTTP_SCHEMES = ("http", "https")


def scheme_of(uri: str) -> str:
    if "://" not in uri:
        raise InvalidInput(
            f"tracking URI {uri!r} has no scheme; use sqlite:///path/to/loopml.db or postgresql://host/db",
            uri=uri,
        )
    return uri.split("://", 1)[0].lower()


def open_store(
    uri: str,
    *,
    busy_timeout_s: float = 60.0,
    auto_upgrade: bool | None = None,
    token: str | None = None,
) -> Store:
    """The Store for ``uri``: ``sqlite:///...`` and ``postgresql://...`` (a SqlStore), or
    ``http(s)://host:port``, a loopml server (an HttpStore sending ``token``, default the
    ``LOOPML_TRACKING_TOKEN`` setting)."""
    scheme = scheme_of(uri)
    if scheme in SQL_SCHEMES:
        from .sql.store import SqlStore

        return SqlStore(uri, busy_timeout_s=busy_timeout_s, auto_upgrade=auto_upgrade)
    if scheme in HTTP_SCHEMES:
        from .http.store import HttpStore

        return HttpStore(uri, token=token)
    raise InvalidInput(
        f"unsupported tracking URI scheme {scheme!r} in {uri!r}; "
        "supported: sqlite://, postgresql://, http(s):// (a loopml server)",
        uri=uri,
    )
