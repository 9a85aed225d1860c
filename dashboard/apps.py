from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The HTMX operator pages: an interface over the services and selectors of the apps below it."""

    name = "dashboard"
    verbose_name = "Dashboard"
