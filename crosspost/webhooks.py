"""Outgoing webhooks: a workspace's events, signed and delivered to the endpoints that subscribe to them.

Why in the core: events come from every floor (accounts' status changes, publishing's outcomes,
sources' new posts), and the core is the one place all of them may import.

* ``emit`` is called by the code where an event happens. It writes one WebhookDelivery per active
  endpoint subscribed to the event, inside the caller's transaction, and enqueues the sending after
  commit. It never fails its caller, and when the workspace has no endpoint it costs one indexed
  query (the payload, which may need queries of its own, is then never built).
* ``delivery_send`` makes exactly one HTTP attempt per claim: the claim is a conditional UPDATE
  (pending/retry_wait and due → sending), so two workers never send the same attempt. 2xx is
  success; a timeout, a connection error, 408, 429 (its Retry-After honoured) or 5xx waits and
  retries (WEBHOOK_RETRY_SECONDS: 1 min, 5 min, 30 min, 2 h, 6 h, 12 h, then failed); any other
  answer is the receiver refusing, and fails at once.
* Deliveries are at-least-once: a worker that dies mid-send leaves a claim that runs out and is
  sent again. Receivers dedupe on ``X-Crosspost-Delivery`` (the event id).

Every request carries ``X-Crosspost-Signature: sha256=<hex>``, the HMAC-SHA256 of
``"{X-Crosspost-Timestamp}.{body}"`` with the endpoint's secret (the README shows how to check it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import socket
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
from celery import current_app
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from .activity import log_activity
from .models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent
from .netsafety import internal_address

logger = logging.getLogger(__name__)

# What an endpoint may subscribe to (the test event goes to every endpoint on request only).
SUBSCRIBABLE_EVENTS = [choice for choice in WebhookEvent.values if choice != WebhookEvent.PING]
RESPONSE_EXCERPT_CHARS = 2000
USER_AGENT = "Crosspost-Webhooks/1.0"
DELIVER_TASK = "crosspost.tasks.deliver_webhook"
# A claim outlives one attempt's timeout by this much before it counts as a dead worker's.
CLAIM_MARGIN = timedelta(seconds=60)


# --- Endpoints ---------------------------------------------------------------------------------------


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a webhook endpoint (scheme, credentials, an internal host), or None."""
    try:
        parts = urlsplit((url or "").strip())
        port = parts.port
    except ValueError:
        return _("%(url)s is not a valid address.") % {"url": url}
    if parts.scheme.lower() not in ("http", "https"):
        return _("A webhook URL must start with http:// or https://.")
    host = (parts.hostname or "").lower()
    if not host:
        return _("The address has no host name: give a full URL such as https://example.com/hooks/crosspost.")
    if parts.username or parts.password:
        return _("Put no user name or password in the URL: requests are signed with the endpoint's secret instead.")
    if settings.DEBUG or settings.WEBHOOK_ALLOW_PRIVATE_URLS:
        return None
    try:
        address = internal_address(host, port or (443 if parts.scheme.lower() == "https" else 80))
    except (socket.gaierror, UnicodeError):
        return _("The host %(host)s could not be found: check the address.") % {"host": host}
    if address is not None:
        return _(
            "%(host)s is an internal address (%(address)s); webhooks go only to hosts on the public internet "
            "(WEBHOOK_ALLOW_PRIVATE_URLS lifts this)."
        ) % {"host": host, "address": address}
    return None


def clean_events(events) -> list[str]:
    if not isinstance(events, (list, tuple)) or not all(isinstance(event, str) for event in events):
        raise ValidationError({"events": [_("Give the events as a list of names.")]})
    unknown = sorted(set(events) - set(SUBSCRIBABLE_EVENTS))
    if unknown:
        raise ValidationError(
            {
                "events": [
                    _("Unknown events: %(unknown)s. Choose from %(known)s.")
                    % {"unknown": ", ".join(unknown), "known": ", ".join(SUBSCRIBABLE_EVENTS)}
                ]
            }
        )
    if not events:
        raise ValidationError({"events": [_("Choose at least one event.")]})
    return [event for event in SUBSCRIBABLE_EVENTS if event in events]  # stored in one order, once each


