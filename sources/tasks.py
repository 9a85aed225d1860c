"""Celery tasks of ingest: poll every polling source, make posts of what waits (albums after their window)."""

import logging

from celery import shared_task

from .models import Delivery, Source, SourceKind
from .services import source_ingest_due, source_poll
from .watched import due_sources, watched_poll

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def poll_sources() -> dict[str, int]:
    """One getUpdates round per enabled polling source, then the due albums of every source."""
    counts = {"updates": 0, "errors": 0}
    for source in Source.objects.filter(enabled=True, kind=SourceKind.TELEGRAM).select_related("workspace"):
        try:
            if source.delivery == Delivery.POLLING:
                counts["updates"] += source_poll(source=source)
            else:
                source_ingest_due(source=source)
        except Exception:
            logger.exception("Ingesting source %s failed", source.pk)
            counts["errors"] += 1
    return counts


@shared_task(ignore_result=True)
def ingest_source(source_id: int) -> int:
    source = Source.objects.select_related("workspace").filter(pk=source_id, enabled=True).first()
    return source_ingest_due(source=source) if source else 0


@shared_task(ignore_result=True)
def poll_watched_sources() -> dict[str, int]:
    """Poll every watched source that is due (its interval, jitter and backoff set next_poll_at)."""
    counts = {"sources": 0, "posts": 0, "errors": 0}
    for source in due_sources():
        counts["sources"] += 1
        try:
            counts["posts"] += watched_poll(source=source)
        except Exception:
            logger.exception("Polling watched source %s failed", source.pk)
            counts["errors"] += 1
    return counts
