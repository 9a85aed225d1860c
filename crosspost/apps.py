from django.apps import AppConfig


class CrosspostConfig(AppConfig):
    name = "crosspost"
    verbose_name = "Crosspost core"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers system checks)
