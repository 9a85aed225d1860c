"""A loopback Yandex Wordstat API (``https://api.wordstat.yandex.net``, "API Вордстата").

What it follows — yandex.ru/support2/wordstat/ru/content/api-wordstat ("Ограничения
использования") and …/content/api-structure:

- ``POST /v1/<method>``, a JSON body, ``Authorization: Bearer <OAuth token>`` (another token → 401);
- ``/v1/topRequests``: ``phrase`` (required), ``numPhrases`` (default 50, at most 2000),
  ``regions`` (geo ids), ``devices`` (all/desktop/phone/tablet) → ``{"requestPhrase",
  "totalCount", "topRequests": [{"phrase", "count"}], "associations": [...]}``; one unit of
  the daily quota;
- ``/v1/getRegionsTree`` (no parameters, no quota) and ``/v1/userInfo`` (``{"userInfo": {"login",
  "limitPerSecond", "dailyLimit", "dailyLimitRemaining"}}``, no quota);
- the token's quotas: more than ``limit_per_second`` calls within a second, or more than
  ``daily_limit`` quota units in a day → ``429 Quota limit exceeded, try again later. Time to
  refill: N seconds`` (N the whole seconds until the quota refills: 0 within the second, until the
  day's end for the daily one); the service-wide quota → ``503 Service unavailable, try again
  later``. The documents give these as the status and its text; the body here is the same text as
  JSON ``{"error": …}`` (the body's exact shape is not documented).

Answers are deterministic: ``dataset[phrase]`` (a list of ``(phrase, count)``) when a test set
one, else generated from the phrase — the phrase itself and the phrase with each of ``SUFFIXES`` —
with counts from a hash of phrase and regions. ``fail_next``: ``429`` (the per-second quota),
``"daily"`` (the daily quota), ``503``, ``500``, ``401``, or ``{"status": 429, "retry_after": N}``
(with a ``Retry-After: N`` header). ``arrivals`` records each call's time
(monotonic) for spacing checks; ``asked`` the phrases of the topRequests calls that were answered.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import deque

from .base import Emulator, Recorded, Reply

SUFFIXES = ["купить", "цена", "недорого", "отзывы", "интернет магазин", "доставка", "москва", "своими руками", "для дома"]
REGIONS_TREE = [
    {"value": "225", "label": "Россия", "children": [{"value": "213", "label": "Москва", "children": None}]},
]
SECONDS_IN_DAY = 86400


def _count(*parts: object) -> int:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()
    return 50 + int(digest[:8], 16) % 50000


class WordstatEmulator(Emulator):
    def __init__(self, token: str, *, limit_per_second: int = 10, daily_limit: int = 1000) -> None:
        super().__init__()
        self.token = token
        self.limit_per_second = limit_per_second
        self.daily_limit = daily_limit
        self.used_today = 0
        self.dataset: dict[str, list[tuple[str, int]]] = {}
        self.arrivals: list[float] = []
        self.asked: list[str] = []
        self.refused: list[int] = []  # statuses of the calls answered with an error
        self._window: deque[float] = deque()

    @property
    def top_calls(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == "/v1/topRequests"]

    def handle(self, request: Recorded) -> Reply:
        reply = self._handle(request)
        if reply.status != 200:
            with self.lock:
                self.refused.append(reply.status)
        return reply

    def _handle(self, request: Recorded) -> Reply:
        now = time.monotonic()
        with self.lock:
            self.arrivals.append(now)
        auth = next((v for k, v in request.headers.items() if k.lower() == "authorization"), "")
        if request.method != "POST" or not request.path.startswith("/v1/"):
            return Reply(404, {"error": "Not found"})
        if auth != f"Bearer {self.token}":
            return Reply(401, {"error": "Invalid OAuth token"})
        failure = self.take_failure()
        if failure == 401:
            return Reply(401, {"error": "Invalid OAuth token"})
        if failure == 503:
            return Reply(503, {"error": "Service unavailable, try again later"})
        if failure == 500:
            return Reply(500, {"error": "Internal server error"})
        if failure == 429:
            return self._quota(0)
        if isinstance(failure, dict):  # {"status": 429, "retry_after": seconds}: a Retry-After header too
            reply = self._quota(0) if failure["status"] == 429 else Reply(failure["status"], {"error": "Failure on demand"})
            reply.headers["Retry-After"] = str(failure["retry_after"])
            return reply
        if failure == "daily":
            return self._quota(self._seconds_to_midnight())
        with self.lock:
            while self._window and now - self._window[0] >= 1.0:
                self._window.popleft()
            if len(self._window) >= self.limit_per_second:
                return self._quota(math.floor(1.0 - (now - self._window[0])))
            self._window.append(now)
        method = request.path.removeprefix("/v1/")
        if method == "getRegionsTree":
            return Reply(200, REGIONS_TREE)
        if method == "userInfo":
            return Reply(
                200,
                {
                    "userInfo": {
                        "login": "crosspost-test",
                        "limitPerSecond": self.limit_per_second,
                        "dailyLimit": self.daily_limit,
                        "dailyLimitRemaining": max(0, self.daily_limit - self.used_today),
                    }
                },
            )
        if method != "topRequests":
            return Reply(404, {"error": f"Unknown method {method}"})
        body = request.json if isinstance(request.json, dict) else None
        if body is None or not str(body.get("phrase") or "").strip():
            return Reply(400, {"error": "Parameter phrase is required"})
        num = body.get("numPhrases", 50)
        if not isinstance(num, int) or not 1 <= num <= 2000:
            return Reply(400, {"error": "numPhrases must be from 1 to 2000"})
        with self.lock:
            if self.used_today >= self.daily_limit:
                return self._quota(self._seconds_to_midnight())
            self.used_today += 1
            self.asked.append(body["phrase"])
        return Reply(200, self.top_requests(body["phrase"], num, body.get("regions") or []))

    def top_requests(self, phrase: str, num: int, regions: list) -> dict:
        if phrase in self.dataset:
            items = list(self.dataset[phrase])
        else:
            region_key = ",".join(map(str, sorted(regions)))
            items = [(phrase, _count(phrase, region_key) * 10)]
            items += [(f"{phrase} {suffix}", _count(phrase, suffix, region_key)) for suffix in SUFFIXES]
        items.sort(key=lambda item: -item[1])
        return {
            "requestPhrase": phrase,
            "totalCount": sum(count for _, count in items),
            "topRequests": [{"phrase": p, "count": c} for p, c in items[:num]],
            "associations": [{"phrase": f"похожий запрос {phrase}", "count": 7}],
        }

    @staticmethod
    def _quota(refill_seconds: int) -> Reply:
        return Reply(429, {"error": f"Quota limit exceeded, try again later. Time to refill: {max(0, refill_seconds)} seconds"})

    @staticmethod
    def _seconds_to_midnight() -> int:
        return SECONDS_IN_DAY - int(time.time()) % SECONDS_IN_DAY
