"""ModelSignature: the named, typed columns a model takes (and, optionally, returns).

A signature is data: a tuple of :class:`ColSpec` (name, type, required). It is written into
``loopml-model.yaml`` when a model is saved and enforced on every ``LoadedModel.predict`` call
(:mod:`loopml.models.enforcement`). Column types use the words users know from MLflow:

    double  float  long  integer  boolean  string  datetime  binary

pandas is imported when a signature is inferred or enforced, never when this module is imported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["COLUMN_TYPES", "ColSpec", "ModelSignature", "infer_signature"]

COLUMN_TYPES: tuple[str, ...] = (
    "double",
    "float",
    "long",
    "integer",
    "boolean",
    "string",
    "datetime",
    "binary",
)
ExtraColumns = Literal["ignore", "error"]

# infer_dtype() answers for object columns -> column type
_OBJECT_KINDS = {
    "string": "string",
    "bytes": "binary",
    "boolean": "boolean",
    "integer": "long",
    "floating": "double",
    "mixed-integer-float": "double",
    "datetime": "datetime",
    "datetime64": "datetime",
    "date": "datetime",
}


@dataclass(frozen=True)
class ColSpec:
    """One input (or output) column: its name, its type and whether it must be present."""

    name: str
    type: str
    required: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidInput(
                f"a column name must be a non-empty str, got {self.name!r}", name=repr(self.name)
            )
        if self.type not in COLUMN_TYPES:
            raise InvalidInput(
                f"unknown type {self.type!r} for column {self.name!r}; use one of {', '.join(COLUMN_TYPES)}",
                column=self.name,
                type=str(self.type),
            )

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "required": self.required}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColSpec:
        return cls(str(data["name"]), str(data["type"]), bool(data.get("required", True)))


@dataclass(frozen=True)
class ModelSignature:
    """The columns a model takes (``inputs``) and, optionally, the ones it returns (``outputs``)."""

    inputs: tuple[ColSpec, ...]
    outputs: tuple[ColSpec, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(self.inputs))
        if self.outputs is not None:
            object.__setattr__(self, "outputs", tuple(self.outputs))
        for specs in (self.inputs, self.outputs or ()):
            names = [spec.name for spec in specs]
            duplicated = sorted({n for n in names if names.count(n) > 1})
            if duplicated:
                raise InvalidInput(
                    f"a signature names columns {duplicated} more than once", columns=duplicated
                )

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.inputs)

    def enforce(self, data: Any, *, extra_columns: ExtraColumns = "ignore") -> pd.DataFrame:
        """``data`` as a DataFrame of exactly the input columns, in order, with their types.

        Accepts a DataFrame, a list of records (dicts), a dict of columns or one record.
        Raises InvalidInput naming every missing column, every column of the wrong type
        (with the type expected) and, with ``extra_columns="error"``, every unexpected column.
        The DataFrame is returned as it is, without a copy, when it already matches.
        """
        from .enforcement import enforce_signature

        return enforce_signature(self, data, extra_columns)

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": [spec.to_dict() for spec in self.inputs],
            "outputs": None if self.outputs is None else [spec.to_dict() for spec in self.outputs],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelSignature:
        outputs = data.get("outputs")
        return cls(
            tuple(ColSpec.from_dict(spec) for spec in data.get("inputs") or ()),
            None if outputs is None else tuple(ColSpec.from_dict(spec) for spec in outputs),
        )


def infer_signature(input_example: Any, output: Any = None) -> ModelSignature:
    """The signature of ``input_example`` (and of ``output``, e.g. ``model.predict(X)``, if given).

    ``input_example`` is a pandas DataFrame, a list of records, a dict of columns or one record:
    signatures name their columns, so a bare numpy array is refused.
    """
    from .inputs import to_frame

    frame = to_frame(input_example, what="input_example")
    inputs = tuple(ColSpec(str(name), column_type(frame[name], str(name))) for name in frame.columns)
    if not inputs:
        raise InvalidInput("the input example has no columns; give at least one named column")
    return ModelSignature(inputs, None if output is None else _output_specs(output))


def column_type(column: pd.Series, name: str) -> str:
    """The signature type of one pandas column; InvalidInput naming it when it has none."""
    import pandas as pd

    dtype = column.dtype
    kind = getattr(dtype, "kind", "O")
    if isinstance(dtype, pd.CategoricalDtype):
        return column_type(pd.Series(dtype.categories), name)
    if isinstance(dtype, pd.StringDtype):
        return "string"
    if kind == "b":
        return "boolean"
    if kind == "f":
        return "float" if dtype.itemsize <= 4 else "double"
    if kind in "iu":
        small = dtype.itemsize < 4 or (kind == "i" and dtype.itemsize == 4)
        return "integer" if small else "long"
    if kind == "M":
        return "datetime"
    if kind in "OSU":
        found = pd.api.types.infer_dtype(column, skipna=True)
        if found in _OBJECT_KINDS:
            return _OBJECT_KINDS[found]
        if found == "empty":
            raise InvalidInput(
                f"column {name!r} of the example has only missing values, so its type is unknown;"
                " give an example with values or pass signature=",
                column=name,
            )
        raise InvalidInput(
            f"column {name!r} holds {found} values, which no signature type describes"
            f" ({', '.join(COLUMN_TYPES)}); convert it or pass signature=",
            column=name,
            found=found,
        )
    raise InvalidInput(
        f"column {name!r} has dtype {dtype}, which no signature type describes"
        f" ({', '.join(COLUMN_TYPES)}); convert it or pass signature=",
        column=name,
        dtype=str(dtype),
    )


def _output_specs(output: Any) -> tuple[ColSpec, ...]:
    import numpy as np
    import pandas as pd

    if isinstance(output, pd.DataFrame):
        return tuple(ColSpec(str(c), column_type(output[c], str(c))) for c in output.columns)
    if isinstance(output, pd.Series):
        name = str(output.name) if output.name is not None else "prediction"
        return (ColSpec(name, column_type(output, name)),)
    if isinstance(output, Mapping) or (
        isinstance(output, Sequence) and output and isinstance(output[0], dict)
    ):
        from .inputs import to_frame

        return _output_specs(to_frame(output, what="output"))
    array = np.asarray(output)
    if array.ndim == 1:
        return (ColSpec("prediction", column_type(pd.Series(array), "prediction")),)
    if array.ndim == 2:
        return tuple(
            ColSpec(str(i), column_type(pd.Series(array[:, i]), str(i))) for i in range(array.shape[1])
        )
    raise InvalidInput(f"cannot describe a model output of shape {array.shape}; pass signature=")
