"""Module-level registry functions: what ``loopml.register_model`` and ``load_model`` call.

Without ``client`` they use the fluent API's client (``LOOPML_TRACKING_URI`` / ``set_tracking_uri``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..entities import ModelVersion

if TYPE_CHECKING:
    from ..tracking.client import Client

__all__ = ["register_model", "resolve_model_uri"]


def _client_or_default(client: Client | None) -> Client:
    if client is not None:
        return client
    from ..tracking.fluent import _client

    return _client()


def register_model(
    model_uri: str,
    name: str,
    *,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
    client: Client | None = None,
) -> ModelVersion:
    """Register ``model_uri`` as a new version of the model ``name`` (created when missing).

    ``runs:/<run_id>/<path>`` stores the run id and resolves the files' location (the run's
    artifact URI + path) now, so loading the version never needs the run again; a ``models:/``
    URI registers the same files again; any other URI or path is stored as is.
    """
    registry = _client_or_default(client).registry
    return registry.register_model(model_uri, name, tags=tags, description=description)


def resolve_model_uri(uri: str, client: Client | None = None) -> str:
    """The storage location of the version ``uri`` names: ``models:/<name>/<version>``,
    ``models:/<name>@<alias>``, ``models:/<name>/<Stage>`` (the newest version in that stage)
    or ``models:/<name>/latest``. Unknown names, versions, aliases and stages raise NotFound or
    InvalidInput listing what exists."""
    return _client_or_default(client).registry.resolve_model_uri(uri)
