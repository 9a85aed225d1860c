"""Dashboard pages for the ad campaign builder: the list, the brief's form, a campaign's page with
its run's live progress (an HTMX region polled every second while the job moves), its clusters and
ads (edited inline), downloads, and a workspace's campaign settings for its admins.

Reads are scoped to the member's workspaces (another workspace's campaign is a 404); writes need
the editor role in the campaign's workspace (settings: admin), else 403. Every write calls
campaigns.services / campaigns.runner, as the API and the admin do."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q
from django.http import Http404, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Role
from accounts.selectors import scope, workspaces_for
from crosspost.models import JobStatus
from dashboard import selectors as dashboard_selectors
from dashboard.views import add_errors, error_text, page_query, render_page, require_role_in, role_required

from .forms import AdForm, CampaignFilterForm, CampaignForm, CampaignSettingsForm, RunForm
from .models import Ad, AdStatus, Campaign, CampaignSettings, Stage
from .runner import STAGES, campaign_run
from .services import (
    EDITABLE_FIELDS,
    ad_update,
    campaign_archive,
    campaign_cancel,
    campaign_create,
    campaign_settings_save,
    campaign_update,
    clean_brief,
)

CAMPAIGNS_PER_PAGE = 25
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TABS = ("keywords", "clusters", "ads")


def scoped_campaign(request, pk: int, min_role: str = Role.VIEWER) -> Campaign:
    campaign = get_object_or_404(scope(Campaign.objects.select_related("workspace", "job"), request.user), pk=pk)
    if min_role != Role.VIEWER:
        require_role_in(request, campaign.workspace_id, min_role)
    return campaign


def stage_marks(campaign: Campaign) -> list[dict]:
    """The six stages with a mark each: done, current, waiting, failed or cancelled (the stage the
    run stopped at). Without a run, the stages up to ``finished_stage`` are done."""
    job = campaign.job
    finished = STAGES.index(campaign.finished_stage) if campaign.finished_stage else -1
    at = STAGES.index(job.stage) if job is not None and job.stage in STAGES else None
    marks = []
    for index, stage in enumerate(STAGES):
        if job is None or at is None:
            mark = "done" if index <= finished else "waiting"
        elif job.status == JobStatus.COMPLETED:
            mark = "done"
        elif index < at:
            mark = "done"
        elif index > at:
            mark = "waiting"
        else:
            mark = {JobStatus.FAILED: "failed", JobStatus.CANCELLED: "cancelled"}.get(job.status, "current")
        marks.append({"stage": stage, "label": Stage(stage).label, "mark": mark, "rerun": index <= finished + 1})
    return marks


def progress_context(request, campaign: Campaign) -> dict:
    job = campaign.job
    live = job is not None and not job.finished
    return {
        "campaign": campaign,
        "job": job,
        "live": live,
        "progress": job.progress if job is not None else (100 if campaign.finished_stage == Stage.EXPORT else 0),
        "stages": stage_marks(campaign),
        "can_edit": dashboard_selectors.access_for(request.user).can(campaign.workspace_id, Role.EDITOR),
    }


def brief_errors(form: CampaignForm) -> None:
    """The service's checks of the fields the form took, so every mistake shows at once."""
    try:
        clean_brief({name: value for name, value in form.cleaned_data.items() if name in EDITABLE_FIELDS})
    except ValidationError as exc:
        add_errors(form, exc)


# --- list and brief ---------------------------------------------------------------------------------


@login_required
@require_GET
def campaigns(request):
    form = CampaignFilterForm(request.GET or None)
    rows = scope(Campaign.objects.select_related("workspace", "job"), request.user)
    if form.is_valid():
        if form.cleaned_data["q"]:
            query = form.cleaned_data["q"]
            rows = rows.filter(Q(name__icontains=query) | Q(product_description__icontains=query))
        if form.cleaned_data["status"]:
            rows = rows.filter(status=form.cleaned_data["status"])
    page = Paginator(rows.order_by("-created_at", "-pk"), CAMPAIGNS_PER_PAGE).get_page(request.GET.get("page"))
    access = dashboard_selectors.access_for(request.user)
    context = {
        "form": form,
        "page": page,
        "query": page_query(request),
        "can_create": access.can_anywhere(Role.EDITOR),
        "can_configure": access.can_anywhere(Role.ADMIN),
    }
    return render_page(request, "dashboard/campaigns/list.html", context, partial="rows")


