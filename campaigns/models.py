"""A campaign brief and what its run produces, stage by stage (each stage's output is kept, so a run
that failed or was cancelled resumes from the last finished stage)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from crosspost.crypto import EncryptedJSONField, EncryptedTextField
from crosspost.models import choices_check


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PROCESSING = "processing", _("Processing")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")
    ARCHIVED = "archived", _("Archived")


class Stage(models.TextChoices):
    """The run's stages, in order (campaigns.runner.STAGES)."""

    COLLECT = "collect", _("Collect keywords")
    CLEAN = "clean", _("Clean")
    CLUSTER = "cluster", _("Cluster")
    GENERATE = "generate", _("Write ads")
    VALIDATE = "validate", _("Check ads")
    EXPORT = "export", _("Export")


class Campaign(models.Model):
    workspace = models.ForeignKey(
        "accounts.Workspace", on_delete=models.CASCADE, related_name="campaigns", verbose_name=_("workspace")
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("author")
    )
    name = models.CharField(max_length=120, verbose_name=_("name"))
    product_description = models.TextField(verbose_name=_("product description"))
    target_url = models.URLField(max_length=1024, verbose_name=_("target URL"))
    base_keywords = models.JSONField(default=list, verbose_name=_("base keywords"))  # 1–50 phrases
    regions = models.JSONField(default=list, blank=True, verbose_name=_("regions"))  # Yandex geo ids; [] = everywhere
    budget = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True, verbose_name=_("budget"))
    minus_words = models.JSONField(default=list, blank=True, verbose_name=_("minus words"))
    ads_per_cluster = models.PositiveSmallIntegerField(default=2, verbose_name=_("ads per cluster"))
    status = models.CharField(
        max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT, verbose_name=_("status")
    )
    # The last stage whose output is complete and saved; a run resumes after it ("" = from the start).
    finished_stage = models.CharField(max_length=10, blank=True, choices=Stage.choices, verbose_name=_("last finished stage"))
    job = models.ForeignKey(
        "crosspost.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("current job")
    )
    sheet_id = models.CharField(max_length=120, blank=True, verbose_name=_("Google Sheet ID"))
    sheet_url = models.URLField(max_length=500, blank=True, verbose_name=_("Google Sheet"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at", "-id"]
        constraints = [choices_check("status", CampaignStatus, "campaign_valid_status")]

    def __str__(self) -> str:
        return self.name


class CampaignSettings(models.Model):
    """A workspace's campaign integrations; every secret encrypted at rest and never shown back."""

    workspace = models.OneToOneField(
        "accounts.Workspace", on_delete=models.CASCADE, related_name="campaign_settings", verbose_name=_("workspace")
    )
    wordstat_token = EncryptedTextField(blank=True, default="", verbose_name=_("Wordstat OAuth token"))
    # A Google service account's JSON key (its client_email must be given edit access… or it creates the sheet).
    google_service_account = EncryptedJSONField(blank=True, default=dict, verbose_name=_("Google service account key"))
    share_with = models.EmailField(blank=True, verbose_name=_("share sheets with"))  # default: the author's email

    class Meta:
        verbose_name = _("campaign settings")
        verbose_name_plural = _("campaign settings")

    def __str__(self) -> str:
        return str(self.workspace)


class CollectedPhrase(models.Model):
    """A phrase Wordstat answered for one base keyword (collect's output, kept as it comes: a quota
    that runs out midway leaves the pages already fetched)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="collected")
    base_keyword = models.CharField(max_length=200)
    phrase = models.CharField(max_length=400)
    frequency = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "base_keyword", "phrase"], name="collected_phrase_once")]

    def __str__(self) -> str:
        return f"{self.phrase} ({self.frequency})"


class CollectCursor(models.Model):
    """Where collect is for one base keyword: done, or how far (so a resumed run asks only the rest)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="cursors")
    base_keyword = models.CharField(max_length=200)
    done = models.BooleanField(default=False)
    state = models.JSONField(default=dict, blank=True)  # the client's own resume point (page, offset, …)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "base_keyword"], name="collect_cursor_once")]

    def __str__(self) -> str:
        return f"{self.base_keyword}: {'done' if self.done else self.state}"


class WordstatCache(models.Model):
    """A Wordstat answer kept for WORDSTAT_CACHE_DAYS: the same request (method + phrase + regions +
    parameters) within that time makes no call."""

    key = models.CharField(max_length=64, unique=True)  # SHA-256 of the normalised request
    method = models.CharField(max_length=40)
    request = models.JSONField(default=dict)
    response = models.JSONField(default=dict)
    fetched_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.method} {self.request}"


