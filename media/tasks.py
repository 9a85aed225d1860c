"""Celery tasks of the media pipeline: they take ids, are idempotent, and leave
every decision to media.services."""

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import services
from .models import MediaAsset, MediaStatus


@shared_task(ignore_result=True)
def probe_asset(asset_id: int) -> str:
    """Probe an uploaded video (or image) still pending; it becomes ready or failed."""
    asset = MediaAsset.objects.filter(pk=asset_id, status=MediaStatus.PENDING).first()
    if asset is None:
        return "skipped"
    return services.asset_probe(asset=asset).status


@shared_task(
    bind=True,
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=5,
    time_limit=settings.MEDIA_RENDER_TIME_LIMIT_SECONDS + 120,
    soft_time_limit=settings.MEDIA_RENDER_TIME_LIMIT_SECONDS + 60,
)
def render_asset(self, asset_id: int) -> dict:
    """Render all pending renditions of one asset in one ffmpeg run.

    When another worker holds some of them, try again once its lease ends: it
    either finished them (nothing left to do) or died (they are taken over).
    """
    summary = services.asset_render(asset_id=asset_id)
    if summary.busy_until is not None:
        wait = max(5, (summary.busy_until - timezone.now()).total_seconds() + 5)
        raise self.retry(countdown=wait)
    return {"rendered": summary.rendered, "failed": summary.failed}


@shared_task(ignore_result=True)
def requeue_stale_renders() -> int:
    """Re-enqueue renders whose message was lost, so no execution waits on them for ever; and delete
    the work directories of renders killed by their time limit, once no render can own them."""
    services.render_leftovers_remove()
    return services.renders_requeue_stale()