@login_required
@require_http_methods(["GET", "POST"])
@role_required(Role.EDITOR)
def campaign_new(request):
    if request.method == "GET":
        form = CampaignForm(user=request.user)
        return render_page(request, "dashboard/campaigns/form.html", {"form": form, "campaign": None})
    form = CampaignForm(request.POST, user=request.user)
    if not form.is_valid():
        brief_errors(form)
    else:
        workspace = form.cleaned_data["workspace"]
        require_role_in(request, workspace.pk, Role.EDITOR)
        try:
            campaign = campaign_create(workspace=workspace, author=request.user, **form.brief())
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(
                request, _("Created the campaign “%(name)s”. Run it to build the keywords and ads.") % {"name": campaign.name}
            )
            return redirect("dashboard:campaign", pk=campaign.pk)
    return render_page(request, "dashboard/campaigns/form.html", {"form": form, "campaign": None}, status=400)


@login_required
@require_http_methods(["GET", "POST"])
@role_required(Role.EDITOR)
def campaign_edit(request, pk: int):
    campaign = scoped_campaign(request, pk, Role.EDITOR)
    if request.method == "GET":
        form = CampaignForm(user=request.user, campaign=campaign, initial=CampaignForm.initial_from(campaign))
        return render_page(request, "dashboard/campaigns/form.html", {"form": form, "campaign": campaign})
    form = CampaignForm(request.POST, user=request.user, campaign=campaign)
    if not form.is_valid():
        brief_errors(form)
    else:
        try:
            campaign_update(campaign=campaign, actor=request.user, **form.brief())
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, _("Saved the brief."))
            return redirect("dashboard:campaign", pk=campaign.pk)
    return render_page(request, "dashboard/campaigns/form.html", {"form": form, "campaign": campaign}, status=400)


@login_required
@require_GET
def regions(request):
    """``{"results": [{"id": 213, "name": "Москва"}, …]}`` for the brief's region search."""
    from . import regions as region_list  # the region list is written with the collect stage

    query = request.GET.get("q", "")[:100]
    return JsonResponse({"results": [{"id": gid, "name": name} for gid, name in region_list.search_regions(query)]})


# --- a campaign's page ------------------------------------------------------------------------------


@login_required
@require_GET
def campaign_detail(request, pk: int):
    """The whole page; an HTMX poll gets only the progress region. When that poll sees the run end,
    the page reloads once, so the clusters and ads it wrote appear."""
    campaign = scoped_campaign(request, pk)
    context = progress_context(request, campaign)
    if request.htmx and request.GET.get("region") == "progress":
        response = render_page(request, "dashboard/campaigns/detail.html", context, partial="progress")
        if not context["live"] and request.GET.get("was") == "live":
            response["HX-Refresh"] = "true"
        return response
    clusters = (
        campaign.clusters.annotate(ad_count=Count("ads"))
        .prefetch_related(Prefetch("ads", queryset=Ad.objects.order_by("position", "pk")))
        .order_by("position", "pk")
    )
    context.update({"clusters": clusters, "flagged": AdStatus.FLAGGED, "keyword_count": campaign.keywords.count()})
    return render_page(request, "dashboard/campaigns/detail.html", context)


def _back(request, campaign: Campaign):
    return redirect(reverse("dashboard:campaign", args=[campaign.pk]))


@login_required
@require_POST
@role_required(Role.EDITOR)
def campaign_run_view(request, pk: int):
    campaign = scoped_campaign(request, pk, Role.EDITOR)
    form = RunForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(_("Unknown stage."))
    stage = form.cleaned_data["stage"] or None
    try:
        campaign_run(campaign=campaign, actor=request.user, from_stage=stage)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        if stage:
            messages.success(request, _("Running again from “%(stage)s”.") % {"stage": Stage(stage).label})
        else:
            messages.success(request, _("The campaign is being built."))
    return _back(request, campaign)


@login_required
@require_POST
@role_required(Role.EDITOR)
def campaign_cancel_view(request, pk: int):
    campaign = scoped_campaign(request, pk, Role.EDITOR)
    try:
        campaign_cancel(campaign=campaign, actor=request.user)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, _("Cancelling: the run stops at its next step; finished stages are kept."))
    return _back(request, campaign)


