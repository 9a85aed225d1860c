"""The studio's Celery tasks: one pipeline step at a time on the ``media`` queue, and source syncs.

A step may render or transcribe for hours, longer than the broker's visibility timeout, so a step's
message is acknowledged when a worker takes it (not after): it is never delivered twice. A worker
that dies mid-step leaves the job without progress; ``fail_stalled_jobs`` ends such a job as failed
(the recording resumes after its last finished step when run again)."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from . import runner, services
from .models import InputSource

STEP_TIME_LIMIT_S = 6 * 3600
STALLED_AFTER = timedelta(minutes=15)


@shared_task(ignore_result=True, acks_late=False, time_limit=STEP_TIME_LIMIT_S + 60, soft_time_limit=STEP_TIME_LIMIT_S)
def recording_step(recording_id: int, job_id: int, step: str) -> None:
    """One step of a recording's run; it enqueues the next after its output is committed."""
    runner.run_step(recording_id, job_id, step)


@shared_task(ignore_result=True)
def sync_source(source_id: int) -> dict:
    source = InputSource.objects.select_related("workspace").filter(pk=source_id, enabled=True).first()
    if source is None:
        return {"created": 0, "error": "missing or disabled"}
    report = services.source_sync(source=source)
    return {"created": len(report.created), "error": report.error}


@shared_task(ignore_result=True)
def sync_due_sources() -> int:
    """Enqueue a sync of every enabled source whose interval has passed, and start the recordings
    that wait for a free job slot (studio.services.recordings_waiting_start)."""
    services.recordings_waiting_start()
    now = timezone.now()
    due = 0
    for source in InputSource.objects.filter(enabled=True).only("pk", "sync_interval_s", "last_synced_at"):
        if source.last_synced_at is None or source.last_synced_at + timedelta(seconds=source.sync_interval_s) <= now:
            sync_source.delay(source.pk)
            due += 1
    return due


@shared_task(ignore_result=True)
def fail_stalled_jobs() -> int:
    return runner.fail_stalled(older_than=STALLED_AFTER)
