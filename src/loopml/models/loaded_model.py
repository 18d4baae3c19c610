"""LoadedModel: one interface to predict with a model of any flavor, its signature enforced."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import InvalidInput
from .descriptor import ModelDescriptor
from .flavor import Predictor
from .inputs import to_frame
from .signature import ExtraColumns, ModelSignature

__all__ = ["LoadedModel"]


class LoadedModel:
    """A model read back by :func:`~loopml.models.load_model`.

    ``predict`` and ``predict_proba`` take a pandas DataFrame, a list of records (dicts) or a
    dict of columns (a 2-D numpy array too, when the model has a signature: its columns are the
    signature's, in order). With a signature, the input is checked and converted first
    (:meth:`ModelSignature.enforce`); a DataFrame that already matches is passed on as it is.
    """

    def __init__(
        self,
        predictor: Predictor,
        descriptor: ModelDescriptor,
        model_dir: str,
        *,
        extra_columns: ExtraColumns = "ignore",
    ) -> None:
        if extra_columns not in ("ignore", "error"):
            raise InvalidInput(
                f"extra_columns must be 'ignore' or 'error', got {extra_columns!r}",
                extra_columns=str(extra_columns),
            )
        self._predictor = predictor
        self._descriptor = descriptor
        self._extra_columns: ExtraColumns = extra_columns
        self.model_dir = model_dir

    def __repr__(self) -> str:
        where = (
            f"run_id={self._descriptor.run_id!r}" if self._descriptor.run_id else f"path={self.model_dir!r}"
        )
        return f"LoadedModel(flavor={self._descriptor.flavor!r}, {where})"

    @property
    def metadata(self) -> ModelDescriptor:
        """The model's ``loopml-model.yaml``: flavor, versions, signature, run, metadata, manifest."""
        return self._descriptor

    @property
    def signature(self) -> ModelSignature | None:
        return self._descriptor.signature

    @property
    def flavor(self) -> str:
        return self._descriptor.flavor

    def predict(self, data: Any, *, enforce: bool = True) -> Any:
        """The model's predictions for ``data`` (the flavor's own output type, e.g. a numpy array).

        ``enforce=False`` skips the signature check: for a caller that has already checked
        ``data`` and built a DataFrame of exactly the signature's columns and dtypes (the
        scoring server checks each request itself, then predicts on the batch).
        """
        return self._predictor.predict(self._prepare(data) if enforce else data)

    def predict_proba(self, data: Any, *, enforce: bool = True) -> Any:
        """Class probabilities, for models that estimate them; InvalidInput for the others."""
        if not self._predictor.has_proba:
            return self._predictor.predict_proba(None)  # raises the flavor's own InvalidInput
        return self._predictor.predict_proba(self._prepare(data) if enforce else data)

    @property
    def has_proba(self) -> bool:
        """Whether :meth:`predict_proba` answers (a classifier estimating class probabilities)."""
        return bool(self._predictor.has_proba)

    @property
    def classes(self) -> list[Any] | None:
        """The class labels, in the order of :meth:`predict_proba`'s columns, when the model has them."""
        labels = getattr(self._predictor.raw, "classes_", None)
        return None if labels is None else [_plain(label) for label in labels]

    def unwrap(self) -> Any:
        """The underlying model object (a scikit-learn estimator, your python-function object, ...)."""
        return self._predictor.raw

    def _prepare(self, data: Any) -> Any:
        signature = self._descriptor.signature
        if signature is None:
            return to_frame(data) if _is_records_or_columns(data) else data
        if type(data).__module__ == "numpy" and getattr(data, "ndim", 0) == 2:
            data = _array_frame(data, signature)
        return signature.enforce(data, extra_columns=self._extra_columns)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (JSON-ready)."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _is_records_or_columns(data: Any) -> bool:
    if isinstance(data, Mapping):
        return True
    return isinstance(data, list | tuple) and bool(data) and all(isinstance(row, Mapping) for row in data)


def _array_frame(array: Any, signature: ModelSignature) -> Any:
    import pandas as pd

    names = signature.input_names
    if array.shape[1] != len(names):
        raise InvalidInput(
            f"a numpy array given to this model needs {len(names)} columns ({', '.join(names)}),"
            f" got {array.shape[1]}; or pass a DataFrame with named columns",
            expected=len(names),
            got=int(array.shape[1]),
        )
    return pd.DataFrame(array, columns=list(names))
