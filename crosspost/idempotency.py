"""``Idempotency-Key`` for API writes: a client that retries a POST/PUT/PATCH/DELETE after a lost
answer gets the first answer back instead of a second post.

Under /api/v1/, a write sent with the header by an authenticated user is run once; its answer
(status, body, content type) is stored with the key, the user, the method, the path and a hash of
the body, for IDEMPOTENCY_KEY_TTL_HOURS. Then, with the same key from the same user:

* the same method, path and body → the stored answer, with ``Idempotent-Replayed: true``, and the
  view does not run again;
* another method, path or body → 422 (a key names one request);
* while the first request still runs → 409.

Answers that say "try again" are not stored — 5xx and 429 — so the retry runs for real.

Why a middleware and not a DRF hook: it then covers every view under /api/v1/ (viewsets, plain
APIViews, downloads) without each having to opt in. DRF authenticates inside the view, so the
middleware authenticates the request itself with the same authenticators DRF is configured with
(JWT, then the session with its CSRF check) and never touches ``request.user``; a request it cannot
authenticate is passed through untouched and the view gives its usual 401/403.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.settings import api_settings

from .models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PREFIX = "/api/v1/"
# Token requests carry no user to key on; they are left alone.
EXCLUDED_PREFIXES = ("/api/v1/auth/",)
# Visible ASCII, no spaces: what survives every proxy unchanged (a UUID is the usual choice).
KEY_PATTERN = r"^[\x21-\x7E]{1,255}$"
_KEY = re.compile(r"[\x21-\x7E]{1,255}")
INVALID_KEY_MESSAGE = (
    "The Idempotency-Key header must be 1 to 255 visible ASCII characters (letters, digits, punctuation; no spaces), e.g. a UUID."
)
_SPOOL_BYTES = 1024 * 1024


def applies(request: HttpRequest) -> bool:
    path = request.path
    return (
        request.method in WRITE_METHODS
        and path.startswith(PREFIX)
        and not path.startswith(EXCLUDED_PREFIXES)
        and HEADER in request.headers
    )


def authenticated_user(request: HttpRequest):
    """The user DRF would authenticate for this request, or None (DRF then answers 401/403 itself)."""
    drf_request = Request(request, authenticators=[])
    for authenticator_class in api_settings.DEFAULT_AUTHENTICATION_CLASSES:
        try:
            result = authenticator_class().authenticate(drf_request)
        except APIException:
            return None
        if result is not None:
            user = result[0]
            return user if getattr(user, "is_authenticated", False) and user.is_active else None
    return None


def body_hash(request: HttpRequest) -> str:
    """sha256 of the raw body. Read in chunks into a spooled file that then replaces the request's
    stream, so a large upload is neither refused (DATA_UPLOAD_MAX_MEMORY_SIZE) nor held in memory."""
    digest = hashlib.sha256()
    if hasattr(request, "_body"):
        digest.update(request._body)
        return digest.hexdigest()
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)
    while chunk := request.read(64 * 1024):
        digest.update(chunk)
        spool.write(chunk)
    spool.seek(0)
    request._stream = spool
    request._read_started = False
    return digest.hexdigest()


def _refusal(status: int, message: str) -> JsonResponse:
    return JsonResponse({"detail": message}, status=status)


def _replay(record: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(bytes(record.response_body), status=record.status_code, content_type=record.content_type or None)
    response[REPLAYED_HEADER] = "true"
    return response


def _claim(user, key: str, method: str, path: str, digest: str) -> IdempotencyKey | HttpResponse:
    """Our new record for this key, or the answer to give instead (a replay, 409 or 422)."""
    now = timezone.now()
    ttl = timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    for _attempt in range(3):
        try:
            with transaction.atomic():
                return IdempotencyKey.objects.create(
                    user=user, key=key, method=method, path=path, body_hash=digest, created_at=now
                )
        except IntegrityError:
            pass
        existing = IdempotencyKey.objects.filter(user=user, key=key).first()
        if existing is None:
            continue  # it expired and was purged meanwhile: try again
        stale = now - timedelta(seconds=settings.IDEMPOTENCY_STALE_SECONDS)
        stale_running = not existing.completed and existing.created_at < stale
        if existing.created_at < now - ttl or stale_running:
            # Expired, or its request died with its process: the key is free again.
            IdempotencyKey.objects.filter(pk=existing.pk, created_at=existing.created_at, completed=existing.completed).delete()
            continue
        if (existing.method, existing.path, existing.body_hash) != (method, path, digest):
            return _refusal(
                422,
                f"This Idempotency-Key was used for another request ({existing.method} {existing.path} with another "
                "body) in the last "
                f"{settings.IDEMPOTENCY_KEY_TTL_HOURS} h: use a new key for a new request.",
            )
        if not existing.completed:
            return _refusal(409, "A request with this Idempotency-Key is still running: wait for its answer, then retry.")
        return _replay(existing)
    return _refusal(409, "This Idempotency-Key is being used by another request right now: retry in a moment.")


def _store(record: IdempotencyKey, response: HttpResponse) -> None:
    if response.streaming or response.status_code >= 500 or response.status_code == 429:
        # "Try again" answers are not kept: the retry must run for real.
        IdempotencyKey.objects.filter(pk=record.pk).delete()
        return
    IdempotencyKey.objects.filter(pk=record.pk).update(
        completed=True,
        status_code=response.status_code,
        content_type=response.get("Content-Type", "")[:200],
        response_body=response.content,
    )


def _accepts(view_func, method: str) -> bool:
    """Whether the resolved view answers ``method`` at all: a method it does not support gets its
    405 from the view, never a replay or a 422 for a key it could not have used."""
    method = method.lower()
    actions = getattr(view_func, "actions", None)  # a DRF viewset: its method → action map
    if actions is not None:
        return method in actions
    view_class = getattr(view_func, "cls", None) or getattr(view_func, "view_class", None)
    if view_class is not None:
        return method in getattr(view_class, "http_method_names", ()) and hasattr(view_class, method)
    return True


class IdempotencyMiddleware:
    """See the module docstring. The key is checked once the URL is resolved (``process_view``), so
    a path that does not exist or a method the view does not support gets the view's own 404/405."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            response = self.get_response(request)
        except BaseException:
            claimed = getattr(request, "_idempotency_claim", None)
            if claimed is not None:
                IdempotencyKey.objects.filter(pk=claimed.pk).delete()
            raise
        claimed = getattr(request, "_idempotency_claim", None)
        if claimed is not None:
            _store(claimed, response)
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        if not applies(request) or not _accepts(view_func, request.method):
            return None
        # The body first: the session's CSRF check may parse a form, and the hash needs the raw bytes.
        digest = body_hash(request)
        user = authenticated_user(request)
        if user is None:
            return None
        key = request.headers[HEADER]
        if not _KEY.fullmatch(key):
            return _refusal(400, INVALID_KEY_MESSAGE)
        claimed = _claim(user, key, request.method, request.get_full_path()[:2000], digest)
        if isinstance(claimed, HttpResponse):
            return claimed
        request._idempotency_claim = claimed
        return None


def purge_expired(*, now=None) -> int:
    """Delete keys older than IDEMPOTENCY_KEY_TTL_HOURS; returns how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    deleted, _by_model = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
