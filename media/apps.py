from django.apps import AppConfig


class MediaConfig(AppConfig):
    name = "media"
    verbose_name = "Media"

    def ready(self) -> None:
        from . import tasks  # noqa: F401  (registers the tasks media.services enqueues by name)
