"""A loopml FastAPI app (the tracking server with its UI, the scoring server) served by uvicorn in
a thread of this process, on real HTTP: for notebooks, the demo and tests.

::

    with app_in_thread(create_app(store, "/tmp/artifacts"), what="tracking server") as url:
        httpx.get(f"{url}/ui/experiments")
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ..errors import LoopmlError, NotReady

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

__all__ = ["app_in_thread"]


@contextmanager
def app_in_thread(
    app: FastAPI,
    *,
    what: str = "server",
    host: str = "127.0.0.1",
    port: int = 0,
    start_timeout_s: float = 60.0,
) -> Iterator[str]:
    """Serve ``app`` in a daemon thread; yields its base URL once it listens (port 0: a free
    port), stops it (its lifespan's shutdown included) when the block ends. ``what`` names it in
    errors."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name=f"loopml-{what.replace(' ', '-')}", daemon=True)
    thread.start()
    try:
        yield _wait_started(server, thread, start_timeout_s, what)
    finally:
        server.should_exit = True
        thread.join(30)


def _wait_started(server: uvicorn.Server, thread: threading.Thread, timeout_s: float, what: str) -> str:
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive():
            raise LoopmlError(f"the {what} stopped while starting; see its log above")
        if time.monotonic() > deadline:
            raise NotReady(f"the {what} did not start within {timeout_s:g} s")
        time.sleep(0.01)
    socket = server.servers[0].sockets[0]
    host, port = socket.getsockname()[:2]
    return f"http://{host}:{port}"
