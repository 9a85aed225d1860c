"""Posts: what an operator composes once, and the ordered media it carries."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.models import AccountGroup, SocialAccount, Workspace
from crosspost.models import choices_check
from media.models import MediaAsset

from .options import validate_post_options

MAX_MEDIA_PER_POST = 10


class MediaType(models.TextChoices):
    PHOTO = "photo", _("Photo")
    VIDEO = "video", _("Video")
    CAROUSEL = "carousel", _("Carousel")
    REEL = "reel", _("Reel")
    STORY = "story", _("Story")
    TEXT = "text", _("Text")


class Priority(models.TextChoices):
    HIGH = "high", _("High")
    NORMAL = "normal", _("Normal")
    LOW = "low", _("Low")


class PostStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SCHEDULED = "scheduled", _("Scheduled")
    PUBLISHING = "publishing", _("Publishing")
    COMPLETED = "completed", _("Completed")
    PARTIAL = "partial", _("Partially published")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class ApprovalStatus(models.TextChoices):
    """Where a post stands with its workspace's approvers (``Workspace.posts_need_approval``)."""

    NOT_REQUIRED = "not_required", _("Not required")
    PENDING = "pending", _("Waiting for approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class CaptionMode(models.TextChoices):
    """Where the text each platform gets comes from (a source sets it on the posts it makes)."""

    ORIGINAL = "original", _("Original text and its translations")
    AI = "ai", _("AI caption per platform")
    TEMPLATE = "template", _("Caption template")


class Post(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="posts", verbose_name=_("workspace"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("author")
    )
    title = models.CharField(
        max_length=200, blank=True, help_text=_("Internal name; also {title} in templates."), verbose_name=_("title")
    )
    caption = models.TextField(blank=True, verbose_name=_("caption"))
    language = models.CharField(
        max_length=10, default="en", help_text=_("Language the caption is written in."), verbose_name=_("language")
    )
    media_type = models.CharField(max_length=10, choices=MediaType.choices, default=MediaType.PHOTO, verbose_name=_("media type"))
    caption_mode = models.CharField(
        max_length=10,
        choices=CaptionMode.choices,
        default=CaptionMode.ORIGINAL,
        help_text=_("AI: one caption per platform and language, written from the caption as a brief."),
        verbose_name=_("caption mode"),
    )
    caption_template = models.TextField(
        blank=True,
        help_text=_("For the template mode: {caption}, {description}, {hashtags}, {title}, {brand}, {composition}, {care}."),
        verbose_name=_("caption template"),
    )
    target_groups = models.ManyToManyField(AccountGroup, blank=True, related_name="posts", verbose_name=_("target groups"))
    target_accounts = models.ManyToManyField(
        SocialAccount, blank=True, related_name="targeted_by_posts", verbose_name=_("target accounts")
    )
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.NORMAL, verbose_name=_("priority"))
    scheduled_at = models.DateTimeField(
        null=True, blank=True, help_text=_("Empty: publish as soon as possible."), verbose_name=_("scheduled at")
    )
    status = models.CharField(max_length=12, choices=PostStatus.choices, default=PostStatus.DRAFT, verbose_name=_("status"))
    options = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_post_options],
        help_text=_("Per-platform options, keyed by platform."),
        verbose_name=_("options"),
    )
    approval_status = models.CharField(
        max_length=12, choices=ApprovalStatus.choices, default=ApprovalStatus.NOT_REQUIRED, verbose_name=_("approval")
    )
    approval_comment = models.TextField(blank=True, verbose_name=_("approval comment"))
    approval_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("approved or rejected by"),
    )
    approval_at = models.DateTimeField(null=True, blank=True, verbose_name=_("approved or rejected at"))
    # Repetitions: a recurring or evergreen post makes a new post per occurrence, linked here.
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="repetitions",
        help_text=_("The post this one repeats."),
        verbose_name=_("repeats"),
    )
    occurrence_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("The occurrence of the parent this repetition was made for."),
        verbose_name=_("occurrence"),
    )
    evergreen = models.BooleanField(
        default=False, help_text=_("Recycled into free queue slots, with a minimum gap per account."), verbose_name=_("evergreen")
    )
    # The queue: the slot "Add to queue" gave this post, in its group's queue or the workspace's.
    queue_slot_at = models.DateTimeField(null=True, blank=True, verbose_name=_("queue slot"))
    queue_group = models.ForeignKey(
        AccountGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("queue group")
    )
    content_hash = models.CharField(
        max_length=64,
        blank=True,
        help_text=_("Of the caption and media, for the duplicate warning."),
        verbose_name=_("content hash"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished"))

    class Meta:
        verbose_name = _("post")
        verbose_name_plural = _("posts")
        ordering = ["-created_at"]
        constraints = [
            choices_check("status", PostStatus, "post_valid_status"),
            choices_check("priority", Priority, "post_valid_priority"),
            choices_check("media_type", MediaType, "post_valid_media_type"),
            choices_check("caption_mode", CaptionMode, "post_valid_caption_mode"),
            choices_check("approval_status", ApprovalStatus, "post_valid_approval_status"),
            models.UniqueConstraint(
                fields=["parent", "occurrence_at"],
                condition=Q(parent__isnull=False) & Q(occurrence_at__isnull=False),
                name="post_one_repetition_per_occurrence",
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "status", "-created_at"], name="post_ws_status_recent"),
            models.Index(fields=["workspace", "-created_at"], name="post_ws_recent"),
            models.Index(fields=["workspace", "scheduled_at"], name="post_ws_scheduled"),
            models.Index(fields=["workspace", "queue_slot_at"], name="post_ws_queue_slot"),
            models.Index(fields=["workspace", "content_hash"], name="post_ws_content_hash"),
            models.Index(fields=["workspace", "approval_status"], name="post_ws_approval"),
        ]

    def __str__(self) -> str:
        return self.title or (self.caption[:60] + ("…" if len(self.caption) > 60 else "")) or _("Post #%(id)s") % {"id": self.pk}


class PostMedia(models.Model):
    """An asset's place in a post; positions 0–9 and unique, so at most 10 per post."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="media", verbose_name=_("post"))
    asset = models.ForeignKey(MediaAsset, on_delete=models.PROTECT, related_name="post_media", verbose_name=_("asset"))
    position = models.PositiveSmallIntegerField(default=0, verbose_name=_("position"))

    class Meta:
        verbose_name = _("post media item")
        verbose_name_plural = _("post media")
        ordering = ["post", "position"]
        constraints = [
            models.UniqueConstraint(fields=["post", "position"], name="post_media_unique_position"),
            models.CheckConstraint(
                condition=Q(position__gte=0) & Q(position__lt=MAX_MEDIA_PER_POST), name="post_media_at_most_10"
            ),
        ]

    def __str__(self) -> str:
        return f"«{self.post}» #{self.position + 1}: {self.asset}"


class Stage(models.TextChoices):
    """The pipeline a post from a source goes through, in this order."""

    INGEST = "ingest", pgettext_lazy("pipeline stage", "Ingest")
    ENRICH = "enrich", pgettext_lazy("pipeline stage", "Enrich")
    CAPTIONIZE = "captionize", pgettext_lazy("pipeline stage", "Captions")
    TRANSCODE = "transcode", pgettext_lazy("pipeline stage", "Transcode")
    PREFLIGHT = "preflight", pgettext_lazy("pipeline stage", "Preflight")
    PUBLISH = "publish", pgettext_lazy("pipeline stage", "Publish")
    FINALIZE = "finalize", pgettext_lazy("pipeline stage", "Finalize")


class StageStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting")
    RUNNING = "running", _("Running")
    REVIEW = "review", _("Waiting for review")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")


class PipelineStage(models.Model):
    """One stage of one post's pipeline: when it ran, how it ended and why it failed.

    Rows exist only for posts that have a pipeline (a source's posts); ``posts.pipeline`` keeps them.
    """

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="stages", verbose_name=_("post"))
    stage = models.CharField(max_length=12, choices=Stage.choices, verbose_name=_("stage"))
    status = models.CharField(max_length=10, choices=StageStatus.choices, default=StageStatus.WAITING, verbose_name=_("status"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished"))
    error = models.TextField(blank=True, verbose_name=_("error"))
    note = models.TextField(
        blank=True, help_text=_("What the stage found, e.g. why there are no product facts."), verbose_name=_("note")
    )
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    details = models.JSONField(default=dict, blank=True, verbose_name=_("details"))

    class Meta:
        verbose_name = _("pipeline stage")
        verbose_name_plural = _("pipeline stages")
        ordering = ["post", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["post", "stage"], name="pipeline_stage_once_per_post"),
            choices_check("stage", Stage, "pipeline_stage_valid_stage"),
            choices_check("status", StageStatus, "pipeline_stage_valid_status"),
        ]
        indexes = [models.Index(fields=["stage", "status"], name="pipeline_stage_status")]

    def __str__(self) -> str:
        return f"«{self.post}» · {self.get_stage_display()} ({self.get_status_display()})"

    @property
    def duration(self) -> float | None:
        """Seconds from start to end (None until it has both)."""
        if self.started_at is None or self.finished_at is None:
            return None
        return max((self.finished_at - self.started_at).total_seconds(), 0.0)
