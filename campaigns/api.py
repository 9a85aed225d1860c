"""/api/v1/campaigns/: the ad campaign builder (editors and above write; viewers read).

The brief is written through campaigns.services (the same checks as the dashboard, the admin and
the bot); ``run``/``cancel``/``archive`` call the runner and services; each run is a background
job followed at /api/v1/jobs/{id}/ (the campaign shows its current job too). Clusters, keywords and
ads are the stages' saved output; an ad edited here is marked ``edited`` (a new run keeps it).
``/api/v1/campaign-settings/{workspace}/`` holds a workspace's integrations for its admins:
secrets are write-only, answers say only whether each is set."""

from decimal import Decimal

from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, renderers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api_base import (
    CharField,
    JSONErrorsMixin,
    JSONObjectField,
    ModelSerializer,
    ScopedFilterSet,
    WorkspaceOwnedSerializer,
    WorkspaceScopedMixin,
)
from accounts.models import Role, Workspace
from accounts.selectors import has_role, scope, workspaces_for
from crosspost.api import JobSerializer

from .models import Ad, Campaign, CampaignSettings, Cluster, Keyword
from .runner import STAGES, campaign_run
from .services import (
    EDITABLE_FIELDS,
    MAX_BASE_KEYWORDS,
    MAX_KEYWORD_LENGTH,
    MAX_MINUS_WORDS,
    ad_update,
    campaign_archive,
    campaign_cancel,
    campaign_create,
    campaign_delete,
    campaign_settings_save,
    campaign_update,
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TABS = ("keywords", "clusters", "ads")
# The largest region id accepted: Yandex geo ids are well below it, and it keeps the JSON column an int.
MAX_REGION_ID = 2**31 - 1


def _phrase_list(most: int, *, least: int = 0, required: bool = False, help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=CharField(max_length=MAX_KEYWORD_LENGTH),
        min_length=least or None,
        max_length=most,
        required=required,
        help_text=help_text,
    )


class CampaignSerializer(WorkspaceOwnedSerializer):
    name = CharField(max_length=120)
    product_description = CharField(max_length=5000, help_text="What is advertised; the LLM writes the ads from it.")
    target_url = CharField(max_length=1024, help_text="The landing page: an absolute http(s) URL with a valid host name.")
    base_keywords = _phrase_list(MAX_BASE_KEYWORDS, least=1, required=True, help_text="1–50 phrases Wordstat is asked about.")
    regions = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_REGION_ID),
        required=False,
        max_length=100,
        help_text="Yandex geo ids (213 Moscow, 2 Saint Petersburg, …); empty: everywhere.",
    )
    budget = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0.01"), required=False, allow_null=True, coerce_to_string=True
    )
    minus_words = _phrase_list(MAX_MINUS_WORDS, help_text="Phrases containing one of them are dropped.")
    ads_per_cluster = serializers.IntegerField(min_value=1, max_value=5, required=False)
    job = JobSerializer(read_only=True, allow_null=True, help_text="The current (or last) run.")

    class Meta:
        model = Campaign
        fields = [
            "id",
            "workspace",
            "author",
            *EDITABLE_FIELDS,  # the brief, as the services take it
            "status",
            "finished_stage",
            "job",
            "sheet_url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["author", "status", "finished_stage", "sheet_url", "created_at", "updated_at"]

    def create(self, validated_data: dict) -> Campaign:
        request = self.context["request"]
        workspace = validated_data.pop("workspace")
        return campaign_create(workspace=workspace, author=request.user, **validated_data)

    def update(self, instance: Campaign, validated_data: dict) -> Campaign:
        return campaign_update(campaign=instance, actor=self.context["request"].user, **validated_data)


class ClusterSerializer(ModelSerializer):
    ads = serializers.IntegerField(read_only=True, source="ad_count", help_text="Ads written for the cluster.")

    class Meta:
        model = Cluster
        fields = ["id", "position", "name", "size", "total_frequency", "ads"]
        read_only_fields = fields


class KeywordSerializer(ModelSerializer):
    class Meta:
        model = Keyword
        fields = ["id", "phrase", "lemmas", "frequency", "cluster"]
        read_only_fields = fields


class AdSerializer(ModelSerializer):
    title1 = CharField(max_length=200, required=False)
    title2 = CharField(max_length=200, required=False, allow_blank=True)
    text = CharField(max_length=400, required=False)
    display_path = CharField(max_length=100, required=False, allow_blank=True)

    class Meta:
        model = Ad
        fields = [
            "id",
            "cluster",
            "position",
            "title1",
            "title2",
            "text",
            "display_path",
            "status",
            "problems",
            "attempts",
            "edited",
        ]
        read_only_fields = ["cluster", "position", "status", "problems", "attempts", "edited"]


class CampaignFilter(ScopedFilterSet):
    class Meta:
        model = Campaign
        fields = ["workspace", "status"]


_RUN_BODY = inline_serializer(
    "CampaignRunRequest",
    {
        "stage": serializers.ChoiceField(
            choices=STAGES,
            required=False,
            help_text="Run again from this stage (its earlier stages must have finished); "
            "left out: resume after the last finished stage.",
        )
    },
)
_ARCHIVE_BODY = inline_serializer(
    "CampaignArchiveRequest",
    {"archived": serializers.BooleanField(default=True, help_text="false restores an archived campaign.")},
)


class CampaignViewSet(WorkspaceScopedMixin, viewsets.ModelViewSet):
    """Ad campaigns: the brief, its run (``job``) and the run's output."""

    queryset = Campaign.objects.select_related("job")
    serializer_class = CampaignSerializer
    filterset_class = CampaignFilter
    write_role = Role.EDITOR
    search_fields = ["name", "product_description"]
    ordering_fields = ["created_at", "updated_at", "name", "status"]

    def perform_destroy(self, instance: Campaign) -> None:
        campaign_delete(campaign=instance, actor=self.request.user)

    def _answer(self, campaign: Campaign, code: int = status.HTTP_200_OK) -> Response:
        campaign = self.get_queryset().get(pk=campaign.pk)
        return Response(CampaignSerializer(campaign, context=self.get_serializer_context()).data, status=code)

    @extend_schema(request=_RUN_BODY, responses={202: CampaignSerializer})
    @action(detail=True, methods=["post"])
    def run(self, request, pk=None):
        """Start the campaign's run in the background (or resume it after its last finished stage);
        ``stage`` runs that stage and every later one again. 409 while it runs or when archived."""
        campaign = self.get_object()
        body = _RUN_BODY.__class__(data=request.data)
        body.is_valid(raise_exception=True)
        campaign_run(campaign=campaign, actor=request.user, from_stage=body.validated_data.get("stage"))
        return self._answer(campaign, status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: CampaignSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Stop the run at its next step; finished stages are kept and a new run resumes after them.
        409 when it is not running."""
        campaign = self.get_object()
        campaign_cancel(campaign=campaign, actor=request.user)
        return self._answer(campaign)

    @extend_schema(request=_ARCHIVE_BODY, responses={200: CampaignSerializer})
    @action(detail=True, methods=["post"])
    def archive(self, request, pk=None):
        """Archive the campaign (or restore it with ``archived: false``). 409 while it runs."""
        campaign = self.get_object()
        body = _ARCHIVE_BODY.__class__(data=request.data)
        body.is_valid(raise_exception=True)
        campaign_archive(campaign=campaign, actor=request.user, archived=body.validated_data["archived"])
        return self._answer(campaign)

    @extend_schema(responses=ClusterSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], filterset_class=None, search_fields=[], ordering_fields=[])
    def clusters(self, request, pk=None):
        """The clusters (ad groups), in order, with their number of phrases, total frequency and ads; paginated."""
        campaign = self.get_object()
        clusters = campaign.clusters.annotate(ad_count=Count("ads")).order_by("position", "pk")
        page = self.paginate_queryset(clusters)
        return self.get_paginated_response(ClusterSerializer(page, many=True).data)

    @extend_schema(responses=KeywordSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], filterset_class=None, search_fields=[], ordering_fields=[])
    def keywords(self, request, pk=None):
        """The cleaned phrases, most frequent first, with their lemmas and cluster; paginated."""
        campaign = self.get_object()
        page = self.paginate_queryset(campaign.keywords.order_by("-frequency", "phrase", "pk"))
        return self.get_paginated_response(KeywordSerializer(page, many=True).data)

    @extend_schema(responses=AdSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], filterset_class=None, search_fields=[], ordering_fields=[])
    def ads(self, request, pk=None):
        """The ads cluster by cluster; ``flagged`` ones are over a Yandex Direct limit (see ``problems``)."""
        campaign = self.get_object()
        page = self.paginate_queryset(campaign.ads.order_by("cluster__position", "position", "pk"))
        return self.get_paginated_response(AdSerializer(page, many=True).data)

    @extend_schema(request=AdSerializer, responses={200: AdSerializer}, filters=False)
    @action(
        detail=True,
        methods=["patch"],
        url_path=r"ads/(?P<ad_id>[0-9]{1,18})",
        url_name="ad",
        filterset_class=None,
        search_fields=[],
        ordering_fields=[],
    )
    def ad(self, request, pk=None, ad_id=None):
        """Edit an ad's texts by hand: it is marked ``edited`` (a new run keeps it) and checked
        against Yandex Direct's limits again by the next run's validate stage."""
        campaign = self.get_object()
        ad = get_object_or_404(Ad.objects.select_related("campaign__workspace"), campaign=campaign, pk=int(ad_id))
        body = AdSerializer(ad, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        ad_update(ad=ad, actor=request.user, **body.validated_data)
        return Response(AdSerializer(ad).data)


# --- Downloads ------------------------------------------------------------------------------------


class _PassthroughRenderer(renderers.BaseRenderer):
    """Lets a client that asks for the file's type through content negotiation; the view answers
    the file itself (an HttpResponse), so this renders only refusals, as JSON."""

    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return renderers.JSONRenderer().render(data)


class _XlsxRenderer(_PassthroughRenderer):
    media_type = XLSX
    format = "xlsx"


class _CsvRenderer(_PassthroughRenderer):
    media_type = "text/csv"
    format = "csv"


class _ExportView(JSONErrorsMixin, WorkspaceScopedMixin, APIView):
    queryset = Campaign.objects.all()

    def campaign(self, request, pk: int) -> Campaign:
        self.check_permissions(request)
        return get_object_or_404(scope(Campaign.objects.select_related("workspace"), request.user), pk=pk)

    def get_queryset(self):
        return scope(Campaign.objects.all(), self.request.user)


class CampaignXlsxView(_ExportView):
    renderer_classes = [renderers.JSONRenderer, _XlsxRenderer]

    @extend_schema(
        operation_id="campaigns_export_xlsx",
        responses={(200, XLSX): OpenApiResponse(OpenApiTypes.BINARY, description="Keywords, Clusters and Ads sheets.")},
    )
    def get(self, request, pk: int):
        """The campaign as an Excel workbook (tabs Keywords, Clusters, Ads in Direct Commander's layout)."""
        campaign = self.campaign(request, pk)
        from . import exports  # written with the export stage; imported when a download is asked for

        response = HttpResponse(exports.campaign_xlsx(campaign), content_type=XLSX)
        response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}.xlsx"'
        return response


class CampaignCsvView(_ExportView):
    renderer_classes = [renderers.JSONRenderer, _CsvRenderer]

    @extend_schema(
        operation_id="campaigns_export_csv",
        parameters=[OpenApiParameter("tab", str, enum=list(CSV_TABS), description="Which table (default: ads).")],
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="One table as CSV.")},
    )
    def get(self, request, pk: int):
        """One table of the campaign (keywords, clusters or ads) as CSV."""
        tab = request.query_params.get("tab", "ads")
        if tab not in CSV_TABS:
            raise serializers.ValidationError({"tab": [f"Choose one of {', '.join(CSV_TABS)}, not {tab!r}."]})
        campaign = self.campaign(request, pk)
        from . import exports  # see CampaignXlsxView

        response = HttpResponse(exports.campaign_csv(campaign, tab), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-{tab}.csv"'
        return response


# --- A workspace's campaign settings ----------------------------------------------------------------


class CampaignSettingsSerializer(serializers.Serializer):
    workspace = serializers.IntegerField(read_only=True)
    wordstat_token = CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=500,
        help_text="Replaces the stored token; empty removes it.",
    )
    google_service_account = JSONObjectField(
        write_only=True,
        required=False,
        help_text="The service account's JSON key file as an object; {} removes it.",
    )
    share_with = serializers.EmailField(required=False, allow_blank=True, help_text="New sheets are shared with this address.")
    has_wordstat_token = serializers.BooleanField(read_only=True)
    has_google_service_account = serializers.BooleanField(read_only=True)
    google_client_email = serializers.CharField(read_only=True, help_text="The service account's address (not a secret).")


