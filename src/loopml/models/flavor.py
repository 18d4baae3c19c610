"""Flavors: how one kind of model is written to a model directory and read back.

A flavor is an object with the :class:`Flavor` protocol. The built-in ones live in their own
modules and are imported when first needed; :func:`register_flavor` adds others. Auto-detection
(:func:`detect_flavor`) asks the flavors in order: custom ones first, then onnx, sklearn and
python_function, so the most specific flavor wins.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

from ..errors import InvalidInput

__all__ = ["Flavor", "Predictor", "detect_flavor", "flavor_names", "get_flavor", "register_flavor"]

# name -> module defining ``FLAVOR``; in detection order
_BUILTIN = MappingProxyType(
    {
        "onnx": "loopml.models.onnx_flavor",
        "sklearn": "loopml.models.sklearn_flavor",
        "python_function": "loopml.models.pyfunc_flavor",
    }
)
_registered: dict[str, Flavor] = {}
_lock = threading.Lock()


@runtime_checkable
class Predictor(Protocol):
    """A loaded model as a flavor exposes it to :class:`~loopml.models.LoadedModel`."""

    @property
    def raw(self) -> Any:
        """The model object itself (what ``LoadedModel.unwrap()`` returns)."""

    @property
    def has_proba(self) -> bool:
        """Whether :meth:`predict_proba` is available."""

    def predict(self, data: Any) -> Any: ...

    def predict_proba(self, data: Any) -> Any: ...


@runtime_checkable
class Flavor(Protocol):
    """Writes one kind of model into a directory and loads it back as a :class:`Predictor`.

    ``save`` returns the flavor's configuration (JSON-like: str keys, plain values), stored in
    ``loopml-model.yaml`` and given back to ``load``. ``packages`` names the distributions the
    saved model needs at load time (versions are looked up when the environment is captured).
    """

    name: str
    description: str

    def accepts(self, model: Any) -> bool: ...

    def save(self, model: Any, model_dir: Path, *, artifacts: Mapping[str, str]) -> dict[str, Any]: ...

    def load(self, model_dir: Path, config: Mapping[str, Any]) -> Predictor: ...

    def packages(self, config: Mapping[str, Any]) -> tuple[str, ...]: ...


def register_flavor(flavor: Flavor) -> None:
    """Add (or replace) a flavor; it is tried first by auto-detection."""
    if not isinstance(flavor, Flavor):
        raise InvalidInput(
            f"{type(flavor).__name__} is not a Flavor"
            " (it needs name, description, accepts, save, load and packages)"
        )
    with _lock:
        _registered[flavor.name] = flavor


def flavor_names() -> tuple[str, ...]:
    """Every known flavor name, registered ones first."""
    return (*_registered, *(name for name in _BUILTIN if name not in _registered))


def get_flavor(name: str, loader_module: str | None = None) -> Flavor:
    """The flavor called ``name``; ``loader_module`` (from a descriptor) is a fallback."""
    found = _registered.get(name)
    if found is not None:
        return found
    module_name = _BUILTIN.get(name) or loader_module
    if module_name is None:
        raise InvalidInput(
            f"unknown model flavor {name!r}; known flavors: {', '.join(flavor_names())}", flavor=name
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidInput(
            f"the loader module {module_name!r} of flavor {name!r} cannot be imported: {exc}", flavor=name
        ) from exc
    flavor = getattr(module, "FLAVOR", None)
    if not isinstance(flavor, Flavor):
        raise InvalidInput(f"module {module_name!r} defines no FLAVOR for flavor {name!r}", flavor=name)
    return flavor


def detect_flavor(model: Any) -> Flavor:
    """The first flavor that accepts ``model``; InvalidInput listing the flavors when none does."""
    for name in flavor_names():
        flavor = get_flavor(name)
        if flavor.accepts(model):
            return flavor
    known = "; ".join(f"{name}: {get_flavor(name).description}" for name in flavor_names())
    raise InvalidInput(
        f"loopml does not know how to save a {type(model).__module__}.{type(model).__qualname__}."
        f" Known flavors: {known}. To save it anyway, wrap it as a python function: a class with"
        " predict(self, context, model_input) (and optionally load_context(self, context)) that calls"
        " your model, or a plain function of the input, e.g. save_model(lambda df: my_model.run(df), path)",
        type=f"{type(model).__module__}.{type(model).__qualname__}",
        flavors=list(flavor_names()),
    )
