"""Running a campaign stage by stage: each stage is its own Celery task, started after the previous
one saved its output and committed. A failed or cancelled run keeps every finished stage
(``Campaign.finished_stage``) and a new run resumes after it; cancel takes effect at the stage's
next step (``StageContext.step``)."""

from __future__ import annotations

import importlib
import logging

from celery import current_app
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from crosspost.activity import log_activity
from crosspost.jobs import JobCancelled, job_cancelled, job_completed, job_create, job_failed, job_started, job_step
from crosspost.logging import redact
from crosspost.models import JOB_FINISHED_STATUSES, Job, LogStatus

from .models import Campaign, CampaignStatus, Stage
from .stages import StageContext, StageError

logger = logging.getLogger(__name__)

STAGES: list[str] = [Stage.COLLECT, Stage.CLEAN, Stage.CLUSTER, Stage.GENERATE, Stage.VALIDATE, Stage.EXPORT]
# Progress points per stage (sum 100): collecting and writing ads wait on the network the longest.
WEIGHTS = {Stage.COLLECT: 35, Stage.CLEAN: 5, Stage.CLUSTER: 10, Stage.GENERATE: 35, Stage.VALIDATE: 5, Stage.EXPORT: 10}
JOB_KIND = "campaign.build"


def stage_start(stage: str) -> int:
    return sum(WEIGHTS[s] for s in STAGES[: STAGES.index(stage)])


def next_stage(stage: str) -> str | None:
    index = STAGES.index(stage)
    return STAGES[index + 1] if index + 1 < len(STAGES) else None


def first_stage_to_run(campaign: Campaign) -> str:
    """After the last finished stage; a campaign whose every stage finished runs again from the start."""
    if not campaign.finished_stage or campaign.finished_stage == Stage.EXPORT:
        return Stage.COLLECT
    return next_stage(campaign.finished_stage)


def running_job(campaign: Campaign) -> Job | None:
    job = campaign.job
    return job if job is not None and job.status not in JOB_FINISHED_STATUSES else None


@transaction.atomic
def campaign_run(*, campaign: Campaign, actor=None, from_stage: str | None = None) -> Job:
    """Start (or resume) the campaign's run; ``from_stage`` re-runs that stage and every later one."""
    campaign = Campaign.objects.select_for_update().select_related("job").get(pk=campaign.pk)
    if campaign.status == CampaignStatus.ARCHIVED:
        raise ValidationError("The campaign is archived; restore it before running it.", code="conflict")
    if running_job(campaign) is not None:
        raise ValidationError("The campaign is already being built; wait for it or cancel it.", code="conflict")
    if from_stage is not None:
        if from_stage not in STAGES:
            raise ValidationError({"stage": f"Choose one of {', '.join(STAGES)}."})
        index = STAGES.index(from_stage)
        if index and (not campaign.finished_stage or STAGES.index(campaign.finished_stage) < index - 1):
            raise ValidationError(
                {"stage": f"Stage {STAGES[index - 1]} has not finished yet; run the campaign from there first."}
            )
        campaign.finished_stage = STAGES[index - 1] if index else ""
    stage = from_stage or first_stage_to_run(campaign)
    if stage == Stage.COLLECT and from_stage is None and campaign.finished_stage == Stage.EXPORT:
        campaign.finished_stage = ""
    job = job_create(kind=JOB_KIND, workspace=campaign.workspace, author=actor, subject=f"campaigns.campaign:{campaign.pk}")
    job_step(job.pk, progress=stage_start(stage), stage=stage, message="Queued.")
    campaign.job = job
    campaign.status = CampaignStatus.PROCESSING
    campaign.save(update_fields=["job", "status", "finished_stage", "updated_at"])
    log_activity(
        action="campaign.run",
        workspace=campaign.workspace,
        actor=actor,
        status=LogStatus.INFO,
        message=f"Campaign #{campaign.pk} «{campaign}» runs from stage {stage}.",
        details={"campaign": campaign.pk, "job": job.pk, "stage": stage},
    )
    _enqueue(campaign.pk, job.pk, stage)
    job.refresh_from_db()
    return job


def _enqueue(campaign_id: int, job_id: int, stage: str) -> None:
    task = current_app.tasks["campaigns.tasks.campaign_stage"]
    transaction.on_commit(lambda: task.delay(campaign_id, job_id, stage))


