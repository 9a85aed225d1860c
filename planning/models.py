"""Queues and repetitions: the weekly time slots a workspace (or one of its groups) posts in, and
the rule a recurring post repeats by. The posts themselves stay ``posts.Post``: a queued post
keeps its slot in ``queue_slot_at``, a repetition links to its parent with ``occurrence_at``."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import AccountGroup, Workspace
from crosspost.models import choices_check
from posts.models import Post


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class QueueSlot(models.Model):
    """One weekly time, e.g. Monday 09:00, in the workspace's time zone. Slots without a group
    make the workspace's queue; slots with one make that group's own queue."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="queue_slots", verbose_name=_("workspace"))
    group = models.ForeignKey(
        AccountGroup,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="queue_slots",
        help_text=_("Empty: the workspace's queue."),
        verbose_name=_("group"),
    )
    weekday = models.PositiveSmallIntegerField(
        choices=Weekday.choices, validators=[MaxValueValidator(6)], verbose_name=_("weekday")
    )
    time = models.TimeField(help_text=_("Local time in the workspace's time zone."), verbose_name=_("time"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("queue slot")
        verbose_name_plural = _("queue slots")
        ordering = ["workspace", "group", "weekday", "time"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "weekday", "time"], condition=Q(group__isnull=True), name="queue_slot_unique_workspace"
            ),
            models.UniqueConstraint(
                fields=["workspace", "group", "weekday", "time"],
                condition=Q(group__isnull=False),
                name="queue_slot_unique_group",
            ),
            models.CheckConstraint(condition=Q(weekday__gte=0) & Q(weekday__lte=6), name="queue_slot_valid_weekday"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.time:%H:%M}"


class Frequency(models.TextChoices):
    DAILY = "daily", _("Every N days")
    WEEKLY = "weekly", _("Every N weeks")


class Recurrence(models.Model):
    """How a post repeats: every ``interval`` days, or every ``interval`` weeks on ``weekdays``, at
    the local time of its first occurrence; until a date or for ``count`` occurrences. Each
    occurrence becomes one new post (``Post.parent`` = this post, ``Post.occurrence_at``)."""

    post = models.OneToOneField(Post, on_delete=models.CASCADE, related_name="recurrence", verbose_name=_("post"))
    frequency = models.CharField(max_length=8, choices=Frequency.choices, default=Frequency.WEEKLY, verbose_name=_("repeats"))
    interval = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(365)], verbose_name=_("every")
    )
    weekdays = models.JSONField(
        default=list,
        blank=True,
        help_text=_("For weekly: 0 = Monday … 6 = Sunday; empty: the first occurrence's weekday."),
        verbose_name=_("weekdays"),
    )
    starts_at = models.DateTimeField(
        help_text=_("The first occurrence; later ones keep its local time."), verbose_name=_("starts")
    )
    until = models.DateField(null=True, blank=True, help_text=_("Last day an occurrence may fall on."), verbose_name=_("until"))
    count = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text=_("Empty: no limit."), verbose_name=_("occurrences")
    )
    made = models.PositiveIntegerField(default=0, verbose_name=_("occurrences made"))
    next_at = models.DateTimeField(null=True, blank=True, help_text=_("Empty: finished."), verbose_name=_("next occurrence"))
    active = models.BooleanField(default=True, verbose_name=_("active"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("recurrence")
        verbose_name_plural = _("recurrences")
        constraints = [choices_check("frequency", Frequency, "recurrence_valid_frequency")]
        indexes = [models.Index(fields=["active", "next_at"], name="recurrence_due")]

    def __str__(self) -> str:
        return f"{self.post} · {self.get_frequency_display()}"
