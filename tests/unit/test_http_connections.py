"""The HTTP store's connections against a real loopback server (the standard library's):
keep-alive, connections the server closed, chunked answers, failures and what is retried."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from loopml import StoreError
from loopml.store.http import transport as transport_module
from loopml.store.http.transport import Connections, Transport

Behaviour = Callable[[BaseHTTPRequestHandler], None]


class Server:
    """A loopback HTTP/1.1 server; ``behaviour`` answers each request, ``seen`` records
    (client port, method, path, body) of each one."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.seen: list[tuple[int, str, str, bytes]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def handle_one(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.seen.append((self.client_address[1], self.command, self.path, body))
                server.behaviour(self)

            do_GET = do_POST = do_PUT = do_DELETE = handle_one

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def ports(self) -> set[int]:
        return {port for port, *_ in self.seen}


@pytest.fixture
def serve() -> Iterator[Callable[[Behaviour], Server]]:
    servers: list[Server] = []

    def start(behaviour: Behaviour) -> Server:
        servers.append(Server(behaviour))
        return servers[-1]

    yield start
    for s in servers:
        s.httpd.shutdown()
        s.httpd.server_close()


def json_answer(status: int, body: object, *, close: bool = False) -> Behaviour:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        data = orjson.dumps(body)
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        if close:
            handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(data)

    return answer


def test_requests_reuse_one_connection_with_the_prefix_query_and_headers(
    serve: Callable[[Behaviour], Server],
) -> None:
    server = serve(json_answer(200, {"ok": True}))
    t = Transport(server.url + "/prefix/", token="s3cret")
    for _ in range(5):
        assert t.request("GET", "/api/v1/experiments", params={"name": "a b/é", "view": None}) == {"ok": True}
    assert t.request("POST", "/api/v1/runs", json={"a": [1, "NaN"]}) == {"ok": True}
    assert len(server.ports()) == 1  # keep-alive: one connection for all six
    _, method, path, body = server.seen[-1]
    assert (method, path, orjson.loads(body)) == ("POST", "/prefix/api/v1/runs", {"a": [1, "NaN"]})
    assert server.seen[0][2] == "/prefix/api/v1/experiments?name=a+b%2F%C3%A9"
    t.close()


def test_a_connection_the_server_closed_is_replaced_without_an_error(
    serve: Callable[[Behaviour], Server],
) -> None:
    answered = 0

    def answer_then_hang_up(handler: BaseHTTPRequestHandler) -> None:
        nonlocal answered
        json_answer(200, {"n": answered})(handler)
        answered += 1
        handler.wfile.flush()
        handler.close_connection = True  # keep-alive promised, then closed: an idle timeout

    server = serve(answer_then_hang_up)
    threads = len(threading.enumerate())
    t = Transport(server.url, retries=0)
    first = t.request("GET", "/x")
    deadline = time.monotonic() + 5
    while len(threading.enumerate()) > threads and time.monotonic() < deadline:
        time.sleep(0.01)  # the server's connection thread ends once it has closed the socket
    # no retries and not idempotent: it only succeeds because the closed one is not used
    second = t.request("POST", "/metrics", json={}, idempotent=False)
    assert (first, second) == ({"n": 0}, {"n": 1})
    assert len(server.ports()) == 2


def test_connection_close_and_chunked_answers(serve: Callable[[Behaviour], Server]) -> None:
    def chunked(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        for part in (b'{"items": [1,', b" 2, 3]}"):
            handler.wfile.write(f"{len(part):X}\r\n".encode() + part + b"\r\n")
        handler.wfile.write(b"0\r\n\r\n")

    t = Transport(serve(chunked).url)
    assert t.request("GET", "/x") == {"items": [1, 2, 3]}
    closing = serve(json_answer(200, {"ok": 1}, close=True))
    t = Transport(closing.url)
    assert [t.request("GET", "/x") for _ in range(2)] == [{"ok": 1}] * 2
    assert len(closing.ports()) == 2


def test_a_refused_connection_is_retried_even_when_not_idempotent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport_module.time, "sleep", lambda _s: None)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    t = Transport(f"http://127.0.0.1:{port}", retries=2)
    with pytest.raises(StoreError, match=f"cannot reach the loopml server at http://127.0.0.1:{port}"):
        t.request("POST", "/metrics", json={}, idempotent=False)


