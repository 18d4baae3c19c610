"""The ``python_function`` flavor: any Python code as a model.

Two forms are accepted:

- an object with ``predict(self, context, model_input)`` and, optionally,
  ``load_context(self, context)`` (subclass :class:`PythonModel`, or just write the methods);
- a plain callable ``f(model_input) -> predictions`` (a function, a lambda, a closure).

The object is serialized with cloudpickle (so lambdas and classes defined in a notebook or
``__main__`` travel by value). Files named in ``artifacts={"name": local_path}`` are copied into
``artifacts/<name>/`` of the model directory and given back, as local paths, in
``context.artifacts["name"]`` when the model is loaded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, NotFound
from . import pickling

__all__ = ["FLAVOR", "PythonFunctionFlavor", "PythonModel", "PythonModelContext"]

_FILE = "python_model.pkl"
_ARTIFACTS_DIR = "artifacts"


@dataclass(frozen=True)
class PythonModelContext:
    """What a python-function model gets at load time: its artifacts as local paths."""

    artifacts: Mapping[str, str] = field(default_factory=dict)
    model_dir: str = ""


class PythonModel:
    """Optional base class of python-function models; override ``predict`` (and ``load_context``)."""

    def load_context(self, context: PythonModelContext) -> None:
        """Called once when the model is loaded, e.g. to read ``context.artifacts``."""

    def predict(self, context: PythonModelContext, model_input: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define predict(self, context, model_input)")


@dataclass(frozen=True)
class PythonFunctionPredictor:
    raw: Any
    context: PythonModelContext
    is_callable: bool

    @property
    def has_proba(self) -> bool:
        return not self.is_callable and callable(getattr(self.raw, "predict_proba", None))

    def predict(self, data: Any) -> Any:
        if self.is_callable:
            return self.raw(data)
        return self.raw.predict(self.context, data)

    def predict_proba(self, data: Any) -> Any:
        if not self.has_proba:
            raise InvalidInput(
                "this python-function model has no predict_proba; define"
                " predict_proba(self, context, model_input) on its class, or use predict()"
            )
        return self.raw.predict_proba(self.context, data)


@dataclass(frozen=True)
class PythonFunctionFlavor:
    name: str = "python_function"
    description: str = (
        "any Python code: an object with predict(self, context, model_input), or a plain function"
    )

    def accepts(self, model: Any) -> bool:
        return not isinstance(model, type) and (is_python_model(model) or callable(model))

    def save(self, model: Any, model_dir: Path, *, artifacts: Mapping[str, str]) -> dict[str, Any]:
        copied = {name: _copy_artifact(name, source, model_dir) for name, source in artifacts.items()}
        pickling.dump(model, model_dir / _FILE, serializer="cloudpickle")
        kind = "model" if is_python_model(model) else "callable"
        return {"file": _FILE, "kind": kind, "artifacts": copied}

    def load(self, model_dir: Path, config: Mapping[str, Any]) -> PythonFunctionPredictor:
        from ..artifacts.paths import safe_relpath

        raw = pickling.load(model_dir / safe_relpath(str(config.get("file", _FILE)), what="model file"))
        artifacts = {
            str(name): str(model_dir / safe_relpath(str(rel), what="model artifact"))
            for name, rel in (config.get("artifacts") or {}).items()
        }
        context = PythonModelContext(artifacts, str(model_dir))
        is_callable = config.get("kind") == "callable"
        if not is_callable and callable(getattr(raw, "load_context", None)):
            raw.load_context(context)
        return PythonFunctionPredictor(raw, context, is_callable)

    def packages(self, config: Mapping[str, Any]) -> tuple[str, ...]:
        return ("cloudpickle",)


def is_python_model(model: Any) -> bool:
    """Whether ``model`` has a ``predict(context, model_input)`` method."""
    predict = getattr(model, "predict", None)
    if isinstance(model, type) or not callable(predict):
        return False
    import inspect

    try:
        params = inspect.signature(predict).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


def _copy_artifact(name: str, source: str, model_dir: Path) -> str:
    """Copy one artifact into ``artifacts/<name>/``; the path to give back, relative to the model."""
    import shutil

    from ..artifacts.paths import safe_relpath

    if (
        not isinstance(name, str)
        or not name
        or "/" in name
        or safe_relpath(name, what="artifact name") != name
    ):
        raise InvalidInput(
            f"artifact name {name!r} must be one plain path segment, like 'weights'", name=name
        )
    text = os.fspath(source)
    if text.startswith("file://"):
        text = text[len("file://") :]
    elif "://" in text:
        raise InvalidInput(
            f"artifact {name!r} must be a local path, got {text!r}; download it first", name=name
        )
    src = Path(text).expanduser()
    target = model_dir / _ARTIFACTS_DIR / name
    if src.is_dir():
        shutil.copytree(src, target)
        return f"{_ARTIFACTS_DIR}/{name}"
    if not src.is_file():
        raise NotFound(f"artifact {name!r}: no file or directory at {str(src)!r}", name=name, path=str(src))
    target.mkdir(parents=True)
    shutil.copy2(src, target / src.name)
    return f"{_ARTIFACTS_DIR}/{name}/{src.name}"


FLAVOR = PythonFunctionFlavor()
