"""Translation cache: a hit never calls a provider twice for the same text."""

import hashlib
import json

from django.db import models


def translation_key(text: str, source: str, target: str, provider: str, options: dict | None = None) -> str:
    payload = json.dumps([text, source.lower(), target.lower(), provider, options or {}], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


class TranslationCache(models.Model):
    key = models.CharField(max_length=64, unique=True)
    source_text = models.TextField()
    source_language = models.CharField(max_length=10)
    target_language = models.CharField(max_length=10)
    provider = models.CharField(max_length=20)
    options = models.JSONField(default=dict, blank=True)
    translated_text = models.TextField()
    hits = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "translation cache"
        indexes = [models.Index(fields=["target_language", "-created_at"], name="translation_target_recent")]

    def __str__(self) -> str:
        return f"{self.source_language}→{self.target_language} ({self.provider}): {self.source_text[:40]}"
