"""Liveness: beat sends `heartbeat` every few seconds; the worker that runs it
records "worker", and beat records "beat" as it sends (before_task_publish runs
in the sending process). /health/ fails when either goes stale."""

import socket

from celery import shared_task
from celery.signals import before_task_publish
from django.utils import timezone

HEARTBEAT_TASK = "crosspost.tasks.heartbeat"


def beat(name: str, **detail) -> None:
    from .models import Heartbeat

    Heartbeat.objects.update_or_create(name=name, defaults={"seen_at": timezone.now(), "detail": detail})


@shared_task(name=HEARTBEAT_TASK, ignore_result=True)
def heartbeat() -> None:
    beat("worker", host=socket.gethostname())


@before_task_publish.connect
def _beat_alive(sender=None, headers=None, **kwargs) -> None:
    if sender == HEARTBEAT_TASK and (headers or {}).get("periodic_task_name"):
        beat("beat", host=socket.gethostname())


@shared_task(name="crosspost.tasks.deliver_webhook", ignore_result=True)
def deliver_webhook(delivery_id: int) -> str:
    """One attempt at one webhook delivery (crosspost.webhooks.delivery_send); a later one is
    enqueued by retry_webhooks when it falls due."""
    from .webhooks import delivery_send

    return delivery_send(delivery_id)


@shared_task(name="crosspost.tasks.retry_webhooks", ignore_result=True)
def retry_webhooks() -> int:
    """Enqueue every webhook delivery due now: retries whose wait is over, and deliveries whose
    message was lost (or whose worker died mid-send)."""
    from .webhooks import deliveries_due

    due = deliveries_due()
    for delivery_id in due:
        deliver_webhook.delay(delivery_id)
    return len(due)


@shared_task(name="crosspost.tasks.purge_idempotency_keys", ignore_result=True)
def purge_idempotency_keys() -> int:
    """Forget Idempotency-Keys (and their stored answers) older than IDEMPOTENCY_KEY_TTL_HOURS."""
    from .idempotency import purge_expired

    return purge_expired()
