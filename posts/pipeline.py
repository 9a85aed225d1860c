"""The record of a post's pipeline: one ``PipelineStage`` row per stage, kept by these functions.

They only write what happened (started, done, failed, skipped, waiting for review); what runs each
stage and what comes next is ``publishing.pipeline``. Both sources (the ingest stage) and
publishing (the rest) write here, which is why the record lives on the content floor. A post
composed by hand has no rows: ``has_pipeline`` is False and pages show no stepper for it.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import PipelineStage, Post, Stage, StageStatus

STAGES: tuple[str, ...] = tuple(Stage.values)
# States a stage does not leave by itself: the pipeline moved past it (or stopped at it).
SETTLED = (StageStatus.DONE, StageStatus.SKIPPED, StageStatus.FAILED)


def has_pipeline(post: Post | int) -> bool:
    return PipelineStage.objects.filter(post_id=getattr(post, "pk", post)).exists()


def stages_of(post: Post) -> list[PipelineStage]:
    """All seven stages in order; a stage with no row yet is an unsaved ``waiting`` one."""
    rows = {row.stage: row for row in PipelineStage.objects.filter(post_id=post.pk)}
    return [rows.get(stage) or PipelineStage(post_id=post.pk, stage=stage) for stage in STAGES]


def next_stage(stage: str) -> str | None:
    index = STAGES.index(stage)
    return STAGES[index + 1] if index + 1 < len(STAGES) else None


def pipeline_open(*, post: Post, ingest_started_at: datetime, ingest_finished_at: datetime | None = None) -> None:
    """Record a source's post: the ingest stage done (from the first message's arrival to the
    commit that made the post), and the six stages after it waiting."""
    PipelineStage.objects.bulk_create(
        [
            PipelineStage(
                post=post,
                stage=Stage.INGEST,
                status=StageStatus.DONE,
                started_at=ingest_started_at,
                finished_at=ingest_finished_at or timezone.now(),
                attempts=1,
            ),
            *(PipelineStage(post=post, stage=stage) for stage in STAGES[1:]),
        ],
        ignore_conflicts=True,
    )


def stage_begin(*, post_id: int, stage: str) -> bool:
    """Mark ``stage`` running (one more attempt). False when it already ended done or skipped, or
    is failed (only ``stage_retry`` makes a failed stage wait again): a duplicate message stops."""
    now = timezone.now()
    PipelineStage.objects.get_or_create(post_id=post_id, stage=stage)
    return bool(
        PipelineStage.objects.filter(post_id=post_id, stage=stage)
        .exclude(status__in=SETTLED)
        .update(status=StageStatus.RUNNING, started_at=now, finished_at=None, error="", attempts=F("attempts") + 1)
    )


def stage_end(*, post_id: int, stage: str, status: str, error: str = "", note: str = "", details: dict | None = None) -> None:
    """Record how a running (or reviewed) stage ended."""
    fields = {"status": status, "finished_at": timezone.now(), "error": error, "note": note}
    if details is not None:
        fields["details"] = details
    PipelineStage.objects.filter(post_id=post_id, stage=stage).update(**fields)


def publish_approved(*, post_id: int) -> None:
    """The post was planned for publishing (an operator's Publish, or the publish stage itself): a
    publish stage waiting for review is done, and remembers the approval for a later retry."""
    stage = PipelineStage.objects.filter(post_id=post_id, stage=Stage.PUBLISH).first()
    if stage is None:
        return
    stage.details = {**(stage.details or {}), "approved": True}
    fields = ["details"]
    if stage.status == StageStatus.REVIEW:
        now = timezone.now()
        stage.status, stage.finished_at, stage.started_at = StageStatus.DONE, now, stage.started_at or now
        stage.note = _("Published by an operator.")
        fields += ["status", "finished_at", "started_at", "note"]
    stage.save(update_fields=fields)


def stage_wait_for_review(*, post_id: int, stage: str, note: str) -> None:
    PipelineStage.objects.filter(post_id=post_id, stage=stage).update(status=StageStatus.REVIEW, note=note)


def stage_reopen(*, post_id: int, stage: str) -> bool:
    """A failed stage waits again (the first step of a retry); False when it had not failed."""
    return bool(
        PipelineStage.objects.filter(post_id=post_id, stage=stage, status=StageStatus.FAILED).update(
            status=StageStatus.WAITING, error="", finished_at=None
        )
    )


def stages_reset_after(*, post_id: int, stage: str) -> None:
    """The stages after ``stage`` wait again: a retry runs them once more, in order."""
    later = STAGES[STAGES.index(stage) + 1 :]
    # Details stay: the publish stage keeps the operator's approval across a retry.
    PipelineStage.objects.filter(post_id=post_id, stage__in=later).update(status=StageStatus.WAITING, error="", finished_at=None)


def duration_display(seconds: float | None) -> str:
    """ "0.4 s", "12 s", "3 min", "2 h 5 min" — short enough for a stepper ("" while unknown)."""
    if seconds is None:
        return ""
    if seconds < 10:
        return _("%(seconds).1f s") % {"seconds": seconds}
    if seconds < 60:
        return _("%(seconds)d s") % {"seconds": round(seconds)}
    minutes = round(seconds / 60)
    if minutes < 60:
        return _("%(minutes)d min") % {"minutes": minutes}
    return _("%(hours)d h %(minutes)d min") % {"hours": minutes // 60, "minutes": minutes % 60}