def settings_answer(workspace: Workspace) -> dict:
    row = CampaignSettings.objects.filter(workspace=workspace).first() or CampaignSettings(workspace=workspace)
    key = row.google_service_account or {}
    return {
        "workspace": workspace.pk,
        "share_with": row.share_with,
        "has_wordstat_token": bool(row.wordstat_token),
        "has_google_service_account": bool(key),
        "google_client_email": key.get("client_email", "") if isinstance(key, dict) else "",
    }


class CampaignSettingsViewSet(WorkspaceScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Per workspace (id in the URL), for its admins and owners."""

    queryset = Workspace.objects.all()
    serializer_class = CampaignSettingsSerializer
    filter_backends: list = []
    pagination_class = None
    write_role = Role.ADMIN
    lookup_value_regex = "[0-9]{1,18}"  # a workspace id; anything else is no route (404)

    def get_queryset(self):
        return workspaces_for(self.request.user, Role.ADMIN).order_by("pk")

    def required_role(self) -> str:
        return Role.ADMIN

    def get_object(self) -> Workspace:
        workspace = get_object_or_404(workspaces_for(self.request.user).distinct(), pk=self.kwargs["pk"])
        if not has_role(self.request.user, workspace.pk, Role.ADMIN):
            raise PermissionDenied("You need the admin role in this workspace to see or change its campaign settings.")
        return workspace

    @extend_schema(responses=CampaignSettingsSerializer(many=True))
    def list(self, request):
        """The settings of every workspace where you are an admin."""
        return Response([settings_answer(workspace) for workspace in self.get_queryset()])

    @extend_schema(responses=CampaignSettingsSerializer)
    def retrieve(self, request, pk=None):
        return Response(settings_answer(self.get_object()))

    @extend_schema(request=CampaignSettingsSerializer, responses=CampaignSettingsSerializer)
    def update(self, request, pk=None):
        """Change the settings: a secret left out is kept; an empty one is removed."""
        workspace = self.get_object()
        body = CampaignSettingsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        campaign_settings_save(workspace=workspace, actor=request.user, **body.validated_data)
        return Response(settings_answer(workspace))
