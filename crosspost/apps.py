from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrosspostConfig(AppConfig):
    name = "crosspost"
    verbose_name = _("Crosspost core")

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers system checks)
