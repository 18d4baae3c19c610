"""``@flow``: a function whose calls are recorded flow runs holding the task runs made inside.

The Flow object and its parameter validation; running a flow run is flow_engine.py.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, overload

from ..errors import InvalidInput
from .options import FlowOptions, build
from .task_engine import identity


class Flow:
    """A flow. Calling it runs a flow run and returns its value (raising its exception);
    ``return_state=True`` returns the final :class:`State`. A flow called inside another is a
    subflow: its own flow run, linked to the parent's."""

    def __init__(self, fn: Callable[..., Any], options: FlowOptions) -> None:
        if not callable(fn):
            raise InvalidInput(f"@flow decorates a function, got {fn!r}")
        if inspect.iscoroutinefunction(fn):
            raise InvalidInput(
                f"flow {options.name!r}: async flows are not supported yet; use a plain function"
            )
        self.fn = fn
        self.options = options
        self.name = options.name
        self._signature = inspect.signature(fn)
        self._validator: Any = None
        functools.update_wrapper(self, fn)

    def __repr__(self) -> str:
        return f"Flow({self.name!r})"

    @property
    def entrypoint(self) -> str:
        """``module:qualname``, or ``/path/to/script.py:qualname`` for a script's flow."""
        return identity(self.fn)

    def with_options(self, **changes: Any) -> Flow:
        return Flow(self.fn, build(FlowOptions, self.options, changes))

    def __call__(self, *args: Any, return_state: bool = False, **kwargs: Any) -> Any:
        parameters = self.validate(args, kwargs)
        from .flow_engine import run_flow

        state = run_flow(self, parameters)
        return state if return_state else state.result()

    # ---- parameters -----------------------------------------------------------------------------

    def validate(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The call's parameters by name, validated and coerced from the type hints."""
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise InvalidInput(f"flow {self.name!r}: {exc}") from None
        bound.apply_defaults()
        parameters = dict(bound.arguments)
        if not self.options.validate_parameters:
            return parameters
        validator = self._parameter_model()
        if validator is None:
            return parameters
        from pydantic import ValidationError

        checked = {k: v for k, v in parameters.items() if k in validator.model_fields}
        try:
            model = validator.model_validate(checked)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InvalidInput(
                f"flow {self.name!r}: parameter {where!r} is invalid: {first['msg']} "
                f"(got {first.get('input')!r})",
                parameter=where,
            ) from None
        return {**parameters, **{k: getattr(model, k) for k in checked}}

    def _parameter_model(self) -> Any:
        if self._validator is None:
            self._validator = _build_validator(self)
        return self._validator or None

    def call_arguments(self, parameters: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        bound = inspect.BoundArguments(self._signature, parameters)
        return bound.args, bound.kwargs


def _build_validator(flow: Flow) -> Any:
    """A pydantic model of the annotated parameters (False when there is nothing to check)."""
    import typing

    try:
        hints = typing.get_type_hints(flow.fn)
    except Exception:
        hints = {}
    fields: dict[str, Any] = {}
    for name, parameter in flow._signature.parameters.items():
        if name not in hints or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        default = ... if parameter.default is parameter.empty else parameter.default
        fields[name] = (hints[name], default)
    if not fields:
        return False
    from pydantic import ConfigDict, create_model

    return create_model(
        f"{flow.name}_parameters", __config__=ConfigDict(arbitrary_types_allowed=True), **fields
    )


@overload
def flow(fn: Callable[..., Any], /, **options: Any) -> Flow: ...
@overload
def flow(fn: None = None, /, **options: Any) -> Callable[[Callable[..., Any]], Flow]: ...
def flow(
    fn: Callable[..., Any] | None = None, /, **options: Any
) -> Flow | Callable[[Callable[..., Any]], Flow]:
    """``@flow`` or ``@flow(name=..., retries=..., experiment="churn", ...)`` (Prefect's names)."""

    def decorate(f: Callable[..., Any]) -> Flow:
        given = dict(options)
        given.setdefault("name", getattr(f, "__name__", "flow"))
        return Flow(f, build(FlowOptions, None, given))

    return decorate(fn) if fn is not None else decorate
