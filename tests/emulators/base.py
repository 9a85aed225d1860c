"""A small threaded HTTP server on 127.0.0.1 that records every request.

Emulators subclass :class:`Emulator`, route requests in ``handle(request)`` and
return ``Reply`` objects. Tests read ``emulator.requests`` to assert on what the
adapter really sent (method, path, query, headers, form fields, files, JSON).
Failures are injected with ``emulator.fail_next(...)`` per emulator.
"""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    form: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)  # name -> (filename, content type, bytes)
    json: Any = None

    def param(self, name: str, default: str | None = None) -> str | None:
        """A parameter from the query string, form fields or JSON body."""
        for source in (self.form, self.query):
            if name in source:
                return source[name][0]
        if isinstance(self.json, dict) and name in self.json:
            value = self.json[name]
            return value if isinstance(value, str) else json.dumps(value)
        return default


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list → JSON; bytes/str → as is
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> tuple[bytes, str]:
        if isinstance(self.body, (dict, list)):
            return json.dumps(self.body).encode(), "application/json"
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return self.body or b"", "application/octet-stream"


def parse_body(headers, body: bytes) -> tuple[dict, dict, Any]:
    ctype = headers.get("Content-Type", "")
    form: dict[str, list[str]] = {}
    files: dict[str, tuple[str, str, bytes]] = {}
    parsed_json = None
    if ctype.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            if part.get_filename() is not None:
                files[name] = (part.get_filename(), part.get_content_type(), payload)
            else:
                form.setdefault(name, []).append(payload.decode(part.get_content_charset() or "utf-8"))
    elif ctype.startswith("application/x-www-form-urlencoded"):
        form = parse_qs(body.decode(), keep_blank_values=True)
    elif ctype.startswith("application/json") and body:
        parsed_json = json.loads(body)
    return form, files, parsed_json


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # A client that stopped listening (the "lost answer" tests) is expected, not an error.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


class Emulator:
    """Base of every loopback emulator; use as a context manager."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.lock = threading.Lock()
        self._failures: list[Any] = []
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall per request

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                form, files, parsed_json = parse_body(self.headers, body)
                request = Recorded(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers={k: v for k, v in self.headers.items()},
                    body=body,
                    form=form,
                    files=files,
                    json=parsed_json,
                )
                with emulator.lock:
                    emulator.requests.append(request)
                try:
                    reply = emulator.handle(request)
                except Exception as exc:  # an emulator bug must show up as a 500 with its reason
                    reply = Reply(500, {"emulator_error": f"{type(exc).__name__}: {exc}"})
                payload, ctype = reply.encode()
                self.send_response(reply.status)
                headers = {"Content-Type": ctype, **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        self.server = _Server(("127.0.0.1", 0), Handler)
        # A short poll interval makes shutdown (every test's teardown) fast.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, failure: Any, times: int = 1) -> None:
        """Queue a failure the emulator's ``handle`` applies to the next matching call(s)."""
        with self.lock:
            self._failures.extend([failure] * times)

    def recover(self) -> None:
        """Drop the failures still queued: the service is back."""
        with self.lock:
            self._failures.clear()

    def take_failure(self) -> Any | None:
        with self.lock:
            return self._failures.pop(0) if self._failures else None

    def handle(self, request: Recorded) -> Reply:
        raise NotImplementedError
