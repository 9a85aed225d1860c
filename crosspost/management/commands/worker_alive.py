from celery.utils.nodenames import default_nodename, host_format
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from crosspost.liveness import probe_age, probe_path


class Command(BaseCommand):
    help = (
        "Liveness of a Celery worker on this machine, for a container healthcheck: exits 0 when the worker's "
        "consumer received its own probe through the broker within --max-age seconds, 1 otherwise."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--node",
            default=default_nodename(None),
            help="the worker's node name, as given to `celery worker -n` (%%h is this host name); default celery@<host>",
        )
        parser.add_argument(
            "--max-age",
            type=float,
            default=None,
            help="seconds; default WORKER_STALE_SECONDS, the age at which the worker exits by itself",
        )

    def handle(self, *args, node: str, max_age: float | None, **options):
        node = host_format(node)
        max_age = settings.WORKER_STALE_SECONDS if max_age is None else max_age
        age = probe_age(node)
        if age is None:
            raise CommandError(f"The worker {node} has consumed no probe yet ({probe_path(node)} does not exist).")
        if age > max_age:
            raise CommandError(f"The worker {node} last consumed {age:.0f} s ago (limit {max_age:g} s): it does not consume.")
        self.stdout.write(f"The worker {node} consumed {age:.1f} s ago.")
