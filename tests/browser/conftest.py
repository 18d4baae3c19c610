"""Browser tests: Playwright (Python) driving Debian's Chromium, headless, against a real
``loopml server`` on 127.0.0.1. Chromium is installed with ``apt-get install -y chromium`` where
it is missing (and apt-get can run); without it the tests skip (fail in CI). Each test saves
screenshots of the pages it visits under ``build/test-artifacts/screenshots``."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from ui_testing import UiServer

from loopml import Client

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _chromium(service_missing: Any) -> str:
    found = shutil.which("chromium")
    if found is None and shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        subprocess.run(
            ["apt-get", "install", "-y", "chromium"], capture_output=True, timeout=600, check=False
        )
        found = shutil.which("chromium")
    if found is None:
        service_missing("Debian's chromium is not installed (apt-get install -y chromium)")
    assert found is not None
    return found


@pytest.fixture(scope="module")
def browser(server_tools: SimpleNamespace) -> Iterator[Any]:
    """One headless Chromium per test module (Playwright's sync API keeps an event loop running
    in this thread while it lives: it must be gone before tests that call asyncio.run)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        server_tools.service_missing(f"playwright is not installed: {exc}")
    executable = _chromium(server_tools.service_missing)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context and page (no cookies from another test), 1280x900."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)  # generous: CI machines are busy; a pass costs no more
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory, server_tools: SimpleNamespace) -> Iterator[UiServer]:
    home = tmp_path_factory.mktemp("ui-server")
    tracking_uri = f"sqlite:///{(home / 'loopml.db').as_posix()}"
    artifacts = home / "artifacts"
    Client(tracking_uri=tracking_uri, artifact_root=str(artifacts)).close()  # create the schema
    args = ["--backend-store-uri", tracking_uri, "--artifacts-destination", str(artifacts), "--no-access-log"]
    with server_tools.running_server(args, home / "server") as server:
        yield UiServer(server.url, tracking_uri, artifacts, home)
