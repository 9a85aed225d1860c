"""Detecting a wrong FIELD_ENCRYPTION_KEYS and re-encrypting rows with the newest key."""

from collections.abc import Iterator

from django.apps import apps
from django.db import DatabaseError, transaction

from .crypto import DecryptionError, EncryptedTextField
from .models import CANARY_PLAINTEXT, EncryptionCanary


def check_encryption_canary() -> str | None:
    """Return a problem description, or None when the keys decrypt the data.

    Creates the canary on first use, so a fresh database starts with one.
    """
    try:
        canary = EncryptionCanary.objects.order_by("pk").first()
    except DecryptionError as exc:
        return str(exc)
    except DatabaseError:
        return None  # not migrated yet: nothing is encrypted either
    if canary is None:
        EncryptionCanary.objects.create(value=CANARY_PLAINTEXT)
        return None
    if canary.value != CANARY_PLAINTEXT:
        return "The encryption canary decrypted to an unexpected value: FIELD_ENCRYPTION_KEYS is wrong."
    return None


def encrypted_fields() -> Iterator[tuple[type, list[str]]]:
    """Every model with encrypted columns, and those columns' names."""
    for model in apps.get_models():
        names = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if names:
            yield model, names


def rotate_encryption_keys(batch_size: int = 500) -> dict[str, int]:
    """Re-encrypt every encrypted column with the first configured key.

    Each batch is its own transaction: rows are read (decrypted with any key)
    and written back (encrypted with the first key); an interrupted run can
    simply be started again.
    """
    counts: dict[str, int] = {}
    for model, names in encrypted_fields():
        label = model._meta.label
        counts[label] = 0
        pks = list(model._default_manager.order_by("pk").values_list("pk", flat=True))
        for start in range(0, len(pks), batch_size):
            with transaction.atomic():
                rows = model._default_manager.select_for_update().filter(pk__in=pks[start : start + batch_size])
                for row in rows.only("pk", *names):
                    row.save(update_fields=names)
                    counts[label] += 1
    return counts
