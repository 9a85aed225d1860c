"""/api/v1/: one router for every app's viewsets."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from accounts.api import AccountGroupViewSet, AccountViewSet, ProxyViewSet
from crosspost.security import TokenObtainView, TokenRefreshThrottledView
from media.api import MediaAssetViewSet
from posts.api import PostViewSet
from publishing.api import ActivityLogViewSet, ExecutionViewSet, PublishingPolicyViewSet, StatsViewSet
from sources.api import IngestRecordViewSet, SourceItemViewSet, SourceViewSet

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

urlpatterns = [
    path("auth/token/", TokenObtainView.as_view(), name="token-obtain"),
    path("auth/token/refresh/", TokenRefreshThrottledView.as_view(), name="token-refresh"),
    *router.urls,
]
