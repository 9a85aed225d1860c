"""The pipeline of a source's post: enrich → captionize → transcode → preflight → publish → finalize.

Ingest (sources/) records its own stage and starts the first task here by name. Each stage is a
Celery task on its own queue (``publishing.pipeline_tasks``, routed in crosspost/celery.py) that
runs ``stage_run`` and, after commit, enqueues the next; the record is ``posts.pipeline``.

What stops the chain and what does not:

* enrich never does: a marketplace that refuses only means no product facts (the stage says why);
* captionize reports problems for some platforms and goes on — the planner blocks exactly the
  affected executions, the rest publish; an unexpected error stops the chain;
* transcode goes on when a rendition failed (the publisher fails only the executions needing it)
  and stops when renditions are still not ready after PIPELINE_TRANSCODE_MAX_WAIT_SECONDS;
* preflight stops only when not one target can be published to;
* publish waits for the operator when the source makes drafts for review (their Publish — in
  the dashboard, the API or the admin — goes through ``post_publish``, which ends the wait), and
  for the approvers when the workspace needs approvals (the post is submitted to them; approving
  it runs this stage again — ``publishing.approvals``);
* finalize runs when the post has finished (``post_finished``), every time it finishes.

A failed stage is retried with ``stage_retry``: it runs again and the stages after it follow;
the stages before it are not redone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from celery import current_app
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from crosspost.activity import log_activity
from crosspost.logging import redact
from crosspost.models import LogStatus
from media.selectors import assets_of
from media.services import profiles_for, render_leftovers_remove, rendition_status, request_renditions, trim_allowed
from platforms import base
from platforms.telegram_ingest import IngestBot
from posts import pipeline as record
from posts.models import ApprovalStatus, PipelineStage, Post, PostStatus, Stage, StageStatus
from products.services import lookup

from .adapters import platform_media
from .ai_captions import post_captions_prepare
from .approvals import approval_needed, post_submit
from .notifications import POST_FINISHED, TELEGRAM_TEXT_LIMIT, admin_chat_id, announce, post_finished_message, send_admin_message
from .planner import post_publish, target_accounts

logger = logging.getLogger(__name__)

# The task of each stage after ingest (publishing/pipeline_tasks.py) and the queue it runs on.
TASKS = {stage: f"publishing.pipeline_tasks.{stage}" for stage in record.STAGES[1:]}
QUEUES = {
    Stage.ENRICH: "enrich",
    Stage.CAPTIONIZE: "captionize",
    Stage.TRANSCODE: "media",
    Stage.PREFLIGHT: "publish",
    Stage.PUBLISH: "publish",
    Stage.FINALIZE: "publish",
}
FINISHED = (PostStatus.COMPLETED, PostStatus.PARTIAL, PostStatus.FAILED)
PUBLISH_MODE = "publish"  # sources.models.IngestMode.PUBLISH: publishing reads it, never imports sources


@dataclass
class Outcome:
    """How one run of a stage ended, and whether the next stage starts now."""

    status: str
    error: str = ""
    note: str = ""
    details: dict = field(default_factory=dict)
    proceed: bool = True
    recheck: bool = False  # transcode: still waiting for renditions, look again later


def enqueue(post_id: int, stage: str, *, countdown: int | None = None, check: int = 0) -> None:
    """Start ``stage`` of the post after commit (at once when no transaction is open)."""
    task = current_app.tasks[TASKS[stage]]
    kwargs = {"check": check} if check else {}
    transaction.on_commit(lambda: task.apply_async((post_id,), kwargs, countdown=countdown))


def stage_run(post_id: int, stage: str, *, check: int = 0) -> str:
    """Run one stage of the post's pipeline (what its task does); returns the status it got."""
    post = Post.objects.select_related("workspace").filter(pk=post_id).first()
    if post is None:
        return "missing"
    if check:  # the transcode stage looking again at renditions it asked for: already running
        if not PipelineStage.objects.filter(post_id=post_id, stage=stage, status=StageStatus.RUNNING).exists():
            return "stale"
    elif not record.stage_begin(post_id=post_id, stage=stage):
        return "stale"  # a duplicate message, or the stage already ended
    if post.status == PostStatus.CANCELLED and stage != Stage.FINALIZE:  # a cancelled post still reports
        outcome = Outcome(StageStatus.SKIPPED, note=_("The post was cancelled."), proceed=False)
    else:
        try:
            outcome = RUNNERS[stage](post, check) if stage == Stage.TRANSCODE else RUNNERS[stage](post)
        except Exception as exc:
            logger.exception("Stage %s of post %s failed", stage, post_id)
            error = _("The stage stopped on an unexpected error: %(error)s") % {"error": redact(f"{type(exc).__name__}: {exc}")}
            outcome = Outcome(StageStatus.FAILED, error=error, proceed=False)
    if outcome.recheck:
        enqueue(post_id, stage, countdown=transcode_look_in(check), check=check + 1)
        return StageStatus.RUNNING
    if outcome.status == StageStatus.REVIEW:
        record.stage_wait_for_review(post_id=post_id, stage=stage, note=outcome.note)
        return outcome.status
    record.stage_end(
        post_id=post_id, stage=stage, status=outcome.status, error=outcome.error, note=outcome.note, details=outcome.details
    )
    if outcome.status == StageStatus.FAILED:
        log_activity(
            action="pipeline.stage_failed",
            post=post,
            status=LogStatus.FAILED,
            message=f"{stage}: {outcome.error}",
            details={"stage": stage},
        )
    following = record.next_stage(stage)
    if outcome.proceed and following is not None:
        enqueue(post_id, following)
    return outcome.status


