"""Running a recording's pipeline step by step: download → trim → transcribe → topics → subtitles →
publish. Each step is its own Celery task on the ``media`` queue, started after the previous one
saved its output and committed; a run stops after the step it was asked for (``process`` stops
after trim, ``transcribe`` after subtitles, ``publish`` and ``full-pipeline`` run to the end).

A failed or cancelled run keeps every finished step (``Recording.finished_step``, the files and
fields they wrote) and the next run resumes after it. Cancel is checked between steps and, inside
the long ones, by ffmpeg's and the transcriber's ``should_stop`` (ffmpeg is killed within 2 s).
Permissions and quotas are checked when a run is asked for, before anything is written."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from celery import current_app
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crosspost.activity import log_activity
from crosspost.jobs import job_cancelled, job_completed, job_create, job_failed, job_request_cancel, job_started, job_step
from crosspost.logging import redact
from crosspost.models import JOB_FINISHED_STATUSES, Job, LogStatus

from . import quotas
from .models import FileKind, Recording, RecordingStatus, Step, SubtitleMode

logger = logging.getLogger(__name__)

STEPS: list[str] = [Step.DOWNLOAD, Step.TRIM, Step.TRANSCRIBE, Step.TOPICS, Step.SUBTITLES, Step.PUBLISH]
# Progress points per step (sum 100): rendering and transcribing take the longest.
WEIGHTS = {Step.DOWNLOAD: 15, Step.TRIM: 35, Step.TRANSCRIBE: 30, Step.TOPICS: 5, Step.SUBTITLES: 10, Step.PUBLISH: 5}
# What each step needs the member to be allowed to do (studio.quotas).
NEEDS = {
    Step.DOWNLOAD: "can_process",
    Step.TRIM: "can_process",
    Step.TRANSCRIBE: "can_transcribe",
    Step.TOPICS: "can_transcribe",
    Step.SUBTITLES: "can_transcribe",
    Step.PUBLISH: "can_publish",
}
# The API's actions and the step each stops after.
UNTIL = {"process": Step.TRIM, "transcribe": Step.SUBTITLES, "publish": Step.PUBLISH, "full-pipeline": Step.PUBLISH}
JOB_KIND = quotas.JOB_KIND


class StepError(Exception):
    """A step cannot go on; ``message`` says why and what to do. ``resumable``: running again may work."""

    def __init__(self, message: str, *, resumable: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.resumable = resumable


def step_start(step: str) -> int:
    return sum(WEIGHTS[s] for s in STEPS[: STEPS.index(step)])


def next_step(step: str) -> str | None:
    index = STEPS.index(step)
    return STEPS[index + 1] if index + 1 < len(STEPS) else None


def running_job(recording: Recording) -> Job | None:
    job = recording.job
    return job if job is not None and job.status not in JOB_FINISHED_STATUSES else None


def _after(step: str) -> str | None:
    return next_step(step) if step else STEPS[0]


def _estimated_bytes(recording: Recording, first: str, until: str) -> int:
    """Storage the run will add at most: the original when it downloads, about as much again per render."""
    size = recording.size_bytes or 0
    steps = STEPS[STEPS.index(first) : STEPS.index(until) + 1]
    adding = 0
    if Step.DOWNLOAD in steps and not recording.files.filter(kind=FileKind.ORIGINAL).exists():
        adding += size
    if Step.TRIM in steps:
        adding += size
    if Step.SUBTITLES in steps and recording.template and recording.template.subtitles == SubtitleMode.BURNED:
        adding += size
    return adding


@transaction.atomic
def recording_run(
    *, recording: Recording, actor=None, until: str | None = None, from_step: str | None = None, automatic: bool = False
) -> Job:
    """Start (or resume) the recording's pipeline up to ``until`` (None: to the end); ``from_step``
    redoes that step and every later one. Refuses (ValidationError / PermissionDenied /
    quotas.QuotaExceeded) before writing anything."""
    recording = (
        Recording.objects.select_for_update(of=("self",)).select_related("job", "template", "workspace").get(pk=recording.pk)
    )
    until = until or Step.PUBLISH
    if until not in STEPS:
        raise ValidationError({"until": _("Choose one of %(steps)s.") % {"steps": ", ".join(STEPS)}})
    if running_job(recording) is not None:
        raise ValidationError(_("The recording is already being processed; wait for it or cancel its job."), code="conflict")
    if recording.status == RecordingStatus.SKIPPED:
        raise ValidationError(_("The recording is skipped; bring it back before processing it."), code="conflict")
    finished = recording.finished_step
    if from_step is not None:
        if from_step not in STEPS:
            raise ValidationError({"from_step": _("Choose one of %(steps)s.") % {"steps": ", ".join(STEPS)}})
        index = STEPS.index(from_step)
        if index and (not finished or STEPS.index(finished) < index - 1):
            raise ValidationError(
                {
                    "from_step": _("Step %(step)s has not finished yet; run the recording from there first.")
                    % {"step": STEPS[index - 1]}
                }
            )
        first = from_step
    else:
        first = _after(finished) if finished != STEPS[-1] else None
        if first is None or STEPS.index(first) > STEPS.index(until):
            raise ValidationError(
                _("Every step up to “%(step)s” is already done; ask to redo from a step (from_step) to run it again.")
                % {"step": Step(until).label},
                code="conflict",
            )
    if STEPS.index(until) >= STEPS.index(Step.TRIM) and recording.template_id is None:
        raise ValidationError(
            {"template": _("No template matched this recording; choose one before processing it.")}, code="no_template"
        )
    needed = sorted({NEEDS[s] for s in STEPS[STEPS.index(first) : STEPS.index(until) + 1]})
    quotas.require(actor, recording.workspace_id, *needed)
    quotas.check_jobs(recording.workspace_id)
    quotas.check_storage(recording.workspace_id, adding_bytes=_estimated_bytes(recording, first, until))
    if from_step is not None:
        recording.finished_step = STEPS[STEPS.index(from_step) - 1] if STEPS.index(from_step) else ""
    job = job_create(kind=JOB_KIND, workspace=recording.workspace, author=actor, subject=f"studio.recording:{recording.pk}")
    job_step(job.pk, progress=step_start(first), stage=first, message=_("Queued."))
    recording.job = job
    recording.last_step = until
    recording.error = ""
    recording.status = RecordingStatus.DOWNLOADING if first == Step.DOWNLOAD else RecordingStatus.PROCESSING
    if actor is not None and getattr(actor, "is_authenticated", False) and recording.author_id is None:
        recording.author = actor
    recording.save(update_fields=["job", "last_step", "error", "status", "finished_step", "author", "updated_at"])
    log_activity(
        action="studio.recording.run",
        workspace=recording.workspace,
        actor=actor,
        status=LogStatus.INFO,
        message=f"Recording «{recording}» runs from {first} to {until}{' (automatic)' if automatic else ''}.",
        details={"recording": recording.pk, "job": job.pk, "from": first, "until": until},
    )
    _enqueue(recording.pk, job.pk, first)
    job.refresh_from_db()
    return job


def recording_cancel(*, recording: Recording, actor=None) -> Job:
    job = running_job(recording)
    if job is None:
        raise ValidationError(_("The recording has no running job to cancel."), code="conflict")
    return job_request_cancel(job=job, actor=actor)


def _enqueue(recording_id: int, job_id: int, step: str) -> None:
    task = current_app.tasks["studio.tasks.recording_step"]
    transaction.on_commit(lambda: task.delay(recording_id, job_id, step))


# --- running a step -------------------------------------------------------------------------------


@dataclass
class StepContext:
    recording: Recording
    job_id: int
    step: str
    start: int
    span: int
    _checked: float = 0.0
    _stop: bool = False
    _reported: float = 0.0

    def should_stop(self) -> bool:
        """Whether the job was asked to stop (the database is asked at most every 0.3 s)."""
        now = time.monotonic()
        if not self._stop and now - self._checked >= 0.3:
            self._checked = now
            self._stop = Job.objects.filter(pk=self.job_id, cancel_requested=True).exists()
        return self._stop

    def progress(self, fraction: float, message: str | None = None, *, force: bool = False) -> None:
        """The step's progress 0..1 (written at most once a second unless forced)."""
        now = time.monotonic()
        if not force and now - self._reported < 1.0:
            return
        self._reported = now
        point = self.start + self.span * max(0.0, min(1.0, fraction))
        job_step(self.job_id, progress=int(point), message=message)

    def part(self, low: float, high: float, message: str | None = None) -> Callable[[float], None]:
        """A progress callback for a part of the step (low..high of its span)."""
        return lambda f: self.progress(low + (high - low) * f, message)


