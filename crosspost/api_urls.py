"""/api/v1/: one router for every app's viewsets."""

from django.urls import path, re_path
from rest_framework.routers import DefaultRouter

from accounts.api import AccountGroupViewSet, AccountViewSet, ProxyViewSet
from campaigns.api import CampaignCsvView, CampaignSettingsViewSet, CampaignViewSet, CampaignXlsxView
from crosspost.api import JobViewSet, WebhookDeliveryViewSet, WebhookEndpointViewSet
from crosspost.security import TokenObtainView, TokenRefreshThrottledView
from media.api import MediaAssetViewSet
from planning.api import PostAddToQueueView, PostRescheduleView, QueueSlotViewSet
from posts.api import PostViewSet
from publishing.api import ActivityLogViewSet, ExecutionViewSet, PublishingPolicyViewSet, StatsViewSet
from sources.api import IngestRecordViewSet, SourceItemViewSet, SourceViewSet
from stats import api as stats_api
from studio.api import (
    InputSourceViewSet,
    OutputPresetViewSet,
    RecordingSubtitlesView,
    RecordingViewSet,
    StudioUsageViewSet,
    TemplateViewSet,
)

router = DefaultRouter()
router.register("accounts", AccountViewSet, basename="account")
router.register("groups", AccountGroupViewSet, basename="group")
router.register("proxies", ProxyViewSet, basename="proxy")
router.register("media", MediaAssetViewSet, basename="media")
router.register("posts", PostViewSet, basename="post")
router.register("executions", ExecutionViewSet, basename="execution")
router.register("policies", PublishingPolicyViewSet, basename="policy")
router.register("logs", ActivityLogViewSet, basename="log")
router.register("stats", StatsViewSet, basename="stats")
router.register("sources", SourceViewSet, basename="source")
router.register("ingest-records", IngestRecordViewSet, basename="ingest-record")
router.register("source-items", SourceItemViewSet, basename="source-item")
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("campaign-settings", CampaignSettingsViewSet, basename="campaign-settings")
router.register("jobs", JobViewSet, basename="job")
router.register("webhooks", WebhookEndpointViewSet, basename="webhook")
router.register("webhook-deliveries", WebhookDeliveryViewSet, basename="webhook-delivery")
router.register("queue-slots", QueueSlotViewSet, basename="queue-slot")
router.register("recordings", RecordingViewSet, basename="recording")
router.register("studio-sources", InputSourceViewSet, basename="studio-source")
router.register("studio-templates", TemplateViewSet, basename="studio-template")
router.register("studio-presets", OutputPresetViewSet, basename="studio-preset")
router.register("studio-usage", StudioUsageViewSet, basename="studio-usage")

urlpatterns = [
    path("auth/token/", TokenObtainView.as_view(), name="token-obtain"),
    path("auth/token/refresh/", TokenRefreshThrottledView.as_view(), name="token-refresh"),
    # Statistics (stats/api.py): next to the routes of the posts, accounts and stats they belong with.
    path("posts/<int:pk>/results/", stats_api.PostResultsView.as_view(), name="post-results"),
    path("accounts/<uuid:pk>/results/", stats_api.AccountResultsView.as_view(), name="account-results"),
    # The queue and the calendar (planning/api.py): post actions next to the post's routes.
    path("posts/<int:pk>/add-to-queue/", PostAddToQueueView.as_view(), name="post-add-to-queue"),
    path("posts/<int:pk>/reschedule/", PostRescheduleView.as_view(), name="post-reschedule"),
    path("stats/top-posts/", stats_api.TopPostsView.as_view(), name="stats-top-posts"),
    path("stats/totals/", stats_api.TotalsView.as_view(), name="stats-totals"),
    path("stats/publications/", stats_api.PublicationsView.as_view(), name="stats-publications"),
    path("stats/snapshots/", stats_api.SnapshotsView.as_view(), name="stats-snapshots"),
    path("export/posts/", stats_api.PostsExportView.as_view(), name="export-posts"),
    # Campaign downloads (campaigns/api.py): a file, named by its extension as people expect.
    path("campaigns/<int:pk>/export.xlsx", CampaignXlsxView.as_view(), name="campaign-export-xlsx"),
    path("campaigns/<int:pk>/export.csv", CampaignCsvView.as_view(), name="campaign-export-csv"),
    # A recording's subtitles (studio/api.py), named by their extension.
    re_path(
        r"^recordings/(?P<pk>[0-9]{1,18})/subtitles\.(?P<fmt>srt|vtt)$",
        RecordingSubtitlesView.as_view(),
        name="recording-subtitles",
    ),
    *router.urls,
]
