"""A client of the Yandex Wordstat API (https://api.wordstat.yandex.net, "API Вордстата").

What it follows (yandex.ru/support2/wordstat/…/content/api-wordstat and …/api-structure):

- every method is ``POST /v1/<method>`` with a JSON body (``Content-Type: application/json``) and
  ``Authorization: Bearer <OAuth token>``;
- ``/v1/topRequests`` takes ``phrase`` (Wordstat's query language allowed), ``numPhrases`` (default
  50, at most 2000), ``regions`` (geo ids from ``/v1/getRegionsTree``; none = everywhere) and
  ``devices`` (all / desktop / phone / tablet); it answers ``{"requestPhrase", "totalCount",
  "topRequests": [{"phrase", "count"}], "associations": [{"phrase", "count"}]}`` for the last 30
  days and costs one unit of the daily quota. There are no pages: one request returns up to
  ``numPhrases`` phrases, so "all of a keyword" is one call with ``numPhrases=2000``;
- ``/v1/userInfo`` answers ``{"userInfo": {"login", "limitPerSecond", "dailyLimit",
  "dailyLimitRemaining"}}``;
- quotas: the service-wide quota answers ``503 Service unavailable, try again later``; the token's
  own quotas (requests per second and per day) answer ``429 Quota limit exceeded, try again later.
  Time to refill: N seconds``. A short refill is the per-second limit (wait and retry); a long one
  is the daily quota (stop: :class:`QuotaExceeded`).

Errors are exceptions: :class:`AuthError` (401/403: the token is wrong or has no Wordstat access),
:class:`QuotaExceeded`, :class:`TransientError` (5xx, timeouts, connection failures still failing
after the retries), :class:`WordstatError` (anything else, e.g. 400 for a malformed phrase).
429 and 5xx are retried with exponential backoff and jitter (a ``Retry-After`` header, or the
body's refill time, wins when longer), a bounded number of times.

The token is sent in the header only; it never appears in an exception message or a log line.
A ``throttle`` callable, when given, is called before every HTTP attempt (retries included) — the
app passes one that spaces calls across all its workers (campaigns.limiter).
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import requests
from django.conf import settings

from platforms.http import DEFAULT_USER_AGENT, retry_after_seconds

logger = logging.getLogger(__name__)

MAX_PHRASES = 2000  # numPhrases' documented maximum
DEVICES = ("all", "desktop", "phone", "tablet")
# A 429 whose refill time is longer than this is the daily quota, not the per-second one.
LONGEST_WAIT_SECONDS = 60.0
_REFILL = re.compile(r"time to refill:\s*(\d+(?:\.\d+)?)", re.IGNORECASE)


class WordstatError(Exception):
    """Wordstat refused the request; ``message`` is safe to show an operator."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class AuthError(WordstatError):
    """401/403: the OAuth token is wrong, expired, or not approved for the Wordstat API."""


