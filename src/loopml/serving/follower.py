"""Hot swap: a served model that follows an alias, a stage or ``latest`` in the registry.

:class:`ModelSlot` holds the model a name answers with. Loading happens in a worker thread,
beside the model in service; the new model replaces the old one in a single assignment, so a
request is answered by the old version or by the new one, never by neither. A failed load (the
new version's files are missing, its flavor is not installed) leaves the old version serving and
is reported by ``GET /ready`` and ``GET /metadata``.

:class:`Follower` polls the registry every ``poll_interval_s`` seconds: one indexed read per
followed model (an alias or stage lookup), through whatever store the settings name (the
embedded SQLite file, PostgreSQL or a loopml server).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TYPE_CHECKING

from .served_model import ServedModel, ServedSpec, load_served, load_version, resolve_version

if TYPE_CHECKING:
    from ..registry.client import RegistryClient

__all__ = ["Follower", "ModelSlot"]

log = logging.getLogger("loopml.serving")


class ModelSlot:
    """The model one served name answers with, and what went wrong loading it."""

    def __init__(self, spec: ServedSpec) -> None:
        self.spec = spec
        self.current: ServedModel | None = None
        self.error: str | None = None  # the last load failure, cleared by a successful load
        self.swaps = 0

    @property
    def ready(self) -> bool:
        return self.current is not None

    def status(self) -> dict[str, object]:
        current = self.current
        return {
            "name": self.spec.name,
            "uri": self.spec.uri,
            "ready": current is not None,
            "version": None if current is None else current.version,
            "error": self.error,
        }


class Follower:
    """Loads every slot, then keeps the followed ones on the version the registry names."""

    def __init__(
        self,
        slots: list[ModelSlot],
        *,
        executor: Executor,
        poll_interval_s: float,
        registry: Callable[[], RegistryClient],
        on_swap: Callable[[ModelSlot, ServedModel | None], None],
    ) -> None:
        self.slots = slots
        self.poll_interval_s = poll_interval_s
        self._executor = executor
        self._registry_factory = registry
        self._registry: RegistryClient | None = None
        self._on_swap = on_swap

    def registry(self) -> RegistryClient:
        if self._registry is None:
            self._registry = self._registry_factory()
        return self._registry

    async def load_all(self) -> None:
        """Load every slot's model (one at a time: they share the worker thread)."""
        loop = asyncio.get_running_loop()
        for slot in self.slots:
            try:
                served = await loop.run_in_executor(self._executor, self._load, slot.spec)
            except Exception as exc:
                slot.error = f"{type(exc).__name__}: {exc}"
                log.error("could not load %s (%s): %s", slot.spec.name, slot.spec.uri, slot.error)
                continue
            self._swap(slot, served)

    async def follow(self) -> None:
        """Poll forever (the app cancels this task at shutdown); pinned models are never polled."""
        followed = [slot for slot in self.slots if slot.spec.follows is not None]
        if not followed or self.poll_interval_s <= 0:
            return
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.poll_interval_s)
            for slot in followed:
                try:
                    served = await loop.run_in_executor(self._executor, self._check, slot)
                except Exception as exc:
                    error = f"{type(exc).__name__}: {exc}"
                    if error != slot.error:  # say it once, not at every poll
                        log.warning("could not follow %s (%s): %s", slot.spec.name, slot.spec.uri, error)
                    slot.error = error
                    continue
                if served is not None:
                    self._swap(slot, served)

    def _load(self, spec: ServedSpec) -> ServedModel:
        return load_served(spec, self.registry() if spec.uri.startswith("models:/") else None)

    def _check(self, slot: ModelSlot) -> ServedModel | None:
        """In the worker thread: the newly loaded model when the reference moved, else None."""
        version = resolve_version(slot.spec, self.registry())
        current = slot.current
        if version is None or (current is not None and current.version == str(version.version)):
            slot.error = None
            return None
        return load_version(slot.spec, version)

    def _swap(self, slot: ModelSlot, served: ServedModel) -> None:
        previous = slot.current
        slot.current = served  # the swap: one assignment
        slot.error = None
        if previous is not None:
            slot.swaps += 1
            log.info(
                "%s (%s) moved from version %s to %s: serving version %s",
                slot.spec.name,
                slot.spec.uri,
                previous.version,
                served.version,
                served.version,
            )
        self._on_swap(slot, previous)
