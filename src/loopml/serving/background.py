"""A scoring server in a thread of this process: for notebooks, the demo and tests.

::

    with loopml.serving.background.serve_in_thread(["models:/churn@champion"]) as url:
        httpx.post(f"{url}/predict", json={"records": [...]})

It is the same app as ``loopml serve`` (real HTTP on 127.0.0.1, uvicorn), stopped and its
prediction log flushed when the block ends.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ..errors import NotReady
from .options import ServeOptions
from .served_model import ServedSpec, parse_spec

if TYPE_CHECKING:
    from .scorer import Scorer

__all__ = ["serve_in_thread"]


@contextmanager
def serve_in_thread(
    models: Sequence[str | ServedSpec],
    options: ServeOptions | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    ready_timeout_s: float = 60.0,
    require_ready: bool = True,
) -> Iterator[str]:
    """Serve ``models`` (URIs, ``NAME=URI`` or specs) in a thread; yields the base URL.

    Port 0 picks a free port. With ``require_ready`` the block starts once every model is
    loaded (NotReady, naming the failure, if that takes longer than ``ready_timeout_s``).
    """
    from ..server.threaded import app_in_thread
    from .app import create_scoring_app

    specs = [m if isinstance(m, ServedSpec) else parse_spec(m) for m in models]
    app = create_scoring_app(specs, options)
    with app_in_thread(
        app, what="scoring server", host=host, port=port, start_timeout_s=ready_timeout_s
    ) as url:
        if require_ready:
            _wait_ready(app.state.scorer, ready_timeout_s)
        yield url


def _wait_ready(scorer: Scorer, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    slots = scorer.slots.values()
    while not all(slot.ready for slot in slots):
        failed = [f"{slot.spec.name}: {slot.error}" for slot in slots if slot.error and not slot.ready]
        if failed:
            raise NotReady(f"could not load {'; '.join(failed)}", models=failed)
        if time.monotonic() > deadline:
            raise NotReady(f"the models were not loaded within {timeout_s:g} s")
        time.sleep(0.02)
