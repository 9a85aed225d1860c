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

    value = EncryptedTextField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return "encryption canary"


class Heartbeat(models.Model):
    """Last sign of life of a background component ("worker", "beat").

    /health/ fails when one is older than HEARTBEAT_STALE_SECONDS, so a dead
    worker or beat — work silently stuck in the queue — cannot go unnoticed.
    """

    name = models.CharField(max_length=40, unique=True)
    seen_at = models.DateTimeField()
    detail = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"{self.name} @ {self.seen_at:%Y-%m-%d %H:%M:%S}"


class LogStatus(models.TextChoices):
    SUCCESS = "success", _("Success")
    FAILED = "failed", _("Failed")
    INFO = "info", _("Info")


class ActivityLog(models.Model):
    """The operator's audit trail: who did what, to which account or execution, and how it went."""

    workspace = models.ForeignKey("accounts.Workspace", null=True, blank=True, on_delete=models.CASCADE, related_name="activity")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    account = models.ForeignKey(
        "accounts.SocialAccount", null=True, blank=True, on_delete=models.SET_NULL, related_name="activity"
    )
    post = models.ForeignKey("posts.Post", null=True, blank=True, on_delete=models.SET_NULL, related_name="activity")
    execution = models.ForeignKey(
        "publishing.Execution", null=True, blank=True, on_delete=models.SET_NULL, related_name="activity"
    )
    action = models.CharField(max_length=64)
    status = models.CharField(max_length=8, choices=LogStatus.choices, default=LogStatus.INFO)
    message = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "publishing_activitylog"
        ordering = ["-created_at", "-id"]
        constraints = [choices_check("status", LogStatus, "activity_valid_status")]
        indexes = [
            models.Index(fields=["workspace", "-created_at"], name="activity_ws_recent"),
            models.Index(fields=["account", "-created_at"], name="activity_account_recent"),
            models.Index(fields=["action", "-created_at"], name="activity_action_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} [{self.status}]"
