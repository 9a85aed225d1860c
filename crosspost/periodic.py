"""Every periodic task, declared in one place; `manage.py setup_periodic_tasks`
writes them to django-celery-beat's DatabaseScheduler."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Periodic:
    name: str
    task: str
    every_seconds: float
    queue: str = "high"
    description: str = ""


PERIODIC_TASKS: list[Periodic] = [
    Periodic(
        name="lift expired cooldowns",
        task="accounts.tasks.lift_expired_cooldowns",
        every_seconds=60,
        description="Accounts whose cooldown_until has passed go back to active.",
    ),
]
