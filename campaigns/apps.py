from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    """Yandex Direct search campaigns from a brief: Wordstat keywords → clusters → LLM ads → Sheets/XLSX."""

    name = "campaigns"
    verbose_name = _("Ad campaigns")

    def ready(self) -> None:
        from crosspost.jobs import job_cancelled_early

        from . import tasks  # noqa: F401  (registers the task campaigns.runner enqueues by name)
        from .runner import on_job_cancelled_early

        job_cancelled_early.connect(on_job_cancelled_early, dispatch_uid="campaigns.job_cancelled_early")