@transaction.atomic
def endpoint_save(
    *,
    workspace,
    url: str,
    events,
    actor=None,
    endpoint: WebhookEndpoint | None = None,
    active: bool = True,
    description: str = "",
    secret: str = "",
) -> tuple[WebhookEndpoint, str]:
    """Create or change an endpoint. Returns it and the plaintext secret when one was set now
    (given, or generated for a new endpoint: the caller shows it once), else ""."""
    problem = url_problem(url)
    if problem:
        raise ValidationError({"url": [problem]})
    creating = endpoint is None
    if creating:
        endpoint = WebhookEndpoint(workspace=workspace, created_by=actor if getattr(actor, "is_authenticated", False) else None)
    endpoint.url = url.strip()
    endpoint.events = clean_events(events)
    endpoint.active = active
    endpoint.description = description
    shown = ""
    if secret or creating:
        shown = secret or new_secret()
        endpoint.secret = shown
    endpoint.full_clean()
    endpoint.save()
    log_activity(
        action="webhook.create" if creating else "webhook.update",
        workspace=endpoint.workspace,
        actor=actor,
        message=str(endpoint),
        details={"endpoint": endpoint.pk, "url": endpoint.url, "events": endpoint.events, "active": endpoint.active},
    )
    return endpoint, shown


@transaction.atomic
def endpoint_rotate_secret(*, endpoint: WebhookEndpoint, actor=None) -> str:
    """A new signing secret; returns it (shown once). Deliveries sent from now on are signed with it."""
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret", "updated_at"])
    log_activity(
        action="webhook.rotate_secret",
        workspace=endpoint.workspace,
        actor=actor,
        message=str(endpoint),
        details={"endpoint": endpoint.pk},
    )
    return endpoint.secret


# --- Emitting ----------------------------------------------------------------------------------------------


def envelope(event: str, event_id: uuid.UUID, workspace_id: int, data: dict, created_at: datetime) -> dict:
    return {
        "id": str(event_id),
        "event": event,
        "created_at": created_at.isoformat().replace("+00:00", "Z"),
        "workspace": workspace_id,
        "data": data,
    }


def emit(event: str, *, workspace_id: int | None, payload: dict | Callable[[], dict]) -> int:
    """Record ``event`` for every active endpoint of the workspace subscribed to it; send after commit.

    ``payload`` is the event's ``data`` (ids, statuses, remote URLs — never secrets), or a function
    returning it, called only when some endpoint listens. Returns the number of deliveries made;
    an error is logged, never raised: the caller's work must not fail for its webhooks."""
    if workspace_id is None:
        return 0
    try:
        endpoints = [
            endpoint_id
            for endpoint_id, events in WebhookEndpoint.objects.filter(workspace_id=workspace_id, active=True).values_list(
                "id", "events"
            )
            if event in (events or [])
        ]
        if not endpoints:
            return 0
        data = payload() if callable(payload) else payload
        now = timezone.now()
        event_id = uuid.uuid4()
        body = envelope(event, event_id, workspace_id, data, now)
        with transaction.atomic():
            deliveries = WebhookDelivery.objects.bulk_create(
                [
                    WebhookDelivery(
                        endpoint_id=endpoint_id,
                        workspace_id=workspace_id,
                        event=event,
                        event_id=event_id,
                        payload=body,
                        next_attempt_at=now,
                    )
                    for endpoint_id in endpoints
                ]
            )
        _enqueue_after_commit([delivery.pk for delivery in deliveries])
        return len(deliveries)
    except Exception:
        logger.exception("Could not record the webhook event %s of workspace %s", event, workspace_id)
        return 0


def _enqueue_after_commit(delivery_ids: list[int]) -> None:
    def enqueue() -> None:
        # By name: crosspost.tasks imports this module.
        deliver = current_app.tasks[DELIVER_TASK]
        for delivery_id in delivery_ids:
            try:
                deliver.delay(delivery_id)
            except Exception:
                # The broker is away: retry_webhooks finds the delivery due and sends it.
                logger.exception("Could not enqueue webhook delivery %s", delivery_id)

    transaction.on_commit(enqueue)


