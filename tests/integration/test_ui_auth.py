"""The web UI of a server run with --auth: pages send a visitor without a token to the sign-in
page, which keeps a valid token in an HttpOnly cookie; the cookie stands for the token on the API
only for the UI's own scripts (X-Loopml-UI), so another site cannot use it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from loopml.store.resolver import open_store


@pytest.fixture
def http(loopml_auth_server: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=loopml_auth_server.url, timeout=30) as client:
        yield client


def test_pages_send_a_visitor_without_a_token_to_sign_in(http: httpx.Client) -> None:
    answer = http.get("/ui/experiments?page=2")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/login?next=%2Fui%2Fexperiments%3Fpage%3D2"
    assert http.get("/ui/login").status_code == 200
    assert http.get("/ui/static/loopml.css").status_code == 200  # assets are public


def test_signing_in_keeps_the_token_in_a_cookie_the_api_honours_only_for_the_ui(
    http: httpx.Client, loopml_auth_server: Any
) -> None:
    refused = http.post("/ui/login", data={"token": "lml_wrong", "next": "/ui/experiments"})
    assert refused.status_code == 401 and "token" in refused.text
    assert "loopml_token" not in refused.cookies

    signed = http.post("/ui/login", data={"token": loopml_auth_server.admin_token, "next": "/ui/models"})
    assert signed.status_code == 303 and signed.headers["location"] == "/ui/models"
    cookie = signed.headers["set-cookie"]
    assert "loopml_token=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    jar = {"Cookie": f"loopml_token={loopml_auth_server.admin_token}"}
    assert http.get("/ui/login", headers=jar).status_code == 200
    api = "/api/v1/experiments"
    assert http.get(api, headers=jar).status_code == 401  # a cookie alone: not for the API
    assert http.get(api, headers={**jar, "X-Loopml-UI": "1"}).status_code == 200

    away = http.post(
        "/ui/login", data={"token": loopml_auth_server.admin_token, "next": "https://evil.test/"}
    )
    assert away.headers["location"] == "/ui/"  # never an open redirect

    out = http.post("/ui/logout", headers=jar)
    assert out.status_code == 303 and 'loopml_token=""' in out.headers["set-cookie"]


def test_a_revoked_token_in_the_cookie_sends_back_to_sign_in(
    http: httpx.Client, loopml_auth_server: Any
) -> None:
    store = open_store(loopml_auth_server.store_uri)
    try:
        store.users.create_user("ui-revoked")
        issued = store.users.create_token("ui-revoked")
        store.users.revoke_token(store.users.list_tokens("ui-revoked")[0].token_id)
    finally:
        store.close()
    answer = http.get("/ui/experiments", headers={"Cookie": f"loopml_token={issued.secret}"})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/ui/login")
