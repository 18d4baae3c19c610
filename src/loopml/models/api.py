"""save_model, log_model, load_model: the public face of model packaging.

Nothing heavy is imported here: scikit-learn, pandas and cloudpickle load when a model that
needs them is saved or loaded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import AlreadyExists, InvalidInput
from .signature import ExtraColumns, ModelSignature

if TYPE_CHECKING:
    from ..tracking.client import Client
    from .descriptor import ModelDescriptor
    from .environment import Requirements
    from .flavor import Flavor
    from .loaded_model import LoadedModel
    from .saving import SaveOptions

# The modules doing the work are imported by the functions: ``import loopml`` stays light.

__all__ = ["ModelInfo", "load_model", "log_model", "save_model"]


@dataclass(frozen=True)
class ModelInfo:
    """Where a saved or logged model is and what it is.

    ``model_uri`` loads it back (``runs:/<run_id>/<name>`` for a logged model, the directory or
    URL for a saved one). ``registered_model_version`` is what the registry returned when
    ``registered_model_name`` was given.
    """

    model_uri: str
    run_id: str | None
    artifact_path: str | None
    flavor: str
    signature: ModelSignature | None
    metadata: ModelDescriptor
    registered_model_version: Any = None


def save_model(
    model: Any,
    path: str | os.PathLike[str],
    *,
    flavor: str | Flavor | None = None,
    input_example: Any = None,
    signature: ModelSignature | None = None,
    pip_requirements: Requirements | None = None,
    extra_pip_requirements: Requirements | None = None,
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    metadata: Mapping[str, Any] | None = None,
    artifacts: Mapping[str, str | os.PathLike[str]] | None = None,
    training_data: Any = None,
) -> ModelInfo:
    """Write ``model`` into a new directory ``path`` (a local path or any fsspec URL).

    The flavor is detected unless given. ``input_example`` (a DataFrame, records or a dict of
    columns) is stored and, without ``signature``, gives the signature. ``training_data`` stores
    its reference profile with the model (see docs/monitoring.md). See docs/models.md.
    """
    from .loading import local_path
    from .saving import SaveOptions, save_to_dir

    options = SaveOptions(
        flavor,
        input_example,
        signature,
        pip_requirements,
        extra_pip_requirements,
        code_paths,
        metadata,
        artifacts,
        training_data,
    )
    target = os.fspath(path)
    local = local_path(target)
    if local is None:
        return _save_remote(model, target, options)
    model_dir = Path(local)
    if model_dir.exists() and (not model_dir.is_dir() or any(model_dir.iterdir())):
        raise AlreadyExists(
            f"{local!r} already exists and is not an empty directory; choose a new path", path=local
        )
    created = not model_dir.exists()
    try:
        descriptor = save_to_dir(model, model_dir, options)
    except BaseException:
        _remove(model_dir, whole=created)
        raise
    return ModelInfo(local, None, None, descriptor.flavor, descriptor.signature, descriptor)


def log_model(
    model: Any,
    name: str,
    *,
    flavor: str | Flavor | None = None,
    input_example: Any = None,
    signature: ModelSignature | None = None,
    pip_requirements: Requirements | None = None,
    extra_pip_requirements: Requirements | None = None,
    code_paths: Sequence[str | os.PathLike[str]] | None = None,
    metadata: Mapping[str, Any] | None = None,
    artifacts: Mapping[str, str | os.PathLike[str]] | None = None,
    registered_model_name: str | None = None,
    run_id: str | None = None,
    training_data: Any = None,
) -> ModelInfo:
    """Save ``model`` as the artifact directory ``name`` of a run; returns its :class:`ModelInfo`.

    The run is ``run_id``, else the active run (one is started when none is). With
    ``registered_model_name`` the model is also registered under that name. With
    ``training_data`` (a DataFrame, a monitoring ``Profile``, or a path/URL of Parquet, CSV or
    JSON Lines) its reference profile is stored in the model directory, for drift monitoring.
    """
    import tempfile

    from ..artifacts.paths import safe_relpath
    from .saving import SaveOptions, save_to_dir

    artifact_path = safe_relpath(name, what="model name")
    if not artifact_path:
        raise InvalidInput(f"model name {name!r} is empty; give a name such as 'model'", name=str(name))
    register = _register_function() if registered_model_name is not None else None
    options = SaveOptions(
        flavor,
        input_example,
        signature,
        pip_requirements,
        extra_pip_requirements,
        code_paths,
        metadata,
        artifacts,
        training_data,
    )
    client, run_id = _target_run(run_id)
    store = client.artifact_store(run_id)
    if store.exists(artifact_path):
        raise AlreadyExists(
            f"run {run_id} already has artifacts at {artifact_path!r}; log the model under another name",
            run_id=run_id,
            path=artifact_path,
        )
    with tempfile.TemporaryDirectory(prefix="loopml-model-") as tmp:
        model_dir = Path(tmp, "model")
        descriptor = save_to_dir(model, model_dir, options, run_id=run_id, artifact_path=artifact_path)
        store.log_dir(model_dir, artifact_path)
    uri = f"runs:/{run_id}/{artifact_path}"
    info = ModelInfo(uri, run_id, artifact_path, descriptor.flavor, descriptor.signature, descriptor)
    if register is not None:
        info = replace(info, registered_model_version=register(uri, registered_model_name))
    return info


def load_model(
    model_uri: str | os.PathLike[str], *, extra_columns: ExtraColumns = "ignore", verify: bool = True
) -> LoadedModel:
    """Load a model from ``runs:/<run_id>/<path>``, ``models:/<name>/<version>`` (or ``@alias``,
    ``/<Stage>``), a local path, ``file://`` or any fsspec URL.

    The files are checked against the descriptor's manifest first (``verify=False`` skips it).
    ``extra_columns`` says what ``predict`` does with columns the signature does not name:
    ``"ignore"`` drops them, ``"error"`` refuses the input.
    """
    if extra_columns not in ("ignore", "error"):
        raise InvalidInput(
            f"extra_columns must be 'ignore' or 'error', got {extra_columns!r}",
            extra_columns=str(extra_columns),
        )
    from .loading import load_from_uri

    return load_from_uri(os.fspath(model_uri), extra_columns=extra_columns, check=verify)


def _register_function() -> Any:
    from ..registry.api import register_model

    return register_model


def _target_run(run_id: str | None) -> tuple[Client, str]:
    from ..tracking import fluent

    if run_id is None:
        active = fluent._ensure_run()
        return active.client, active.run_id
    return fluent._client(), run_id


def _save_remote(model: Any, url: str, options: SaveOptions) -> ModelInfo:
    import tempfile

    from ..artifacts.store import ArtifactStore
    from .descriptor import DESCRIPTOR_FILE
    from .saving import save_to_dir

    store = ArtifactStore(url)
    if store.exists(DESCRIPTOR_FILE):
        raise AlreadyExists(f"{url!r} already holds a model; choose a new location", path=url)
    with tempfile.TemporaryDirectory(prefix="loopml-model-") as tmp:
        descriptor = save_to_dir(model, Path(tmp, "model"), options)
        store.log_dir(Path(tmp, "model"))
    return ModelInfo(url, None, None, descriptor.flavor, descriptor.signature, descriptor)


def _remove(model_dir: Path, *, whole: bool) -> None:
    """Undo a failed save: the directory we created, or what we wrote into an empty one."""
    import shutil

    if whole:
        shutil.rmtree(model_dir, ignore_errors=True)
    elif model_dir.is_dir():
        for child in model_dir.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