def run_step(recording_id: int, job_id: int, step: str, *, chain: bool = True) -> str | None:
    """Run one step of the job (what the task does); returns the next step, or None when the run
    ended. With ``chain`` the next step is enqueued after commit."""
    recording = Recording.objects.select_related("workspace", "template", "source").filter(pk=recording_id).first()
    job = Job.objects.filter(pk=job_id).first()
    if recording is None or job is None or recording.job_id != job_id or job.status in JOB_FINISHED_STATUSES:
        return None  # deleted, superseded, or a duplicate delivery of a finished run
    if job.cancel_requested:
        _end_cancelled(recording, job_id)
        return None
    if not job.started_at:
        job_started(job_id, stage=step)
    from . import steps  # the steps import the processing libraries; the runner's callers need none of them

    context = StepContext(recording=recording, job_id=job_id, step=step, start=step_start(step), span=WEIGHTS[step])
    try:
        context.progress(0.0, str(Step(step).label), force=True)
        steps.STEP_FUNCTIONS[step](context)
    except steps.STOPPED:
        _end_cancelled(recording, job_id)
        return None
    except StepError as exc:
        _end_failed(recording, job_id, step, exc.message, resumable=exc.resumable)
        return None
    except steps.FAILURES as exc:
        message = str(getattr(exc, "message", "") or exc)
        _end_failed(recording, job_id, step, message, resumable=bool(getattr(exc, "retryable", True)))
        return None
    except Exception as exc:  # a bug or an outage: the run stops here, what finished is kept
        logger.exception("Recording %s step %s failed", recording_id, step)
        _end_failed(recording, job_id, step, redact(f"{type(exc).__name__}: {exc}"), resumable=True)
        return None
    Recording.objects.filter(pk=recording_id).update(finished_step=step, updated_at=timezone.now())
    following = next_step(step)
    if following is None or step == (recording.last_step or Step.PUBLISH):
        _end_completed(recording_id, job_id, step)
        return None
    job_step(job_id, progress=step_start(following), stage=following, message=_("Queued."))
    Recording.objects.filter(pk=recording_id).update(status=RecordingStatus.PROCESSING, updated_at=timezone.now())
    if chain:
        _enqueue(recording_id, job_id, following)
    return following


