"""A scripted HTTP server on 127.0.0.1 for the webhook backend's tests.

Each request is recorded (path, headers, body), then answered by the next action of the
script: a status, a reset, a hang-up, an answer slower than the client's timeout...
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes


Action = Callable[["Handler"], None]


def reply(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Action:
    def act(handler: Handler) -> None:
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return act


def reset(handler: Handler) -> None:
    """Abort the connection without answering: SO_LINGER 0, so the client gets a RST."""
    sock = handler.connection
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    os.close(sock.detach())
    handler.close_connection = True


def hang_up(handler: Handler) -> None:
    """Close the connection without answering (an orderly end of file)."""
    handler.connection.shutdown(socket.SHUT_RDWR)
    handler.close_connection = True


def stall(handler: Handler) -> None:
    """Answer 200 only after the test ends: far beyond any client timeout."""
    handler.server.release.wait(30)
    reply(200)(handler)


def trickle(handler: Handler) -> None:
    """A valid 200, sent a header line every 50 ms for 3 s: each read is quick, the whole is not."""
    handler.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n")
    for _ in range(60):
        if handler.server.release.wait(0.05):
            return
        handler.wfile.write(b"X-Slow: a\r\n")
    handler.wfile.write(b"\r\n")


class Handler(BaseHTTPRequestHandler):
    server: ScriptedServer
    protocol_version = "HTTP/1.0"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.record(Seen("POST", self.path, headers, body))
        self.server.next_action()(self)

    def do_GET(self) -> None:
        self.server.record(Seen("GET", self.path, dict(self.headers.items()), b""))
        reply(405)(self)

    def handle(self) -> None:
        with contextlib.suppress(OSError):
            super().handle()

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: object) -> None:
        pass


class ScriptedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.release = threading.Event()
        self.seen: list[Seen] = []
        self._script: list[Action] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/billing/terminate?tenant=7"

    def play(self, *actions: Action) -> None:
        """Answer the next requests with ``actions``, in order; then 200 with no body."""
        with self._lock:
            self._script.extend(actions)

    def record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)

    def next_action(self) -> Action:
        with self._lock:
            return self._script.pop(0) if self._script else reply(200)

    def handle_error(self, request: object, client_address: object) -> None:
        pass


@contextlib.contextmanager
def running(tls: ssl.SSLContext | None = None) -> Iterator[ScriptedServer]:
    srv = ScriptedServer()
    if tls is not None:
        srv.socket = tls.wrap_socket(srv.socket, server_side=True)
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.release.set()
        srv.shutdown()
        srv.server_close()
        thread.join(5)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with running() as srv:
        yield srv


def self_signed(directory: Path) -> ssl.SSLContext:
    """A server TLS context with a fresh self-signed certificate for 127.0.0.1."""
    import ipaddress
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[ScriptedServer]:
    """An HTTPS server whose certificate no client trusts."""
    with running(self_signed(tmp_path)) as srv:
        yield srv


@pytest.fixture
def other_server() -> Iterator[ScriptedServer]:
    """A second server, standing for another host."""
    with running() as srv:
        yield srv
