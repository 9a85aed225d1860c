"""Core rows: the ones that belong to no tenant, and the activity log every app writes to."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .crypto import EncryptedTextField

CANARY_PLAINTEXT = "crosspost-encryption-canary"


def choices_check(field: str, choices: type[models.TextChoices], name: str) -> models.CheckConstraint:
    """A database constraint that keeps ``field`` inside ``choices``."""
    return models.CheckConstraint(condition=Q(**{f"{field}__in": choices.values}), name=name)


class EncryptionCanary(models.Model):
    """One row encrypted with the current key. If it stops decrypting, the
    configured FIELD_ENCRYPTION_KEYS lost the key that wrote the data — the
    health check and the startup check say so instead of serving ciphertext."""

    value = EncryptedTextField(verbose_name=_("value"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("encryption canary")
        verbose_name_plural = _("encryption canaries")

    def __str__(self) -> str:
        return "encryption canary"


class Heartbeat(models.Model):
    """Last sign of life of a background component ("worker", "beat").

    /health/ fails when one is older than HEARTBEAT_STALE_SECONDS, so a dead
    worker or beat — work silently stuck in the queue — cannot go unnoticed.
    """

    name = models.CharField(max_length=40, unique=True, verbose_name=_("name"))
    seen_at = models.DateTimeField(verbose_name=_("last seen"))
    detail = models.JSONField(default=dict, blank=True, verbose_name=_("detail"))

    class Meta:
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")

    def __str__(self) -> str:
        return f"{self.name} @ {self.seen_at:%Y-%m-%d %H:%M:%S}"


class LogStatus(models.TextChoices):
    SUCCESS = "success", _("Success")
    FAILED = "failed", _("Failed")
    INFO = "info", _("Info")


# What each ``action`` code written by crosspost.activity.log_activity means, for people: the dashboard's activity
# page and the admin show these. A code missing here is shown as it is (see action_label).
ACTION_LABELS = {
    "account.check": _("Account checked"),
    "account.create": _("Account added"),
    "account.delete": _("Account deleted"),
    "account.login": _("Account logged in"),
    "account.session_expired": _("Old session retired"),
    "account.status": _("Account status changed"),
    "account.update": _("Account edited"),
    "accounts.assign_group": _("Accounts moved to a group"),
    "accounts.assign_proxy": _("Proxy assigned to accounts"),
    "accounts.import": _("Accounts imported"),
    "bot.account.check": _("Bot: account check run"),
    "bot.account.pause": _("Bot: account paused"),
    "bot.account.resume": _("Bot: account resumed"),
    "bot.campaign.cancel": _("Bot: campaign run cancelled"),
    "bot.campaign.create": _("Bot: campaign created and started"),
    "bot.campaign.delete": _("Bot: campaign deleted"),
    "bot.campaign.repeat": _("Bot: campaign repeated"),
    "bot.campaign.run": _("Bot: campaign run again"),
    "bot.studio.cancel": _("Bot: recording job cancelled"),
    "bot.studio.run": _("Bot: recording pipeline started"),
    "bot.studio.skip": _("Bot: recording skipped"),
    "bot.studio.unskip": _("Bot: recording back in the queue"),
    "bot.cancel": _("Bot: conversation cancelled"),
    "bot.link": _("Telegram account linked"),
    "bot.link_code": _("Telegram link code made"),
    "bot.media.upload": _("Bot: media received"),
    "bot.post.cancel": _("Bot: post cancelled"),
    "bot.post.discard": _("Bot: draft discarded"),
    "bot.post.draft": _("Bot: saved as draft"),
    "bot.post.preview": _("Bot: plan previewed"),
    "bot.post.publish": _("Bot: post published"),
    "bot.post.retry_failed": _("Bot: failed publications retried"),
    "bot.post.submit": _("Bot: post submitted for approval"),
    "bot.review.approve": _("Bot: draft approved"),
    "bot.review.edit_caption": _("Bot: draft caption edited"),
    "bot.review.reject": _("Bot: draft rejected"),
    "bot.settings.default_groups": _("Bot: default groups changed"),
    "bot.settings.language": _("Bot: language changed"),
    "bot.settings.notify": _("Bot: notifications changed"),
    "bot.unlink": _("Telegram account unlinked"),
    "campaign.ad_edit": _("Campaign ad edited"),
    "campaign.archive": _("Campaign archived"),
    "campaign.create": _("Campaign created"),
    "campaign.delete": _("Campaign deleted"),
    "campaign.failed": _("Campaign run failed"),
    "campaign.restore": _("Campaign restored"),
    "campaign.run": _("Campaign run started"),
    "campaign.settings": _("Campaign settings changed"),
    "campaign.update": _("Campaign edited"),
    "execution.cancel": _("Publication cancelled"),
    "execution.caption_edit": _("Caption edited for one account"),
    "execution.mark_published": _("Marked as published"),
    "execution.publish": _("Publishing attempt"),
    "execution.reconcile": _("Publication checked on the platform"),
    "execution.retry": _("Publication retried"),
    "execution.unconfirmed": _("Publication unconfirmed"),
    "group.create": _("Group created"),
    "job.cancel": _("Background job cancelled"),
    "pipeline.stage_failed": _("Pipeline stage failed"),
    "pipeline.stage_retry": _("Pipeline stage retried"),
    "policy.import": _("Publishing rules imported"),
    "policy.update": _("Publishing policy edited"),
    "post.approval_withdrawn": _("Approval withdrawn by an edit"),
    "post.approve": _("Post approved"),
    "post.cancel": _("Post cancelled"),
    "post.caption_override": _("Caption override set"),
    "post.caption_override_removed": _("Caption override removed"),
    "post.create": _("Post created"),
    "post.delete": _("Post deleted"),
    "post.publish": _("Post publishing started"),
    "post.queue": _("Post added to the queue"),
    "post.reschedule": _("Post moved to another time"),
    "post.update": _("Post edited"),
    "post.recurrence_set": _("Repetition rule set"),
    "post.recurrence_stop": _("Repetition stopped"),
    "post.repetition": _("Repetition made"),
    "post.repetition_failed": _("Repetition not published"),
    "post.repetition_missed": _("Late repetitions skipped"),
    "post.repetition_waiting": _("Repetition waits for approval"),
    "post.evergreen": _("Evergreen switched"),
    "post.reject": _("Post rejected"),
    "post.resolve_unconfirmed": _("Unconfirmed executions settled"),
    "post.submit": _("Post submitted for approval"),
    "proxy.check": _("Proxy checked"),
    "queue.slot_add": _("Queue slot added"),
    "queue.slot_remove": _("Queue slot removed"),
    "queue.slots_set": _("Queue slots replaced"),
    "proxy.create": _("Proxy added"),
    "proxy.down": _("Proxy down"),
    "proxy.import": _("Proxies imported"),
    "proxy.recovered": _("Proxy recovered"),
    "proxy.rotate": _("Proxy replaced"),
    "proxy.update": _("Proxy edited"),
    "studio.preset.create": _("Studio output preset created"),
    "studio.preset.update": _("Studio output preset edited"),
    "studio.recording.delete": _("Recording deleted"),
    "studio.recording.done": _("Recording processed"),
    "studio.recording.failed": _("Recording processing failed"),
    "studio.recording.run": _("Recording processing started"),
    "studio.recording.skip": _("Recording skipped"),
    "studio.recording.template": _("Recording template chosen"),
    "studio.recording.unskip": _("Recording back in the queue"),
    "studio.source.create": _("Studio input source created"),
    "studio.source.sync": _("Recordings imported from a source"),
    "studio.source.update": _("Studio input source edited"),
    "studio.template.create": _("Studio template created"),
    "studio.template.update": _("Studio template edited"),
    "tiktok.accepted": _("TikTok accepted the upload"),
    "webhook.create": _("Webhook endpoint added"),
    "webhook.delete": _("Webhook endpoint deleted"),
    "webhook.redeliver": _("Webhook delivery sent again"),
    "webhook.rotate_secret": _("Webhook signing secret rotated"),
    "webhook.test": _("Webhook test event sent"),
    "webhook.update": _("Webhook endpoint edited"),
}


def action_label(action: str) -> str:
    """The human label of an activity ``action`` code; an unknown code is shown as it is."""
    return str(ACTION_LABELS.get(action, action))


class ActivityLog(models.Model):
    """The operator's audit trail: who did what, to which account or execution, and how it went."""

    workspace = models.ForeignKey(
        "accounts.Workspace",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="activity",
        verbose_name=_("workspace"),
    )
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("actor"))
    account = models.ForeignKey(
        "accounts.SocialAccount",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="activity",
        verbose_name=_("account"),
    )
    post = models.ForeignKey(
        "posts.Post", null=True, blank=True, on_delete=models.SET_NULL, related_name="activity", verbose_name=_("post")
    )
    execution = models.ForeignKey(
        "publishing.Execution",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="activity",
        verbose_name=_("execution"),
    )
    action = models.CharField(max_length=64, verbose_name=_("action"))
    status = models.CharField(max_length=8, choices=LogStatus.choices, default=LogStatus.INFO, verbose_name=_("status"))
    message = models.TextField(blank=True, verbose_name=_("message"))
    details = models.JSONField(default=dict, blank=True, verbose_name=_("details"))
    duration_ms = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("duration (ms)"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("activity log entry")
        verbose_name_plural = _("activity log")
        db_table = "publishing_activitylog"
        ordering = ["-created_at", "-id"]
        constraints = [choices_check("status", LogStatus, "activity_valid_status")]
        indexes = [
            models.Index(fields=["workspace", "-created_at"], name="activity_ws_recent"),
            models.Index(fields=["account", "-created_at"], name="activity_account_recent"),
            models.Index(fields=["action", "-created_at"], name="activity_action_recent"),
            # The dashboard's activity page: keyset pages in (created_at, id) order per workspace, and its
            # action filter's list (walked from one action to the next, not a DISTINCT over the log).
            models.Index(fields=["workspace", "-created_at", "-id"], name="activity_ws_keyset"),
            models.Index(fields=["workspace", "action"], name="activity_ws_action"),
            # The admin's log across workspaces (superusers), newest first, read off the index.
            models.Index(fields=["-created_at", "-id"], name="activity_newest"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} ({self.get_status_display()})"

    def get_action_display(self) -> str:
        return action_label(self.action)


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


JOB_FINISHED_STATUSES = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


class Job(models.Model):
    """One background run the operator watches: a campaign build, a video's processing, a bulk action.

    The product's one job record (crosspost.jobs writes it): what it is (``kind`` and its subject as
    "app.model:pk"), where it is (``stage``, ``progress`` 0–100, ``message``), how it ended (``error``,
    ``result``) and whether someone asked it to stop (``cancel_requested``, checked between steps)."""

    workspace = models.ForeignKey(
        "accounts.Workspace", null=True, blank=True, on_delete=models.CASCADE, related_name="jobs", verbose_name=_("workspace")
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("author")
    )
    kind = models.CharField(max_length=40, verbose_name=_("kind"))
    subject = models.CharField(max_length=80, blank=True, db_index=True, verbose_name=_("subject"))
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED, verbose_name=_("status"))
    stage = models.CharField(max_length=40, blank=True, verbose_name=_("stage"))
    progress = models.PositiveSmallIntegerField(default=0, verbose_name=_("progress (%)"))
    message = models.CharField(max_length=500, blank=True, verbose_name=_("message"))
    error = models.TextField(blank=True, verbose_name=_("error"))
    result = models.JSONField(default=dict, blank=True, verbose_name=_("result"))
    cancel_requested = models.BooleanField(default=False, verbose_name=_("cancel requested"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("background job")
        verbose_name_plural = _("background jobs")
        ordering = ["-created_at", "-id"]
        constraints = [
            choices_check("status", JobStatus, "job_valid_status"),
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="job_progress_at_most_100"),
        ]
        indexes = [models.Index(fields=["workspace", "-created_at"], name="job_ws_recent")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status}, {self.progress}%)"

    @property
    def finished(self) -> bool:
        return self.status in JOB_FINISHED_STATUSES


# --- Outgoing webhooks ------------------------------------------------------------------------------


class WebhookEvent(models.TextChoices):
    POST_COMPLETED = "post.completed", _("Post completed")
    POST_FAILED = "post.failed", _("Post failed or partly failed")
    EXECUTION_FAILED = "execution.failed", _("Publication failed for good")
    ACCOUNT_STATUS_CHANGED = "account.status_changed", _("Account status changed")
    SOURCE_ITEM_CREATED = "source.item_created", _("Source created a post")
    # Sent only by the "send test event" action, to every endpoint whatever it subscribes to.
    PING = "ping", _("Test event")


class WebhookEndpoint(models.Model):
    """A URL of another system that hears about a workspace's events, signed with ``secret``.

    The secret is encrypted at rest and write-only: it is shown once, when it is made or rotated."""

    workspace = models.ForeignKey(
        "accounts.Workspace", on_delete=models.CASCADE, related_name="webhook_endpoints", verbose_name=_("workspace")
    )
    url = models.URLField(max_length=500, verbose_name=_("URL"))
    secret = EncryptedTextField(verbose_name=_("signing secret"))
    events = models.JSONField(default=list, blank=True, verbose_name=_("events"))
    active = models.BooleanField(default=True, verbose_name=_("active"))
    description = models.CharField(max_length=200, blank=True, verbose_name=_("description"))
    failure_count = models.PositiveIntegerField(default=0, verbose_name=_("deliveries failed in a row"))
    last_failure = models.CharField(max_length=500, blank=True, verbose_name=_("last failure"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["workspace_id", "id"]
        indexes = [models.Index(fields=["workspace", "active"], name="webhook_ws_active")]

    def __str__(self) -> str:
        return self.description or self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    RETRY_WAIT = "retry_wait", _("Waiting to retry")
    SUCCESS = "success", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(models.Model):
    """One event for one endpoint and how sending it went: a row per event, attempts counted on it.

    ``event_id`` is the receiver's dedupe key: a redelivery sends the same one."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("endpoint"))
    workspace = models.ForeignKey(
        "accounts.Workspace", on_delete=models.CASCADE, related_name="webhook_deliveries", verbose_name=_("workspace")
    )
    event = models.CharField(max_length=40, choices=WebhookEvent.choices, verbose_name=_("event"))
    event_id = models.UUIDField(verbose_name=_("event id"))
    payload = models.JSONField(default=dict, verbose_name=_("payload"))
    status = models.CharField(
        max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING, verbose_name=_("status")
    )
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    next_attempt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next attempt"))
    claimed_until = models.DateTimeField(null=True, blank=True, verbose_name=_("claimed until"))
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=_("last HTTP status"))
    last_error = models.CharField(max_length=500, blank=True, verbose_name=_("last error"))
    response_excerpt = models.TextField(blank=True, verbose_name=_("response excerpt"))
    log = models.JSONField(default=list, blank=True, verbose_name=_("attempt log"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("delivered"))

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-id"]
        constraints = [choices_check("status", DeliveryStatus, "webhook_delivery_valid_status")]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due"),
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_endpoint"),
            models.Index(fields=["workspace", "-created_at"], name="webhook_delivery_ws"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint_id} ({self.status})"


# --- Idempotency-Key ------------------------------------------------------------------------------------


class IdempotencyKey(models.Model):
    """An API write made with an ``Idempotency-Key`` header and the answer it got, kept 24 h
    (crosspost.idempotency): the same key and request again gets the stored answer back."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("user"))
    key = models.CharField(max_length=255, verbose_name=_("key"))
    method = models.CharField(max_length=8, verbose_name=_("method"))
    path = models.CharField(max_length=2000, verbose_name=_("path"))
    body_hash = models.CharField(max_length=64, verbose_name=_("body hash"))
    completed = models.BooleanField(default=False, verbose_name=_("completed"))
    status_code = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=_("status code"))
    content_type = models.CharField(max_length=200, blank=True, verbose_name=_("content type"))
    response_body = models.BinaryField(default=b"", blank=True, verbose_name=_("response body"))
    created_at = models.DateTimeField(verbose_name=_("created"))

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_per_user")]
        indexes = [models.Index(fields=["created_at"], name="idempotency_key_age")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"
