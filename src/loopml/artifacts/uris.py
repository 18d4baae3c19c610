"""``loopml-artifacts:/`` URIs: artifacts kept by a loopml server and reached through its REST API.

A run created through a loopml server (``LOOPML_TRACKING_URI=http://host:port``) gets an artifact
URI such as ``loopml-artifacts:/<experiment id>/<run id>/artifacts``. The path is relative to the
server's ``--artifacts-destination``; the client resolves it against its tracking server (like
MLflow's ``mlflow-artifacts:/``), so the bytes travel through the server and a client never needs
the credentials or the paths of the storage behind it.

This module only names and parses those URIs (no import cost); the filesystem that streams them
over HTTP is :mod:`loopml.artifacts.proxy`.
"""

from __future__ import annotations

from .paths import safe_relpath

__all__ = ["SERVER_ROOT", "SERVER_SCHEME", "SHA256_HEADER", "is_server_uri", "server_path"]

#: The scheme of artifacts served by a loopml server.
SERVER_SCHEME = "loopml-artifacts"
#: The artifact root a client on a loopml server uses by default: every experiment's location is
#: ``loopml-artifacts:/<experiment id>``.
SERVER_ROOT = f"{SERVER_SCHEME}:/"
#: The header carrying a file's sha256 (lowercase hex) both ways: the uploader's digest on
#: ``PUT /api/v1/artifacts/...``, the stored digest (when known) on ``GET``.
SHA256_HEADER = "X-Loopml-Sha256"


def is_server_uri(uri: str) -> bool:
    """Whether ``uri`` names artifacts kept by a loopml server (``loopml-artifacts:...``)."""
    return uri.startswith(f"{SERVER_SCHEME}:")


def server_path(uri: str) -> str:
    """The path of a ``loopml-artifacts:/a/b`` URI under the server's destination (``'a/b'``).

    ``loopml-artifacts:/a/b`` and ``loopml-artifacts:///a/b`` are the same; the path passes
    :func:`~loopml.artifacts.paths.safe_relpath`.
    """
    body = uri[len(SERVER_SCHEME) + 1 :] if is_server_uri(uri) else uri
    return safe_relpath(body.lstrip("/"), what=f"path of the artifact URI {uri!r}")
