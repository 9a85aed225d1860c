"""/metrics: Prometheus text exposition, computed from the database at scrape time.

Counts come from the database rather than in-process counters, so every web
process answers the same numbers however many workers publish.
"""

import hmac

from django.conf import settings
from django.db.models import Count
from django.http import HttpResponse, HttpResponseForbidden
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily


class CrosspostCollector:
    def collect(self):
        from accounts.models import SocialAccount
        from publishing.models import Execution

        from .models import Heartbeat

        executions = GaugeMetricFamily(
            "crosspost_executions", "Executions by status and priority.", labels=["status", "priority"]
        )
        for row in Execution.objects.values("status", "priority").annotate(n=Count("pk")).order_by():
            executions.add_metric([row["status"], row["priority"]], row["n"])
        yield executions

        accounts = GaugeMetricFamily(
            "crosspost_accounts", "Social accounts by platform and status.", labels=["platform", "status"]
        )
        for row in SocialAccount.objects.values("platform", "status").annotate(n=Count("pk")).order_by():
            accounts.add_metric([row["platform"], row["status"]], row["n"])
        yield accounts

        heartbeat = GaugeMetricFamily(
            "crosspost_heartbeat_age_seconds", "Seconds since a background component was last seen.", labels=["component"]
        )
        now = timezone.now()
        for name, seen_at in Heartbeat.objects.values_list("name", "seen_at"):
            heartbeat.add_metric([name], (now - seen_at).total_seconds())
        yield heartbeat


@never_cache
@require_GET
def metrics(request):
    token = settings.METRICS_TOKEN
    if token:
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(sent.encode(), token.encode()):
            return HttpResponseForbidden("A valid bearer token (METRICS_TOKEN) is required.")
    registry = CollectorRegistry()
    registry.register(CrosspostCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
