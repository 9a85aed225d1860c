import math

from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from crosspost.periodic import PERIODIC_TASKS, Periodic

# Rows this command owns carry this name prefix; every other PeriodicTask is left alone.
PREFIX = "crosspost: "


def interval_for(every_seconds: float) -> IntervalSchedule:
    """The shared IntervalSchedule for a period, rounded up to whole seconds (beat's resolution)."""
    every = max(1, math.ceil(every_seconds))
    schedule = IntervalSchedule.objects.filter(every=every, period=IntervalSchedule.SECONDS).order_by("pk").first()
    return schedule or IntervalSchedule.objects.create(every=every, period=IntervalSchedule.SECONDS)


def sync_periodic_task(periodic: Periodic) -> str:
    """Create or update one declared task; returns "created", "updated" or "unchanged"."""
    wanted = {
        "task": periodic.task,
        "interval": interval_for(periodic.every_seconds),
        "crontab": None,
        "solar": None,
        "clocked": None,
        "one_off": False,
        "queue": periodic.queue,
        "description": periodic.description,
        "enabled": True,
    }
    task = PeriodicTask.objects.filter(name=PREFIX + periodic.name).first()
    if task is None:
        PeriodicTask.objects.create(name=PREFIX + periodic.name, **wanted)
        return "created"
    if all(getattr(task, key) == value for key, value in wanted.items()):
        return "unchanged"
    for key, value in wanted.items():
        setattr(task, key, value)
    # save() (not update()) so that beat's change marker makes the scheduler reload.
    task.save()
    return "updated"


class Command(BaseCommand):
    help = (
        "Write every task declared in crosspost.periodic.PERIODIC_TASKS to django-celery-beat, and remove "
        f"tasks named {PREFIX!r}… that are no longer declared. Safe to run on every deploy."
    )

    @transaction.atomic
    def handle(self, *args, **options):
        outcomes = {"created": 0, "updated": 0, "unchanged": 0}
        for periodic in PERIODIC_TASKS:
            outcome = sync_periodic_task(periodic)
            outcomes[outcome] += 1
            if outcome != "unchanged":
                self.stdout.write(f"{outcome}: {PREFIX}{periodic.name} ({periodic.task}, every {periodic.every_seconds:g}s)")
        declared = [PREFIX + p.name for p in PERIODIC_TASKS]
        stale = PeriodicTask.objects.filter(name__startswith=PREFIX).exclude(name__in=declared)
        for task in stale:
            self.stdout.write(f"removed: {task.name} (no longer declared)")
            # delete() per row (not a queryset delete) so beat's change marker is bumped.
            task.delete()
        removed = len(stale)
        self.stdout.write(
            self.style.SUCCESS(
                f"Periodic tasks: {outcomes['created']} created, {outcomes['updated']} updated, "
                f"{outcomes['unchanged']} unchanged, {removed} removed."
            )
        )
