"""The ``onnx`` flavor: an ``onnx.ModelProto``, run with onnxruntime (extra ``onnx``).

Saving writes ``model.onnx`` and needs only the model object. Loading needs onnxruntime
(``pip install 'loopml[onnx]'``); without it, :class:`~loopml.errors.MissingExtra` says so.

Input: a model with one input gets the whole frame as one matrix of the input's element type;
a model with several inputs (as skl2onnx makes for mixed columns) gets each column by name,
shaped ``(n, 1)``. ``predict`` returns the first output; ``predict_proba`` the second, when the
model has one (skl2onnx classifiers: label, probabilities).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..artifacts.paths import safe_relpath
from ..errors import InvalidInput, MissingExtra

__all__ = ["FLAVOR", "OnnxFlavor"]

_FILE = "model.onnx"
_ELEMENT_TYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(bool)": "bool",
    "tensor(string)": "object",
}


@dataclass(frozen=True)
class OnnxPredictor:
    raw: Any  # the onnxruntime InferenceSession

    @property
    def has_proba(self) -> bool:
        return len(self.raw.get_outputs()) > 1

    def predict(self, data: Any) -> Any:
        return self.raw.run(None, self._feeds(data))[0]

    def predict_proba(self, data: Any) -> Any:
        if not self.has_proba:
            raise InvalidInput("this ONNX model has a single output, so no probabilities; use predict()")
        proba = self.raw.run(None, self._feeds(data))[1]
        if isinstance(proba, list):  # ZipMap: one {label: probability} dict per row
            import numpy as np

            return np.array([list(row.values()) for row in proba])
        return proba

    def _feeds(self, data: Any) -> dict[str, Any]:
        inputs = self.raw.get_inputs()
        if len(inputs) == 1:
            dtype = _ELEMENT_TYPES.get(inputs[0].type)
            array = data.to_numpy(dtype=dtype) if hasattr(data, "to_numpy") else data
            return {inputs[0].name: array}
        if not hasattr(data, "columns"):
            names = [i.name for i in inputs]
            raise InvalidInput(f"this ONNX model takes the columns {names}; pass a DataFrame", inputs=names)
        missing = [i.name for i in inputs if i.name not in data.columns]
        if missing:
            raise InvalidInput(f"this ONNX model needs the columns {missing}", missing=missing)
        return {
            i.name: data[i.name].to_numpy(dtype=_ELEMENT_TYPES.get(i.type)).reshape(-1, 1) for i in inputs
        }


@dataclass(frozen=True)
class OnnxFlavor:
    name: str = "onnx"
    description: str = "ONNX models (an onnx.ModelProto), run with onnxruntime"

    def accepts(self, model: Any) -> bool:
        module = type(model).__module__
        return (module == "onnx" or module.startswith("onnx.")) and callable(
            getattr(model, "SerializeToString", None)
        )

    def save(self, model: Any, model_dir: Path, *, artifacts: Mapping[str, str]) -> dict[str, Any]:
        if artifacts:
            raise InvalidInput("artifacts= is for python_function models; an ONNX model carries its state")
        (model_dir / _FILE).write_bytes(model.SerializeToString())
        return {"file": _FILE}

    def load(self, model_dir: Path, config: Mapping[str, Any]) -> OnnxPredictor:
        try:
            import onnxruntime
        except ImportError as exc:
            raise MissingExtra("onnx", module="onnxruntime") from exc
        path = model_dir / safe_relpath(str(config.get("file", _FILE)), what="model file")
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return OnnxPredictor(session)

    def packages(self, config: Mapping[str, Any]) -> tuple[str, ...]:
        return ("onnxruntime",)


FLAVOR = OnnxFlavor()
