"""Finding a model directory from a URI, and loading it.

``runs:/<run_id>/<path>`` reads the run's artifact root (in place when it is local, else it is
downloaded); ``models:/...`` is resolved by the model registry; a local path or ``file://`` URL
is read in place; any other fsspec URL (``s3://``, ``gs://``, ...) and a ``loopml-artifacts:/``
URI (through the tracking server) is downloaded to a temporary directory, removed when the
LoadedModel is garbage-collected.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..artifacts.uris import is_server_uri
from ..errors import InvalidInput, NotFound
from .descriptor import ModelDescriptor, read_descriptor, verify
from .flavor import get_flavor
from .loaded_model import LoadedModel
from .signature import ExtraColumns

if TYPE_CHECKING:
    from ..tracking.client import Client

__all__ = ["load_from_uri", "local_path", "parse_runs_uri"]


def load_from_uri(uri: str, *, extra_columns: ExtraColumns, check: bool) -> LoadedModel:
    import shutil

    model_dir, temporary = fetch(uri)
    try:
        loaded = load_dir(model_dir, extra_columns=extra_columns, check=check)
    except BaseException:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
        raise
    if temporary is not None:
        import weakref

        weakref.finalize(loaded, shutil.rmtree, temporary, True)
    return loaded


def load_dir(model_dir: Path, *, extra_columns: ExtraColumns, check: bool) -> LoadedModel:
    descriptor = read_descriptor(model_dir)
    if check:
        verify(model_dir, descriptor)
    _add_code_dir(model_dir, descriptor)
    flavor = get_flavor(descriptor.flavor, descriptor.loader_module)
    predictor = flavor.load(model_dir, descriptor.flavor_config)
    return LoadedModel(predictor, descriptor, str(model_dir), extra_columns=extra_columns)


def fetch(uri: str) -> tuple[Path, str | None]:
    """(the local model directory, the temporary directory to remove later or None)."""
    if uri.startswith("models:"):
        uri = _resolve_registry_uri(uri)
    if uri.startswith("runs:"):
        return _fetch_run_artifact(uri)
    local = local_path(uri)
    if local is not None:
        return Path(local), None
    return _download(uri, "")


def local_path(uri: str) -> str | None:
    """The local path a URI names (a plain path or ``file://``), or None for other schemes."""
    if uri.startswith("file://"):
        return os.path.abspath(uri[len("file://") :])
    if "://" in uri or is_server_uri(uri):
        return None
    return os.path.abspath(os.path.expanduser(uri))


def parse_runs_uri(uri: str) -> tuple[str, str]:
    """``runs:/<run_id>/<path>`` -> (run_id, path)."""
    from ..artifacts.paths import safe_relpath

    body = uri[len("runs:") :].lstrip("/")
    run_id, _, path = body.partition("/")
    rel = safe_relpath(path, what="model path") if path else ""
    if not run_id or not rel:
        raise InvalidInput(
            f"invalid runs URI {uri!r}: use runs:/<run_id>/<path>, e.g. runs:/4f2c.../model", uri=uri
        )
    return run_id, rel


def _resolve_registry_uri(uri: str) -> str:
    from ..registry.api import resolve_model_uri

    resolved = str(resolve_model_uri(uri))
    if resolved.startswith("models:"):
        raise InvalidInput(f"the registry resolved {uri!r} to another models:/ URI ({resolved!r})", uri=uri)
    return resolved


def _fetch_run_artifact(uri: str) -> tuple[Path, str | None]:
    from ..tracking.fluent import _client

    run_id, rel = parse_runs_uri(uri)
    client = _client()
    root = client.get_run(run_id).info.artifact_uri
    local = local_path(root)
    if local is not None:
        model_dir = Path(local, *rel.split("/"))
        if not model_dir.exists():
            raise NotFound(f"run {run_id} has no artifact {rel!r} (from {uri!r})", run_id=run_id, path=rel)
        return model_dir, None
    return _download(root, rel, client)


def _download(root: str, rel: str, client: Client | None = None) -> tuple[Path, str]:
    """Copy ``rel`` under the fsspec URL ``root`` to a new temporary directory (a
    ``loopml-artifacts:/`` root through ``client``'s server, by default the fluent API's)."""
    import shutil
    import tempfile

    from ..artifacts.store import ArtifactStore

    if client is None and is_server_uri(root):
        from ..tracking.fluent import _client

        client = _client()
    temporary = tempfile.mkdtemp(prefix="loopml-model-")
    try:
        store = ArtifactStore(root) if client is None else client.artifacts_at(root)
        downloaded = store.download(rel, temporary)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return Path(downloaded), temporary


def _add_code_dir(model_dir: Path, descriptor: ModelDescriptor) -> None:
    if not descriptor.code_dir:
        return
    from ..artifacts.paths import safe_relpath

    code = str(model_dir / safe_relpath(descriptor.code_dir, what="code directory"))
    if code not in sys.path:
        sys.path.insert(0, code)