def send_test_event(*, endpoint: WebhookEndpoint, actor=None) -> WebhookDelivery:
    """A ``ping`` delivery to this endpoint (whatever it subscribes to), sent after commit."""
    now = timezone.now()
    event_id = uuid.uuid4()
    data = {"endpoint": endpoint.pk, "message": "Test event from Crosspost: your endpoint is reachable."}
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        workspace_id=endpoint.workspace_id,
        event=WebhookEvent.PING,
        event_id=event_id,
        payload=envelope(WebhookEvent.PING, event_id, endpoint.workspace_id, data, now),
        next_attempt_at=now,
    )
    log_activity(
        action="webhook.test", workspace=endpoint.workspace, actor=actor, message=str(endpoint), details={"endpoint": endpoint.pk}
    )
    _enqueue_after_commit([delivery.pk])
    return delivery


def delivery_redeliver(*, delivery: WebhookDelivery, actor=None) -> WebhookDelivery:
    """The same event (same event id, so the receiver can tell) sent again as a new delivery."""
    copy = WebhookDelivery.objects.create(
        endpoint_id=delivery.endpoint_id,
        workspace_id=delivery.workspace_id,
        event=delivery.event,
        event_id=delivery.event_id,
        payload=delivery.payload,
        next_attempt_at=timezone.now(),
    )
    log_activity(
        action="webhook.redeliver",
        workspace=delivery.endpoint.workspace,
        actor=actor,
        message=f"{delivery.event} → {delivery.endpoint}",
        details={"delivery": delivery.pk, "new_delivery": copy.pk, "event_id": str(delivery.event_id)},
    )
    _enqueue_after_commit([copy.pk])
    return copy


