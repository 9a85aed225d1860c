"""Executions (one per post × account), AI captions (one per post × platform × language),
publishing policies and the sandbox feed."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Platform, SocialAccount, Workspace
from crosspost.choices import choice_label
from crosspost.models import choices_check
from posts.models import Post, Priority


class ExecutionStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    QUEUED = "queued", _("Queued")
    POSTING = "posting", _("Posting")
    SUCCESS = "success", _("Published")
    RETRY_WAIT = "retry_wait", _("Waiting to retry")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")
    SKIPPED = "skipped", _("Skipped")
    UNCONFIRMED = "unconfirmed", _("Unconfirmed")
    # A target account the planner could not publish to (no caption, banned, rules…): the
    # reason is in error_message. With next_attempt_at set the cause is temporary and the
    # execution is planned again then (publishing.publisher.replan_due_blocked); without it
    # it stays blocked until an operator publishes the post again.
    BLOCKED = "blocked", _("Blocked")


# States an execution can still leave on its own.
OPEN_EXECUTION_STATUSES = (
    ExecutionStatus.PENDING,
    ExecutionStatus.QUEUED,
    ExecutionStatus.POSTING,
    ExecutionStatus.RETRY_WAIT,
    ExecutionStatus.UNCONFIRMED,
)
# BLOCKED is not open: it takes no slot in an account's pacing and no worker picks it up. A
# post with a blocked execution that waits for its automatic retry is still not finished
# (publisher.refresh_post_status); one whose blocked executions wait for nobody ends partial.


class Execution(models.Model):
    # No index of their own for the three keys: each leads a composite index below (workspace:
    # execution_ws_recent_cover, post: execution_one_per_post_account, account: execution_account_time),
    # and every index is one more entry written by each of an execution's status changes.
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="executions", db_index=False, verbose_name=_("workspace")
    )
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="executions", db_index=False, verbose_name=_("post"))
    account = models.ForeignKey(
        SocialAccount, on_delete=models.CASCADE, related_name="executions", db_index=False, verbose_name=_("account")
    )
    language = models.CharField(max_length=10, verbose_name=_("language"))
    caption = models.TextField(blank=True, verbose_name=_("caption"))
    caption_edited = models.BooleanField(
        default=False, help_text=_("An operator edited this caption: never re-translate."), verbose_name=_("caption edited")
    )
    status = models.CharField(
        max_length=12, choices=ExecutionStatus.choices, default=ExecutionStatus.PENDING, verbose_name=_("status")
    )
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.NORMAL, verbose_name=_("priority"))
    scheduled_for = models.DateTimeField(verbose_name=_("scheduled for"))
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    next_attempt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next attempt"))
    lease_expires_at = models.DateTimeField(null=True, blank=True, verbose_name=_("lease expires"))
    # Each claim by the dispatcher gets a new token; a task only acts on the
    # execution while its token matches, so a stale or duplicated message is a no-op.
    lease_token = models.CharField(max_length=32, blank=True, verbose_name=_("lease token"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished"))
    remote_id = models.CharField(max_length=200, blank=True, verbose_name=_("remote ID"))
    remote_url = models.URLField(max_length=500, blank=True, verbose_name=_("remote URL"))
    error_code = models.CharField(max_length=64, blank=True, verbose_name=_("error code"))
    error_message = models.TextField(blank=True, verbose_name=_("error message"))
    raw_response = models.JSONField(default=dict, blank=True, verbose_name=_("raw response"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("execution")
        verbose_name_plural = _("executions")
        ordering = ["scheduled_for", "id"]
        constraints = [
            models.UniqueConstraint(fields=["post", "account"], name="execution_one_per_post_account"),
            choices_check("status", ExecutionStatus, "execution_valid_status"),
            choices_check("priority", Priority, "execution_valid_priority"),
        ]
        indexes = [
            # The dispatcher's query: due executions by status and time.
            models.Index(fields=["status", "scheduled_for"], name="execution_dispatch"),
            # The lease sweep's: only claimed executions hold a lease, so only they are in it.
            models.Index(
                fields=["status", "lease_expires_at"], name="execution_leases", condition=Q(lease_expires_at__isnull=False)
            ),
            # Pacing: an account's recent and upcoming executions.
            models.Index(fields=["account", "scheduled_for"], name="execution_account_time"),
            # Dashboards: per post progress and per workspace recent activity.
            # (post, status, finished_at): also "did this post publish since X" as one index probe per post
            # (the overview's posts-today / posts-this-week, an EXISTS per post over a million executions).
            models.Index(fields=["post", "status", "finished_at"], name="execution_post_status_time"),
            # The overview's windows (published and failed in 24 h / 7 days, the time to publish, per
            # group and per account) read this index alone on PostgreSQL: the columns they need are in it.
            models.Index(
                fields=["workspace", "status", "-finished_at"],
                include=["scheduled_for", "account"],
                name="execution_ws_recent_cover",
            ),
            # The admin's list, newest first: its page is read off this index instead of sorting a million rows.
            models.Index(fields=["-created_at", "-id"], name="execution_newest"),
        ]

    def __str__(self) -> str:
        return f"«{self.post}» → {self.account} ({choice_label(self, 'status')})"


class ExecutionTally(models.Model):
    """How many executions a workspace has in each (status, priority): the overview's all-time
    counts without counting a million rows per request.

    The database keeps it exact, not the application: triggers on the execution table (migration
    ``0011_p19_tally_execution_counts``) add every inserted, updated and deleted row's change in
    the same transaction, so bulk inserts, raw SQL, queryset ``.update()`` and cascaded deletes
    are all counted without any code path knowing about it. Never write to it from Python.
    """

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="execution_tallies", verbose_name=_("workspace")
    )
    status = models.CharField(max_length=12, choices=ExecutionStatus.choices, verbose_name=_("status"))
    priority = models.CharField(max_length=8, choices=Priority.choices, verbose_name=_("priority"))
    n = models.BigIntegerField(default=0, verbose_name=_("executions"))

    class Meta:
        verbose_name = _("execution tally")
        verbose_name_plural = _("execution tallies")
        constraints = [
            models.UniqueConstraint(fields=["workspace", "status", "priority"], name="execution_tally_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.workspace_id} {self.status}/{self.priority}: {self.n}"


class ExecutionOutcomeBucket(models.Model):
    """Published and failed executions per (workspace, account group, UTC hour of ``finished_at``,
    status), with the sum of their times to publish: the overview's windows (24 h, 7 days, the
    14-day chart, the groups' week) add up whole hours here and count only their partial edge
    hours from the executions, instead of reading every execution of the window.

    ``group_key`` is the account's CURRENT group (0: no group), as the overview has always shown
    it: when an account moves group its counted executions move with it. ``ALL_GROUPS`` (-1) rows
    hold every group together: the chart and the 24 h / 7 day figures read one row per hour and
    status instead of one per group. ``publish_us`` is the sum
    of ``finished_at - scheduled_for`` in microseconds (exact; the average divides it by ``n``).

    Kept exact by the database like ExecutionTally (migration ``0013_p19_overview_outcome_buckets``):
    triggers on executions (every insert, update and delete) and on accounts (group changes,
    inserts and deletes), and a workspace's rows are deleted with it. ``workspace`` has no
    database constraint on purpose: a cascaded delete of a workspace moves its accounts' groups
    and deletes its executions in the same transaction, and the triggers must be free to write
    while it does. Never write to it from Python.
    """

    ALL_GROUPS = -1

    workspace = models.ForeignKey(
        Workspace, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+", verbose_name=_("workspace")
    )
    group_key = models.BigIntegerField(verbose_name=_("account group"))
    hour = models.DateTimeField(verbose_name=_("hour"))
    status = models.CharField(max_length=12, choices=ExecutionStatus.choices, verbose_name=_("status"))
    n = models.BigIntegerField(default=0, verbose_name=_("executions"))
    publish_us = models.BigIntegerField(default=0, verbose_name=_("time to publish (µs)"))

    class Meta:
        verbose_name = _("execution outcome bucket")
        verbose_name_plural = _("execution outcome buckets")
        constraints = [
            # hour second: the overview reads a workspace's range of hours.
            models.UniqueConstraint(fields=["workspace", "hour", "group_key", "status"], name="execution_outcome_bucket_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.workspace_id} {self.group_key} {self.hour:%Y-%m-%d %H}h {self.status}: {self.n}"


class CaptionStatus(models.TextChoices):
    OK = "ok", _("Ready")
    FAILED = "failed", _("Failed")


class PostCaption(models.Model):
    """An AI caption of a post for one platform in one language: what every account on that
    platform in that language publishes (``ai_captions.post_captions_prepare`` writes it).

    ``source_hash`` fingerprints what it was written from (brief, title, product facts, the
    policy's content rules): when they change the caption is written again — unless an operator
    edited it (``edited``), which is never overwritten. A failed one keeps the reason in
    ``problem``; its executions are blocked with it.
    """

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="ai_captions", verbose_name=_("post"))
    platform = models.CharField(max_length=16, choices=Platform.choices, verbose_name=_("platform"))
    language = models.CharField(max_length=10, verbose_name=_("language"))
    caption = models.TextField(blank=True, verbose_name=_("caption"))
    status = models.CharField(max_length=8, choices=CaptionStatus.choices, default=CaptionStatus.OK, verbose_name=_("status"))
    problem = models.TextField(blank=True, verbose_name=_("problem"))
    facts = models.JSONField(
        default=dict, blank=True, help_text=_("The product facts the model was given."), verbose_name=_("facts")
    )
    source_hash = models.CharField(max_length=64, blank=True, verbose_name=_("source fingerprint"))
    edited = models.BooleanField(
        default=False, help_text=_("An operator edited this caption: never written again."), verbose_name=_("edited")
    )
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("edited by")
    )
    generated_at = models.DateTimeField(null=True, blank=True, verbose_name=_("generated"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("AI caption")
        verbose_name_plural = _("AI captions")
        ordering = ["post", "platform", "language"]
        constraints = [
            models.UniqueConstraint(fields=["post", "platform", "language"], name="post_caption_one_per_platform_language"),
            choices_check("platform", Platform, "post_caption_valid_platform"),
            choices_check("status", CaptionStatus, "post_caption_valid_status"),
        ]

    def __str__(self) -> str:
        return f"«{self.post}» · {self.get_platform_display()} ({self.language})"


class PublishingPolicy(models.Model):
    """Anti-ban pacing and content rules for one platform within one workspace."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="policies", verbose_name=_("workspace"))
    platform = models.CharField(max_length=16, choices=Platform.choices, verbose_name=_("platform"))
    enabled = models.BooleanField(
        default=True,
        help_text=_("Off: the workspace's accounts on this platform get nothing published (the plan says why)."),
        verbose_name=_("publishing enabled"),
    )
    min_interval_s = models.PositiveIntegerField(
        default=1800, help_text=_("Minimum seconds between two posts of one account."), verbose_name=_("minimum interval (s)")
    )
    stagger_min_s = models.PositiveIntegerField(
        default=120, help_text=_("Random delay between accounts of one post: lower bound."), verbose_name=_("stagger minimum (s)")
    )
    stagger_max_s = models.PositiveIntegerField(
        default=300, help_text=_("Random delay between accounts of one post: upper bound."), verbose_name=_("stagger maximum (s)")
    )
    daily_limit = models.PositiveIntegerField(
        default=10, help_text=_("Posts per account per rolling 24 h (accounts may override)."), verbose_name=_("daily limit")
    )
    warmup_curve = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Posts per day for the first days of warm-up, e.g. [1, 2, 2]; empty: the default."),
        verbose_name=_("warm-up curve"),
    )
    warmup_ramp_days = models.PositiveIntegerField(
        default=7,
        help_text=_("Days of linear ramp from the curve's last value to the daily limit."),
        verbose_name=_("warm-up ramp (days)"),
    )
    quiet_hours_start = models.TimeField(
        null=True, blank=True, help_text=_("In the account's time zone."), verbose_name=_("quiet hours start")
    )
    quiet_hours_end = models.TimeField(null=True, blank=True, verbose_name=_("quiet hours end"))
    optimal_times = models.JSONField(
        default=list, blank=True, help_text=_('Preferred local times, e.g. ["09:00", "18:30"].'), verbose_name=_("optimal times")
    )
    use_optimal_times = models.BooleanField(
        default=False,
        help_text=_("Post only at the optimal times (the next one after the earliest allowed moment)."),
        verbose_name=_("use optimal times"),
    )
    hashtag_min = models.PositiveSmallIntegerField(default=0, verbose_name=_("minimum hashtags"))
    hashtag_max = models.PositiveSmallIntegerField(default=30, verbose_name=_("maximum hashtags"))
    forbidden_words = models.JSONField(default=list, blank=True, verbose_name=_("forbidden words"))
    required_hashtags = models.JSONField(default=list, blank=True, verbose_name=_("required hashtags"))
    caption_template = models.TextField(
        blank=True, help_text=_("Uses {title}, {description}, {hashtags}."), verbose_name=_("caption template")
    )
    # Preflight limits on the post's media as uploaded (empty: no limit).
    min_video_duration_s = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Shortest video allowed, in seconds."), verbose_name=_("minimum video duration (s)")
    )
    max_video_duration_s = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Longest video allowed, in seconds."), verbose_name=_("maximum video duration (s)")
    )
    min_video_quality = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("Lowest video quality allowed: the shorter side in pixels, e.g. 720 for 720p."),
        verbose_name=_("minimum video quality (p)"),
    )
    max_file_size_mb = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("Largest media file allowed, in MB (1 MB = 1024 × 1024 bytes)."),
        verbose_name=_("maximum file size (MB)"),
    )
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("publishing policy")
        verbose_name_plural = _("publishing policies")
        constraints = [
            models.UniqueConstraint(fields=["workspace", "platform"], name="policy_one_per_platform"),
            choices_check("platform", Platform, "policy_valid_platform"),
            models.CheckConstraint(condition=Q(stagger_min_s__lte=models.F("stagger_max_s")), name="policy_stagger_range"),
            models.CheckConstraint(condition=Q(hashtag_min__lte=models.F("hashtag_max")), name="policy_hashtag_range"),
            models.CheckConstraint(condition=Q(daily_limit__gte=1), name="policy_daily_limit_positive"),
            models.CheckConstraint(
                condition=Q(min_video_duration_s__isnull=True)
                | Q(max_video_duration_s__isnull=True)
                | Q(min_video_duration_s__lte=models.F("max_video_duration_s")),
                name="policy_video_duration_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workspace} · {self.get_platform_display()}"


class SandboxPost(models.Model):
    """The sandbox platform's feed: what was "published" to a sandbox account.

    No uniqueness on ``marker`` on purpose: a duplicate publish must show up as
    a second row, which is how the exactly-once tests count.
    """

    account = models.ForeignKey(SocialAccount, on_delete=models.CASCADE, related_name="sandbox_posts", verbose_name=_("account"))
    marker = models.CharField(max_length=64, db_index=True, verbose_name=_("marker"))
    caption = models.TextField(blank=True, verbose_name=_("caption"))
    media_type = models.CharField(max_length=10, verbose_name=_("media type"))
    media = models.JSONField(default=list, blank=True, verbose_name=_("media"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("sandbox post")
        verbose_name_plural = _("sandbox posts")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.account} · {self.marker}"
