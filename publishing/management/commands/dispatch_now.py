from django.core.management.base import BaseCommand

from publishing import dispatcher, publisher


class Command(BaseCommand):
    help = (
        "Run the dispatcher once now (what celery-beat does every few seconds); with --sweep, "
        "also reclaim expired leases and reconcile unconfirmed executions."
    )

    def add_arguments(self, parser):
        parser.add_argument("--sweep", action="store_true", help="Also sweep expired leases and reconcile.")

    def handle(self, *args, sweep: bool, **options):
        if sweep:
            swept = publisher.sweep_expired_leases()
            reconciled = publisher.reconcile_unconfirmed()
            self.stdout.write(f"swept: {swept}; reconciled: {reconciled}")
        self.stdout.write(f"dispatched: {dispatcher.dispatch()}")
