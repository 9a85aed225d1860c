"""Encryption at rest for account credentials, sessions and proxy URLs.

The fields build on django-encrypted-model-fields (the maintained successor of
the card's django-fernet-fields) with two changes that matter in production:

* keys are read from ``settings.FIELD_ENCRYPTION_KEYS`` when used, not frozen
  at import time, so a rotation (new key first) takes effect without a restart
  of the code path that reads it and ``rotate_encryption_keys`` can re-encrypt;
* a value that no configured key can decrypt raises :class:`DecryptionError`.
  The upstream package silently hands back the ciphertext, which would then be
  sent to a platform as a "password".
"""

import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from encrypted_model_fields.fields import EncryptedTextField as _UpstreamEncryptedTextField

FERNET_PREFIX = "gAAAAA"  # every Fernet token starts with version byte 0x80 + timestamp


class DecryptionError(RuntimeError):
    """Stored ciphertext cannot be decrypted with any configured key."""


@lru_cache(maxsize=8)
def _crypter_for(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: at least one Fernet key is required.")
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS holds an invalid Fernet key: {exc}") from exc


def crypter() -> MultiFernet:
    return _crypter_for(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return crypter().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return crypter().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError(
            "A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS: the key that encrypted it "
            "is missing. Put the old key back (after the new one) and run rotate_encryption_keys."
        ) from exc


def rotate(token: str) -> str:
    """Re-encrypt ``token`` with the first key (MultiFernet.rotate)."""
    try:
        return crypter().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("Cannot rotate a value that no configured key decrypts.") from exc


class EncryptedTextField(_UpstreamEncryptedTextField):
    """Text stored as a Fernet token; decryption failure is loud."""

    def to_python(self, value: Any) -> Any:
        if isinstance(value, bytes):
            value = value.decode()
        if isinstance(value, str) and value.startswith(FERNET_PREFIX):
            return decrypt(value)
        return value

    def from_db_value(self, value: Any, expression, connection) -> Any:
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_db_prep_save(self, value: Any, connection) -> Any:
        if value is None:
            return None
        return encrypt(str(value))


class EncryptedJSONField(EncryptedTextField):
    """A JSON object stored encrypted as one Fernet token.

    Not queryable by key, on purpose: nothing should filter on a secret.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("default", dict)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def from_db_value(self, value: Any, expression, connection) -> Any:
        if value is None or value == "":
            return {}
        return json.loads(decrypt(value))

    def to_python(self, value: Any) -> Any:
        if value is None or value == "":
            return {}
        if isinstance(value, (dict, list)):
            return value
        if isinstance(value, str) and value.startswith(FERNET_PREFIX):
            value = decrypt(value)
        try:
            return json.loads(value)
        except (TypeError, ValueError) as exc:
            from django.core.exceptions import ValidationError

            raise ValidationError(f"Enter a valid JSON object: {exc}") from exc

    def get_db_prep_save(self, value: Any, connection) -> Any:
        if value is None:
            value = {}
        return encrypt(json.dumps(value, sort_keys=True))

    def value_to_string(self, obj: models.Model) -> str:
        # Serialization (dumpdata) must never emit plaintext secrets.
        return "<encrypted>"