@login_required
@require_POST
@role_required(Role.EDITOR)
def campaign_archive_view(request, pk: int, archived: bool):
    campaign = scoped_campaign(request, pk, Role.EDITOR)
    try:
        campaign_archive(campaign=campaign, actor=request.user, archived=archived)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, _("Archived.") if archived else _("Restored."))
    return _back(request, campaign)


@login_required
@require_http_methods(["GET", "POST"])
@role_required(Role.EDITOR)
def ad_edit(request, pk: int, ad_id: int):
    """An ad's inline form (HTMX swaps it into the ad's row; without JS it is a page of its own)."""
    campaign = scoped_campaign(request, pk, Role.EDITOR)
    ad = get_object_or_404(Ad.objects.select_related("campaign__workspace"), campaign=campaign, pk=ad_id)
    context = {"campaign": campaign, "ad": ad, "flagged": AdStatus.FLAGGED, "can_edit": True}
    if request.method == "GET":
        if request.htmx and request.GET.get("cancel"):
            return render(request, "dashboard/campaigns/ad.html#ad", context)
        context["form"] = AdForm(initial={name: getattr(ad, name) for name in AdForm.base_fields})
        return _ad_form(request, context)
    form = AdForm(request.POST)
    if form.is_valid():
        try:
            ad_update(ad=ad, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            if request.htmx:
                return render(request, "dashboard/campaigns/ad.html#ad", context)
            messages.success(request, _("Saved the ad; the next run checks it against the limits again."))
            return redirect(reverse("dashboard:campaign", args=[campaign.pk]) + f"#ad-{ad.pk}")
    context["form"] = form
    return _ad_form(request, context, status=400)


def _ad_form(request, context: dict, status: int = 200):
    name = "dashboard/campaigns/ad.html#form" if request.htmx else "dashboard/campaigns/ad_page.html"
    response = render(request, name, context, status=status)
    patch_vary_headers(response, ("HX-Request",))
    return response


# --- downloads ----------------------------------------------------------------------------------------


@login_required
@require_GET
def campaign_xlsx(request, pk: int):
    campaign = scoped_campaign(request, pk)
    from . import exports  # written with the export stage; imported when a download is asked for

    response = HttpResponse(exports.campaign_xlsx(campaign), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}.xlsx"'
    return response


@login_required
@require_GET
def campaign_csv(request, pk: int):
    campaign = scoped_campaign(request, pk)
    tab = request.GET.get("tab", "ads")
    if tab not in CSV_TABS:
        return HttpResponseBadRequest(_("Choose the table: keywords, clusters or ads."))
    from . import exports  # see campaign_xlsx

    response = HttpResponse(exports.campaign_csv(campaign, tab), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-{tab}.csv"'
    return response


# --- a workspace's settings -----------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
@role_required(Role.ADMIN)
def campaign_settings(request):
    """Write-only secrets: the page says whether each is set, never what it is."""
    workspaces = list(workspaces_for(request.user, Role.ADMIN).order_by("name", "pk"))
    chosen = request.POST.get("workspace") or request.GET.get("workspace")
    workspace = next((ws for ws in workspaces if str(ws.pk) == chosen), None) if chosen else workspaces[0]
    if workspace is None:
        raise Http404
    row = CampaignSettings.objects.filter(workspace=workspace).first() or CampaignSettings(workspace=workspace)
    form = CampaignSettingsForm(request.POST or None, initial={"share_with": row.share_with})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                campaign_settings_save(workspace=workspace, actor=request.user, **form.changes())
            except ValidationError as exc:
                add_errors(form, exc)
            else:
                messages.success(request, _("Saved the campaign settings of %(workspace)s.") % {"workspace": workspace.name})
                return redirect(reverse("dashboard:campaign-settings") + f"?workspace={workspace.pk}")
        status = 400
    key = row.google_service_account if isinstance(row.google_service_account, dict) else {}
    context = {
        "form": form,
        "workspace": workspace,
        "workspaces": workspaces,
        "has_wordstat_token": bool(row.wordstat_token),
        "google_client_email": key.get("client_email", ""),
        "has_google_service_account": bool(key),
    }
    return render_page(request, "dashboard/campaigns/settings.html", context, status=status)
