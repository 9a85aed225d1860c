from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DashboardConfig(AppConfig):
    """The HTMX operator pages: an interface over the services and selectors of the apps below it."""

    name = "dashboard"
    verbose_name = _("Dashboard")
