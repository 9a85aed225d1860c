from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StudioConfig(AppConfig):
    """The video studio: recordings from Zoom, Yandex Disk or a folder → silences removed, transcribed,
    chaptered, subtitled → an ordinary post published by the engine, chosen by templates and presets."""

    name = "studio"
    verbose_name = _("Video studio")
