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
