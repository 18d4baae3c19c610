"""The UI's shell: the root, the assets (served by loopml itself), 404 pages, sign-in."""

from __future__ import annotations

from typing import Any

import httpx
from ui_testing import UiServer, screenshot


def test_assets_are_served_by_loopml_itself(ui_server: UiServer) -> None:
    plotly = httpx.get(f"{ui_server.url}/ui/static/plotly.min.js")  # httpx accepts gzip
    assert plotly.status_code == 200 and plotly.headers["content-type"].startswith("text/javascript")
    assert len(plotly.content) > 1_000_000 and b"plotly" in plotly.content[:2000].lower()
    assert plotly.headers["content-encoding"] == "gzip"
    assert int(plotly.headers["content-length"]) < len(plotly.content) / 2  # sent compressed
    plain = httpx.get(f"{ui_server.url}/ui/static/plotly.min.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == plotly.content
    css = httpx.get(f"{ui_server.url}/ui/static/loopml.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    for bad in ("../__init__.py", "..%2F__init__.py", "nothing.css"):
        assert httpx.get(f"{ui_server.url}/ui/static/{bad}").status_code == 404, bad


def test_an_unknown_page_is_a_404_page_with_a_way_back(ui_server: UiServer, page: Any) -> None:
    answer = page.goto(f"{ui_server.url}/ui/no/such/page")
    assert answer.status == 404
    assert "404" in page.inner_text("h1")
    page.click("text=← Back")
    assert page.url.startswith(f"{ui_server.url}/ui/")
    screenshot(page, "shell-404")


def test_pages_load_only_what_loopml_serves(ui_server: UiServer) -> None:
    page = httpx.get(f"{ui_server.url}/ui/experiments")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "img-src 'self' data: blob:" in policy
    assert "frame-ancestors 'self'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
