"""API for the statistics: a post's and an account's results, top posts, period totals, the
publications of a period and the raw snapshots — scoped to your workspaces and paginated.

A number is ``{"value", "reporting", "of", "reason"}``: ``value`` null means not available
(``reason`` says why), never 0; ``reporting`` of ``of`` publications report it.
``?format=csv`` on a post's results and on a period's publications answers the CSV the
dashboard downloads; ``export/posts/`` exports a range of days' posts with their executions
and latest numbers as JSON or CSV."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import renderers, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView

from accounts.api_base import MAX_ID, DateTimeField, JSONErrorsMixin, Pagination, WorkspaceScopedMixin
from accounts.models import SocialAccount
from platforms.base import METRICS
from posts.models import Post, PostStatus
from publishing.api import WORKSPACE_PARAMETER, _workspace_param

from . import exports, selectors
from .models import MetricSnapshot


class CSVRenderer(renderers.BaseRenderer):
    """Lets ``?format=csv`` through content negotiation; the views stream the CSV themselves."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):  # pragma: no cover - views stream instead
        return data


def csv_response(lines, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _period(request) -> selectors.Period:
    if request.query_params.get("period") == "":
        raise ValidationError({"period": ["Give a value, or leave the parameter out for 7d."]})
    try:
        return selectors.period_from(request.query_params.get("period"))
    except DjangoValidationError as exc:
        raise ValidationError({"period": exc.messages}) from None


# --- shapes ----------------------------------------------------------------------------------------


class NumberSerializer(serializers.Serializer):
    value = serializers.FloatField(allow_null=True, help_text="Null: not available (see reason), never 0.")
    reporting = serializers.IntegerField(help_text="Publications that report this metric.")
    of = serializers.IntegerField(help_text="Publications with statistics.")
    reason = serializers.CharField(help_text="Why the value is not available; empty when it is.")

    class Meta:
        ref_name = "StatNumber"


class CellSerializer(serializers.Serializer):
    value = serializers.FloatField(allow_null=True, help_text="Null: not available (see reason), never 0.")
    reason = serializers.CharField(help_text="Why the value is not available; empty when it is.")

    class Meta:
        ref_name = "StatCell"


def _metrics_serializer(name: str, field: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """A serializer with one ``field`` per metric of platforms.base.METRICS."""
    return type(name, (serializers.Serializer,), {metric: field() for metric in METRICS})


SumsSerializer = _metrics_serializer("StatSums", NumberSerializer)
CellsSerializer = _metrics_serializer("StatCells", CellSerializer)


class GroupSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    numbers = SumsSerializer()

    class Meta:
        ref_name = "StatGroup"


class PointSerializer(serializers.Serializer):
    slot = serializers.CharField()
    label = serializers.CharField()
    views = serializers.IntegerField(allow_null=True, help_text="Summed over the slot's snapshots; null: none reports views.")
    reporting = serializers.IntegerField()
    taken_at = DateTimeField(allow_null=True, help_text="The slot's first snapshot.")

    class Meta:
        ref_name = "StatPoint"


class PublicationSerializer(serializers.Serializer):
    execution = serializers.IntegerField()
    post = serializers.IntegerField()
    post_title = serializers.CharField()
    account = serializers.UUIDField()
    account_handle = serializers.CharField()
    platform = serializers.CharField()
    language = serializers.CharField()
    published_at = DateTimeField(allow_null=True)
    remote_url = serializers.CharField()
    slot = serializers.CharField(help_text="The latest snapshot's slot.")
    taken_at = DateTimeField()
    numbers = CellsSerializer()

    class Meta:
        ref_name = "StatPublication"


def _number(number: selectors.Number) -> dict:
    return {"value": number.value, "reporting": number.reporting, "of": number.of, "reason": number.reason}


def _numbers(numbers: dict) -> dict:
    return {metric: _number(numbers[metric]) for metric in METRICS}


def _group(group: selectors.Group) -> dict:
    return {"key": group.key, "label": group.label, "numbers": _numbers(group.numbers)}


def _when(value) -> str | None:
    return DateTimeField().to_representation(value) if value is not None else None


def _publication(row: selectors.Row) -> dict:
    execution, snapshot = row.execution, row.snapshot
    return {
        "execution": execution.pk,
        "post": execution.post_id,
        "post_title": str(execution.post),
        "account": str(execution.account_id),
        "account_handle": execution.account.handle,
        "platform": execution.account.platform,
        "language": execution.language,
        "published_at": _when(execution.finished_at),
        "remote_url": execution.remote_url,
        "slot": snapshot.slot,
        "taken_at": _when(snapshot.taken_at),
        "numbers": {cell.metric: {"value": cell.value, "reason": cell.reason} for cell in row.cells},
    }


def _paged(name: str, item, **extra):
    return inline_serializer(
        name,
        {
            **extra,
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": item,
        },
    )


PERIOD_PARAMETER = OpenApiParameter(
    "period",
    {"type": "string", "pattern": r"^(7d|30d|\d{4}-\d{2}-\d{2}\.\.\d{4}-\d{2}-\d{2})$"},
    description="7d, 30d (up to now) or a range of local days YYYY-MM-DD..YYYY-MM-DD (both included, at most "
    f"{selectors.MAX_PERIOD_DAYS} days, real dates, the end not before the start); default 7d.",
)
FORMAT_PARAMETER = OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv"], description="csv: the CSV export.")


class StatsView(JSONErrorsMixin, WorkspaceScopedMixin, GenericAPIView):
    pagination_class = Pagination
    filter_backends = []

    def initial(self, request, *args, **kwargs):
        # DRF's content negotiation reads an empty ?format= as none given (JSON); the documented
        # values are json and csv, so an empty one is refused like any other unknown value.
        if request.query_params.get("format", None) == "":
            raise ValidationError({"format": ["Choose json or csv (or leave the parameter out)."]})
        super().initial(request, *args, **kwargs)

    def page_of(self, items) -> tuple[list, Pagination]:
        paginator = self.pagination_class()
        return paginator.paginate_queryset(items, self.request, view=self), paginator


class PostResultsView(StatsView):
    """A post's results: totals, sums per platform and language, views per slot, and a page of
    per-account rows (the totals are over every account)."""

    queryset = Post.objects.all()
    renderer_classes = [renderers.JSONRenderer, CSVRenderer]

    @extend_schema(
        parameters=[FORMAT_PARAMETER],
        responses={
            (200, "application/json"): _paged(
                "PostResults",
                PublicationSerializer(many=True),
                totals=SumsSerializer(),
                published=serializers.IntegerField(help_text="Executions published."),
                by_platform=GroupSerializer(many=True),
                by_language=GroupSerializer(many=True),
                series=PointSerializer(many=True),
            ),
            (200, "text/csv"): OpenApiTypes.STR,
        },
        operation_id="posts_results_retrieve",
    )
    def get(self, request, pk: int):
        post = get_object_or_404(self.get_queryset(), pk=pk)
        if request.accepted_renderer.format == "csv":
            return csv_response(exports.post_csv(post), exports.csv_filename(f"post-{post.pk}-results"))
        results = selectors.post_results(post)
        rows, paginator = self.page_of(selectors.post_result_rows(post))
        response = paginator.get_paginated_response([_publication(selectors.row_of(s)) for s in rows])
        response.data = {
            "totals": _numbers(results.totals),
            "published": results.published,
            "by_platform": [_group(g) for g in results.by_platform],
            "by_language": [_group(g) for g in results.by_language],
            "series": [
                {"slot": p.slot, "label": p.label, "views": p.views, "reporting": p.reporting, "taken_at": _when(p.taken_at)}
                for p in results.series
            ],
            **response.data,
        }
        return response


class AccountResultsView(StatsView):
    """An account's recent publications with their latest numbers, newest first, and its sums over ``period``."""

    queryset = SocialAccount.objects.only("id", "workspace_id", "handle", "platform")

    @extend_schema(
        parameters=[PERIOD_PARAMETER],
        responses=_paged("AccountResults", PublicationSerializer(many=True), totals=SumsSerializer()),
        operation_id="accounts_results_retrieve",
    )
    def get(self, request, pk):
        account = get_object_or_404(self.get_queryset(), pk=pk)
        period = _period(request)
        rows, paginator = self.page_of(selectors.account_recent_queryset(account))
        response = paginator.get_paginated_response([_publication(selectors.row_of(s)) for s in rows])
        response.data = {"totals": _numbers(selectors.account_totals(account, period)), **response.data}
        return response


class TopPostsView(StatsView):
    """Posts by views (then interactions: likes, comments, shares, saves) over the publications finished in ``period``."""

    queryset = Post.objects.none()

    @extend_schema(
        parameters=[PERIOD_PARAMETER, WORKSPACE_PARAMETER],
        responses=_paged(
            "TopPosts",
            inline_serializer(
                "TopPost",
                {
                    "post": serializers.IntegerField(),
                    "title": serializers.CharField(),
                    "publications": serializers.IntegerField(),
                    "interactions": serializers.IntegerField(allow_null=True),
                    "numbers": SumsSerializer(),
                },
                many=True,
            ),
        ),
        operation_id="stats_top_posts_list",
    )
    def get(self, request):
        period = _period(request)
        rows, paginator = self.page_of(selectors.top_posts_queryset(request.user, period, _workspace_param(request)))
        return paginator.get_paginated_response(
            [
                {
                    "post": top.post.pk,
                    "title": str(top.post),
                    "publications": top.publications,
                    "interactions": top.interactions,
                    "numbers": _numbers(top.numbers),
                }
                for top in selectors.top_posts_of(rows)
            ]
        )


class TotalsView(StatsView):
    """Sums of the latest numbers per account group or per platform over the publications finished in ``period``."""

    queryset = Post.objects.none()

    @extend_schema(
        parameters=[
            PERIOD_PARAMETER,
            OpenApiParameter("by", OpenApiTypes.STR, enum=list(selectors.TOTALS_BY), description="Default: platform."),
            WORKSPACE_PARAMETER,
        ],
        responses=_paged("StatTotals", GroupSerializer(many=True)),
        operation_id="stats_totals_list",
    )
    def get(self, request):
        period = _period(request)
        by = request.query_params.get("by", "platform")
        if by not in selectors.TOTALS_BY:
            raise ValidationError({"by": [f"Unknown grouping {by!r}: use group or platform."]})
        groups, paginator = self.page_of(selectors.period_totals(request.user, period, by, _workspace_param(request)))
        return paginator.get_paginated_response([_group(g) for g in groups])


class PublicationsView(StatsView):
    """The publications finished in ``period`` with their latest numbers, oldest first (``?format=csv``: the CSV)."""

    queryset = Post.objects.none()
    renderer_classes = [renderers.JSONRenderer, CSVRenderer]

    @extend_schema(
        parameters=[PERIOD_PARAMETER, WORKSPACE_PARAMETER, FORMAT_PARAMETER],
        responses={
            (200, "application/json"): _paged("StatPublications", PublicationSerializer(many=True)),
            (200, "text/csv"): OpenApiTypes.STR,
        },
        operation_id="stats_publications_list",
    )
    def get(self, request):
        period, workspace = _period(request), _workspace_param(request)
        if request.accepted_renderer.format == "csv":
            return csv_response(
                exports.period_csv(request.user, period, workspace), exports.csv_filename(f"results-{period.key}")
            )
        snapshots = selectors.period_publications(request.user, period, workspace)
        rows, paginator = self.page_of(snapshots)
        return paginator.get_paginated_response([_publication(selectors.row_of(s)) for s in rows])


SNAPSHOT_FIELDS = {
    "id": serializers.IntegerField(),
    "execution": serializers.IntegerField(),
    "post": serializers.IntegerField(),
    "account": serializers.UUIDField(),
    "platform": serializers.CharField(),
    "slot": serializers.CharField(),
    "taken_at": DateTimeField(),
    **{metric: serializers.FloatField(allow_null=True) for metric in METRICS},
    "unavailable": serializers.DictField(child=serializers.CharField()),
    "errors": serializers.DictField(child=serializers.CharField()),
}


class _SnapshotQuery(serializers.Serializer):
    post = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    account = serializers.UUIDField(required=False)
    since = DateTimeField(required=False, help_text="RFC 3339; snapshots taken at or after it.")


class SnapshotsView(StatsView):
    """Every snapshot of your publications, oldest first: one per execution and slot."""

    queryset = MetricSnapshot.objects.none()

    @extend_schema(
        parameters=[
            OpenApiParameter("post", {"type": "integer", "minimum": 1, "maximum": MAX_ID}),
            OpenApiParameter("account", OpenApiTypes.UUID),
            OpenApiParameter("since", OpenApiTypes.DATETIME),
        ],
        responses=_paged("StatSnapshots", inline_serializer("StatSnapshotItem", SNAPSHOT_FIELDS, many=True)),
        operation_id="stats_snapshots_list",
    )
    def get(self, request):
        # A plain dict, so an empty parameter is validated (and refused) rather than skipped.
        query = _SnapshotQuery(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        params = query.validated_data
        snapshots = selectors.snapshots_for(
            request.user, post_id=params.get("post"), account_id=params.get("account"), since=params.get("since")
        )
        rows, paginator = self.page_of(snapshots)
        return paginator.get_paginated_response(
            [
                {
                    "id": s.pk,
                    "execution": s.execution_id,
                    "post": s.execution.post_id,
                    "account": str(s.execution.account_id),
                    "platform": s.execution.account.platform,
                    "slot": s.slot,
                    "taken_at": _when(s.taken_at),
                    **{metric: getattr(s, metric) for metric in METRICS},
                    "unavailable": {k: str(v) for k, v in s.unavailable.items()},
                    "errors": {k: str(v) for k, v in s.errors.items()},
                }
                for s in rows
            ]
        )


# --- the posts export -------------------------------------------------------------------------------

_METRICS_SHAPE = inline_serializer(
    "PostsExportMetrics",
    {
        "slot": serializers.CharField(help_text="When after publishing the snapshot was taken (1h … 30d)."),
        "taken_at": DateTimeField(),
        **{metric: serializers.FloatField(allow_null=True, help_text="Null: not reported.") for metric in METRICS},
    },
    allow_null=True,
    help_text="The execution's latest statistics snapshot; null before the first one.",
)
_EXPORT_SHAPE = inline_serializer(
    "PostsExport",
    {
        "start": serializers.DateField(),
        "end": serializers.DateField(),
        "posts": inline_serializer(
            "PostsExportPost",
            {
                "id": serializers.IntegerField(),
                "workspace": inline_serializer(
                    "PostsExportWorkspace", {"id": serializers.IntegerField(), "name": serializers.CharField()}
                ),
                "title": serializers.CharField(allow_blank=True),
                "caption": serializers.CharField(allow_blank=True),
                "status": serializers.CharField(help_text="The post's status (draft, scheduled, publishing, …)."),
                "media_type": serializers.CharField(),
                "approval_status": serializers.CharField(),
                "scheduled_at": DateTimeField(allow_null=True),
                "created_at": DateTimeField(),
                "executions": inline_serializer(
                    "PostsExportExecution",
                    {
                        "id": serializers.IntegerField(),
                        "account": inline_serializer(
                            "PostsExportAccount",
                            {
                                "id": serializers.UUIDField(),
                                "handle": serializers.CharField(),
                                "platform": serializers.CharField(),
                            },
                        ),
                        "language": serializers.CharField(),
                        "status": serializers.CharField(help_text="The execution's status (pending, success, failed, …)."),
                        "scheduled_for": DateTimeField(allow_null=True),
                        "published_at": DateTimeField(allow_null=True, help_text="When it finished (published or failed)."),
                        "url": serializers.CharField(allow_blank=True),
                        "error": serializers.CharField(allow_blank=True),
                        "attempts": serializers.IntegerField(),
                        "metrics": _METRICS_SHAPE,
                    },
                    many=True,
                ),
            },
            many=True,
        ),
    },
)


class PostsExportView(StatsView):
    """Your posts of a range of days with their executions and each execution's latest statistics:
    JSON (posts with nested executions) or CSV (``?format=csv``: one row per execution, the post's
    columns repeated; UTF-8 with a byte-order mark for Excel). Both stream, so a year fits.

    A post belongs to the day of its scheduled time, or of its creation when it was never
    scheduled; days are the member's (their time zone). Viewers may export."""

    queryset = Post.objects.none()
    pagination_class = None
    renderer_classes = [renderers.JSONRenderer, CSVRenderer]

    def initial(self, request, *args, **kwargs):
        # DRF would answer an unknown ?format= with a 404 from content negotiation; it is bad input.
        fmt = request.query_params.get("format", None)
        if fmt is not None and fmt not in exports.EXPORT_FORMATS:
            raise ValidationError({"format": ["Choose json or csv (or leave the parameter out for JSON)."]})
        super().initial(request, *args, **kwargs)

    @extend_schema(
        parameters=[
            OpenApiParameter("start", OpenApiTypes.DATE, required=True, description="First day (YYYY-MM-DD), included."),
            OpenApiParameter(
                "end",
                OpenApiTypes.DATE,
                required=True,
                description=f"Last day (YYYY-MM-DD), included; not before start; the range spans at most "
                f"{exports.MAX_EXPORT_DAYS} days.",
            ),
            OpenApiParameter("format", OpenApiTypes.STR, enum=list(exports.EXPORT_FORMATS), description="Default: json."),
            WORKSPACE_PARAMETER,
            OpenApiParameter("status", OpenApiTypes.STR, enum=PostStatus.values, description="Only posts in this status."),
        ],
        responses={(200, "application/json"): _EXPORT_SHAPE, (200, "text/csv"): OpenApiTypes.STR},
        operation_id="export_posts",
    )
    def get(self, request):
        params = request.query_params
        try:
            period = exports.export_range(params.get("start"), params.get("end"))
            posts = exports.export_posts(
                request.user, period, workspace_id=_workspace_param(request), status=params.get("status")
            )
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from None
        if request.accepted_renderer.format == "csv":
            return csv_response(exports.posts_csv(posts, period), exports.export_filename(period, "csv"))
        response = StreamingHttpResponse(exports.posts_json(posts, period), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="{exports.export_filename(period, "json")}"'
        return response
