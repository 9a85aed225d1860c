"""/health/: one JSON answer an orchestrator and an operator can both read."""

import time
import uuid

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .encryption import check_encryption_canary


def _timed(check) -> dict:
    started = time.monotonic()
    try:
        detail = check()
        result = {"ok": True}
        if detail:
            result.update(detail)
    except Exception as exc:  # a health check reports every failure, whatever its type
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    result["ms"] = round((time.monotonic() - started) * 1000, 1)
    return result


def check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


def check_broker() -> dict:
    from crosspost.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=3)
        return {"transport": conn.transport.driver_type}


def check_storage() -> dict:
    name = default_storage.save(f"health/{uuid.uuid4().hex}.txt", ContentFile(b"ok"))
    try:
        with default_storage.open(name) as fh:
            if fh.read() != b"ok":
                raise OSError("storage returned different bytes than were written")
    finally:
        default_storage.delete(name)
    return {"backend": settings.STORAGES["default"]["BACKEND"].rsplit(".", 1)[-1]}


def check_encryption() -> dict:
    problem = check_encryption_canary()
    if problem:
        raise RuntimeError(problem)
    return {"keys": len(settings.FIELD_ENCRYPTION_KEYS)}


def check_heartbeat(name: str, process: str = ""):
    process = process or f"the celery {name}"

    def check() -> dict:
        from .models import Heartbeat

        seen = Heartbeat.objects.filter(name=name).values_list("seen_at", flat=True).first()
        if seen is None:
            raise RuntimeError(f"No {name} heartbeat yet: is {process} running?")
        age = (timezone.now() - seen).total_seconds()
        if age > settings.HEARTBEAT_STALE_SECONDS:
            raise RuntimeError(f"The {name} was last seen {age:.0f} s ago: it is down or stuck.")
        return {"age_s": round(age, 1)}

    return check


CHECKS = {
    "database": check_database,
    "broker": check_broker,
    "storage": check_storage,
    "encryption": check_encryption,
    "worker": check_heartbeat("worker"),
    "beat": check_heartbeat("beat"),
}
# Checked only where the operators' bot is configured (TELEGRAM_BOT_TOKEN): there it must be running.
BOT_CHECK = check_heartbeat("bot", "the Telegram bot (manage.py runbot)")


def checks() -> dict:
    return {**CHECKS, "bot": BOT_CHECK} if settings.TELEGRAM_BOT_TOKEN else CHECKS


@never_cache
@require_GET
def health(request):
    results = {name: _timed(check) for name, check in checks().items()}
    ok = all(r["ok"] for r in results.values())
    return JsonResponse({"status": "ok" if ok else "fail", "checks": results}, status=200 if ok else 503)