def run_all(recording_id: int, job_id: int, step: str) -> None:
    """Every remaining step in this process, one after another (tests, and `manage.py` use)."""
    current: str | None = step
    while current is not None:
        current = run_step(recording_id, job_id, current, chain=False)


def _status_after(recording: Recording) -> str:
    if recording.finished_step == Step.PUBLISH:
        handed = any(isinstance(o, dict) and o.get("publish") for o in (recording.outputs or {}).values())
        return RecordingStatus.PUBLISHED if handed else RecordingStatus.READY
    if recording.finished_step and STEPS.index(recording.finished_step) >= STEPS.index(Step.TRIM):
        return RecordingStatus.READY
    if recording.files.filter(kind=FileKind.ORIGINAL).exists():
        return RecordingStatus.DOWNLOADED
    return RecordingStatus.DISCOVERED


def _end_completed(recording_id: int, job_id: int, step: str) -> None:
    recording = Recording.objects.get(pk=recording_id)
    status = _status_after(recording)
    Recording.objects.filter(pk=recording_id).update(status=status, updated_at=timezone.now())
    result = {
        "recording": recording_id,
        "finished_step": recording.finished_step,
        "status": status,
        "removed_s": recording.removed_s,
        "duration_s": recording.trimmed_duration_s or recording.duration_s,
        "segments": len(recording.transcript or []),
        "chapters": len((recording.topics or {}).get("chapters") or []),
        "posts": list(recording.posts.values_list("pk", flat=True)),
    }
    job_completed(job_id, result=result, message=_("Done: %(step)s.") % {"step": Step(step).label})
    log_activity(
        action="studio.recording.done",
        workspace=recording.workspace,
        status=LogStatus.SUCCESS,
        message=f"Recording «{recording}» processed up to {step}.",
        details=result,
    )


def _end_cancelled(recording: Recording, job_id: int) -> None:
    job_cancelled(job_id, message=_("Cancelled; finished steps are kept and a new run resumes after them."))
    recording.refresh_from_db()
    Recording.objects.filter(pk=recording.pk).update(status=_status_after(recording), updated_at=timezone.now())


def _end_failed(recording: Recording, job_id: int, step: str, message: str, *, resumable: bool) -> None:
    hint = (
        _(" Run it again to resume from this step.")
        if resumable
        else _(" Fix what the error says, then run it again: the finished steps are kept.")
    )
    job_failed(job_id, error=message, message=_("Step %(step)s failed.") % {"step": step} + hint)
    Recording.objects.filter(pk=recording.pk).update(
        status=RecordingStatus.FAILED, error=message[:2000], updated_at=timezone.now()
    )
    log_activity(
        action="studio.recording.failed",
        workspace=recording.workspace,
        status=LogStatus.FAILED,
        message=f"Recording «{recording}» step {step}: {message}",
        details={"recording": recording.pk, "job": job_id, "step": step, "resumable": resumable},
    )


def fail_stalled(*, older_than) -> int:
    """End studio jobs whose worker died (no progress for ``older_than``) as failed, resumable."""
    cutoff = timezone.now() - older_than
    ended = 0
    for job in Job.objects.filter(kind=JOB_KIND, status__in=("queued", "running"), updated_at__lt=cutoff):
        recording = Recording.objects.filter(job_id=job.pk).select_related("workspace").first()
        if recording is None:
            job_failed(job.pk, error="The recording is gone.")
            continue
        _end_failed(
            recording,
            job.pk,
            job.stage or "?",
            _("The worker stopped without finishing this step (no progress for %(minutes)d minutes).")
            % {"minutes": int(older_than.total_seconds() // 60)},
            resumable=True,
        )
        ended += 1
    return ended


def on_job_cancelled_early(sender, *, job_id: int, subject: str, **kwargs) -> None:
    """A run cancelled before a worker picked it up: the recording goes back to where it was."""
    for recording in Recording.objects.filter(job_id=job_id):
        Recording.objects.filter(pk=recording.pk).update(status=_status_after(recording), updated_at=timezone.now())
