"""Celery tasks of planning: the periodic runs that make repetitions of recurring posts and fill
queues with evergreen ones. Both are safe to run twice at once (see their modules)."""

from celery import shared_task

from .evergreen import evergreen_fill
from .repetitions import repetitions_due


@shared_task(ignore_result=True)
def make_due_repetitions() -> int:
    return repetitions_due()


@shared_task(ignore_result=True)
def fill_evergreen() -> int:
    return evergreen_fill()
