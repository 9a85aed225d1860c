from django.core.management.base import BaseCommand, CommandError

from crosspost.crypto import DecryptionError
from crosspost.encryption import rotate_encryption_keys


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted column with the first key of FIELD_ENCRYPTION_KEYS. "
        "Rotate by putting a new key first (keeping the old ones after it), running this, then dropping the old keys."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, batch_size: int, **options):
        try:
            counts = rotate_encryption_keys(batch_size=batch_size)
        except DecryptionError as exc:
            raise CommandError(str(exc)) from exc
        for label, count in counts.items():
            self.stdout.write(f"{label}: {count} row(s) re-encrypted")
        self.stdout.write(self.style.SUCCESS(f"Done: {sum(counts.values())} row(s) now use the first key."))
