from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StudioConfig(AppConfig):
    """The video studio: recordings from Zoom, Yandex Disk or a folder → silences removed, transcribed,
    chaptered, subtitled → an ordinary post published by the engine, chosen by templates and presets."""

    name = "studio"
    verbose_name = _("Video studio")

    def ready(self) -> None:
        from crosspost.jobs import job_cancelled_early

        from . import tasks  # noqa: F401  (registers the tasks the runner enqueues by name)
        from .runner import on_job_cancelled_early

        job_cancelled_early.connect(on_job_cancelled_early, dispatch_uid="studio.job_cancelled_early")
