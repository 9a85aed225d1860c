"""Core rows that belong to no tenant."""

from django.db import models

from .crypto import EncryptedTextField

CANARY_PLAINTEXT = "crosspost-encryption-canary"


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
