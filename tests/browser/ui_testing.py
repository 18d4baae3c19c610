"""What browser tests share besides fixtures: the server they drive and screenshots."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loopml import Client

__all__ = ["SCREENSHOTS", "UiServer", "screenshot"]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts" / "screenshots"


def screenshot(page: Any, name: str) -> Path:
    """Save the whole page as ``build/test-artifacts/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@dataclass(frozen=True)
class UiServer:
    """A real ``loopml server`` over an SQLite store of its own: its URL, and a Client writing
    to the same store (what a fixture logs, the pages show)."""

    url: str
    tracking_uri: str
    artifacts: Path
    home: Path

    def client(self) -> Client:
        return Client(tracking_uri=self.tracking_uri, artifact_root=str(self.artifacts))
