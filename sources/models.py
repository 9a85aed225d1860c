"""Where posts come from on their own: a source (today a Telegram channel, read by a bot) and what
it received — one IngestItem per message, one IngestRecord per post made of them.

A source is a ``kind`` plus per-kind ``options`` (validated in ``sources.kinds``) and an encrypted
``secret``; VK walls, RSS/Atom, YouTube and Instagram become more kinds of the same model."""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.models import AccountGroup, SocialAccount, Workspace
from crosspost.crypto import EncryptedJSONField, EncryptedTextField
from posts.models import CaptionMode, Post, Priority
from posts.services import check_caption_mode
from translations.exceptions import UnsupportedLanguage
from translations.languages import check_code


class SourceKind(models.TextChoices):
    TELEGRAM = "telegram", _("Telegram channel")


class IngestMode(models.TextChoices):
    DRAFT = "draft", _("Draft for review")
    PUBLISH = "publish", _("Publish automatically")


class Delivery(models.TextChoices):
    POLLING = "polling", _("Long polling (getUpdates)")
    WEBHOOK = "webhook", _("Webhook")


class Source(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="sources", verbose_name=_("workspace"))
    name = models.CharField(max_length=120, verbose_name=_("name"))
    kind = models.CharField(max_length=20, choices=SourceKind.choices, default=SourceKind.TELEGRAM, verbose_name=_("kind"))
    enabled = models.BooleanField(default=True, verbose_name=_("enabled"))
    options = models.JSONField(default=dict, blank=True, help_text=_("Per kind; Telegram: chat_id."), verbose_name=_("options"))
    secret = EncryptedJSONField(help_text=_("Bot token — encrypted, never shown."), verbose_name=_("secret"))
    mode = models.CharField(max_length=10, choices=IngestMode.choices, default=IngestMode.DRAFT, verbose_name=_("mode"))
    caption_mode = models.CharField(
        max_length=10, choices=CaptionMode.choices, default=CaptionMode.ORIGINAL, verbose_name=_("caption mode")
    )
    caption_template = models.TextField(blank=True, verbose_name=_("caption template"))
    language = models.CharField(
        max_length=10, default="en", help_text=_("Language the channel writes in (BCP-47, e.g. ru)."), verbose_name=_("language")
    )
    target_groups = models.ManyToManyField(AccountGroup, blank=True, related_name="+", verbose_name=_("target groups"))
    target_accounts = models.ManyToManyField(SocialAccount, blank=True, related_name="+", verbose_name=_("target accounts"))
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL, verbose_name=_("priority"))
    window_start = models.TimeField(null=True, blank=True, verbose_name=_("publish from"))
    window_end = models.TimeField(null=True, blank=True, verbose_name=_("publish until"))
    report_to_channel = models.BooleanField(
        default=False,
        help_text=_("Also send each post's outcome (links per platform, failures) to the channel, through the source's bot."),
        verbose_name=_("report to the channel"),
    )
    delivery = models.CharField(max_length=10, choices=Delivery.choices, default=Delivery.POLLING, verbose_name=_("delivery"))
    # getUpdates' next offset: advanced only after what the updates before it made is committed.
    update_offset = models.BigIntegerField(default=0, verbose_name=_("update offset"))
    webhook_secret = EncryptedTextField(blank=True, default="", verbose_name=_("webhook secret"))
    last_polled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last polled"))
    last_error = models.TextField(blank=True, verbose_name=_("last error"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        ordering = ["name", "pk"]
        verbose_name = pgettext_lazy("ingest", "source")
        verbose_name_plural = pgettext_lazy("ingest", "sources")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from .kinds import options_errors

        errors = options_errors(self.kind, self.options)
        try:
            self.language = check_code(self.language)
        except UnsupportedLanguage as exc:
            errors["language"] = str(exc)
        if (self.window_start is None) != (self.window_end is None):
            errors["window_end"] = _("Give both ends of the schedule window, or neither.")
        try:
            check_caption_mode(self.caption_mode, self.caption_template)
        except ValidationError as exc:
            errors["caption_template"] = exc.messages
        if errors:
            raise ValidationError(errors)

    @property
    def bot_token(self) -> str:
        return str((self.secret or {}).get("bot_token") or "")


class ItemStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    DONE = "done", _("Made into a post")
    FAILED = "failed", _("Failed")


class IngestItem(models.Model):
    """One message as it arrived (a part of an album is one item). Unique per source and message."""

    source = models.ForeignKey(
        Source, on_delete=models.CASCADE, related_name="items", verbose_name=pgettext_lazy("ingest", "source")
    )
    update_id = models.BigIntegerField(verbose_name=_("update id"))
    chat_id = models.BigIntegerField(verbose_name=_("chat id"))
    message_id = models.BigIntegerField(verbose_name=_("message id"))
    media_group_id = models.CharField(max_length=64, blank=True, verbose_name=_("media group"))
    message = models.JSONField(default=dict, verbose_name=_("message"))
    status = models.CharField(max_length=10, choices=ItemStatus.choices, default=ItemStatus.PENDING, verbose_name=_("status"))
    error = models.TextField(blank=True, verbose_name=_("error"))
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    received_at = models.DateTimeField(auto_now_add=True, db_index=True, verbose_name=_("received"))

    class Meta:
        ordering = ["chat_id", "message_id"]
        verbose_name = _("ingested message")
        verbose_name_plural = _("ingested messages")
        constraints = [models.UniqueConstraint(fields=["source", "chat_id", "message_id"], name="ingest_item_once_per_message")]
        indexes = [models.Index(fields=["source", "status"], name="ingest_item_pending")]

    def __str__(self) -> str:
        return f"{self.chat_id}/{self.message_id}"

    @property
    def key(self) -> str:
        return f"group:{self.media_group_id}" if self.media_group_id else f"message:{self.message_id}"


class IngestRecord(models.Model):
    """One post made from a source: a message, or an album (``key``). Unique per source and key."""

    source = models.ForeignKey(
        Source, on_delete=models.CASCADE, related_name="records", verbose_name=pgettext_lazy("ingest", "source")
    )
    chat_id = models.BigIntegerField(verbose_name=_("chat id"))
    key = models.CharField(max_length=80, verbose_name=_("message or album"))
    # post.ingest_records: what publishing may read about a post's source without importing sources.
    post = models.ForeignKey(
        Post, null=True, blank=True, on_delete=models.SET_NULL, related_name="ingest_records", verbose_name=_("post")
    )
    status = models.CharField(max_length=10, choices=ItemStatus.choices, default=ItemStatus.DONE, verbose_name=_("status"))
    error = models.TextField(blank=True, verbose_name=_("error"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("ingest record")
        verbose_name_plural = _("ingest records")
        constraints = [models.UniqueConstraint(fields=["source", "chat_id", "key"], name="ingest_record_once_per_post")]

    def __str__(self) -> str:
        return f"{self.source} {self.key}"

    @property
    def workspace_id(self) -> int:
        """The source's workspace (the API's role checks read it)."""
        return self.source.workspace_id
