"""Writing a background job's record (crosspost.models.Job) from the code that runs it.

A runner calls ``job_started``, then ``job_step`` between its steps — which saves where it is and
raises ``JobCancelled`` once someone asked it to stop, so cancelling takes effect within one step —
and ends with ``job_completed`` / ``job_failed`` / ``job_cancelled``. Every write is one UPDATE by
primary key (no read-modify-write), so a cancel request is never overwritten by a progress update."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import F
from django.db.models.functions import Least
from django.dispatch import Signal
from django.utils import timezone

from .activity import log_activity
from .models import JOB_FINISHED_STATUSES, Job, JobStatus, LogStatus

# Sent when a job is cancelled before its runner picked it up (the owner of the job's subject — e.g.
# a campaign — updates its own status; the core knows no app above it).
job_cancelled_early = Signal()


class JobCancelled(Exception):
    """Raised by ``job_step`` when the job was asked to stop; the runner ends it as cancelled."""


def job_create(*, kind: str, workspace=None, author=None, subject: str = "") -> Job:
    return Job.objects.create(
        kind=kind, workspace=workspace, author=author if getattr(author, "is_authenticated", False) else None, subject=subject
    )


def job_started(job_id: int, *, stage: str = "", message: str = "") -> None:
    now = timezone.now()
    Job.objects.filter(pk=job_id).update(
        status=JobStatus.RUNNING,
        stage=stage,
        message=message[:500],
        error="",
        finished_at=None,
        started_at=now,
        updated_at=now,
    )


def job_step(job_id: int, *, progress: int | None = None, stage: str | None = None, message: str | None = None) -> None:
    """Record where the job is; raise JobCancelled when a cancel was requested."""
    changes: dict = {"updated_at": timezone.now()}
    if progress is not None:
        changes["progress"] = max(0, min(100, int(progress)))
    if stage is not None:
        changes["stage"] = stage
    if message is not None:
        changes["message"] = message[:500]
    Job.objects.filter(pk=job_id).update(**changes)
    if Job.objects.filter(pk=job_id, cancel_requested=True).exists():
        raise JobCancelled


def job_completed(job_id: int, *, result: dict | None = None, message: str = "") -> None:
    now = timezone.now()
    Job.objects.filter(pk=job_id).update(
        status=JobStatus.COMPLETED,
        progress=100,
        message=message[:500],
        result=result or {},
        finished_at=now,
        updated_at=now,
        cancel_requested=False,
    )


def job_failed(job_id: int, *, error: str, message: str = "", result: dict | None = None) -> None:
    now = timezone.now()
    changes = {"status": JobStatus.FAILED, "error": error, "message": message[:500], "finished_at": now, "updated_at": now}
    if result is not None:
        changes["result"] = result
    Job.objects.filter(pk=job_id).update(**changes)


def job_cancelled(job_id: int, *, message: str = "") -> None:
    now = timezone.now()
    Job.objects.filter(pk=job_id).update(
        status=JobStatus.CANCELLED, message=message[:500], finished_at=now, updated_at=now, cancel_requested=False
    )


def job_request_cancel(*, job: Job, actor=None) -> Job:
    """Ask a queued or running job to stop (it stops at its next step); a finished one is a 409-style error."""
    if job.status in JOB_FINISHED_STATUSES:
        raise ValidationError(
            f"The job is already {job.get_status_display().lower()}; there is nothing to cancel.", code="conflict"
        )
    Job.objects.filter(pk=job.pk).update(cancel_requested=True, updated_at=timezone.now())
    if job.status == JobStatus.QUEUED:
        job_cancelled(job.pk, message="Cancelled before it started.")
        job_cancelled_early.send(sender=Job, job_id=job.pk, subject=job.subject)
    log_activity(
        action="job.cancel", workspace=job.workspace, actor=actor, status=LogStatus.INFO, message=f"{job} cancel requested."
    )
    job.refresh_from_db()
    return job


def job_bump(job_id: int, by: int, *, ceiling: int = 99) -> None:
    """Advance progress by ``by`` points (capped): for steps whose count is known only as they come."""
    Job.objects.filter(pk=job_id, progress__lt=ceiling).update(
        progress=Least(F("progress") + by, ceiling), updated_at=timezone.now()
    )
