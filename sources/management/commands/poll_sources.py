from django.core.management.base import BaseCommand, CommandError

from platforms import base
from sources.models import Delivery, Source, SourceKind
from sources.services import source_ingest_due, source_poll


class Command(BaseCommand):
    help = (
        "One getUpdates round for every enabled polling source, then the albums whose window has passed "
        "(what celery-beat runs every SOURCE_POLL_INTERVAL_SECONDS). --source limits it to one source; "
        "--timeout long-polls (seconds Telegram may hold the request open waiting for an update)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--source", type=int, help="Only this source id.")
        parser.add_argument("--timeout", type=int, default=0, help="Long-polling timeout in seconds (0-50).")

    def handle(self, *args, source: int | None, timeout: int, **options):
        if not 0 <= timeout <= 50:
            raise CommandError("--timeout must be between 0 and 50 seconds.")
        sources = Source.objects.filter(enabled=True, kind=SourceKind.TELEGRAM).select_related("workspace")
        if source is not None:
            sources = sources.filter(pk=source)
            if not sources.exists():
                raise CommandError(f"No enabled Telegram source with id {source}.")
        failed = 0
        for each in sources:
            try:
                if each.delivery == Delivery.POLLING:
                    count = source_poll(source=each, timeout=timeout)
                    self.stdout.write(f"{each.name} (#{each.pk}): {count} updates")
                else:
                    made = source_ingest_due(source=each)
                    self.stdout.write(f"{each.name} (#{each.pk}): webhook delivery, {made} posts made")
            except base.PlatformError as error:
                failed += 1
                self.stderr.write(f"{each.name} (#{each.pk}): {error.message}")
        if failed:
            raise CommandError(f"{failed} source(s) could not be polled.")