def run_stage(campaign_id: int, job_id: int, stage: str, *, chain: bool = True) -> str | None:
    """Run one stage of the job (what the task does); returns the next stage, or None when the run
    ended (completed, failed, cancelled, or the job is no longer the campaign's). With ``chain`` the
    next stage is enqueued after commit."""
    campaign = Campaign.objects.select_related("workspace").filter(pk=campaign_id).first()
    job = Job.objects.filter(pk=job_id).first()
    if campaign is None or job is None or campaign.job_id != job_id or job.status in JOB_FINISHED_STATUSES:
        return None  # deleted, superseded, or a duplicate delivery of a finished run
    if job.cancel_requested:
        _end_cancelled(campaign, job_id)
        return None
    if not job.started_at:
        job_started(job_id, stage=stage)
    else:
        job_step(job_id, stage=stage)
    context = StageContext(campaign=campaign, job_id=job_id, stage=stage, start=stage_start(stage), span=WEIGHTS[stage])
    try:
        context.step(0.0, str(Stage(stage).label))
        module = importlib.import_module(f"campaigns.stages.{stage}")
        module.run(context)
    except JobCancelled:
        _end_cancelled(campaign, job_id)
        return None
    except StageError as exc:
        _end_failed(campaign, job_id, stage, exc.message, resumable=exc.resumable)
        return None
    except Exception as exc:  # a bug or an outage: the run stops here, what finished is kept
        logger.exception("Campaign %s stage %s failed", campaign_id, stage)
        _end_failed(campaign, job_id, stage, redact(f"{type(exc).__name__}: {exc}"), resumable=True)
        return None
    Campaign.objects.filter(pk=campaign_id).update(finished_stage=stage, updated_at=timezone.now())
    following = next_stage(stage)
    if following is None:
        # The export stage's last word (the sheet, or why Sheets was skipped) stays in the message.
        last = Job.objects.filter(pk=job_id).values_list("message", flat=True).first() or ""
        job_completed(job_id, result=_result(campaign_id), message=f"Done. {last}".strip())
        Campaign.objects.filter(pk=campaign_id).update(status=CampaignStatus.COMPLETED, updated_at=timezone.now())
        return None
    job_step(job_id, progress=stage_start(following), stage=following, message="Queued.")
    if chain:
        _enqueue(campaign_id, job_id, following)
    return following


def run_all(campaign_id: int, job_id: int, stage: str) -> None:
    """Every remaining stage in this process, one after another (tests, and `manage.py` use)."""
    current: str | None = stage
    while current is not None:
        current = run_stage(campaign_id, job_id, current, chain=False)


def _result(campaign_id: int) -> dict:
    campaign = Campaign.objects.get(pk=campaign_id)
    return {
        "campaign": campaign_id,
        "keywords": campaign.keywords.count(),
        "clusters": campaign.clusters.count(),
        "ads": campaign.ads.count(),
        "flagged_ads": campaign.ads.filter(status="flagged").count(),
        "sheet_url": campaign.sheet_url,
    }


def _end_cancelled(campaign: Campaign, job_id: int) -> None:
    job_cancelled(job_id, message="Cancelled; finished stages are kept and a new run resumes after them.")
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.CANCELLED, updated_at=timezone.now())


def _end_failed(campaign: Campaign, job_id: int, stage: str, message: str, *, resumable: bool) -> None:
    hint = " Run it again to resume from this stage." if resumable else ""
    job_failed(job_id, error=message, message=f"Stage {stage} failed.{hint}")
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.FAILED, updated_at=timezone.now())
    log_activity(
        action="campaign.failed",
        workspace=campaign.workspace,
        status=LogStatus.FAILED,
        message=f"Campaign #{campaign.pk} stage {stage}: {message}",
        details={"campaign": campaign.pk, "job": job_id, "stage": stage, "resumable": resumable},
    )


def on_job_cancelled_early(sender, *, job_id: int, subject: str, **kwargs) -> None:
    """A campaign's run cancelled before a worker picked it up (from the jobs API, say): the campaign
    says cancelled too, not processing."""
    Campaign.objects.filter(job_id=job_id, status=CampaignStatus.PROCESSING).update(
        status=CampaignStatus.CANCELLED, updated_at=timezone.now()
    )
