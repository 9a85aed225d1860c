from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BotConfig(AppConfig):
    """The operators' Telegram bot: a pocket interface over the same services, selectors and roles as
    the dashboard and the API (it sits on the interfaces floor, above the dashboard)."""

    name = "bot"
    verbose_name = _("Telegram bot")

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (member notifications and progress messages)
