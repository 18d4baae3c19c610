"""Cache policies: what a task's cache key is made of. Combine them with ``+``.

``INPUTS`` hashes the call's arguments, ``TASK_SOURCE`` the task's source code,
``FLOW_PARAMETERS`` the parameters of the flow run; ``NO_CACHE`` turns caching off. A key is
a sha256 hex digest, the same in every process for the same values (arguments are hashed as
canonical JSON when they can be, as their pickle otherwise), and always includes the task's
identity, so two tasks never share a key by accident.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CacheContext:
    """What a policy may look at."""

    task_key: str
    fn: Any
    inputs: Mapping[str, Any]
    flow_parameters: Mapping[str, Any]


def stable_hash(value: Any) -> str:
    """sha256 of ``value``: canonical JSON when it has one, its cloudpickle otherwise."""
    import orjson

    try:
        data = orjson.dumps(
            value, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
        )
    except TypeError:
        import cloudpickle

        data = b"pickle:" + cloudpickle.dumps(value)
    return hashlib.sha256(data).hexdigest()


def source_hash(fn: Any) -> str:
    try:
        text = inspect.getsource(fn)
    except (OSError, TypeError):
        code = getattr(fn, "__code__", None)
        text = repr(code.co_code) if code is not None else repr(fn)
    return hashlib.sha256(text.encode()).hexdigest()


class CachePolicy:
    """A part of a cache key; ``a + b`` makes a key of both."""

    parts: tuple[str, ...] = ()

    def part(self, context: CacheContext) -> str | None:
        raise NotImplementedError

    def compute_key(self, context: CacheContext) -> str | None:
        """The key, or None when this policy does not cache."""
        pieces = [self.part(context)]
        if any(p is None for p in pieces):
            return None
        return hashlib.sha256("\x1f".join([context.task_key, *map(str, pieces)]).encode()).hexdigest()

    def __add__(self, other: CachePolicy) -> CachePolicy:
        if not isinstance(other, CachePolicy):
            return NotImplemented
        return CompoundPolicy((*_flatten(self), *_flatten(other)))

    def __repr__(self) -> str:
        return " + ".join(self.parts) or "CachePolicy()"


class _Inputs(CachePolicy):
    parts = ("INPUTS",)

    def part(self, context: CacheContext) -> str:
        return stable_hash(dict(context.inputs))


class _TaskSource(CachePolicy):
    parts = ("TASK_SOURCE",)

    def part(self, context: CacheContext) -> str:
        return source_hash(context.fn)


class _FlowParameters(CachePolicy):
    parts = ("FLOW_PARAMETERS",)

    def part(self, context: CacheContext) -> str:
        return stable_hash(dict(context.flow_parameters))


class _NoCache(CachePolicy):
    parts = ("NO_CACHE",)

    def part(self, context: CacheContext) -> None:
        return None


class CompoundPolicy(CachePolicy):
    def __init__(self, policies: tuple[CachePolicy, ...]) -> None:
        self.policies = policies
        self.parts = tuple(p for policy in policies for p in policy.parts)

    def part(self, context: CacheContext) -> str | None:
        pieces = [policy.part(context) for policy in self.policies]
        return None if any(p is None for p in pieces) else "\x1e".join(map(str, pieces))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CompoundPolicy) and self.parts == other.parts

    def __hash__(self) -> int:
        return hash(self.parts)


def _flatten(policy: CachePolicy) -> tuple[CachePolicy, ...]:
    return policy.policies if isinstance(policy, CompoundPolicy) else (policy,)


INPUTS: CachePolicy = _Inputs()
TASK_SOURCE: CachePolicy = _TaskSource()
FLOW_PARAMETERS: CachePolicy = _FlowParameters()
NO_CACHE: CachePolicy = _NoCache()

__all__ = ["FLOW_PARAMETERS", "INPUTS", "NO_CACHE", "TASK_SOURCE", "CacheContext", "CachePolicy"]
