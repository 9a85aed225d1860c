"""Where posts come from on their own: a source (today a Telegram channel, read by a bot) and what
it received — one IngestItem per message, one IngestRecord per post made of them.

A source is a ``kind`` plus per-kind ``options`` (validated in ``sources.kinds``) and an encrypted
``secret``; VK walls, RSS/Atom, YouTube and Instagram become more kinds of the same model."""

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
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
    RSS = "rss", _("RSS/Atom feed")
    VK_WALL = "vk_wall", _("VK wall")
    YOUTUBE = "youtube", _("YouTube channel uploads")
    INSTAGRAM = "instagram", _("Instagram account")


# Watched kinds are polled through ``platforms.feeds`` (the beat's ``poll_watched_sources``);
# Telegram is read by its bot (getUpdates or a webhook).
WATCHED_KINDS = (SourceKind.RSS, SourceKind.VK_WALL, SourceKind.YOUTUBE, SourceKind.INSTAGRAM)
MIN_POLL_INTERVAL_S = 60


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
    # --- watched kinds (RSS, VK wall, YouTube, Instagram) ---
    account = models.ForeignKey(
        SocialAccount,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The account the source is read through (VK wall, YouTube, Instagram), with its proxy."),
        verbose_name=_("read through account"),
    )
    rules = models.JSONField(
        default=dict,
        blank=True,
        help_text=_("Repost rules: which items become posts and how their text is changed (see the README)."),
        verbose_name=_("repost rules"),
    )
    poll_interval_s = models.PositiveIntegerField(
        default=300,
        validators=[MinValueValidator(MIN_POLL_INTERVAL_S)],
        help_text=_("Seconds between polls of a watched source (at least 60)."),
        verbose_name=_("poll interval, s"),
    )
    # The fetcher's cursor (last ids/time, ETag, Last-Modified): saved only after the posts of
    # what it covers are committed.
    cursor = models.JSONField(default=dict, blank=True, verbose_name=_("cursor"))
    next_poll_at = models.DateTimeField(null=True, blank=True, db_index=True, verbose_name=_("next poll"))
    failures = models.PositiveSmallIntegerField(default=0, verbose_name=_("failures in a row"))
    failing = models.BooleanField(
        default=False,
        help_text=_("Set after repeated failed polls (the admin chat was told once); cleared by the next good poll."),
        verbose_name=_("failing"),
    )

    class Meta:
        ordering = ["name", "pk"]
        verbose_name = pgettext_lazy("ingest", "source")
        verbose_name_plural = pgettext_lazy("ingest", "sources")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from .kinds import account_errors, options_errors
        from .rules import rules_errors

        errors = options_errors(self.kind, self.options)
        errors.update(account_errors(self.kind, self.account, self.workspace_id))
        if self.kind != SourceKind.TELEGRAM and self.report_to_channel:
            errors["report_to_channel"] = _("Only a Telegram channel source can report back to its channel.")
        errors.update(rules_errors(self.rules))
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

    @property
    def watched(self) -> bool:
        """Polled through a fetcher (not a Telegram bot)."""
        return self.kind in WATCHED_KINDS


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


class OriginStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    MADE = "made", _("Made into a post")
    SKIPPED = "skipped", _("Skipped by the rules")
    FAILED = "failed", _("Failed")


class SourceItem(models.Model):
    """One item a watched source found (a feed entry, a wall post, a video): made into a post
    once — the unique (source, remote id) is what makes it once, whatever polls repeat or crash —
    or skipped by the source's rules, with the reason kept for the operator. The post's
    ``origin``."""

    source = models.ForeignKey(
        Source, on_delete=models.CASCADE, related_name="watched_items", verbose_name=pgettext_lazy("ingest", "source")
    )
    remote_id = models.CharField(max_length=255, verbose_name=_("remote id"))
    url = models.URLField(max_length=1000, blank=True, verbose_name=_("URL"))
    published_at = models.DateTimeField(null=True, blank=True, verbose_name=_("published"))
    text = models.TextField(blank=True, verbose_name=_("text"))
    media_urls = models.JSONField(default=list, blank=True, verbose_name=_("media URLs"))
    is_repost = models.BooleanField(default=False, verbose_name=_("repost"))
    is_ad = models.BooleanField(default=False, verbose_name=_("advertising"))
    status = models.CharField(max_length=10, choices=OriginStatus.choices, default=OriginStatus.PENDING, verbose_name=_("status"))
    reason = models.TextField(blank=True, verbose_name=_("reason"))
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    # post.origin: what the post admin, API and dashboard show of where a post came from.
    post = models.OneToOneField(
        Post, null=True, blank=True, on_delete=models.SET_NULL, related_name="origin", verbose_name=_("post")
    )
    found_at = models.DateTimeField(auto_now_add=True, db_index=True, verbose_name=_("found"))

    class Meta:
        ordering = ["-found_at", "-pk"]
        verbose_name = _("watched item")
        verbose_name_plural = _("watched items")
        constraints = [models.UniqueConstraint(fields=["source", "remote_id"], name="source_item_once_per_remote_id")]
        indexes = [models.Index(fields=["source", "status"], name="source_item_status")]

    def __str__(self) -> str:
        return f"{self.source} {self.remote_id}"

    @property
    def workspace_id(self) -> int:
        return self.source.workspace_id
