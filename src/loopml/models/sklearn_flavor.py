"""The ``sklearn`` flavor: scikit-learn estimators and pipelines (anything with the estimator API).

The model is pickled (protocol 5) into ``model.pkl``; when plain pickle cannot (a lambda in a
FunctionTransformer, a class defined in ``__main__``), cloudpickle does, and the configuration
says so. Pickles run code when loaded: load models you trust (the manifest of
``loopml-model.yaml`` detects files changed after saving, not a malicious author).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..artifacts.paths import safe_relpath
from ..errors import InvalidInput
from . import pickling

__all__ = ["FLAVOR", "SklearnFlavor"]

_FILE = "model.pkl"


@dataclass(frozen=True)
class SklearnPredictor:
    raw: Any
    wants_array: bool  # fitted without feature names: give it arrays, not DataFrames

    @property
    def has_proba(self) -> bool:
        return hasattr(self.raw, "predict_proba")

    def predict(self, data: Any) -> Any:
        return self.raw.predict(self._features(data))

    def predict_proba(self, data: Any) -> Any:
        if not self.has_proba:
            raise InvalidInput(
                f"this {type(self.raw).__name__} has no predict_proba (only classifiers that estimate"
                " probabilities do); use predict()",
                model_type=type(self.raw).__name__,
            )
        return self.raw.predict_proba(self._features(data))

    def _features(self, data: Any) -> Any:
        if self.wants_array and hasattr(data, "to_numpy"):
            return data.to_numpy()
        return data


@dataclass(frozen=True)
class SklearnFlavor:
    name: str = "sklearn"
    description: str = "scikit-learn estimators and pipelines (anything with fit/predict and get_params)"

    def accepts(self, model: Any) -> bool:
        base = sys.modules.get("sklearn.base")  # a scikit-learn model implies it is imported
        if base is None or isinstance(model, type):
            return False
        return isinstance(model, base.BaseEstimator) and callable(getattr(model, "predict", None))

    def save(self, model: Any, model_dir: Path, *, artifacts: Mapping[str, str]) -> dict[str, Any]:
        if artifacts:
            raise InvalidInput("artifacts= is for python_function models; an sklearn model carries its state")
        from importlib.metadata import version

        serializer = pickling.dump(model, model_dir / _FILE)
        return {"file": _FILE, "serializer": serializer, "sklearn_version": version("scikit-learn")}

    def load(self, model_dir: Path, config: Mapping[str, Any]) -> SklearnPredictor:
        raw = pickling.load(model_dir / safe_relpath(str(config.get("file", _FILE)), what="model file"))
        return SklearnPredictor(raw, wants_array=not hasattr(raw, "feature_names_in_"))

    def packages(self, config: Mapping[str, Any]) -> tuple[str, ...]:
        extra = ("cloudpickle",) if config.get("serializer") == "cloudpickle" else ()
        return ("scikit-learn", "numpy", *extra)


FLAVOR = SklearnFlavor()
