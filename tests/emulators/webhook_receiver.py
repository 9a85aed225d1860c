"""A loopback webhook receiver: records every delivery, checks its signature the way the README
tells integrators to, and answers the statuses a test scripts (``script(500, 200)``, a 429 with
Retry-After, or a delay longer than the sender's timeout)."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

from .base import Emulator, Recorded, Reply


@dataclass
class Scripted:
    status: int = 200
    headers: dict | None = None
    delay: float = 0.0
    body: str = "ok"


def signature_valid(secret: str, request: Recorded) -> bool:
    """What a receiver does: HMAC-SHA256 of "{timestamp}.{raw body}" with the shared secret,
    compared in constant time with the X-Crosspost-Signature header."""
    timestamp = request.headers.get("X-Crosspost-Timestamp", "")
    given = request.headers.get("X-Crosspost-Signature", "")
    expected = "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given)


class WebhookReceiver(Emulator):
    """POST /hook answers the next scripted reply (200 "ok" when none is left)."""

    def __init__(self) -> None:
        super().__init__()
        self._script: list[Scripted] = []

    @property
    def hook_url(self) -> str:
        return f"{self.url}/hook"

    def script(self, *replies: int | Scripted) -> None:
        with self.lock:
            self._script.extend(r if isinstance(r, Scripted) else Scripted(status=r) for r in replies)

    def handle(self, request: Recorded) -> Reply:
        with self.lock:
            scripted = self._script.pop(0) if self._script else Scripted()
        if scripted.delay:
            time.sleep(scripted.delay)
        return Reply(scripted.status, scripted.body, scripted.headers or {})