class QuotaExceeded(WordstatError):
    """The token's daily quota is used up (or its 429s did not stop): try again after ``retry_after`` s."""

    def __init__(self, message: str, *, status: int | None = 429, retry_after: float | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class TransientError(WordstatError):
    """The service failed (5xx, timeout, connection) on every try; later may work."""


@dataclass(frozen=True)
class PhraseCount:
    phrase: str
    count: int


@dataclass(frozen=True)
class TopRequests:
    request_phrase: str
    total_count: int
    top: list[PhraseCount]  # popular queries containing the phrase, most frequent first
    associations: list[PhraseCount]  # queries similar to it

    @classmethod
    def from_json(cls, data: dict) -> TopRequests:
        def items(key: str) -> list[PhraseCount]:
            return [
                PhraseCount(str(item["phrase"]), int(item.get("count") or 0))
                for item in data.get(key) or []
                if isinstance(item, dict) and item.get("phrase")
            ]

        return cls(
            request_phrase=str(data.get("requestPhrase") or ""),
            total_count=int(data.get("totalCount") or 0),
            top=items("topRequests"),
            associations=items("associations"),
        )


class WordstatClient:
    def __init__(
        self,
        token: str,
        *,
        base_url: str | None = None,
        timeout: float | None = None,
        throttle: Callable[[], None] | None = None,
        attempts: int = 5,
        backoff_seconds: float = 0.5,
        backoff_cap_seconds: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._token = token.strip()
        self.base_url = (base_url or settings.WORDSTAT_BASE_URL).rstrip("/")
        self.timeout = timeout if timeout is not None else settings.WORDSTAT_TIMEOUT_SECONDS
        self.throttle = throttle
        self.attempts = max(1, attempts)
        self.backoff_seconds = backoff_seconds
        self.backoff_cap_seconds = backoff_cap_seconds
        self.sleep = sleep
        self.session = requests.Session()
        self.session.headers["User-Agent"] = DEFAULT_USER_AGENT

    def __repr__(self) -> str:  # never the token
        return f"WordstatClient({self.base_url})"

    def top_requests(
        self, phrase: str, *, regions: Iterable[int] = (), devices: Iterable[str] = (), num_phrases: int = MAX_PHRASES
    ) -> dict:
        """The raw ``/v1/topRequests`` answer (see :meth:`TopRequests.from_json`)."""
        return self.call("topRequests", top_requests_body(phrase, regions=regions, devices=devices, num_phrases=num_phrases))

    def user_info(self) -> dict:
        """``{"login", "limitPerSecond", "dailyLimit", "dailyLimitRemaining"}`` of the token."""
        return self.call("userInfo", {}).get("userInfo") or {}

    def call(self, method: str, body: dict) -> dict:
        """POST ``/v1/<method>``; retries 429 (per-second quota) and 5xx, raises the errors above."""
        url = f"{self.base_url}/v1/{method}"
        headers = {"Authorization": f"Bearer {self._token}", "Content-Type": "application/json; charset=utf-8"}
        last: WordstatError | None = None
        for attempt in range(self.attempts):
            if attempt:
                self.sleep(self._delay(attempt, last))
            if self.throttle is not None:
                self.throttle()
            try:
                response = self.session.post(url, json=body, headers=headers, timeout=self.timeout)
            except requests.Timeout:
                last = TransientError(f"Wordstat did not answer within {self.timeout:g} s.")
                continue
            except requests.ConnectionError:
                last = TransientError("Could not connect to Wordstat.")
                continue
            if response.status_code == 200:
                try:
                    data = response.json()
                except ValueError:
                    last = TransientError("Wordstat answered with something that is not JSON.", status=200)
                    continue
                if not isinstance(data, dict):
                    raise WordstatError("Wordstat answered in a shape this client does not know.", status=200)
                return data
            last = _error(response)
            if isinstance(last, QuotaExceeded) and (last.retry_after or 0) > LONGEST_WAIT_SECONDS:
                raise last  # the daily quota: waiting inside this call would not help
            if not isinstance(last, (QuotaExceeded, TransientError)):
                raise last
            logger.info("Wordstat %s answered %s (try %d of %d).", method, response.status_code, attempt + 1, self.attempts)
        assert last is not None
        if isinstance(last, QuotaExceeded):
            raise QuotaExceeded(
                f"Wordstat kept answering “quota limit exceeded” after {self.attempts} tries.", retry_after=last.retry_after
            )
        raise last

    def _delay(self, attempt: int, last: WordstatError | None) -> float:
        """Exponential backoff with jitter (half fixed, half random: retries from several workers
        spread out instead of arriving together); a longer wait the server asked for wins."""
        ceiling = min(self.backoff_cap_seconds, self.backoff_seconds * 2 ** (attempt - 1))
        delay = ceiling / 2 + random.uniform(0, ceiling / 2)
        asked = getattr(last, "retry_after", None)
        return max(delay, min(asked, LONGEST_WAIT_SECONDS)) if asked else delay


def top_requests_body(
    phrase: str, *, regions: Iterable[int] = (), devices: Iterable[str] = (), num_phrases: int = MAX_PHRASES
) -> dict:
    body: dict = {"phrase": phrase, "numPhrases": max(1, min(MAX_PHRASES, int(num_phrases)))}
    regions = sorted({int(r) for r in regions})
    if regions:
        body["regions"] = regions
    devices = sorted({d for d in devices if d in DEVICES and d != "all"})
    if devices:
        body["devices"] = devices
    return body


def _error(response: requests.Response) -> WordstatError:
    status = response.status_code
    text = _error_text(response)
    if status in (401, 403):
        return AuthError(
            "Wordstat refused the workspace's OAuth token (wrong, expired, or not approved for the Wordstat API); "
            "set a valid token in the campaign settings.",
            status=status,
        )
    if status == 429:
        # The documented wording may come as the body or as the status line's reason phrase.
        refill = _REFILL.search(f"{text} {response.reason or ''}")
        header = response.headers.get("Retry-After")
        wait = float(refill.group(1)) if refill else None
        if header:
            wait = max(wait or 0.0, retry_after_seconds(header, 1.0))
        return QuotaExceeded(f"Wordstat quota limit exceeded: {text}"[:300], retry_after=wait)
    if status >= 500:
        return TransientError(f"Wordstat is unavailable ({status}): {text}"[:300], status=status)
    return WordstatError(f"Wordstat refused the request ({status}): {text}"[:300], status=status)


def _error_text(response: requests.Response) -> str:
    """The error's wording: a JSON body's ``error``/``message``/``error_description``, else the text."""
    try:
        data = response.json()
    except ValueError:
        return (response.text or response.reason or "").strip()[:200]
    if isinstance(data, dict):
        for key in ("error", "message", "error_description", "detail"):
            value = data.get(key)
            if isinstance(value, dict):
                value = value.get("message")
            if value:
                return str(value)[:200]
    return str(data)[:200]
