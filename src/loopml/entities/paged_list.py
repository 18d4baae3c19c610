from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


class PagedList(list[T]):
    """One page of results; ``token`` fetches the next page and is ``None`` on the last one."""

    def __init__(self, items: list[T], token: str | None) -> None:
        super().__init__(items)
        self.token = token
