"""The demo's web UI stage: the UI over the demo's store, served in a thread of this process (the
tracking server's app, as ``loopml ui`` serves it), and the pages a newcomer should open, each
fetched and checked: it answers 200 and shows what the demo recorded there.

Skipped, with a line saying so, when the ui extra (Jinja2, plotly) is not installed.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import LoopmlError

if TYPE_CHECKING:
    from rich.console import Console

    from .tracking.client import Client

__all__ = ["PageCheck", "UiPage", "tour"]


@dataclass(frozen=True)
class PageCheck:
    """A page to open: what it is, its path under the UI and a text it must show."""

    what: str
    path: str
    shows: str


@dataclass(frozen=True)
class UiPage:
    """A page as the demo got it: its check, the HTTP status and the time to its whole HTML."""

    check: PageCheck
    status: int
    ms: float
    found: bool

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.found


def tour(client: Client, checks: Sequence[PageCheck], console: Console) -> tuple[UiPage, ...]:
    """Serve the UI over ``client``'s store and open every page of ``checks``; LoopmlError if one
    does not answer 200 with its text. Returns nothing without the ui extra."""
    if any(importlib.util.find_spec(name) is None for name in ("jinja2", "plotly")):
        console.print("\n[bold]Web UI[/]: skipped (pip install 'loopml[ui]' to add it)")
        return ()
    import httpx

    from .server.app import create_app
    from .server.threaded import app_in_thread
    from .store.resolver import open_store

    app = create_app(open_store(client.tracking_uri), client.artifact_root, ui=True, close_store=True)
    console.print("\n[bold]Web UI[/] over the demo's store (`loopml ui` serves the same pages):")
    pages = []
    with app_in_thread(app, what="UI server") as url, httpx.Client(base_url=url, timeout=30) as http:
        for check in checks:
            started = time.perf_counter()
            answer = http.get(check.path)
            page = UiPage(
                check, answer.status_code, 1000 * (time.perf_counter() - started), check.shows in answer.text
            )
            console.print(
                f"  {page.status}  {page.ms:4.0f} ms  {check.what:<22} {check.path}",
                markup=False,
                soft_wrap=True,
            )
            pages.append(page)
    failed = [p for p in pages if not p.ok]
    if failed:
        names = ", ".join(
            f"{p.check.path} ({p.status}{'' if p.found else f', no {p.check.shows!r}'})" for p in failed
        )
        raise LoopmlError(f"the web UI did not show the demo's data: {names}")
    return tuple(pages)
