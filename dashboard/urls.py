from django.templatetags.static import static
from django.urls import path
from django.views.generic import RedirectView

from campaigns import views as campaign_views

from . import views

app_name = "dashboard"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("compose/", views.compose, name="compose"),
    path("compose/<int:pk>/", views.compose, name="compose-edit"),
    path("compose/<int:pk>/caption/", views.compose_caption, name="compose-caption"),
    path("compose/<int:pk>/ai-caption/", views.compose_ai_caption, name="compose-ai-caption"),
    path("compose/<int:pk>/ai-captions/generate/", views.compose_ai_generate, name="compose-ai-generate"),
    path("media/upload/", views.upload, name="upload"),
    path("posts/", views.posts, name="posts"),
    path("posts/<int:pk>/", views.post_detail, name="post"),
    path("posts/<int:pk>/results.csv", views.post_results_csv, name="post-results-csv"),
    path("results.csv", views.period_results_csv, name="results-csv"),
    path("posts/<int:pk>/cancel/", views.post_cancel_view, name="post-cancel"),
    path("posts/<int:pk>/delete/", views.post_delete_view, name="post-delete"),
    path("posts/<int:pk>/retry-failed/", views.post_retry_failed, name="post-retry-failed"),
    path("posts/<int:pk>/publish-again/", views.post_publish_again, name="post-publish-again"),
    path("posts/<int:pk>/stages/<slug:stage>/retry/", views.post_stage_retry, name="post-stage-retry"),
    path(
        "posts/<int:pk>/unconfirmed/published/",
        views.post_resolve_unconfirmed_view,
        {"resolution": "published"},
        name="post-unconfirmed-published",
    ),
    path(
        "posts/<int:pk>/unconfirmed/retry/",
        views.post_resolve_unconfirmed_view,
        {"resolution": "retry"},
        name="post-unconfirmed-retry",
    ),
    path("executions/<int:pk>/retry/", views.execution_action, {"action": "retry"}, name="execution-retry"),
    path("executions/<int:pk>/cancel/", views.execution_action, {"action": "cancel"}, name="execution-cancel"),
    path("accounts/", views.accounts, name="accounts"),
    path("accounts/bulk/", views.accounts_bulk, name="accounts-bulk"),
    path("accounts/import/", views.accounts_import, name="accounts-import"),
    path("accounts/<uuid:pk>/", views.account_detail, name="account"),
    path("proxies/", views.proxies, name="proxies"),
    path("proxies/import/", views.proxies_import_view, name="proxies-import"),
    path("proxies/<int:pk>/check/", views.proxy_check_view, name="proxy-check"),
    path("sources/", views.sources, name="sources"),
    path("sources/new/", views.source_edit, name="source-new"),
    path("sources/<int:pk>/", views.source_detail, name="source"),
    path("sources/<int:pk>/edit/", views.source_edit, name="source-edit"),
    path("sources/<int:pk>/poll/", views.source_poll_view, name="source-poll"),
    path("sources/<int:pk>/webhook/", views.source_delivery_view, {"delivery": "webhook"}, name="source-webhook"),
    path("sources/<int:pk>/polling/", views.source_delivery_view, {"delivery": "polling"}, name="source-polling"),
    path("sources/<int:pk>/enable/", views.source_enabled_view, {"enabled": True}, name="source-enable"),
    path("sources/<int:pk>/disable/", views.source_enabled_view, {"enabled": False}, name="source-disable"),
    path("ingest-records/<int:pk>/retry/", views.ingest_record_retry, name="ingest-record-retry"),
    path("activity/", views.activity, name="activity"),
    # The ad campaign builder (campaigns/views.py).
    path("campaigns/", campaign_views.campaigns, name="campaigns"),
    path("campaigns/new/", campaign_views.campaign_new, name="campaign-new"),
    path("campaigns/regions/", campaign_views.regions, name="campaign-regions"),
    path("campaigns/settings/", campaign_views.campaign_settings, name="campaign-settings"),
    path("campaigns/<int:pk>/", campaign_views.campaign_detail, name="campaign"),
    path("campaigns/<int:pk>/edit/", campaign_views.campaign_edit, name="campaign-edit"),
    path("campaigns/<int:pk>/run/", campaign_views.campaign_run_view, name="campaign-run"),
    path("campaigns/<int:pk>/cancel/", campaign_views.campaign_cancel_view, name="campaign-cancel"),
    path("campaigns/<int:pk>/archive/", campaign_views.campaign_archive_view, {"archived": True}, name="campaign-archive"),
    path("campaigns/<int:pk>/restore/", campaign_views.campaign_archive_view, {"archived": False}, name="campaign-restore"),
    path("campaigns/<int:pk>/ads/<int:ad_id>/", campaign_views.ad_edit, name="campaign-ad"),
    path("campaigns/<int:pk>/export.xlsx", campaign_views.campaign_xlsx, name="campaign-xlsx"),
    path("campaigns/<int:pk>/export.csv", campaign_views.campaign_csv, name="campaign-csv"),
    # Browsers ask for /favicon.ico on every page, the admin's included.
    path("favicon.ico", RedirectView.as_view(url=static("dashboard/favicon.svg"), permanent=True)),
]
