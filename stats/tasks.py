"""Celery tasks of statistics: the beat reads what is due (``stats.services``)."""

from celery import shared_task

from .services import metrics_collect_due


@shared_task(ignore_result=True)
def collect_metrics() -> int:
    """Every due snapshot, in batches; returns how many were stored."""
    return sum(batch.stored + batch.final for batch in metrics_collect_due())
