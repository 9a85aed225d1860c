"""Loopback proxies: an HTTP forward proxy (absolute-URI requests and CONNECT) and a SOCKS5 server.

Both listen on 127.0.0.1, record every relay (target host:port and the
credentials the client sent) and can be killed — the port then refuses
connections, as a dead proxy does — and revived on the same port. With
``credentials=(user, password)`` they demand them: the HTTP proxy answers 407,
the SOCKS5 server fails the RFC 1929 sub-negotiation.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import select
import socket
import socketserver
import struct
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

from .base import Emulator, Recorded, Reply


@dataclass(frozen=True)
class Relay:
    target: str  # "host:port" the proxy connected to
    method: str  # HTTP method, "CONNECT", or "SOCKS5"
    credentials: tuple[str, str] | None  # what the client sent, if anything
    path: str = ""  # absolute-URI requests: the path and query forwarded


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class LoopbackProxy:
    """Shared lifecycle: start on a free port, kill, revive on the same port; use as a context manager."""

    scheme = ""

    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        self.credentials = credentials
        self.relays: list[Relay] = []
        self.refused: list[tuple[str, str] | None] = []  # credentials of clients turned away
        self.lock = threading.Lock()
        self.dead = False
        self.port = 0
        self._server: _Server | None = None

    # --- lifecycle

    def start(self) -> LoopbackProxy:
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.settimeout(10)
                with contextlib.suppress(OSError):
                    proxy.serve(self.request)

        self._server = _Server(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.dead = False
        return self

    def kill(self) -> None:
        """Stop listening: new connections are refused."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.dead = True

    def revive(self) -> None:
        if self.dead:
            self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.kill()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, credentials: tuple[str, str] | None = None) -> str:
        """The proxy URL as an account stores it, with ``credentials`` (default: the ones it demands)."""
        user = credentials or self.credentials
        auth = f"{user[0]}:{user[1]}@" if user else ""
        return f"{self.scheme}://{auth}{self.address}"

    @property
    def targets(self) -> list[str]:
        with self.lock:
            return [relay.target for relay in self.relays]

    def _record(self, relay: Relay) -> None:
        with self.lock:
            self.relays.append(relay)

    def _refuse(self, credentials: tuple[str, str] | None) -> None:
        with self.lock:
            self.refused.append(credentials)

    def serve(self, client: socket.socket) -> None:
        raise NotImplementedError


