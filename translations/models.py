"""Translation cache (a hit never calls a provider twice for the same text), per-workspace
glossaries and the workspace's choice of translation provider."""

import hashlib
import json

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


def translation_key(text: str, source: str, target: str, provider: str, options: dict | None = None) -> str:
    payload = json.dumps([text, source.lower(), target.lower(), provider, options or {}], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


class TranslationCache(models.Model):
    key = models.CharField(max_length=64, unique=True, verbose_name=_("key"))
    source_text = models.TextField(verbose_name=_("source text"))
    source_language = models.CharField(max_length=10, verbose_name=_("source language"))
    target_language = models.CharField(max_length=10, verbose_name=_("target language"))
    provider = models.CharField(max_length=20, verbose_name=_("provider"))
    options = models.JSONField(default=dict, blank=True, verbose_name=_("options"))
    translated_text = models.TextField(verbose_name=_("translated text"))
    hits = models.PositiveIntegerField(default=0, verbose_name=_("hits"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("cached translation")
        verbose_name_plural = _("translation cache")
        indexes = [models.Index(fields=["target_language", "-created_at"], name="translation_target_recent")]

    def __str__(self) -> str:
        return f"{self.source_language}→{self.target_language} ({self.provider}): {self.source_text[:40]}"


class Glossary(models.Model):
    """A workspace's fixed translations for one language pair: brand names kept, terms translated one way.

    ``entries`` maps a source term to its translation; a term mapped to itself
    is never translated (brand names). Languages are base codes (``en``, ``de``):
    one glossary serves ``de`` and ``de-AT`` accounts alike.
    """

    workspace = models.ForeignKey(
        "accounts.Workspace", on_delete=models.CASCADE, related_name="glossaries", verbose_name=_("workspace")
    )
    source_language = models.CharField(
        max_length=10, help_text=_("Base language code, e.g. en."), verbose_name=_("source language")
    )
    target_language = models.CharField(
        max_length=10, help_text=_("Base language code, e.g. de."), verbose_name=_("target language")
    )
    entries = models.JSONField(
        default=dict, blank=True, help_text=_('{"term": "translation"}; map a brand name to itself.'), verbose_name=_("entries")
    )
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("glossary")
        verbose_name_plural = _("glossaries")
        ordering = ["workspace", "source_language", "target_language"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "source_language", "target_language"], name="glossary_one_per_language_pair"
            )
        ]

    def __str__(self) -> str:
        return f"{self.workspace} · {self.source_language}→{self.target_language}"

    def clean(self) -> None:
        self.source_language = (self.source_language or "").split("-")[0].lower()
        self.target_language = (self.target_language or "").split("-")[0].lower()
        entries = self.entries or {}
        if not isinstance(entries, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and k.strip() and v.strip() for k, v in entries.items()
        ):
            raise ValidationError({"entries": _('Entries are {"term": "translation"} pairs of non-empty texts.')})

    @property
    def version(self) -> str:
        """Changes whenever the entries do, so cached translations made with old entries are not reused."""
        payload = json.dumps(self.entries or {}, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]


class TranslationProvider(models.TextChoices):
    AUTO = "auto", _("DeepL, then OpenAI")
    DEEPL = "deepl", _("DeepL only")
    OPENAI = "openai", _("OpenAI only")
    NONE = "none", _("No machine translation")


class TranslationSettings(models.Model):
    """Per-workspace translation choices; a workspace without a row uses ``auto``."""

    workspace = models.OneToOneField(
        "accounts.Workspace", on_delete=models.CASCADE, related_name="translation_settings", verbose_name=_("workspace")
    )
    provider = models.CharField(
        max_length=8, choices=TranslationProvider.choices, default=TranslationProvider.AUTO, verbose_name=_("provider")
    )
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated"))

    class Meta:
        verbose_name = _("translation settings")
        verbose_name_plural = _("translation settings")

    def __str__(self) -> str:
        return f"{self.workspace}: {self.get_provider_display()}"
