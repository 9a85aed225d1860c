from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PlanningConfig(AppConfig):
    """Planning on top of the engine: the calendar, queues with weekly time slots, recurring and
    evergreen posts. Every time it picks goes through the planner, so pacing, warm-up and
    exactly-once publishing still apply."""

    name = "planning"
    verbose_name = _("Planning")
