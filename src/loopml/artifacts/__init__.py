"""Artifacts: the bytes of runs and models, stored under a root URI through fsspec.

Metadata (run ids, paths, digests) lives in the SQL store; the bytes live here, in a local
directory or any fsspec URL (``s3://``, ``gs://``, ``az://``, ``memory://``). Every artifact path
is checked by :func:`safe_relpath`, so no path can leave its root.
"""

from .paths import safe_relpath as safe_relpath
from .store import ArtifactStore as ArtifactStore

__all__ = ["ArtifactStore", "safe_relpath"]
