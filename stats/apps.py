from django.apps import AppConfig
from django.utils.translation import pgettext_lazy


class StatsConfig(AppConfig):
    name = "stats"
    verbose_name = pgettext_lazy("application", "Statistics")