def pipe(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    sockets = [a, b]
    while True:
        readable, _, broken = select.select(sockets, [], sockets, 10)
        if broken or not readable:
            return
        for source in readable:
            data = source.recv(65536)
            if not data:
                return
            (b if source is a else a).sendall(data)


def read_until(sock: socket.socket, marker: bytes, limit: int = 65536) -> tuple[bytes, bytes]:
    """Read until ``marker``; returns (data up to and including it, what was read past it)."""
    data = b""
    while marker not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("client closed early")
        data += chunk
        if len(data) > limit:
            raise ConnectionError("header too long")
    head, _, rest = data.partition(marker)
    return head + marker, rest


def recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("client closed early")
        data += chunk
    return data


# --- HTTP forward proxy ---------------------------------------------------------------------------------


class HttpProxy(LoopbackProxy):
    """An HTTP/1.1 forward proxy: ``GET http://host:port/path`` is forwarded, ``CONNECT host:port`` tunnelled.

    One request per client connection (the answer says ``Connection: close``).
    """

    scheme = "http"

    def serve(self, client: socket.socket) -> None:
        head, rest = read_until(client, b"\r\n\r\n")
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, _version = request_line.split(" ", 2)
        headers = [line.split(":", 1) for line in header_lines if ":" in line]
        sent = _basic_credentials(next((v.strip() for k, v in headers if k.strip().lower() == "proxy-authorization"), ""))
        if self.credentials is not None and sent != self.credentials:
            self._refuse(sent)
            client.sendall(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                b'Proxy-Authenticate: Basic realm="loopback"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'
            )
            return
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
            upstream = self._connect(client, host, int(port))
            if upstream is None:
                return
            self._record(Relay(target=f"{host}:{port}", method="CONNECT", credentials=sent))
            with upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                if rest:
                    upstream.sendall(rest)
                pipe(client, upstream)
            return
        parts = urlsplit(target)
        host, port = parts.hostname or "", parts.port or 80
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        length = int(next((v.strip() for k, v in headers if k.strip().lower() == "content-length"), "0") or 0)
        body = rest + (recv_exact(client, length - len(rest)) if length > len(rest) else b"")
        upstream = self._connect(client, host, port)
        if upstream is None:
            return
        self._record(Relay(target=f"{host}:{port}", method=method, credentials=sent, path=path))
        forwarded = [
            f"{k}:{v}"
            for k, v in headers
            if k.strip().lower() not in ("proxy-authorization", "proxy-connection", "connection", "keep-alive")
        ]
        with upstream:
            upstream.sendall(
                "\r\n".join([f"{method} {path} HTTP/1.1", *forwarded, "Connection: close", "", ""]).encode("latin-1") + body
            )
            response = b""
            while chunk := upstream.recv(65536):
                response += chunk
        # The target closes after one answer; so does the proxy, and says so.
        status_and_headers, _, payload = response.partition(b"\r\n\r\n")
        kept = [line for line in status_and_headers.split(b"\r\n") if not line.lower().startswith(b"connection:")]
        client.sendall(b"\r\n".join([*kept, b"Connection: close", b""]) + b"\r\n" + payload)

    def _connect(self, client: socket.socket, host: str, port: int) -> socket.socket | None:
        try:
            return socket.create_connection((host, port), timeout=10)
        except OSError:
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return None


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


# --- SOCKS5 -----------------------------------------------------------------------------------------------


class Socks5Proxy(LoopbackProxy):
    """A SOCKS5 server (RFC 1928) with no-auth or username/password (RFC 1929), CONNECT only."""

    scheme = "socks5"

    def serve(self, client: socket.socket) -> None:
        version, count = recv_exact(client, 2)
        if version != 5:
            return
        offered = set(recv_exact(client, count))
        wanted = 0x02 if self.credentials is not None else 0x00
        if wanted not in offered:
            self._refuse(None)  # recorded before answering: the client may look as soon as it reads the answer
            client.sendall(b"\x05\xff")
            return
        client.sendall(bytes([5, wanted]))
        sent = None
        if wanted == 0x02:
            _subversion, user_length = recv_exact(client, 2)
            user = recv_exact(client, user_length).decode()
            (password_length,) = recv_exact(client, 1)
            sent = (user, recv_exact(client, password_length).decode())
            if sent != self.credentials:
                self._refuse(sent)
                client.sendall(b"\x01\x01")
                return
            client.sendall(b"\x01\x00")
        _version, command, _reserved, address_type = recv_exact(client, 4)
        if address_type == 1:
            host = socket.inet_ntop(socket.AF_INET, recv_exact(client, 4))
        elif address_type == 3:
            (length,) = recv_exact(client, 1)
            host = recv_exact(client, length).decode()
        elif address_type == 4:
            host = socket.inet_ntop(socket.AF_INET6, recv_exact(client, 16))
        else:
            client.sendall(b"\x05\x08\x00\x01" + bytes(6))  # address type not supported
            return
        (port,) = struct.unpack("!H", recv_exact(client, 2))
        if command != 1:
            client.sendall(b"\x05\x07\x00\x01" + bytes(6))  # command not supported
            return
        try:
            upstream = socket.create_connection((host, port), timeout=10)
        except OSError:
            client.sendall(b"\x05\x05\x00\x01" + bytes(6))  # connection refused
            return
        self._record(Relay(target=f"{host}:{port}", method="SOCKS5", credentials=sent))
        with upstream:
            bound_host, bound_port = upstream.getsockname()[:2]
            client.sendall(b"\x05\x00\x00\x01" + socket.inet_aton(bound_host) + struct.pack("!H", bound_port))
            pipe(client, upstream)


# --- the proxy check URL ------------------------------------------------------------------------------------


class IpCheck(Emulator):
    """What PROXY_CHECK_URL points at in tests: answers the exit IP like api.ipify.org.

    ``?format=json`` → ``{"ip": …}``, otherwise plain text; ``reply`` overrides the answer.
    """

    def __init__(self, ip: str = "203.0.113.7") -> None:
        super().__init__()
        self.ip = ip
        self.reply: Reply | None = None

    def handle(self, request: Recorded) -> Reply:
        if self.reply is not None:
            return self.reply
        if request.query.get("format") == ["json"]:
            return Reply(200, {"ip": self.ip})
        return Reply(200, self.ip)
