"""Artifacts: the bytes of runs and models, stored under a root URI through fsspec.

Metadata (run ids, paths, digests) lives in the SQL store; the bytes live here, in a local
directory or any fsspec URL (``s3://``, ``gs://``, ``az://``, ``memory://``). Every artifact path
is checked by :func:`safe_relpath`, so no path can leave its root.

:class:`ArtifactStore` is imported on first use: loading a model from a local artifact root
only needs :mod:`.paths`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .paths import safe_relpath as safe_relpath

if TYPE_CHECKING:
    from .store import ArtifactStore as ArtifactStore

__all__ = ["ArtifactStore", "safe_relpath"]


def __getattr__(name: str) -> Any:
    if name == "ArtifactStore":
        from .store import ArtifactStore

        return ArtifactStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
