"""Writing a model directory: flavor files, code, input example, environment, descriptor."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput, NotFound
from .descriptor import ModelDescriptor, now_utc_iso, write_descriptor
from .environment import Requirements, capture_environment, write_environment
from .flavor import Flavor, detect_flavor, get_flavor
from .signature import ModelSignature, infer_signature

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SaveOptions", "save_to_dir"]

CODE_DIR = "code"
EXAMPLE_FILE = "input_example.json"


@dataclass(frozen=True)
class SaveOptions:
    """Everything ``save_model`` and ``log_model`` accept besides the model and where it goes."""

    flavor: str | Flavor | None = None
    input_example: Any = None
    signature: ModelSignature | None = None
    pip_requirements: Requirements | None = None
    extra_pip_requirements: Requirements | None = None
    code_paths: Sequence[str | os.PathLike[str]] | None = None
    metadata: Mapping[str, Any] | None = None
    artifacts: Mapping[str, str | os.PathLike[str]] | None = None
    training_data: Any = None


def save_to_dir(
    model: Any,
    model_dir: Path,
    options: SaveOptions,
    *,
    run_id: str | None = None,
    artifact_path: str | None = None,
) -> ModelDescriptor:
    """Write ``model`` into the empty (or missing) directory ``model_dir``; returns its descriptor."""
    flavor = _resolve_flavor(model, options.flavor)
    metadata = _checked_metadata(options.metadata)
    example = _example_frame(options.input_example)
    signature = options.signature
    if signature is None and example is not None:
        signature = infer_signature(example)
    elif signature is not None and not isinstance(signature, ModelSignature):
        raise InvalidInput(
            f"signature must be a ModelSignature (see infer_signature), got {type(signature).__name__}"
        )
    model_dir.mkdir(parents=True, exist_ok=True)
    artifacts = {str(k): os.fspath(v) for k, v in (options.artifacts or {}).items()}
    config = flavor.save(model, model_dir, artifacts=artifacts)
    env = capture_environment(
        model,
        flavor.packages(config),
        pip_requirements=options.pip_requirements,
        extra_pip_requirements=options.extra_pip_requirements,
    )
    write_environment(env, model_dir)
    if options.training_data is not None:
        # the one place models/ reaches into monitoring/: the profile module is a leaf (numpy,
        # pandas, pyarrow), imported only when a user hands training data over
        from ..monitoring.reference import write_reference_file

        write_reference_file(options.training_data, model_dir)
    descriptor = ModelDescriptor(
        flavor=flavor.name,
        loader_module=type(flavor).__module__,
        flavor_config=config,
        python_version=env.python_version,
        created_at=now_utc_iso(),
        run_id=run_id,
        artifact_path=artifact_path,
        signature=signature,
        input_example=_write_example(example, model_dir),
        code_dir=_copy_code(options.code_paths, model_dir),
        metadata=metadata,
    )
    return write_descriptor(descriptor, model_dir)


def _resolve_flavor(model: Any, flavor: str | Flavor | None) -> Flavor:
    if flavor is None:
        return detect_flavor(model)
    chosen = get_flavor(flavor) if isinstance(flavor, str) else flavor
    if not chosen.accepts(model):
        raise InvalidInput(
            f"the {chosen.name} flavor cannot save a {type(model).__qualname__} ({chosen.name}:"
            f" {chosen.description}); leave flavor=None to detect it",
            flavor=chosen.name,
            type=type(model).__qualname__,
        )
    return chosen


def _checked_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping) or not all(isinstance(k, str) for k in metadata):
        raise InvalidInput("metadata must be a dict with str keys", type=type(metadata).__name__)
    from .yamlio import dump_yaml

    try:
        dump_yaml(dict(metadata))
    except InvalidInput as exc:
        raise InvalidInput(
            f"metadata must hold plain values (str, numbers, bools, lists, dicts): {exc.message}"
        ) from exc
    return dict(metadata)


def _example_frame(example: Any) -> pd.DataFrame | None:
    if example is None:
        return None
    from .inputs import to_frame

    return to_frame(example, what="input_example")


def _write_example(example: pd.DataFrame | None, model_dir: Path) -> str | None:
    if example is None:
        return None
    try:
        text = example.to_json(orient="split", index=False, date_format="iso")
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidInput(f"the input example cannot be written as JSON: {exc}") from exc
    (model_dir / EXAMPLE_FILE).write_text(text)
    return EXAMPLE_FILE


def _copy_code(code_paths: Sequence[str | os.PathLike[str]] | None, model_dir: Path) -> str | None:
    """Copy files and packages into ``code/``, which is put on ``sys.path`` at load time."""
    if not code_paths:
        return None
    if isinstance(code_paths, str | os.PathLike):
        raise InvalidInput("code_paths must be a list of paths, e.g. code_paths=['my_package']")
    import shutil

    target = model_dir / CODE_DIR
    target.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for entry in code_paths:
        src = Path(entry).expanduser()
        if src.is_dir():
            shutil.copytree(src, target / src.resolve().name, ignore=ignore, dirs_exist_ok=True)
        elif src.is_file():
            shutil.copy2(src, target / src.name)
        else:
            raise NotFound(f"code path {str(src)!r} does not exist", path=str(src))
    return CODE_DIR
