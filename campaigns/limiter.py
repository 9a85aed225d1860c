"""A rate limit shared by every process that talks to one service with one credential.

Each limit is one ``ApiRateLimit`` row holding the first free call time. A caller takes a slot with
a single ``UPDATE … SET next_at = MAX(next_at, now) + interval`` and reads the row back in the same
transaction: the UPDATE locks the row (PostgreSQL) or the database (SQLite, whose transactions here
begin IMMEDIATE), so two callers can never take the same slot — the second one's UPDATE waits for
the first one's commit and then starts from the time the first one left. The caller then sleeps,
outside the transaction, until its slot. Calls are therefore at least ``interval`` apart across
threads, Celery workers and machines that share the database, with no Redis and no lock held
while waiting. (Clocks: ``now`` is the caller's clock; machines are assumed NTP-synchronised.)
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest

from .models import ApiRateLimit

LOCKED_TRIES = 200


def take_slot(key: str, interval: float) -> float:
    """Reserve the next free call time of ``key`` (Unix seconds); calls are ``interval`` s apart."""
    for attempt in range(LOCKED_TRIES):
        try:
            return _take_slot(key, interval)
        except OperationalError as exc:
            # SQLite says "locked" when its busy timeout runs out, and at once between connections of
            # a shared-cache (in-memory) database; the slot was not taken, so taking it again is safe.
            if "locked" not in str(exc) or attempt == LOCKED_TRIES - 1:
                raise
            time.sleep(random.uniform(0.005, 0.02))
    raise AssertionError("unreachable")


def _take_slot(key: str, interval: float) -> float:
    now = time.time()
    _ensure_row(key)
    with transaction.atomic():
        ApiRateLimit.objects.filter(key=key).update(next_at=Greatest(F("next_at"), Value(now)) + Value(interval))
        return ApiRateLimit.objects.filter(key=key).values_list("next_at", flat=True).get() - interval


def wait_for_slot(key: str, interval: float, *, sleep: Callable[[float], None] = time.sleep) -> None:
    """Take a slot and sleep until it comes (the sleep is outside any transaction)."""
    delay = take_slot(key, interval) - time.time()
    if delay > 0:
        sleep(delay)


def wordstat_throttle(token: str) -> Callable[[], None]:
    """A throttle for the Wordstat client: at most WORDSTAT_RPS calls a second per OAuth token (the
    API's per-second quota is the token's), counted across all workers. The key holds a hash of
    the token, never the token."""
    key = "wordstat:" + hashlib.sha256(token.strip().encode()).hexdigest()[:32]
    rps = float(settings.WORDSTAT_RPS)
    interval = 1.0 / rps if rps > 0 else 0.0
    return lambda: wait_for_slot(key, interval)


def _ensure_row(key: str) -> None:
    if ApiRateLimit.objects.filter(key=key).exists():
        return
    try:
        with transaction.atomic():
            ApiRateLimit.objects.create(key=key, next_at=0.0)
    except IntegrityError:  # another worker created it first: fine
        pass
