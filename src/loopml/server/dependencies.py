"""What endpoints receive besides their parameters: the Store (and, later, the caller)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..store.base import Store
from .auth import CALLER
from .scoped import scoped

__all__ = ["StoreDep", "get_store"]


async def get_store(request: Request) -> Store:
    """The app's Store, as the caller sees it when the server authenticates (see
    :mod:`.scoped`). A coroutine: resolving it costs no trip to the thread pool."""
    store: Store = request.app.state.store
    caller = request.scope.get(CALLER)
    return store if caller is None else scoped(store, caller)


#: ``store: StoreDep`` in an endpoint's parameters gives it the app's Store.
StoreDep = Annotated[Store, Depends(get_store)]
