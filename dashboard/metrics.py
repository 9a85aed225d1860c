"""/metrics: Prometheus text exposition, computed from the database at scrape time.

Counts come from the database rather than in-process counters, so every web
process answers the same numbers however many workers publish. Closed by
default: a scraper sends ``Authorization: Bearer <METRICS_TOKEN>`` and sees the
whole installation; a logged-in member sees only their own workspaces' rows.
"""

import hmac
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

# Upper bounds (seconds) of the stage-duration buckets: from a quick look-up to an hour's render.
STAGE_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0)
# Activity that is one call to a platform (a publish attempt, an account check, a login), with its outcome.
PLATFORM_CALLS = ("execution.publish", "account.check", "account.login")


class CrosspostCollector:
    def __init__(self, user=None):
        self.user = user  # None: the whole installation (a scraper with the token)

    def _scoped(self, queryset, field):
        from accounts.selectors import scope

        return queryset if self.user is None else scope(queryset, self.user, field=field)

    def collect(self):
        from accounts.models import SocialAccount
        from crosspost.models import Heartbeat
        from publishing.models import Execution

        executions = GaugeMetricFamily(
            "crosspost_executions", "Executions by status and priority.", labels=["status", "priority"]
        )
        rows = self._scoped(Execution.objects.all(), "post__workspace")
        for row in rows.values("status", "priority").annotate(n=Count("pk")).order_by():
            executions.add_metric([row["status"], row["priority"]], row["n"])
        yield executions

        accounts = GaugeMetricFamily(
            "crosspost_accounts", "Social accounts by platform and status.", labels=["platform", "status"]
        )
        rows = self._scoped(SocialAccount.objects.all(), "workspace")
        for row in rows.values("platform", "status").annotate(n=Count("pk")).order_by():
            accounts.add_metric([row["platform"], row["status"]], row["n"])
        yield accounts

        yield from self.pipeline_and_platforms()

        heartbeat = GaugeMetricFamily(
            "crosspost_heartbeat_age_seconds", "Seconds since a background component was last seen.", labels=["component"]
        )
        now = timezone.now()
        for name, seen_at in Heartbeat.objects.values_list("name", "seen_at"):
            heartbeat.add_metric([name], (now - seen_at).total_seconds())
        yield heartbeat

    def pipeline_and_platforms(self):
        from crosspost.models import ActivityLog
        from posts.models import PipelineStage
        from publishing.models import Execution

        stages = HistogramMetricFamily(
            "crosspost_stage_duration_seconds", "How long each pipeline stage of a source post took.", labels=["stage"]
        )
        took = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
        rows = self._scoped(PipelineStage.objects.filter(started_at__isnull=False, finished_at__isnull=False), "post__workspace")
        buckets = {f"le{i}": Count("pk", filter=Q(took__lte=timedelta(seconds=le))) for i, le in enumerate(STAGE_BUCKETS)}
        for row in (
            rows.annotate(took=took).values("stage").annotate(n=Count("pk"), total=Sum("took"), **buckets).order_by("stage")
        ):
            counts = [(str(le), row[f"le{i}"]) for i, le in enumerate(STAGE_BUCKETS)] + [("+Inf", row["n"])]
            total = row["total"]
            stages.add_metric([row["stage"]], counts, sum_value=total.total_seconds() if total is not None else 0.0)
        yield stages

        posts = CounterMetricFamily(
            "crosspost_posts", "Publications (one per post and account) by platform and status.", labels=["platform", "status"]
        )
        rows = self._scoped(Execution.objects.all(), "post__workspace")
        for row in rows.values("account__platform", "status").annotate(n=Count("pk")).order_by("account__platform", "status"):
            posts.add_metric([row["account__platform"], row["status"]], row["n"])
        yield posts

        requests = CounterMetricFamily(
            "crosspost_platform_requests",
            "Calls to platforms (publish attempts, account checks, logins) by platform and outcome.",
            labels=["platform", "status"],
        )
        rows = self._scoped(ActivityLog.objects.filter(action__in=PLATFORM_CALLS, account__isnull=False), "workspace")
        for row in rows.values("account__platform", "status").annotate(n=Count("pk")).order_by("account__platform", "status"):
            requests.add_metric([row["account__platform"], row["status"]], row["n"])
        yield requests


@never_cache
@require_GET
def metrics(request):
    token = settings.METRICS_TOKEN
    sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if token and sent and hmac.compare_digest(sent.encode(), token.encode()):
        collector = CrosspostCollector()
    elif request.user.is_authenticated and request.user.is_active:
        collector = CrosspostCollector(user=request.user)
    else:
        response = HttpResponse(
            "Log in, or scrape with 'Authorization: Bearer <token>' where the token is the METRICS_TOKEN setting.\n",
            status=401,
            content_type="text/plain; charset=utf-8",
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry()
    registry.register(collector)
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