def test_a_request_that_may_have_arrived_is_sent_again_only_when_idempotent(
    serve: Callable[[Behaviour], Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transport_module.time, "sleep", lambda _s: None)

    def hang_up(handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True  # read the request, answer nothing

    server = serve(hang_up)
    t = Transport(server.url, retries=2)
    with pytest.raises(StoreError, match="RemoteDisconnected"):
        t.request("POST", "/metrics", json={}, idempotent=False)
    assert len(server.seen) == 1
    with pytest.raises(StoreError):
        t.request("GET", "/x")
    assert len(server.seen) == 1 + 3


def test_a_server_that_does_not_answer_times_out(serve: Callable[[Behaviour], Server]) -> None:
    stop = threading.Event()
    server = serve(lambda _handler: stop.wait(5))
    t = Transport(server.url, timeout=0.2, retries=0)
    try:
        with pytest.raises(StoreError, match="timed out"):
            t.request("GET", "/x")
    finally:
        stop.set()


def test_httpx_carries_the_requests_only_when_a_proxy_applies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    headers = {"Accept": "application/json"}
    assert isinstance(transport_module._new_client("http://10.1.2.3:5000", headers, 5.0), Connections)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.internal:3128")
    proxied = transport_module._new_client("http://10.1.2.3:5000", headers, 5.0)
    assert isinstance(proxied, httpx.Client)
    proxied.close()
    assert isinstance(transport_module._new_client("https://10.1.2.3", headers, 5.0), Connections)
    monkeypatch.setenv("NO_PROXY", "10.1.2.3")
    assert isinstance(transport_module._new_client("http://10.1.2.3:5000", headers, 5.0), Connections)


class Pieces:
    """A socket whose ``recv`` hands out ``data`` a few bytes at a time, then EOF."""

    def __init__(self, data: bytes, step: int = 3) -> None:
        self.parts = [data[i : i + step] for i in range(0, len(data), step)]

    def recv(self, _n: int) -> bytes:
        return self.parts.pop(0) if self.parts else b""


OK, OK10 = b"HTTP/1.1 200 OK\r\n", b"HTTP/1.0 200 OK\r\n"
CHUNKED = b"Transfer-Encoding: chunked\r\n\r\n4;x=y\r\nabcd\r\n2\r\nef\r\n0\r\nT: 1\r\n\r\n"


@pytest.mark.parametrize(
    ("raw", "method", "expected"),
    [
        (OK + b"Content-Length: 5\r\n\r\nhello", "GET", (200, b"hello", False)),
        (b"HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n", "POST", (204, b"", False)),
        (OK + b"Content-Length: 3\r\nConnection: close\r\n\r\nabc", "GET", (200, b"abc", True)),
        (OK10 + b"Content-Length: 2\r\n\r\nok", "GET", (200, b"ok", True)),
        (OK10 + b"Connection: keep-alive\r\nContent-Length: 2\r\n\r\nok", "GET", (200, b"ok", False)),
        (OK + b"\r\nuntil the end", "GET", (200, b"until the end", True)),
        (b"HTTP/1.1 100 Continue\r\n\r\n" + OK + b"Content-Length: 2\r\n\r\n{}", "POST", (200, b"{}", False)),
        (OK + CHUNKED, "GET", (200, b"abcdef", False)),
    ],
)
def test_answers_are_read_whole_from_any_split(
    raw: bytes, method: str, expected: tuple[int, bytes, bool]
) -> None:
    for step in (1, 3, len(raw)):
        assert transport_module.read_answer(Pieces(raw, step), method) == expected  # type: ignore[arg-type]


def test_bytes_past_the_answer_close_the_connection() -> None:
    raw = OK + b"Content-Length: 2\r\n\r\nokEXTRA"
    assert transport_module.read_answer(Pieces(raw, len(raw)), "GET") == (200, b"ok", True)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"", "RemoteDisconnected"),
        (b"HTTP/1.1 200 OK\r\nContent-Len", "IncompleteRead"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "IncompleteRead"),
        (b"SSH-2.0-OpenSSH\r\n\r\n", "BadStatusLine"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "without a colon"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"),
    ],
)
def test_broken_answers_raise(raw: bytes, error: str) -> None:
    import http.client

    with pytest.raises(http.client.HTTPException) as caught:
        transport_module.read_answer(Pieces(raw), "GET")  # type: ignore[arg-type]
    assert error in f"{type(caught.value).__name__}: {caught.value}"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (PEM files), made with cryptography."""
    import datetime
    import ipaddress

    pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


def test_https_checks_the_certificate_and_keeps_the_connection(
    serve: Callable[[Behaviour], Server], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ssl

    cert_file, key_file = self_signed(tmp_path)
    server = serve(json_answer(200, {"ok": True}))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.httpd.socket = context.wrap_socket(server.httpd.socket, server_side=True)
    url = server.url.replace("http://", "https://")
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with pytest.raises(StoreError, match="CERTIFICATE_VERIFY_FAILED"):
        Transport(url, retries=0).request("GET", "/x")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    t = Transport(url, retries=0)
    assert [t.request("GET", "/x") for _ in range(3)] == [{"ok": True}] * 3
    assert len(server.ports()) == 1
    t.close()
