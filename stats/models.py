"""Statistics of every publication: snapshots over time per execution, in one vocabulary
(``platforms.base.METRICS``), read on a schedule that thins with age (``SLOTS``)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import SocialAccount
from publishing.models import Execution


class Slot(models.TextChoices):
    """When after publishing a snapshot is taken; one snapshot per execution and slot."""

    H1 = "1h", _("1 hour")
    H6 = "6h", _("6 hours")
    H24 = "24h", _("24 hours")
    D3 = "3d", _("3 days")
    D7 = "7d", _("7 days")
    D30 = "30d", _("30 days")


class MetricSnapshot(models.Model):
    execution = models.ForeignKey(
        Execution, on_delete=models.CASCADE, related_name="metric_snapshots", verbose_name=_("execution")
    )
    slot = models.CharField(max_length=4, choices=Slot.choices, verbose_name=_("slot"))
    taken_at = models.DateTimeField(verbose_name=_("taken"))
    # None: not reported this time (see unavailable / errors); 0 is a real zero.
    views = models.BigIntegerField(null=True, blank=True, verbose_name=_("views"))
    likes = models.BigIntegerField(null=True, blank=True, verbose_name=_("likes"))
    comments = models.BigIntegerField(null=True, blank=True, verbose_name=_("comments"))
    shares = models.BigIntegerField(null=True, blank=True, verbose_name=_("shares"))
    saves = models.BigIntegerField(null=True, blank=True, verbose_name=_("saves"))
    watch_time_s = models.FloatField(null=True, blank=True, verbose_name=_("watch time, s"))
    # metric -> why the platform never reports it (shown as "not available", not 0)
    unavailable = models.JSONField(default=dict, blank=True, verbose_name=_("not available"))
    # metric -> why it failed this time, while the others were stored
    errors = models.JSONField(default=dict, blank=True, verbose_name=_("errors"))
    raw = models.JSONField(default=dict, blank=True, verbose_name=_("platform answer"))
    # The last reading: the post is gone or the account may no longer read it; no later slot is taken.
    final = models.BooleanField(default=False, verbose_name=_("last reading"))

    class Meta:
        ordering = ["execution_id", "taken_at"]
        verbose_name = _("statistics snapshot")
        verbose_name_plural = _("statistics snapshots")
        constraints = [models.UniqueConstraint(fields=["execution", "slot"], name="metric_snapshot_once_per_slot")]
        indexes = [models.Index(fields=["execution", "taken_at"], name="metric_snapshot_by_time")]

    def __str__(self) -> str:
        return f"{self.execution_id} @ {self.slot}"


class MetricPause(models.Model):
    """An account whose statistics are not read until ``until``: its platform rate-limited or
    refused it (collection only; publishing keeps its own account state)."""

    account = models.OneToOneField(
        SocialAccount, on_delete=models.CASCADE, related_name="metric_pause", verbose_name=_("account")
    )
    until = models.DateTimeField(verbose_name=_("until"))
    reason = models.TextField(blank=True, verbose_name=_("reason"))

    class Meta:
        verbose_name = _("statistics pause")
        verbose_name_plural = _("statistics pauses")

    def __str__(self) -> str:
        return f"{self.account_id} until {self.until:%Y-%m-%d %H:%M}"
