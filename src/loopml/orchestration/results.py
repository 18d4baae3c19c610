"""Persisted task results: cloudpickled values under a result storage (any fsspec URL)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from ..errors import InvalidInput, NotFound, StoreError

_MEMO_SIZE = 1024


class ResultStore:
    """Writes and reads results at ``<root>/<key>.pkl``; keeps the last values it saw in memory,
    so a cache hit in the process that produced the value costs no read."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/")
        self._memo: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._fs: Any = None

    def _filesystem(self) -> tuple[Any, str]:
        import fsspec

        if self._fs is None:
            fs, path = fsspec.core.url_to_fs(self.root)
            fs.makedirs(path, exist_ok=True)
            self._fs, self._path = fs, path
        return self._fs, self._path

    def ref(self, key: str) -> str:
        return f"{self.root}/{key}.pkl"

    def persist(self, key: str, value: Any, *, owner: str) -> str:
        """Store ``value``; ``owner`` (e.g. "task 'train'") names who produced it in errors."""
        import cloudpickle

        try:
            data = cloudpickle.dumps(value)
        except Exception as exc:
            raise InvalidInput(
                f"the result of {owner} cannot be persisted: it does not pickle "
                f"({type(exc).__name__}: {exc}); return a picklable value or set persist_result=False",
                owner=owner,
            ) from exc
        fs, path = self._filesystem()
        target = f"{path}/{key}.pkl"
        try:
            with fs.open(target + ".tmp", "wb") as f:
                f.write(data)
            fs.mv(target + ".tmp", target)
        except OSError as exc:
            raise StoreError(f"writing the result of {owner} to {self.ref(key)} failed: {exc}") from exc
        self.remember(self.ref(key), value)
        return self.ref(key)

    def remember(self, ref: str, value: Any) -> None:
        with self._lock:
            self._memo[ref] = value
            self._memo.move_to_end(ref)
            while len(self._memo) > _MEMO_SIZE:
                self._memo.popitem(last=False)

    def load(self, ref: str) -> Any:
        with self._lock:
            if ref in self._memo:
                self._memo.move_to_end(ref)
                return self._memo[ref]
        import cloudpickle
        import fsspec

        try:
            with fsspec.open(ref, "rb") as f:
                value = cloudpickle.loads(f.read())
        except FileNotFoundError:
            raise NotFound(f"the persisted result {ref} is gone", ref=ref) from None
        self.remember(ref, value)
        return value
