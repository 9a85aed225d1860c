from django.apps import AppConfig
from django.utils.translation import pgettext_lazy


class SourcesConfig(AppConfig):
    name = "sources"
    verbose_name = pgettext_lazy("application", "Sources")

    def ready(self) -> None:
        from . import tasks  # noqa: F401  (registers the tasks sources.services enqueues by name)
