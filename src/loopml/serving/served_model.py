"""A model being served: the loaded model with the name and version the answers carry.

A served model comes from a URI. A ``models:/`` URI naming an alias (``models:/churn@champion``),
a stage (``models:/churn/Production``) or ``latest`` *follows* the registry: the server reloads it
when the reference moves (:mod:`loopml.serving.follower`); a version number, a ``runs:/`` URI or
a path is pinned. The name is the registered model's name, or the one given with ``NAME=URI``,
or the last part of the path.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import InvalidInput
from .input_schema import InputSchema

if TYPE_CHECKING:
    from ..entities.model import ModelVersion
    from ..models.loaded_model import LoadedModel
    from ..registry.client import RegistryClient

__all__ = ["ServedModel", "ServedSpec", "load_served", "parse_spec"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class ServedSpec:
    """What to serve: a model URI, the name it answers to, and its micro-batching settings.

    ``max_batch_size`` rows at most go to one model call; a batch waits at most
    ``max_latency_ms`` for more requests, and only while requests are arriving (a lone request
    never waits).
    """

    uri: str
    name: str
    max_batch_size: int = 256
    max_latency_ms: float = 5.0

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise InvalidInput(
                f"invalid served model name {self.name!r}: use letters, digits, '_', '.' and '-'",
                name=self.name,
            )
        if not isinstance(self.max_batch_size, int) or self.max_batch_size < 1:
            raise InvalidInput(
                f"max_batch_size must be a positive integer, got {self.max_batch_size!r}",
                max_batch_size=repr(self.max_batch_size),
            )
        if not isinstance(self.max_latency_ms, int | float) or not 0 <= self.max_latency_ms <= 60_000:
            raise InvalidInput(
                f"max_latency_ms must be between 0 and 60000, got {self.max_latency_ms!r}",
                max_latency_ms=repr(self.max_latency_ms),
            )

    @property
    def follows(self) -> str | None:
        """``"alias champion"``, ``"stage Production"``, ``"latest"`` or None (a pinned model)."""
        if not self.uri.startswith("models:/"):
            return None
        from ..registry.client import parse_models_uri

        _name, kind, value = parse_models_uri(self.uri)
        if kind == "version":
            return None
        return f"{kind} {value}" if value else kind


def parse_spec(text: str, *, max_batch_size: int = 256, max_latency_ms: float = 5.0) -> ServedSpec:
    """``URI`` or ``NAME=URI`` (as ``loopml serve`` takes them) as a ServedSpec."""
    name, eq, uri = text.partition("=")
    if not eq or "/" in name or ":" in name:
        name, uri = "", text
    if not uri:
        raise InvalidInput(f"empty model URI in {text!r}", spec=text)
    return ServedSpec(uri, name or default_name(uri), max_batch_size, max_latency_ms)


def default_name(uri: str) -> str:
    """The registered model's name for ``models:/`` URIs, else the last part of the path."""
    if uri.startswith("models:/"):
        from ..registry.client import parse_models_uri

        return parse_models_uri(uri)[0]
    tail = uri.rstrip("/").rsplit("/", 1)[-1]
    return re.sub(r"[^A-Za-z0-9_.-]", "_", tail) or "model"


@dataclass(frozen=True)
class ServedModel:
    """A loaded model and what the answers say about it."""

    spec: ServedSpec
    model: LoadedModel
    version: str | None  # the registry version number, None for a model outside the registry
    loaded_at: float  # seconds since the epoch
    aliases: tuple[str, ...] = ()
    stage: str | None = None
    schema: InputSchema = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "schema", InputSchema(self.model.signature))

    @property
    def name(self) -> str:
        return self.spec.name

    def metadata(self) -> dict[str, object]:
        """What ``GET /metadata`` says about this model."""
        signature = self.model.signature
        return {
            "name": self.name,
            "uri": self.spec.uri,
            "version": self.version,
            "follows": self.spec.follows,
            "aliases": list(self.aliases),
            "stage": self.stage,
            "flavor": self.model.flavor,
            "signature": None if signature is None else signature.to_dict(),
            "loaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.loaded_at)),
            "max_batch_size": self.spec.max_batch_size,
            "max_latency_ms": self.spec.max_latency_ms,
        }


def resolve_version(spec: ServedSpec, registry: RegistryClient) -> ModelVersion | None:
    """The registry version ``spec`` names now (None for a URI outside the registry)."""
    if not spec.uri.startswith("models:/"):
        return None
    return registry.resolve_model_version(spec.uri)


def load_served(spec: ServedSpec, registry: RegistryClient | None = None) -> ServedModel:
    """Load what ``spec`` names now: for a ``models:/`` URI, the version the registry resolves."""
    from ..models.api import load_model

    if not spec.uri.startswith("models:/"):
        return ServedModel(spec, load_model(spec.uri), None, time.time())
    if registry is None:
        from ..tracking.fluent import _client

        registry = _client().registry
    found = resolve_version(spec, registry)
    assert found is not None
    return load_version(spec, found)


def load_version(spec: ServedSpec, version: ModelVersion) -> ServedModel:
    """Load the files of registry ``version`` for ``spec``."""
    from ..models.api import load_model

    model = load_model(version.storage_location)
    stage = version.current_stage.value
    return ServedModel(
        spec,
        model,
        str(version.version),
        time.time(),
        tuple(version.aliases),
        None if stage == "None" else stage,
    )
