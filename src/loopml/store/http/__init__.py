"""The Store protocol over HTTP to a loopml server: ``transport.py`` (httpx, retries, errors)
and ``store.py`` (HttpStore). Loaded only for an ``http(s)://`` tracking URI."""

from .store import HttpStore as HttpStore
from .transport import Transport as Transport

__all__ = ["HttpStore", "Transport"]
