import re

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.views import SpectacularSwaggerView

from dashboard.metrics import metrics
from media.views import media_file
from publishing.views import sandbox_feed

from .health import health
from .schema_view import SchemaView

# Under /api/ a 404 for a URL no route matches is JSON like every other API answer.
handler404 = "accounts.api_base.not_found"

admin.site.site_header = "Crosspost"
admin.site.site_title = _("Crosspost admin")
admin.site.index_title = _("Accounts, posts and publishing")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("crosspost.api_urls")),
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("health/", health, name="health"),
    path("metrics", metrics, name="metrics"),
    path("sandbox/", sandbox_feed, name="sandbox-feed"),
    path("", include("sources.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    # Local media files, in development only (the view answers 404 unless DEBUG).
    re_path(rf"^{re.escape(settings.MEDIA_URL.lstrip('/'))}(?P<path>.*)$", media_file, name="media-file"),
    # Linking a member's Telegram account to the operators' bot (a dashboard page).
    path("telegram/", include("bot.urls")),
    # The operator dashboard (overview, composer, posts, accounts, proxies, activity).
    path("", include("dashboard.urls")),
]
