"""Pickling models: plain pickle (fast) when it can, cloudpickle when it must."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from ..errors import InvalidInput

__all__ = ["dump", "load"]

Serializer = Literal["pickle", "cloudpickle"]


def dump(obj: Any, path: Path, *, serializer: Serializer | None = None) -> Serializer:
    """Write ``obj`` to ``path``; returns the serializer used.

    Without ``serializer``, plain pickle is tried first and cloudpickle takes over when pickle
    cannot (lambdas, closures, classes defined in ``__main__``).
    """
    import pickle

    if serializer != "cloudpickle":
        try:
            path.write_bytes(pickle.dumps(obj, protocol=5))
            return "pickle"
        except (pickle.PicklingError, AttributeError, TypeError):
            if serializer == "pickle":
                raise
    import cloudpickle

    try:
        data = cloudpickle.dumps(obj, protocol=5)
    except (pickle.PicklingError, AttributeError, TypeError) as exc:
        raise InvalidInput(
            f"cannot serialize the {type(obj).__name__} with cloudpickle: {exc};"
            " models must be picklable (no open files, locks, sockets or live connections)",
            type=type(obj).__name__,
        ) from exc
    path.write_bytes(data)
    return "cloudpickle"


def load(path: Path) -> Any:
    """Read an object written by :func:`dump` (cloudpickle output loads with plain pickle)."""
    import pickle

    with open(path, "rb") as fh:
        return pickle.load(fh)
