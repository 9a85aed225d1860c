"""Who the bot talks to and what it remembers between updates (and restarts)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from crosspost.models import choices_check


class BotLanguage(models.TextChoices):
    RU = "ru", "Русский"
    EN = "en", "English"


class TelegramLink(models.Model):
    """A Crosspost user's Telegram account: the bot acts as this user, with their workspaces and roles."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="telegram_link", verbose_name=_("user")
    )
    telegram_user_id = models.BigIntegerField(unique=True, verbose_name=_("Telegram user ID"))
    chat_id = models.BigIntegerField(verbose_name=_("chat ID"))
    username = models.CharField(max_length=64, blank=True, verbose_name=_("Telegram username"))
    language = models.CharField(max_length=2, choices=BotLanguage.choices, default=BotLanguage.RU, verbose_name=_("bot language"))
    # Notification kinds (publishing.notifications: post_finished, account_problem, …) the member wants.
    notify = models.JSONField(default=list, blank=True, verbose_name=_("notifications"))
    default_groups = models.ManyToManyField(
        "accounts.AccountGroup", blank=True, related_name="+", verbose_name=_("default groups")
    )
    linked_at = models.DateTimeField(auto_now_add=True, verbose_name=_("linked"))

    class Meta:
        verbose_name = _("Telegram link")
        verbose_name_plural = _("Telegram links")
        constraints = [choices_check("language", BotLanguage, "telegram_link_valid_language")]

    def __str__(self) -> str:
        return f"{self.user} ↔ {'@' + self.username if self.username else self.telegram_user_id}"


class LinkCode(models.Model):
    """A one-time code the dashboard shows; `/start <code>` in the bot links the sender to ``user``.

    Only its SHA-256 is stored, so the table never holds a usable code."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="telegram_link_codes", verbose_name=_("user")
    )
    code_hash = models.CharField(max_length=64, unique=True, verbose_name=_("code hash"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    expires_at = models.DateTimeField(verbose_name=_("expires"))
    used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("used"))

    class Meta:
        verbose_name = _("Telegram link code")
        verbose_name_plural = _("Telegram link codes")

    def __str__(self) -> str:
        return f"{self.user} until {self.expires_at:%Y-%m-%d %H:%M}"


class ConversationState(models.Model):
    """aiogram's FSM storage (bot.storage.DatabaseStorage): one row per bot × chat × user, written on
    every transition, so a bot restarted mid-conversation resumes it."""

    key = models.CharField(max_length=200, unique=True)
    state = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("conversation state")
        verbose_name_plural = _("conversation states")

    def __str__(self) -> str:
        return f"{self.key}: {self.state or '—'}"


class ProgressMessage(models.Model):
    """A message the bot keeps editing as a post's executions finish (bot.progress)."""

    post = models.ForeignKey("posts.Post", on_delete=models.CASCADE, related_name="+", verbose_name=_("post"))
    link = models.ForeignKey(TelegramLink, on_delete=models.CASCADE, related_name="progress_messages")
    chat_id = models.BigIntegerField()
    message_id = models.BigIntegerField()
    text = models.TextField(blank=True)  # what the message shows now: an edit is only sent when it changes
    edits = models.PositiveIntegerField(default=0)
    last_edit_at = models.DateTimeField(null=True, blank=True)
    # Not before this time (the edit interval, or a 429's retry_after).
    next_edit_at = models.DateTimeField(null=True, blank=True)
    finished = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("progress message")
        verbose_name_plural = _("progress messages")
        indexes = [models.Index(fields=["finished", "next_edit_at"], name="bot_progress_due")]
        constraints = [models.UniqueConstraint(fields=["chat_id", "message_id"], name="bot_progress_once")]

    def __str__(self) -> str:
        return f"post {self.post_id} → {self.chat_id}/{self.message_id}"


class CampaignProgressMessage(models.Model):
    """A message the bot keeps editing as a campaign's run (its Job) moves through the stages
    (bot.campaign_progress); one per run, finished once the job is."""

    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.CASCADE, related_name="+", verbose_name=_("campaign"))
    job = models.ForeignKey("crosspost.Job", on_delete=models.CASCADE, related_name="+", verbose_name=_("background job"))
    link = models.ForeignKey(TelegramLink, on_delete=models.CASCADE, related_name="campaign_progress_messages")
    chat_id = models.BigIntegerField()
    message_id = models.BigIntegerField()
    text = models.TextField(blank=True)  # what the message shows now: an edit is only sent when it changes
    edits = models.PositiveIntegerField(default=0)
    last_edit_at = models.DateTimeField(null=True, blank=True)
    next_edit_at = models.DateTimeField(null=True, blank=True)  # not before (the interval, or a 429's retry_after)
    finished = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("campaign progress message")
        verbose_name_plural = _("campaign progress messages")
        indexes = [models.Index(fields=["finished", "next_edit_at"], name="bot_campaign_progress_due")]
        constraints = [models.UniqueConstraint(fields=["chat_id", "message_id"], name="bot_campaign_progress_once")]

    def __str__(self) -> str:
        return f"campaign {self.campaign_id} job {self.job_id} → {self.chat_id}/{self.message_id}"