class Cluster(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="clusters", verbose_name=_("campaign"))
    position = models.PositiveIntegerField(default=0)
    name = models.CharField(max_length=400, verbose_name=_("name"))
    size = models.PositiveIntegerField(default=0, verbose_name=_("phrases"))
    total_frequency = models.PositiveBigIntegerField(default=0, verbose_name=_("total frequency"))

    class Meta:
        verbose_name = _("cluster")
        verbose_name_plural = _("clusters")
        ordering = ["campaign", "position"]

    def __str__(self) -> str:
        return self.name


class Keyword(models.Model):
    """A cleaned phrase (clean's output) and its cluster (cluster's output)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="keywords", verbose_name=_("campaign"))
    phrase = models.CharField(max_length=400, verbose_name=_("phrase"))
    lemmas = models.CharField(max_length=400, blank=True, verbose_name=_("lemmas"))
    frequency = models.PositiveBigIntegerField(default=0, verbose_name=_("frequency"))
    cluster = models.ForeignKey(
        Cluster, null=True, blank=True, on_delete=models.SET_NULL, related_name="keywords", verbose_name=_("cluster")
    )

    class Meta:
        verbose_name = _("keyword")
        verbose_name_plural = _("keywords")
        ordering = ["campaign", "-frequency", "phrase"]
        constraints = [models.UniqueConstraint(fields=["campaign", "phrase"], name="keyword_once_per_campaign")]

    def __str__(self) -> str:
        return self.phrase


class AdStatus(models.TextChoices):
    VALID = "valid", _("Valid")
    FLAGGED = "flagged", _("Flagged")  # still over a limit after the tries: never exported silently


class Ad(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="ads", verbose_name=_("campaign"))
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="ads", verbose_name=_("cluster"))
    position = models.PositiveSmallIntegerField(default=0)
    title1 = models.CharField(max_length=200, verbose_name=_("title 1"))
    title2 = models.CharField(max_length=200, blank=True, verbose_name=_("title 2"))
    text = models.CharField(max_length=400, verbose_name=_("text"))
    display_path = models.CharField(max_length=100, blank=True, verbose_name=_("display path"))
    status = models.CharField(max_length=10, choices=AdStatus.choices, default=AdStatus.VALID, verbose_name=_("status"))
    problems = models.JSONField(default=list, blank=True, verbose_name=_("problems"))
    attempts = models.PositiveSmallIntegerField(default=1, verbose_name=_("attempts"))
    edited = models.BooleanField(default=False, verbose_name=_("edited by hand"))

    class Meta:
        verbose_name = _("ad")
        verbose_name_plural = _("ads")
        ordering = ["campaign", "cluster__position", "position"]
        constraints = [choices_check("status", AdStatus, "ad_valid_status")]

    def __str__(self) -> str:
        return self.title1


class ApiRateLimit(models.Model):
    """The next free call time of one rate limit shared by every worker (campaigns.limiter): each call
    takes its slot with one conditional UPDATE, so processes on any machine stay under the limit."""

    key = models.CharField(max_length=80, unique=True, verbose_name=_("key"))  # e.g. "wordstat:<hash of the token>"
    next_at = models.FloatField(default=0.0, verbose_name=_("next free call"))  # Unix time (seconds)

    class Meta:
        verbose_name = _("API rate limit")
        verbose_name_plural = _("API rate limits")

    def __str__(self) -> str:
        return self.key
