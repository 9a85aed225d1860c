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
