"""Wordstat answers through the cache (``WordstatCache``): the same request within
WORDSTAT_CACHE_DAYS is answered from the database and makes no call.

The cache key is the SHA-256 of the normalised request — method, phrase (lower case, spaces
collapsed; word order and Wordstat operators kept, they change the answer), sorted region ids,
sorted devices, numPhrases. The token is not part of it: Wordstat's numbers are the same whoever
asks, so one workspace's answer saves another's quota. The date is not part of the key either: a
hit is used only while younger than the TTL, which is what "same request, same period" means for a
report that always covers the last 30 days.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from .clients.wordstat import MAX_PHRASES, WordstatClient, top_requests_body
from .limiter import wordstat_throttle
from .models import WordstatCache

_SPACES = re.compile(r"\s+")


def normalise_phrase(phrase: str) -> str:
    return _SPACES.sub(" ", phrase).strip().lower()


def cache_key(method: str, body: dict) -> str:
    payload = json.dumps({"method": method, **body}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def fresh_since():
    return timezone.now() - timedelta(days=float(settings.WORDSTAT_CACHE_DAYS))


def client_for(token: str) -> WordstatClient:
    """The Wordstat client the app uses: settings' base URL and timeout, calls spaced under
    WORDSTAT_RPS across all workers."""
    return WordstatClient(token, throttle=wordstat_throttle(token))


def cached_top_requests(
    client: WordstatClient,
    phrase: str,
    *,
    regions: Iterable[int] = (),
    devices: Iterable[str] = (),
    num_phrases: int = MAX_PHRASES,
) -> tuple[dict, bool]:
    """``/v1/topRequests`` for ``phrase``: ``(answer, True)`` from a fresh cache entry, else the
    answer of one call (saved for the next asker) and False. Client errors propagate."""
    body = top_requests_body(normalise_phrase(phrase), regions=regions, devices=devices, num_phrases=num_phrases)
    key = cache_key("topRequests", body)
    hit = WordstatCache.objects.filter(key=key, fetched_at__gte=fresh_since()).values_list("response", flat=True).first()
    if hit is not None:
        return hit, True
    answer = client.call("topRequests", body)
    WordstatCache.objects.update_or_create(
        key=key, defaults={"method": "topRequests", "request": body, "response": answer, "fetched_at": timezone.now()}
    )
    return answer, False
