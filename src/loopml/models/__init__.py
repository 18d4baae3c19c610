"""Model packaging: save a model with its flavor, signature and environment; load it back.

A saved model is a directory described by ``loopml-model.yaml`` (see docs/models.md)::

    info = loopml.log_model(pipeline, "model", input_example=X.head())
    model = loopml.load_model(info.model_uri)
    model.predict([{"age": 41, "city": "Lyon"}])

The names below are loaded from their modules when first used, so that ``import loopml`` (which
imports this package for ``log_model`` and friends) stays light; scikit-learn, pandas and
cloudpickle are imported only by the functions that need them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import ModelInfo as ModelInfo
    from .api import load_model as load_model
    from .api import log_model as log_model
    from .api import save_model as save_model
    from .descriptor import ModelDescriptor as ModelDescriptor
    from .environment import Environment as Environment
    from .flavor import Flavor as Flavor
    from .flavor import Predictor as Predictor
    from .flavor import flavor_names as flavor_names
    from .flavor import register_flavor as register_flavor
    from .loaded_model import LoadedModel as LoadedModel
    from .pyfunc_flavor import PythonModel as PythonModel
    from .pyfunc_flavor import PythonModelContext as PythonModelContext
    from .signature import ColSpec as ColSpec
    from .signature import ModelSignature as ModelSignature
    from .signature import infer_signature as infer_signature

# public name -> the module (of this package) defining it
_EXPORTS = {
    "ColSpec": "signature",
    "Environment": "environment",
    "Flavor": "flavor",
    "LoadedModel": "loaded_model",
    "ModelDescriptor": "descriptor",
    "ModelInfo": "api",
    "ModelSignature": "signature",
    "Predictor": "flavor",
    "PythonModel": "pyfunc_flavor",
    "PythonModelContext": "pyfunc_flavor",
    "flavor_names": "flavor",
    "infer_signature": "signature",
    "load_model": "api",
    "log_model": "api",
    "register_flavor": "flavor",
    "save_model": "api",
}

__all__ = [
    "ColSpec",
    "Environment",
    "Flavor",
    "LoadedModel",
    "ModelDescriptor",
    "ModelInfo",
    "ModelSignature",
    "Predictor",
    "PythonModel",
    "PythonModelContext",
    "flavor_names",
    "infer_signature",
    "load_model",
    "log_model",
    "register_flavor",
    "save_model",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