# --- Sending --------------------------------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Crosspost-Signature`` value: ``sha256=`` + hex HMAC-SHA256 of ``"{timestamp}.{body}"``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def retry_delay(attempt: int) -> timedelta | None:
    """The wait after failed attempt number ``attempt`` (1-based), or None when it was the last."""
    waits = settings.WEBHOOK_RETRY_SECONDS
    if attempt > len(waits):
        return None
    return timedelta(seconds=waits[attempt - 1])


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """A ``Retry-After`` header as seconds (delay-seconds or an HTTP-date), capped; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            seconds = (parsedate_to_datetime(value) - now).total_seconds()
        except (TypeError, ValueError, IndexError):
            return None
    return min(max(seconds, 0.0), float(settings.WEBHOOK_MAX_RETRY_AFTER_SECONDS))


def _excerpt(response: requests.Response) -> str:
    try:
        text = response.content[: RESPONSE_EXCERPT_CHARS * 4].decode(response.encoding or "utf-8", errors="replace")
    except Exception:
        return ""
    return text[:RESPONSE_EXCERPT_CHARS]


def delivery_send(delivery_id: int, *, now: datetime | None = None) -> str:
    """Claim the delivery if it is due and make one HTTP attempt; returns its new status, or
    "stale" when it was not due or another worker has it."""
    now = now or timezone.now()
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_id, status__in=(DeliveryStatus.PENDING, DeliveryStatus.RETRY_WAIT))
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(
            status=DeliveryStatus.SENDING,
            attempts=F("attempts") + 1,
            claimed_until=now + timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS) + CLAIM_MARGIN,
        )
    )
    if not claimed:
        return "stale"
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    if not endpoint.active:
        return _record(delivery, now, final=True, error=_("The endpoint is switched off; nothing was sent."))
    problem = url_problem(endpoint.url)  # again now: what a name resolves to can change after it was saved
    if problem:
        return _record(delivery, now, final=True, error=problem)
    body = json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":")).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Crosspost-Event": delivery.event,
        "X-Crosspost-Delivery": str(delivery.event_id),
        "X-Crosspost-Timestamp": str(timestamp),
        "X-Crosspost-Signature": sign(endpoint.secret, timestamp, body),
    }
    started = time.monotonic()
    try:
        response = requests.post(
            endpoint.url, data=body, headers=headers, timeout=settings.WEBHOOK_TIMEOUT_SECONDS, allow_redirects=False
        )
    except requests.Timeout:
        error = _("No answer within %(seconds)s s.") % {"seconds": settings.WEBHOOK_TIMEOUT_SECONDS}
        return _record(delivery, now, error=error, duration_ms=_ms(started))
    except requests.RequestException as exc:
        error = _("Could not reach the endpoint: %(error)s") % {"error": type(exc).__name__}
        return _record(delivery, now, error=error, duration_ms=_ms(started))
    code = response.status_code
    excerpt = _excerpt(response)
    if 200 <= code < 300:
        return _record(delivery, now, success=True, status_code=code, excerpt=excerpt, duration_ms=_ms(started))
    if code in (408, 429) or code >= 500:
        wait = retry_after_seconds(response.headers.get("Retry-After"), now) if code in (429, 503) else None
        error = _("The endpoint answered HTTP %(code)s; will retry.") % {"code": code}
        return _record(delivery, now, status_code=code, excerpt=excerpt, error=error, retry_after=wait, duration_ms=_ms(started))
    error = _("The endpoint refused the delivery with HTTP %(code)s; not retried.") % {"code": code}
    return _record(delivery, now, final=True, status_code=code, excerpt=excerpt, error=error, duration_ms=_ms(started))


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _record(
    delivery: WebhookDelivery,
    now: datetime,
    *,
    success: bool = False,
    final: bool = False,
    status_code: int | None = None,
    excerpt: str = "",
    error: str = "",
    retry_after: float | None = None,
    duration_ms: int | None = None,
) -> str:
    """Write the attempt's outcome, conditional on our claim still standing."""
    finished = timezone.now()
    if success:
        status, next_at = DeliveryStatus.SUCCESS, None
    else:
        delay = None if final else retry_delay(delivery.attempts)
        if delay is not None and retry_after is not None:
            delay = timedelta(seconds=retry_after)
        status = DeliveryStatus.FAILED if delay is None else DeliveryStatus.RETRY_WAIT
        next_at = None if delay is None else finished + delay
        if status == DeliveryStatus.FAILED and not final:
            error = _("Gave up after %(count)s attempts. %(error)s") % {"count": delivery.attempts, "error": error}
    entry = {
        "attempt": delivery.attempts,
        "at": now.isoformat(),
        "status_code": status_code,
        "error": error[:500],
        "duration_ms": duration_ms,
    }
    updated = WebhookDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING, attempts=delivery.attempts).update(
        status=status,
        next_attempt_at=next_at,
        claimed_until=None,
        last_status_code=status_code,
        last_error=error[:500],
        response_excerpt=excerpt,
        log=[*delivery.log, entry],
        delivered_at=finished if success else None,
    )
    if not updated:
        return "stale"
    if success:
        WebhookEndpoint.objects.filter(pk=delivery.endpoint_id).exclude(failure_count=0).update(failure_count=0)
    elif status == DeliveryStatus.FAILED:
        WebhookEndpoint.objects.filter(pk=delivery.endpoint_id).update(
            failure_count=F("failure_count") + 1, last_failure=error[:500]
        )
    return status


def deliveries_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Ids of deliveries to send now. A claim that ran out (its worker died mid-send) is released
    first: the receiver may have had it, which its dedupe on the event id covers."""
    now = now or timezone.now()
    WebhookDelivery.objects.filter(status=DeliveryStatus.SENDING, claimed_until__lt=now).update(
        status=DeliveryStatus.RETRY_WAIT, next_attempt_at=now, claimed_until=None
    )
    return list(
        WebhookDelivery.objects.filter(status__in=(DeliveryStatus.PENDING, DeliveryStatus.RETRY_WAIT), next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


@transaction.atomic
def endpoint_delete(*, endpoint: WebhookEndpoint, actor=None) -> None:
    """Delete the endpoint and its delivery log."""
    log_activity(
        action="webhook.delete",
        workspace=endpoint.workspace,
        actor=actor,
        message=str(endpoint),
        details={"endpoint": endpoint.pk, "url": endpoint.url},
    )
    endpoint.delete()