# --- the stages -------------------------------------------------------------------------------------


def _enrich(post: Post) -> Outcome:
    product = (post.options or {}).get("product")
    if not product:
        return Outcome(StageStatus.SKIPPED, note=_("The post names no marketplace product."))
    found = lookup(product)
    if found.facts is None:
        # A marketplace's refusal never holds the post up: it is published without product facts.
        return Outcome(StageStatus.DONE, note=found.note, details={"product": product})
    facts = found.facts.as_dict()
    return Outcome(StageStatus.DONE, note=_("Product facts: %(title)s") % {"title": found.facts.title}, details=facts)


def _captionize(post: Post) -> Outcome:
    outcome = post_captions_prepare(post=post)
    details = {"stored": outcome.stored, "problems": outcome.messages()}
    if outcome.problems:
        # The other platforms go on: the planner blocks only the executions these captions were for.
        return Outcome(StageStatus.FAILED, error="\n".join(outcome.messages()), details=details)
    note = (
        ngettext("%(count)d AI caption written.", "%(count)d AI captions written.", outcome.stored) % {"count": outcome.stored}
        if outcome.stored
        else ""
    )
    return Outcome(StageStatus.DONE, note=note, details=details)


def _transcode(post: Post, check: int = 0) -> Outcome:
    """Ask for the renditions every target platform needs, then wait for them without holding a
    worker: each look that finds them pending schedules the next one."""
    assets = assets_of(post)
    if not assets:
        return Outcome(StageStatus.SKIPPED, note=_("The post has no media."))
    profiles: set[str] = set()
    needs: list[tuple[list[int], list[str]]] = []  # per platform: the assets it publishes, their profiles
    platforms = sorted(set(target_accounts(post).values_list("platform", flat=True)))
    for platform in platforms:
        # The form this platform publishes (an album goes to YouTube as its video): its renditions.
        media_type, published = platform_media(platform=platform, media_type=post.media_type, assets=assets)
        names = profiles_for(platform, media_type)
        if not names:
            continue
        profiles.update(names)
        needs.append(([asset.pk for asset in published], names))
        if not check:
            with transaction.atomic():  # the renders start after this commit, before the first look
                request_renditions(assets=published, profiles=names, allow_trim=trim_allowed(post.options, platform))
    if not profiles:
        return Outcome(StageStatus.SKIPPED, note=_("No target platform needs another format: the originals are published."))
    reports = [rendition_status(asset_ids, names) for asset_ids, names in needs]
    report = next((r for r in reports if r.status == "failed"), None) or next(
        (r for r in reports if r.status == "pending"), reports[0]
    )
    details = {"platforms": platforms, "profiles": sorted(profiles)}
    if report.status == "ready":
        return Outcome(StageStatus.DONE, note=_("Every rendition is ready."), details=details)
    if report.status == "failed":
        # The publisher fails only the executions that need a failed rendition; the others publish.
        return Outcome(StageStatus.FAILED, error=report.reason, details=details)
    stage = PipelineStage.objects.get(post_id=post.pk, stage=Stage.TRANSCODE)
    waited = (timezone.now() - stage.started_at).total_seconds() if stage.started_at else 0
    if waited >= settings.PIPELINE_TRANSCODE_MAX_WAIT_SECONDS or check >= transcode_looks():
        error = _(
            "The renditions were not ready after %(minutes)d min: %(reason)s Check the media worker (queue media), then retry."
        ) % {"minutes": settings.PIPELINE_TRANSCODE_MAX_WAIT_SECONDS // 60, "reason": report.reason}
        return Outcome(StageStatus.FAILED, error=error, details=details, proceed=False)
    return Outcome(StageStatus.RUNNING, details=details, recheck=True)


def transcode_look_in(check: int) -> int:
    """Seconds from look ``check`` at a post's renditions to the next: 1, 2, 4, 8 … then every
    PIPELINE_TRANSCODE_CHECK_SECONDS. A picture's renditions are ready within a second or two (a
    flat 15 s made every photo post wait 15 s here); a video's take minutes, looked at as before."""
    return max(1, min(settings.PIPELINE_TRANSCODE_CHECK_SECONDS, 2**check))


def transcode_looks() -> int:
    """How many looks fit in PIPELINE_TRANSCODE_MAX_WAIT_SECONDS, and one more: the limit that also
    ends the wait where no time passes between looks (tasks run eagerly)."""
    looks, waited = 0, 0
    while waited < settings.PIPELINE_TRANSCODE_MAX_WAIT_SECONDS:
        waited += transcode_look_in(looks)
        looks += 1
    return looks + 1


def _preflight(post: Post) -> Outcome:
    """A dry run of the plan: per account, whether it can be published to and why not."""
    try:
        plan = post_publish(post=post, dry_run=True)
    except ValidationError as exc:
        return Outcome(StageStatus.FAILED, error=" ".join(exc.messages), proceed=False)
    accounts = [{"account": e.handle, "platform": e.platform, "status": e.status, "problems": e.problems} for e in plan.entries]
    details = {"accounts": accounts, "blocked": plan.blocked}
    nothing = plan.nothing_to_publish()
    if nothing:
        return Outcome(StageStatus.FAILED, error=nothing, details=details, proceed=False)
    total = len(plan.entries)
    ready = total - plan.blocked
    note = ngettext(
        "%(ready)d of %(total)d target account can be published to.",
        "%(ready)d of %(total)d target accounts can be published to.",
        total,
    ) % {"ready": ready, "total": total}
    return Outcome(StageStatus.DONE, note=note, details=details)


def _source_of(post: Post):
    """The source that made the post (a ``sources.Source`` reached through its ingest record, or
    through its ``origin`` for a watched source's item), or None."""
    found = post.ingest_records.select_related("source").first()
    if found is not None:
        return found.source
    origin = getattr(post, "origin", None)  # a missing one-to-one raises an AttributeError subclass
    return origin.source if origin is not None else None


def _publish(post: Post) -> Outcome:
    source = _source_of(post)
    stage = PipelineStage.objects.get(post_id=post.pk, stage=Stage.PUBLISH)
    # An approver's approval is a review too: approving the post lets a review-mode source's draft go.
    approved = bool((stage.details or {}).get("approved")) or post.approval_status == ApprovalStatus.APPROVED
    if approval_needed(post):
        return _wait_for_approval(post)
    if source is not None and source.mode != PUBLISH_MODE and not approved:
        return Outcome(StageStatus.REVIEW, note=_("The draft waits for an operator to review and publish it."))
    try:
        plan = post_publish(post=post)
    except ValidationError as exc:
        return Outcome(StageStatus.FAILED, error=" ".join(exc.messages), details={"approved": approved}, proceed=False)
    note = _("Planned %(planned)d, blocked %(blocked)d.") % {"planned": plan.created, "blocked": plan.blocked}
    post.refresh_from_db(fields=["status"])
    # Finalize follows when the post finishes; a retry that planned nothing new finds it finished already.
    return Outcome(StageStatus.DONE, note=note, details={"approved": approved, **plan.as_dict()}, proceed=post.status in FINISHED)


def _wait_for_approval(post: Post) -> Outcome:
    """The workspace needs approvals: the stage waits for review, the post is submitted to the
    approvers (unless it already waits or was rejected); ``post_approve`` starts the stage again."""
    if post.approval_status == ApprovalStatus.REJECTED:
        return Outcome(StageStatus.REVIEW, note=_("The post was rejected: change it and submit it for approval again."))
    if post.approval_status != ApprovalStatus.PENDING:
        try:
            post_submit(post=post)
        except ValidationError as exc:  # e.g. cancelled meanwhile
            return Outcome(StageStatus.FAILED, error=" ".join(exc.messages), proceed=False)
    return Outcome(StageStatus.REVIEW, note=_("The post waits for approval; approving it publishes it."))


def _finalize(post: Post) -> Outcome:
    """One summary of the post (links per platform, failures) to the admin chat, and to the
    source's channel when the source asks; then the temporary files the post's renders left."""
    built = post_finished_message(post.pk)
    notes, errors = [], []
    if built is not None:
        workspace, text = built
        if send_admin_message(text, chat_id=admin_chat_id(workspace)):
            notes.append(_("The summary went to the admin chat."))
        if announce(POST_FINISHED, workspace, text):
            notes.append(_("The summary went to the members who asked for it in the bot."))
        source = _source_of(post)
        if source is not None and source.report_to_channel:
            try:
                IngestBot(source.bot_token).call(
                    "sendMessage",
                    {
                        "chat_id": str((source.options or {}).get("chat_id", "")),
                        "text": text[:TELEGRAM_TEXT_LIMIT],
                        "disable_web_page_preview": "true",
                    },
                )
            except base.PlatformError as error:
                errors.append(_("The summary did not reach the source's channel: %(error)s") % {"error": redact(error.message)})
            else:
                notes.append(_("The summary went to the source's channel."))
    removed = render_leftovers_remove(asset_ids=[a.pk for a in assets_of(post)])
    if removed:
        notes.append(
            ngettext("%(count)d temporary folder removed.", "%(count)d temporary folders removed.", removed) % {"count": removed}
        )
    details = {"temporary_removed": removed}
    if errors:
        return Outcome(StageStatus.FAILED, error=" ".join(errors), note=" ".join(notes), details=details)
    return Outcome(StageStatus.DONE, note=" ".join(notes), details=details)


RUNNERS = {
    Stage.ENRICH: _enrich,
    Stage.CAPTIONIZE: _captionize,
    Stage.TRANSCODE: _transcode,
    Stage.PREFLIGHT: _preflight,
    Stage.PUBLISH: _publish,
    Stage.FINALIZE: _finalize,
}


# --- what the rest of publishing calls ---------------------------------------------------------------


def post_finished(post_id: int) -> bool:
    """The post reached its final status: its finalize stage runs (again). False when the post has
    no pipeline (the caller sends the usual post-finished notification instead)."""
    if not record.has_pipeline(post_id):
        return False
    PipelineStage.objects.filter(post_id=post_id, stage=Stage.FINALIZE).exclude(status=StageStatus.RUNNING).update(
        status=StageStatus.WAITING, error="", finished_at=None
    )
    enqueue(post_id, Stage.FINALIZE)
    return True


@transaction.atomic
def stage_retry(*, post: Post, stage: str, actor=None) -> PipelineStage:
    """Run a failed stage again; the stages after it follow, the ones before are not redone.

    Raises ValidationError (code "conflict") when the stage has not failed."""
    if stage not in TASKS:
        raise ValidationError(
            _("There is no stage %(stage)s to retry: choose one of %(stages)s.") % {"stage": stage, "stages": ", ".join(TASKS)},
            code="invalid",
        )
    if not record.stage_reopen(post_id=post.pk, stage=stage):
        current = PipelineStage.objects.filter(post_id=post.pk, stage=stage).first()
        status = current.get_status_display() if current else StageStatus.WAITING.label
        raise ValidationError(
            _("Only a failed stage can be retried; %(stage)s is %(status)s.")
            % {"stage": Stage(stage).label, "status": str(status).lower()},
            code="conflict",
        )
    record.stages_reset_after(post_id=post.pk, stage=stage)
    log_activity(action="pipeline.stage_retry", post=post, actor=actor, status=LogStatus.INFO, message=stage)
    enqueue(post.pk, stage)
    return PipelineStage.objects.get(post_id=post.pk, stage=stage)
