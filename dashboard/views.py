"""The operator dashboard: function views over the same services as the admin and the API.

Each page is one template with ``{% partialdef %}`` regions; an HTMX request
(polling, filters, actions) gets only the region it swaps. Every link and form
also works without JavaScript. Reads are scoped to the user's workspaces
(another workspace's object is a 404); a write needs the role the API asks for
in the object's workspace, else 403.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from functools import wraps
from itertools import pairwise
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import Truncator
from django.utils.timesince import timesince
from django.utils.timezone import template_localtime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, push_url

from accounts.imports import accounts_import_csv
from accounts.models import AccountEvent, AccountGroup, AccountStatus, Proxy, Role, SocialAccount
from accounts.selectors import scope
from accounts.services import accounts_assign_group, accounts_assign_proxy, accounts_set_enabled
from crosspost.choices import choice_label, value_label
from crosspost.links import id_url
from crosspost.logging import redact
from crosspost.models import LogStatus
from media.models import MediaAsset
from media.services import media_upload
from planning.evergreen import evergreen_set
from planning.recurrence import describe, recurrence_set, recurrence_stop
from planning.selectors import recurrence_of, repetitions_of
from platforms import base
from posts.models import ApprovalStatus, Post, PostMedia, PostStatus, StageStatus
from posts.pipeline import duration_display, has_pipeline, stages_of
from posts.services import DELETABLE_STATUSES, EDITABLE_STATUSES, post_create, post_delete, post_set_caption, post_update
from products.facts import Marketplace
from products.selectors import product_summary
from publishing.ai_captions import post_caption_edit, post_captions_generate
from publishing.approvals import (
    approval_needed,
    approvals_waiting_for,
    may_approve,
    post_approve,
    post_reject,
    post_submit,
)
from publishing.duplicates import post_duplicate_warnings
from publishing.models import Execution, ExecutionStatus, PostCaption
from publishing.pipeline import stage_retry
from publishing.planner import post_publish
from publishing.services import (
    CANCELLABLE,
    FINISHED_POST_STATUSES,
    RESOLVE_PUBLISHED,
    RETRYABLE,
    execution_cancel,
    execution_retry,
    executions_retry,
    post_cancel,
    post_resolve_unconfirmed,
)
from publishing.stats import account_success_rates
from sources.models import Delivery, IngestRecord, ItemStatus, Source
from sources.services import (
    record_retry,
    source_poll,
    source_save,
    source_set_enabled,
    webhook_connect,
    webhook_disconnect,
)
from sources.watched import watched_poll
from stats import exports as stats_exports
from stats import selectors as stats_selectors

from . import selectors
from .forms import (
    AccountFilterForm,
    ActivityFilterForm,
    AICaptionForm,
    BulkAccountsForm,
    CaptionForm,
    ComposeForm,
    ExportForm,
    ImportAccountsForm,
    ProxyImportForm,
    RepeatForm,
    SourceForm,
    UploadForm,
)
from .services import ai_captions_of, post_caption_review, translations_of

try:  # account and proxy checks arrive with the health services; without them the buttons are not shown
    from publishing.health import account_check
except ImportError:  # pragma: no cover - depends on the installed services
    account_check = None
try:
    from accounts.proxies import proxies_import
    from publishing.proxy_checks import proxy_check
except ImportError:  # pragma: no cover
    proxies_import = proxy_check = None

ACCOUNTS_PER_PAGE = 50
POSTS_PER_PAGE = 25
EXECUTIONS_PER_PAGE = 100
RESULTS_PER_PAGE = 25
ACTIVITY_PER_PAGE = 50
PROXIES_PER_PAGE = 50
EVENTS_ON_ACCOUNT_PAGE = 50


# --- helpers --------------------------------------------------------------------------------------


def render_page(request: HttpRequest, template: str, context: dict, partial: str | None = None, status: int = 200):
    """The whole page, or only ``partial`` of it when HTMX asks."""
    name = f"{template}#{partial}" if partial and request.htmx else template
    response = render(request, name, context, status=status)
    patch_vary_headers(response, ("HX-Request",))
    return response


def role_required(min_role: str):
    """403 unless the user has ``min_role`` in at least one workspace (the object's is checked again)."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            request.access = selectors.access_for(request.user)
            if not request.access.can_anywhere(min_role):
                raise PermissionDenied(_("You need the %(role)s role to do this.") % {"role": Role(min_role).label})
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def require_role_in(request, workspace_id: int, min_role: str) -> None:
    if not request.access.can(workspace_id, min_role):
        raise PermissionDenied(_("You need the %(role)s role in this workspace to do this.") % {"role": Role(min_role).label})


def error_text(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def add_errors(form, exc: ValidationError, default_field: str | None = None) -> None:
    """Put a service's ValidationError next to the form fields it names."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else default_field, errors)
    else:
        form.add_error(default_field, exc)


def back_to(request, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return fallback


def page_query(request, drop: str = "page") -> str:
    """The current filters as a query string without ``drop``, for pagination links."""
    return urlencode([(key, value) for key, values in request.GET.lists() if key != drop for value in values])


# --- overview -------------------------------------------------------------------------------------


@login_required
@require_GET
def overview(request):
    if request.htmx and "period" in request.GET:  # the Results section's 7/30 days toggle
        return render_page(request, "dashboard/overview.html", overview_results(request), "results")
    context = selectors.overview_context(request.user)
    if not request.htmx:  # the stats region polls; the Results section is read once, on the full page
        context.update(overview_results(request))
    return render_page(request, "dashboard/overview.html", context, "stats")


def overview_results(request) -> dict:
    """Top posts and the sums per group and platform over 7 or 30 days (``?period=``; else 7 days,
    with the reason shown)."""
    period_error = ""
    try:
        period = stats_selectors.period_from(request.GET.get("period"))
    except ValidationError as exc:
        period_error, period = error_text(exc), stats_selectors.period_from("7d")
    return {
        "period": period,
        "periods": [("7d", _("7 days")), ("30d", _("30 days"))],
        "period_error": period_error,
        "top_posts": stats_selectors.top_posts(request.user, period),
        "totals_by_group": stats_selectors.period_totals(request.user, period, "group"),
        "totals_by_platform": stats_selectors.period_totals(request.user, period, "platform"),
    }


# --- posts ----------------------------------------------------------------------------------------


@login_required
@require_GET
def posts(request):
    return posts_page(request, ExportForm.this_month())


def posts_page(request, export_form: ExportForm, status: int = 200):
    mine = request.GET.get("approval") == "mine"  # "Waiting for your approval"
    page = Paginator(selectors.posts_list(request.user, awaiting_my_approval=mine), POSTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    selectors.attach_progress(list(page))
    access = selectors.access_for(request.user)
    for post in page:
        post.can_delete = post.status in DELETABLE_STATUSES and access.can(post.workspace_id, Role.EDITOR)
    context = {
        "page": page,
        "query": page_query(request),
        "can_compose": access.can_anywhere(Role.EDITOR),
        "export_form": export_form,
        "awaiting_approval": approvals_waiting_for(request.user).count(),
        "approval_filter": mine,
    }
    return render_page(request, "dashboard/posts.html", context, "list", status=status)


@login_required
@require_GET
def posts_export(request):
    """Download the member's posts of a range of days with their executions and latest numbers
    (CSV or JSON, streamed); a bad range shows the posts page again with the form's errors."""
    form = ExportForm(request.GET)
    if not form.is_valid():
        return posts_page(request, form, status=400)
    period = form.cleaned_data["period"]
    posts = stats_exports.export_posts(request.user, period)
    if form.cleaned_data["format"] == "json":
        response = StreamingHttpResponse(stats_exports.posts_json(posts, period), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="{stats_exports.export_filename(period, "json")}"'
        return response
    return csv_response(stats_exports.posts_csv(posts, period), stats_exports.export_filename(period, "csv"))


def progress_context(request, post: Post) -> dict:
    access = getattr(request, "access", None) or selectors.access_for(request.user)
    counts = selectors.posts_progress([post.pk])[post.pk]
    status_filter = selectors.execution_filter(request.GET.get("status"))
    paginator = Paginator(selectors.post_executions(post, status_filter), EXECUTIONS_PER_PAGE)
    # The rows are executions the aggregate just counted: no second COUNT.
    paginator.count = selectors.filtered_count(counts, status_filter)
    page = paginator.get_page(request.GET.get("page"))
    can_act = access.can(post.workspace_id, Role.EDITOR)
    query = progress_query(status_filter, page.number)
    stages = pipeline_stages(post, can_act)
    context = {
        "post": post,
        "counts": counts,
        "page": page,
        "rows": execution_rows(page, can_act, f"?{query}" if query else ""),
        "status_filter": status_filter,
        "filters": progress_filters(counts, status_filter),
        "filter_query": f"status={status_filter}&" if status_filter else "",
        "stages": stages,
        "live": counts["open"] > 0 or pipeline_moving(post, stages),
        "can_act": can_act,
        "can_cancel_post": can_act and post.status not in FINISHED_POST_STATUSES and post.status != PostStatus.DRAFT,
        "can_edit_draft": can_act and post.status in EDITABLE_STATUSES and not counts["total"],
        "page_suffix": f"?{query}" if query else "",
        **approval_context(request, post, can_act, counts["total"]),
    }
    context["version"] = progress_version(context)
    return context


def progress_version(context: dict) -> str:
    """A digest of everything the progress region shows (the post's state and approval, the counts,
    the stages, the page of rows, the buttons offered, the language and time zone they are shown
    in): the region's poll sends it back as ``seen``, and an unchanged region is not sent again."""
    post, stages = context["post"], context["stages"]
    shown = (
        (post.pk, post.status, post.approval_status, post.approval_by_id, post.approval_at, post.approval_comment),
        post.updated_at,
        sorted((key, value) for key, value in context["counts"].items() if key != "statuses"),
        [(s.stage, s.status, s.duration_shown, s.error_shown, s.note, s.can_retry) for s in stages],
        context["rows"],
        (context["page"].number, context["page"].paginator.num_pages, context["status_filter"]),
        [context[flag] for flag in sorted(PROGRESS_FLAGS)],
        (translation.get_language(), timezone.get_current_timezone_name()),
    )
    return hashlib.sha256(repr(shown).encode()).hexdigest()[:20]


# The progress region's switches (which buttons and notes it shows), part of its version.
PROGRESS_FLAGS = (
    "live",
    "can_act",
    "can_cancel_post",
    "can_edit_draft",
    "approval_shown",
    "can_submit",
    "can_approve",
    "can_publish_approved",
)


def progress_query(status_filter: str, page: int | str | None) -> str:
    """The progress table's filter and page as a query string ("" for the first page of every execution)."""
    params = [("status", status_filter)] if status_filter else []
    if page and str(page) != "1":
        params.append(("page", str(page)))
    return urlencode(params)


def progress_filters(counts: dict, current: str) -> list[dict]:
    """The progress table's filter links: every execution, the problems (when there are any) and each
    status the summary names, with how many each shows."""
    problems = selectors.filtered_count(counts, selectors.PROBLEMS_FILTER)
    filters = [{"value": "", "label": _("All"), "count": counts["total"] or 0}]
    if problems:
        filters.append({"value": selectors.PROBLEMS_FILTER, "label": _("Problems"), "count": problems})
    filters += [dict(status) for status in counts["statuses"] if status["count"]]
    for item in filters:
        item["current"] = item["value"] == current
        item["query"] = progress_query(item["value"], None)
    return filters


def execution_rows(page, can_act: bool, suffix: str) -> list[dict]:
    """A page of post_executions' rows with what the table shows, worked out once per page (labels,
    links, the redacted error) rather than by template lookups and filters per row."""
    status_field, platform_field = Execution._meta.get_field("status"), SocialAccount._meta.get_field("platform")
    account_url = id_url("dashboard:account", uuid.UUID(int=0))
    retry_url, cancel_url = id_url("dashboard:execution-retry"), id_url("dashboard:execution-cancel")
    rows = []
    for row in page:
        status = row["status"]
        error = redact(row["error_message"]) if row["error_message"] else ""
        rows.append(
            {
                "pk": row["id"],
                "status": status,
                "status_label": value_label(status_field, status),
                "handle": row["handle"],
                "account_url": account_url(row["account_id"]),
                "platform_label": value_label(platform_field, row["platform"]),
                "language": row["language"],
                "attempts": row["attempts"],
                "scheduled": local_datetime(row["scheduled_for"]),
                "next_try": local_time(row["next_attempt_at"])
                if status in (ExecutionStatus.RETRY_WAIT, ExecutionStatus.BLOCKED)
                else "",
                "remote_url": row["remote_url"],
                "error_code": row["error_code"] if error else "",
                "error": Truncator(error).chars(200) if error else "",
                "retry_url": retry_url(row["id"]) + suffix if can_act and status in RETRYABLE else "",
                "cancel_url": cancel_url(row["id"]) + suffix if can_act and status in CANCELLABLE else "",
            }
        )
    return rows


def local_datetime(value) -> str:
    """What ``{{ value|date:"SHORT_DATETIME_FORMAT" }}`` shows."""
    return formats.date_format(template_localtime(value), "SHORT_DATETIME_FORMAT") if value else ""


def local_time(value) -> str:
    """What ``{{ value|time:"TIME_FORMAT" }}`` shows."""
    return formats.time_format(template_localtime(value), "TIME_FORMAT") if value else ""


def approval_context(request, post: Post, can_act: bool, executions: int) -> dict:
    """The post page's approval panel: its state and the buttons the member may press."""
    workspace = post.workspace
    shown = workspace.posts_need_approval or post.approval_status != ApprovalStatus.NOT_REQUIRED
    editable = post.status in EDITABLE_STATUSES
    waiting = post.approval_status == ApprovalStatus.PENDING
    return {
        "approval_shown": shown,
        "can_submit": can_act
        and editable
        and workspace.posts_need_approval
        and post.approval_status in (ApprovalStatus.NOT_REQUIRED, ApprovalStatus.REJECTED),
        "can_approve": editable and waiting and may_approve(request.user, workspace),
        "can_publish_approved": can_act
        and post.status == PostStatus.DRAFT
        and not executions
        and workspace.posts_need_approval
        and post.approval_status == ApprovalStatus.APPROVED,
    }


def pipeline_stages(post: Post, can_act: bool) -> list:
    """A source post's seven stages for the stepper ([] for a post composed by hand)."""
    if not has_pipeline(post):
        return []
    stages = stages_of(post)
    for stage in stages:
        stage.duration_shown = duration_display(stage.duration)
        stage.error_shown = redact(stage.error)
        stage.can_retry = can_act and stage.status == StageStatus.FAILED
    return stages


def pipeline_moving(post: Post, stages: list) -> bool:
    """Whether a stage runs or is about to (its predecessor ended and started it): the page polls.

    A stage waiting after a failed or reviewed one waits for the operator, not for a worker; the
    finalize stage waits for the post to finish (the executions' progress keeps the page live)."""
    settled = (StageStatus.DONE, StageStatus.SKIPPED)
    for before, stage in pairwise(stages):
        if stage.status == StageStatus.RUNNING:
            return True
        if stage.status == StageStatus.WAITING and before.status in settled:
            return stage.stage != "finalize" or post.status in FINISHED_POST_STATUSES
    return False


def scoped_post(request, pk: int) -> Post:
    return get_object_or_404(scope(Post.objects.select_related("workspace", "author"), request.user), pk=pk)


def editor_post(request, pk: int) -> Post:
    """The post, for an action: 404 outside the user's workspaces, 403 below editor in its own workspace."""
    post = scoped_post(request, pk)
    require_role_in(request, post.workspace_id, Role.EDITOR)
    return post


@login_required
@require_GET
def post_detail(request, pk: int):
    post = scoped_post(request, pk)
    request.access = selectors.access_for(request.user)  # read once for the progress and repeating sections
    context = progress_context(request, post)
    polled = request.htmx and not request.GET.get("results_page")
    if polled and request.GET.get("seen") == context["version"] and not len(messages.get_messages(request)):
        # The 2 s poll of a region whose every number, row and button is as the page shows it (and
        # no flash to show): 204, htmx keeps the region, rather than a hundred rows sent again.
        response = HttpResponse(status=204)
        patch_vary_headers(response, ("HX-Request",))
        return response
    if not request.htmx:  # the progress region polls; the product and AI captions are shown once, on the full page
        context["product"] = post_product(post)
        context["origin"] = selectors.post_origin(post)
        context["duplicates"] = post_duplicate_warnings(post, now=timezone.now())
        # Add to queue (calendar_views.post_queue): a draft or scheduled post, for editors.
        if context["can_act"] and post.status in EDITABLE_STATUSES:
            context["queue_groups"] = list(AccountGroup.objects.filter(workspace_id=post.workspace_id).order_by("name", "pk"))
            context["can_queue"] = True
    # The AI captions section is outside the polled region: the full page only.
    context["ai_captions"] = [] if request.htmx else ai_captions_of(post)
    if not request.htmx or request.GET.get("results_page"):
        context.update(results_context(request, post))
    if not request.htmx:  # repetitions change with the beat, not with this post's executions: not polled
        context.update(repeat_context(request, post))
    partial = "results" if request.htmx and request.GET.get("results_page") else "progress"
    return render_page(request, "dashboard/post_detail.html", context, partial)


def results_context(request, post: Post) -> dict:
    """The post's Results section: totals, sums per platform and language, the views chart and a
    page of per-account rows (the totals are over every account, not the page)."""
    results = stats_selectors.post_results(post)
    paginator = Paginator(stats_selectors.post_result_rows(post), RESULTS_PER_PAGE)
    paginator.count = results.totals["views"].of  # the rows are the publications the totals counted: no second count
    page = paginator.get_page(request.GET.get("results_page"))
    return {
        "results": results,
        "results_rows": [stats_selectors.row_of(snapshot) for snapshot in page],
        "results_page": page,
        "views_chart": selectors.views_chart(results.series),
        "metric_labels": [stats_selectors.METRIC_LABELS[m] for m in base.METRICS],
    }


def csv_response(lines, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_GET
def post_results_csv(request, pk: int):
    """The post's statistics: one row per publication with its latest numbers."""
    post = scoped_post(request, pk)
    return csv_response(stats_exports.post_csv(post), stats_exports.csv_filename(f"post-{post.pk}-results"))


@login_required
@require_GET
def period_results_csv(request):
    """Statistics of the member's publications finished in ``?period=7d|30d|YYYY-MM-DD..YYYY-MM-DD``."""
    try:
        period = stats_selectors.period_from(request.GET.get("period"))
    except ValidationError as exc:
        return HttpResponseBadRequest(error_text(exc), content_type="text/plain; charset=utf-8")
    return csv_response(stats_exports.period_csv(request.user, period), stats_exports.csv_filename(f"results-{period.key}"))


def post_product(post: Post) -> dict | None:
    """The product the post names, with its cached facts or why there are none (no marketplace call)."""
    summary = product_summary((post.options or {}).get("product"))
    if summary is not None and summary["marketplace"]:
        summary["marketplace_label"] = Marketplace(summary["marketplace"]).label
    return summary


def progress_response(request, post: Post, anchor_page: str | None = None, refused: bool = False):
    """After an action: the progress region for HTMX (409 when the action was refused, its reason
    in the flash area), else back to the post page."""
    if request.htmx:
        post.refresh_from_db()
        return render(
            request, "dashboard/post_detail.html#progress", progress_context(request, post), status=409 if refused else 200
        )
    url = reverse("dashboard:post", args=[post.pk])
    query = progress_query(selectors.execution_filter(request.GET.get("status")), anchor_page)  # the table as it was
    return redirect(url + (f"?{query}" if query else ""))


@login_required
@require_POST
@role_required(Role.EDITOR)
def post_stage_retry(request, pk: int, stage: str):
    """Run a failed pipeline stage again; the stages after it follow."""
    post = editor_post(request, pk)
    try:
        stage_retry(post=post, stage=stage, actor=request.user)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
        return progress_response(request, post, refused=True)
    messages.success(request, _("The stage was started again; the stages after it follow."))
    return progress_response(request, post)


@login_required
@require_POST
@role_required(Role.EDITOR)
def execution_action(request, pk: int, action: str):
    execution = get_object_or_404(scope(Execution.objects.select_related("account", "post"), request.user), pk=pk)
    require_role_in(request, execution.workspace_id, Role.EDITOR)
    service = {"retry": execution_retry, "cancel": execution_cancel}[action]
    try:
        service(execution=execution, actor=request.user)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
        return progress_response(request, execution.post, request.GET.get("page"), refused=True)
    done = _("Retry queued for %(handle)s.") if action == "retry" else _("Cancelled the post to %(handle)s.")
    messages.success(request, done % {"handle": execution.account.handle})
    return progress_response(request, execution.post, request.GET.get("page"))


@login_required
@require_POST
@role_required(Role.EDITOR)
def post_cancel_view(request, pk: int):
    post = editor_post(request, pk)
    try:
        result = post_cancel(post=post, actor=request.user)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
        return progress_response(request, post, request.GET.get("page"), refused=True)
    messages.success(
        request, _("Cancelled %(cancelled)d waiting execution(s); %(in_flight)d already posting will finish.") % result
    )
    return progress_response(request, post, request.GET.get("page"))


@login_required
@require_POST
@role_required(Role.EDITOR)
def post_retry_failed(request, pk: int):
    post = editor_post(request, pk)
    retried, problems = executions_retry(
        executions=Execution.objects.filter(post=post, status=ExecutionStatus.FAILED).select_related("account"),
        actor=request.user,
    )
    if retried:
        messages.success(request, _("Retrying %(count)d failed execution(s).") % {"count": retried})
    for problem in problems:
        messages.error(request, problem)
    return progress_response(request, post, request.GET.get("page"), refused=bool(problems) and not retried)


@login_required
@require_http_methods(["GET", "POST"])
@role_required(Role.EDITOR)
def post_delete_view(request, pk: int):
    """Delete a draft or a finished post: GET asks (a page of its own, so it works without JS), POST deletes."""
    post = editor_post(request, pk)
    context = {"post": post, "executions": post.executions.count()}
    if request.method == "GET":
        return render(request, "dashboard/post_delete.html", context)
    try:
        post_delete(post=post, actor=request.user)
    except ValidationError as exc:
        return render(request, "dashboard/post_delete.html", {**context, "error": error_text(exc)}, status=409)
    messages.success(request, _("Deleted “%(post)s”.") % {"post": post})
    url = reverse("dashboard:posts")
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@login_required
@require_POST
@role_required(Role.EDITOR)
def post_resolve_unconfirmed_view(request, pk: int, resolution: str):
    """Settle all of a post's unconfirmed executions: the operator checked the platform."""
    post = editor_post(request, pk)
    try:
        result = post_resolve_unconfirmed(post=post, resolution=resolution, actor=request.user)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        if resolution == RESOLVE_PUBLISHED:
            done = _("Marked %(count)d unconfirmed execution(s) as published.")
        else:
            done = _("Retrying %(count)d unconfirmed execution(s).")
        messages.success(request, done % {"count": result["resolved"]})
        for problem in result["problems"]:
            messages.error(request, problem)
    return progress_response(request, post, request.GET.get("page"))


@login_required
@require_POST
@role_required(Role.EDITOR)
def post_publish_again(request, pk: int):
    """Plan the post's blocked accounts again, once the operator has fixed what blocked them."""
    post = editor_post(request, pk)
    try:
        plan = post_publish(post=post, actor=request.user)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        report = messages.warning if plan.blocked else messages.success
        report(
            request,
            _("Publishing to %(planned)d account(s); %(blocked)d blocked.") % {"planned": plan.created, "blocked": plan.blocked},
        )
    return progress_response(request, post, request.GET.get("page"))


# --- repeating and evergreen ----------------------------------------------------------------------

REPETITIONS_SHOWN = 50


def repeat_context(request, post: Post, form: RepeatForm | None = None) -> dict:
    """The post page's Repeating section: for a repetition, its parent; otherwise the rule, the
    form to set it, the evergreen switch and the repetitions with their outcomes and numbers."""
    access = getattr(request, "access", None) or selectors.access_for(request.user)
    if post.parent_id is not None:
        return {"repeat": {"parent": Post.objects.filter(pk=post.parent_id).first()}}
    rule = recurrence_of(post)
    repetitions = list(repetitions_of(post)[:REPETITIONS_SHOWN])
    totals = stats_selectors.repetition_totals(post) if repetitions else {}
    for child in repetitions:
        child.views = totals[child.pk]["views"] if child.pk in totals else None
    can_act = access.can(post.workspace_id, Role.EDITOR)
    return {
        "repeat": {
            "rule": rule,
            "rule_text": describe(rule) if rule else "",
            "repetitions": repetitions,
            "more": post.repetitions.count() if len(repetitions) == REPETITIONS_SHOWN else 0,
            "can_act": can_act and post.status != PostStatus.CANCELLED,
            "form": form or RepeatForm(initial=RepeatForm.initial_from(rule, post)),
        }
    }


def repeat_response(request, post: Post, form: RepeatForm | None = None, status: int = 200):
    if not request.htmx:
        return redirect("dashboard:post", pk=post.pk)
    post.refresh_from_db()
    return render_page(
        request, "dashboard/post_detail.html", {"post": post, **repeat_context(request, post, form)}, "repeat", status
    )


@login_required
@require_POST
@role_required(Role.EDITOR)
def post_repeat(request, pk: int):
    """Set (or change) the post's repetition rule."""
    post = editor_post(request, pk)
    form = RepeatForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            rule = recurrence_set(
                post=post,
                frequency=data["frequency"],
                interval=data["interval"],
                weekdays=data["weekdays"],
                starts_at=data["starts_at"],
                until=data["until"],
                count=data["count"],
                actor=request.user,
            )
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, _("Repeats: %(rule)s.") % {"rule": describe(rule)})
            return repeat_response(request, post)
    if not request.htmx:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return repeat_response(request, post, form, status=400)


@login_required
@require_POST
@role_required(Role.EDITOR)
def post_repeat_stop(request, pk: int):
    post = editor_post(request, pk)
    if recurrence_stop(post=post, actor=request.user) is not None:
        messages.success(request, _("Stopped repeating; the repetitions made so far stay."))
    return repeat_response(request, post)


@login_required
@require_POST
@role_required(Role.EDITOR)
def post_evergreen(request, pk: int):
    """Put the post in its queue's evergreen set (``on=1``) or take it out."""
    post = editor_post(request, pk)
    try:
        evergreen_set(post=post, evergreen=request.POST.get("on") == "1", actor=request.user)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        if post.evergreen:
            messages.success(request, _("Evergreen: recycled into free queue slots."))
        else:
            messages.success(request, _("No longer evergreen."))
    return repeat_response(request, post)


# --- approvals (publishing.approvals: the service checks who may approve) ----------------------------


def approval_response(request, post: Post, change, done: str):
    try:
        change()
    except ValidationError as exc:
        messages.error(request, error_text(exc))
        return progress_response(request, post, request.GET.get("page"), refused=True)
    except PermissionDenied as exc:
        messages.error(request, str(exc))
        return progress_response(request, post, request.GET.get("page"), refused=True)
    messages.success(request, done)
    return progress_response(request, post, request.GET.get("page"))


@login_required
@require_POST
@role_required(Role.EDITOR)
def post_submit_view(request, pk: int):
    post = editor_post(request, pk)
    return approval_response(
        request,
        post,
        lambda: post_submit(post=post, actor=request.user),
        _("Submitted for approval: the approvers were told."),
    )


@login_required
@require_POST
def post_approve_view(request, pk: int):
    """Approvers may be of any role (Membership.can_approve): the service checks, not the decorator."""
    post = scoped_post(request, pk)
    comment = request.POST.get("comment", "")
    return approval_response(
        request,
        post,
        lambda: post_approve(post=post, actor=request.user, comment=comment),
        _("Approved: the post may be published now."),
    )


@login_required
@require_POST
def post_reject_view(request, pk: int):
    post = scoped_post(request, pk)
    comment = request.POST.get("comment", "")
    return approval_response(
        request,
        post,
        lambda: post_reject(post=post, actor=request.user, comment=comment),
        _("Rejected: the author was told why."),
    )


# --- composer -------------------------------------------------------------------------------------


def editable_draft(request, pk: int) -> Post:
    post = editor_post(request, pk)
    return post


def draft_media(post: Post) -> list:
    return [pm.asset for pm in PostMedia.objects.filter(post=post).select_related("asset").order_by("position")]


def bound_assets(request, form: ComposeForm) -> list[MediaAsset]:
    """The media a submitted form lists, in its order (those the user may see)."""
    ids = [int(i) for i in form.data.getlist("media") if str(i).isdigit()] if hasattr(form.data, "getlist") else []
    found = scope(MediaAsset.objects.all(), request.user).in_bulk(ids)
    return [found[i] for i in ids if i in found]


# A new composer page carries a key; the draft its first preview saves is remembered under it in
# the session, so a second preview from the same page (back button, double submit, a history
# snapshot) updates that draft instead of piling up another one.
COMPOSE_DRAFTS = "compose_drafts"
REMEMBERED_DRAFTS = 20


def draft_key(request) -> str:
    key = request.POST.get("draft_key", "")
    return key if 0 < len(key) <= 64 and key.isalnum() else ""


def session_draft(request) -> Post | None:
    """The draft this composer page saved already, if it is still an editable draft of the user's."""
    pk = request.session.get(COMPOSE_DRAFTS, {}).get(draft_key(request))
    if pk is None:
        return None
    post = scope(Post.objects.select_related("workspace", "author"), request.user).filter(pk=pk, status=PostStatus.DRAFT).first()
    if post is None or post.executions.exists() or not request.access.can(post.workspace_id, Role.EDITOR):
        return None
    return post


def remember_draft(request, post: Post) -> None:
    key = draft_key(request)
    if key:
        drafts = {k: v for k, v in request.session.get(COMPOSE_DRAFTS, {}).items() if k != key}
        drafts[key] = post.pk
        request.session[COMPOSE_DRAFTS] = dict(list(drafts.items())[-REMEMBERED_DRAFTS:])


def compose_context(request, form: ComposeForm, post: Post | None, preview: dict | None = None, assets=None) -> dict:
    if assets is None:
        assets = bound_assets(request, form) if form.is_bound else (draft_media(post) if post is not None else [])
    return {
        "form": form,
        "post": post,
        "draft_key": "" if post else (draft_key(request) or uuid.uuid4().hex),
        "can_delete": post is not None and post.status in DELETABLE_STATUSES,
        "assets": assets,
        "preview": preview,
        "action_url": reverse("dashboard:compose-edit", args=[post.pk]) if post else reverse("dashboard:compose"),
        "needs_approval": post is not None and approval_needed(post),
    }


@login_required
@require_http_methods(["GET", "POST"])
def compose(request, pk: int | None = None):
    """Compose a post; "Preview plan" saves it as a draft and shows the plan, "Publish" publishes it."""
    request.access = selectors.access_for(request.user)
    if not request.access.can_anywhere(Role.EDITOR):
        if request.method == "GET" and pk is None:
            return render(request, "dashboard/compose.html", {"form": None})
        raise PermissionDenied(_("You need the %(role)s role to do this.") % {"role": Role.EDITOR.label})
    post = editable_draft(request, pk) if pk is not None else None
    if post is not None and (post.status not in EDITABLE_STATUSES or post.executions.exists()):
        return redirect("dashboard:post", pk=post.pk)
    if post is None and request.method == "POST":
        post = session_draft(request)

    if request.method == "GET":
        form = ComposeForm(user=request.user, post=post, initial=ComposeForm.initial_from(post) if post else None)
        preview = post_caption_review(post) if post is not None and request.GET.get("preview") else None
        if preview is not None:
            preview["confirm_reset"] = request.GET.get("confirm_reset", "")
        return render_page(request, "dashboard/compose.html", compose_context(request, form, post, preview), "composer")

    form = ComposeForm(request.POST, request.FILES, user=request.user, post=post)
    move = request.POST.get("move", "")
    if move:
        return compose_reordered(request, form, post, move)
    if not form.is_valid():
        return render_page(request, "dashboard/compose.html", compose_context(request, form, post), "composer", status=400)

    workspace = post.workspace if post else form.cleaned_data["workspace"]
    assets = list(form.cleaned_data["media"])
    try:
        for upload in form.cleaned_data["files"]:
            asset, _created = media_upload(workspace=workspace, file=upload, actor=request.user)
            if asset.pk not in {a.pk for a in assets}:
                assets.append(asset)
        if post is None:
            post = post_create(workspace=workspace, author=request.user, media=assets, **form.post_fields())
            remember_draft(request, post)
        else:
            post = post_update(post=post, actor=request.user, media=assets, **form.post_fields())
    except ValidationError as exc:
        if hasattr(exc, "error_dict") and "file" in exc.error_dict:
            form.add_error("files", exc.error_dict["file"])
        else:
            add_errors(form, exc)
        context = compose_context(request, form, post, assets=assets)
        return render_page(request, "dashboard/compose.html", context, "composer", status=400)

    if request.POST.get("action") == "publish":
        return compose_publish(request, post, form)
    # Preview: the plan of the saved draft, nothing is created.
    edit_url = reverse("dashboard:compose-edit", args=[post.pk]) + "?preview=1"
    if not request.htmx:
        return redirect(edit_url)
    fresh = ComposeForm(user=request.user, post=post, initial=ComposeForm.initial_from(post))
    response = render(
        request, "dashboard/compose.html#composer", compose_context(request, fresh, post, post_caption_review(post))
    )
    return push_url(response, edit_url)


def compose_reordered(request, form: ComposeForm, post: Post | None, move: str):
    """No-JS fallback of the carousel buttons: move or remove one item and show the form again."""
    verb, _sep, raw_id = move.partition(":")
    data = request.POST.copy()
    ids = data.getlist("media")
    if raw_id in ids:
        index = ids.index(raw_id)
        if verb == "up" and index > 0:
            ids[index - 1], ids[index] = ids[index], ids[index - 1]
        elif verb == "down" and index < len(ids) - 1:
            ids[index + 1], ids[index] = ids[index], ids[index + 1]
        elif verb == "remove":
            ids.pop(index)
    data.setlist("media", ids)
    form = ComposeForm(data, user=request.user, post=post)
    return render_page(request, "dashboard/compose.html", compose_context(request, form, post), "composer")


def compose_publish(request, post: Post, form: ComposeForm):
    if approval_needed(post):
        # "Submit for approval" (the button's label in such a workspace): an approver decides first.
        return compose_submit(request, post)
    try:
        # The planner applies the operator's reviewed captions (and the policy's template) itself.
        plan = post_publish(
            post=post,
            actor=request.user,
            scheduled_at=form.cleaned_data["scheduled_at"],
            priority=form.cleaned_data["priority"],
        )
    except ValidationError as exc:
        messages.error(request, error_text(exc))
        url = reverse("dashboard:compose-edit", args=[post.pk]) + "?preview=1"
        return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    # Some targets blocked is not a plain success: say so in the warning colour.
    report = messages.warning if plan.blocked else messages.success
    report(
        request,
        _("Publishing to %(planned)d account(s); %(blocked)d blocked.") % {"planned": plan.created, "blocked": plan.blocked},
    )
    url = reverse("dashboard:post", args=[post.pk])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def compose_submit(request, post: Post):
    if post.approval_status == ApprovalStatus.PENDING:
        messages.info(request, _("The post is already waiting for approval."))
    else:
        try:
            post_submit(post=post, actor=request.user)
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, error_text(exc) if isinstance(exc, ValidationError) else str(exc))
            url = reverse("dashboard:compose-edit", args=[post.pk]) + "?preview=1"
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
        messages.success(request, _("Submitted for approval: the approvers were told; it is published once approved."))
    url = reverse("dashboard:post", args=[post.pk])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@login_required
@require_POST
@role_required(Role.EDITOR)
def compose_caption(request, pk: int):
    """Set (or reset to the translation) the operator's caption of one language, then show the plan again."""
    post = editable_draft(request, pk)
    form = CaptionForm(request.POST)
    caption_error = None
    url = reverse("dashboard:compose-edit", args=[post.pk]) + "?preview=1"
    reset = request.POST.get("reset") == "1"
    if form.is_valid() and reset and request.POST.get("confirm") != "1":
        # The hand-written caption is about to go: ask first (the JS confirm dialog sends confirm=1).
        language = form.cleaned_data["language"]
        if not request.htmx:
            return redirect(f"{url}&{urlencode({'confirm_reset': language})}")
        preview = post_caption_review(post)
        preview["confirm_reset"] = language
        context = {"post": post, "preview": preview, "assets": draft_media(post), "plan_only": True}
        return render(request, "dashboard/compose.html#plan", context)
    if form.is_valid() and reset:
        fallback = translations_of(post, [form.cleaned_data["language"]])[form.cleaned_data["language"]]
        if fallback.caption is None:
            caption_error = (form.cleaned_data["language"], fallback.problem)
    if form.is_valid() and caption_error is None:
        try:
            post_set_caption(
                post=post,
                language=form.cleaned_data["language"],
                caption=None if reset else form.cleaned_data["caption"],
                actor=request.user,
            )
        except ValidationError as exc:
            caption_error = (form.cleaned_data["language"], error_text(exc))
        else:
            done = _("The %(language)s caption is the translation again.") if reset else _("Saved the %(language)s caption.")
            messages.success(request, done % {"language": form.cleaned_data["language"]})
    elif not form.is_valid():
        caption_error = (request.POST.get("language", ""), " ".join(e for errs in form.errors.values() for e in errs))
    if not request.htmx:
        if caption_error:
            messages.error(request, caption_error[1])
        return redirect(url)
    preview = post_caption_review(post)
    preview["caption_error"] = caption_error
    return render(
        request,
        "dashboard/compose.html#plan",
        {"post": post, "preview": preview, "assets": draft_media(post), "plan_only": True},
        status=400 if caption_error else 200,
    )


def plan_response(request, post: Post, *, error: tuple[str, str] | None = None, ai_error: tuple | None = None):
    """The composer's plan region again after a caption action (400 when it was refused); without
    HTMX, back to ``next`` (the post's page) or the review page, with the refusal as a message."""
    if not request.htmx:
        for problem in (error, ai_error):
            if problem:
                messages.error(request, problem[-1])
        return redirect(back_to(request, reverse("dashboard:compose-edit", args=[post.pk]) + "?preview=1"))
    preview = post_caption_review(post)
    preview["caption_error"], preview["ai_caption_error"] = error, ai_error
    return render(
        request,
        "dashboard/compose.html#plan",
        {"post": post, "preview": preview, "assets": draft_media(post), "plan_only": True},
        status=400 if error or ai_error else 200,
    )


@login_required
@require_POST
@role_required(Role.EDITOR)
def compose_ai_caption(request, pk: int):
    """Save the operator's text of one platform's AI caption (checked against its rules), then show the plan again."""
    post = editable_draft(request, pk)
    form = AICaptionForm(request.POST)
    if not form.is_valid():
        problems = " ".join(e for errs in form.errors.values() for e in errs)
        return plan_response(
            request, post, ai_error=(request.POST.get("platform", ""), request.POST.get("language", ""), problems)
        )
    key = (form.cleaned_data["platform"], form.cleaned_data["language"])
    caption = get_object_or_404(PostCaption, post=post, platform=key[0], language=key[1])
    try:
        post_caption_edit(caption=caption, text=form.cleaned_data["caption"], actor=request.user)
    except ValidationError as exc:
        return plan_response(request, post, ai_error=(*key, error_text(exc)))
    messages.success(
        request,
        _("Saved the %(platform)s caption (%(language)s).") % {"platform": caption.get_platform_display(), "language": key[1]},
    )
    return plan_response(request, post)


@login_required
@require_POST
@role_required(Role.EDITOR)
def compose_ai_generate(request, pk: int):
    """Write the AI captions the post's targets still need (fresh and edited ones are kept)."""
    post = editable_draft(request, pk)
    try:
        outcome = post_captions_generate(post=post)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
        return plan_response(request, post)
    report = messages.warning if outcome.problems else messages.success
    report(
        request,
        _("Wrote %(stored)d AI caption(s), kept %(kept)d; %(failed)d could not be written.")
        % {"stored": outcome.stored, "kept": outcome.kept, "failed": len(outcome.problems)},
    )
    return plan_response(request, post)


@login_required
@require_POST
@role_required(Role.EDITOR)
def upload(request):
    """One file from the composer's drop zone → media_upload; answers with its carousel item."""
    form = UploadForm(request.POST, request.FILES, user=request.user)
    if not form.is_valid():
        return render(request, "dashboard/_upload_error.html", {"form": form}, status=400)
    workspace = form.cleaned_data["workspace"]
    require_role_in(request, workspace.pk, Role.EDITOR)
    try:
        asset, _created = media_upload(workspace=workspace, file=form.cleaned_data["file"], actor=request.user)
    except ValidationError as exc:
        add_errors(form, exc, default_field="file")
        return render(request, "dashboard/_upload_error.html", {"form": form}, status=400)
    return render(request, "dashboard/_media_item.html", {"asset": asset})


# --- accounts -------------------------------------------------------------------------------------


def accounts_context(request, bulk_form=None, import_form=None, import_report=None) -> dict:
    access = getattr(request, "access", None) or selectors.access_for(request.user)
    groups = selectors.groups_for(request.user)
    filters = AccountFilterForm(request.GET or None, groups=groups, languages=selectors.account_languages(request.user))
    queryset = filters.apply(selectors.accounts_list(request.user))
    page = Paginator(queryset, ACCOUNTS_PER_PAGE).get_page(request.GET.get("page"))
    rates = account_success_rates(account.pk for account in page)  # one query for the page
    # What each row shows, worked out once per page: labels by choice_label (get_FOO_display rebuilds
    # a hashed dict of lazy choices per call), the link reversed once.
    account_url = id_url("dashboard:account", uuid.UUID(int=0))
    for account in page:
        account.can_admin = access.can(account.workspace_id, Role.ADMIN)
        account.success_rate = rates[account.pk]
        account.link = account_url(account.pk)
        account.platform_label = choice_label(account, "platform")
        account.status_label = choice_label(account, "status")
        if account.proxy is not None:
            account.proxy_status_label = choice_label(account.proxy, "status")
        account.last_check = _("%(ago)s ago") % {"ago": timesince(account.last_check_at)} if account.last_check_at else _("never")
    can_admin = access.can_anywhere(Role.ADMIN)
    admin_groups = [g for g in groups if access.can(g.workspace_id, Role.ADMIN)]
    proxies = selectors.free_proxies(request.user) if can_admin else []
    return {
        "filters": filters,
        "page": page,
        "query": page_query(request),
        "can_admin": can_admin,
        "bulk_form": bulk_form or BulkAccountsForm(groups=admin_groups, proxies=proxies),
        "import_form": import_form or (ImportAccountsForm(user=request.user) if can_admin else None),
        "import_report": import_report,
        "can_check": account_check is not None,
    }


@login_required
@require_GET
def accounts(request):
    return render_page(request, "dashboard/accounts.html", accounts_context(request), "table")


@login_required
@require_POST
@role_required(Role.ADMIN)
def accounts_bulk(request):
    groups = selectors.groups_for(request.user, Role.ADMIN)
    form = BulkAccountsForm(request.POST, groups=groups, proxies=selectors.free_proxies(request.user))
    if form.is_valid():
        try:
            bulk_apply(request, form)
        except ValidationError as exc:
            add_errors(form, exc)
    if not form.is_valid() or form.errors:
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            for error in errors:
                messages.error(request, f"{label}: {error}" if label else error)
    if request.htmx:
        status = 400 if form.errors else 200
        return render_page(request, "dashboard/accounts.html", accounts_context(request), "table", status=status)
    return redirect(back_to(request, reverse("dashboard:accounts")))


def bulk_apply(request, form: BulkAccountsForm) -> None:
    ids = form.cleaned_data["ids"]
    visible = scope(SocialAccount.objects.filter(pk__in=ids), request.user)
    allowed = scope(SocialAccount.objects.filter(pk__in=ids), request.user, Role.ADMIN)
    if allowed.count() != visible.count():
        raise PermissionDenied(_("You need the admin role in the workspace of every selected account."))
    action = form.cleaned_data["action"]
    if action in ("enable", "disable"):
        changed = accounts_set_enabled(accounts=allowed, enabled=action == "enable", actor=request.user)
        messages.success(request, _("%(count)d account(s) changed.") % {"count": changed})
    elif action == "assign_group":
        count = accounts_assign_group(accounts=allowed, group=form.chosen_group, actor=request.user)
        messages.success(request, _("%(count)d account(s) moved.") % {"count": count})
    elif action == "assign_proxy":
        count = accounts_assign_proxy(accounts=allowed, proxy=form.chosen_proxy, actor=request.user)
        messages.success(request, _("%(count)d account(s) updated.") % {"count": count})
    elif action == "check" and account_check is not None:
        for account in allowed.select_related("proxy", "workspace"):
            health = account_check(account=account, actor=request.user)
            level = messages.SUCCESS if health.ok else messages.WARNING
            messages.add_message(request, level, f"{account.handle}: {redact(health.detail)}")


@login_required
@require_POST
@role_required(Role.ADMIN)
def accounts_import(request):
    form = ImportAccountsForm(request.POST, request.FILES, user=request.user)
    report = None
    if form.is_valid():
        workspace = form.cleaned_data["workspace"]
        require_role_in(request, workspace.pk, Role.ADMIN)
        stream = io.TextIOWrapper(form.cleaned_data["file"].file, encoding="utf-8-sig", newline="")
        report = accounts_import_csv(
            workspace=workspace,
            stream=stream,
            skip_invalid=form.cleaned_data["skip_invalid"],
            create_groups=form.cleaned_data["create_groups"],
            dry_run=form.cleaned_data["dry_run"],
            actor=request.user,
        )
        if report.committed:
            messages.success(request, _("Imported %(count)d account(s).") % {"count": report.created})
    status = 400 if not form.is_valid() or (report and report.errors and not report.committed) else 200
    context = accounts_context(request, import_form=form, import_report=report)
    return render_page(request, "dashboard/accounts.html", context, "import", status=status)


@login_required
@require_GET
def account_detail(request, pk):
    account = get_object_or_404(selectors.account_page(request.user), pk=pk)
    access = selectors.access_for(request.user)
    events = AccountEvent.objects.filter(account=account).select_related("actor").order_by("-created_at")[:EVENTS_ON_ACCOUNT_PAGE]
    executions = (
        Execution.objects.filter(account=account)
        .select_related("post")
        .only(
            "id",
            "status",
            "attempts",
            "scheduled_for",
            "finished_at",
            "remote_url",
            "error_message",
            "post__id",
            "post__title",
            "post__caption",
            "post_id",
            "account_id",
        )
        .order_by("-scheduled_for", "-pk")[:EVENTS_ON_ACCOUNT_PAGE]
    )
    executions = list(executions)
    for execution in executions:
        execution.error_shown = redact(execution.error_message)
    return render_page(
        request,
        "dashboard/account_detail.html",
        {
            "account": account,
            "events": events,
            "executions": executions,
            "can_admin": access.can(account.workspace_id, Role.ADMIN),
            "can_check": account_check is not None,
            "status_reason": redact(account.status_reason),
            "success_rate": account_success_rates([account.pk])[account.pk],
            "recent_results": stats_selectors.account_recent(account),
            "results_30d": stats_selectors.account_totals(account, stats_selectors.period_from("30d")),
            "metric_labels": [stats_selectors.METRIC_LABELS[m] for m in base.METRICS],
            "active": AccountStatus.ACTIVE,
            "disabled": AccountStatus.DISABLED,
        },
    )


# --- proxies --------------------------------------------------------------------------------------


def proxies_context(request, import_form=None, import_report=None) -> dict:
    access = getattr(request, "access", None) or selectors.access_for(request.user)
    page = Paginator(selectors.proxies_list(request.user), PROXIES_PER_PAGE).get_page(request.GET.get("page"))
    for proxy in page:
        proxy.can_admin = access.can(proxy.workspace_id, Role.ADMIN)
        proxy.error_shown = redact(proxy.last_error)
    can_admin = access.can_anywhere(Role.ADMIN)
    return {
        "page": page,
        "query": page_query(request),
        "can_admin": can_admin,
        "can_check": proxy_check is not None,
        "import_form": import_form or (ProxyImportForm(user=request.user) if can_admin and proxies_import else None),
        "import_report": import_report,
    }


@login_required
@require_GET
def proxies(request):
    return render_page(request, "dashboard/proxies.html", proxies_context(request), "table")


@login_required
@require_POST
@role_required(Role.ADMIN)
def proxy_check_view(request, pk: int):
    if proxy_check is None:
        raise PermissionDenied(_("Proxy checks are not available in this installation."))
    proxy = get_object_or_404(scope(Proxy.objects.all(), request.user), pk=pk)
    require_role_in(request, proxy.workspace_id, Role.ADMIN)
    result = proxy_check(proxy=proxy, actor=request.user)
    if not request.htmx:
        level = messages.SUCCESS if result.ok else messages.WARNING
        messages.add_message(request, level, f"{proxy.display_url}: {redact(result.error) or result.status}")
        return redirect(back_to(request, reverse("dashboard:proxies")))
    proxy = selectors.proxies_list(request.user).get(pk=pk)
    proxy.can_admin, proxy.error_shown = True, redact(proxy.last_error)
    return render(request, "dashboard/proxies.html#row", {"proxy": proxy, "can_check": True})


@login_required
@require_POST
@role_required(Role.ADMIN)
def proxies_import_view(request):
    if proxies_import is None:
        raise PermissionDenied(_("Proxy import is not available in this installation."))
    form = ProxyImportForm(request.POST, user=request.user)
    report = None
    if form.is_valid():
        workspace = form.cleaned_data["workspace"]
        require_role_in(request, workspace.pk, Role.ADMIN)
        try:
            report = proxies_import(
                workspace=workspace,
                text=form.cleaned_data["text"],
                country=form.cleaned_data["country"],
                max_accounts=form.cleaned_data["max_accounts"],
                skip_invalid=form.cleaned_data["skip_invalid"],
                actor=request.user,
            )
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            if report.created:
                messages.success(request, _("Imported %(count)d proxies.") % {"count": len(report.created)})
    status = 400 if form.errors or (report and report.errors and not report.created) else 200
    context = proxies_context(request, import_form=form, import_report=report)
    return render_page(request, "dashboard/proxies.html", context, "import", status=status)


# --- activity -------------------------------------------------------------------------------------


@login_required
@require_GET
def activity(request):
    workspace_ids = selectors.visible_workspace_ids(request.user)
    actions = selectors.activity_actions(request.user, workspace_ids)
    filters = ActivityFilterForm(request.GET or None, actions=actions, statuses=LogStatus.choices)
    # Keyset pages (?before=<id of the last row shown>): the log grows by the million, so no COUNT and no OFFSET.
    rows = filters.apply(selectors.activity_list(request.user, workspace_ids))
    page = selectors.keyset_page(rows, request.GET.get("before"), ACTIVITY_PER_PAGE)
    for entry in page:
        entry.details_json = selectors.pretty_json(entry.details) if entry.details else ""
    context = {"filters": filters, "page": page, "query": page_query(request, drop="before")}
    return render_page(request, "dashboard/activity.html", context, "table")


# --- sources --------------------------------------------------------------------------------------


def scoped_source(request, pk: int, min_role: str = Role.VIEWER) -> Source:
    """The source: 404 outside the user's workspaces, 403 below ``min_role`` in its own."""
    source = get_object_or_404(scope(Source.objects.select_related("workspace"), request.user), pk=pk)
    if min_role != Role.VIEWER:
        require_role_in(request, source.workspace_id, min_role)
    return source


@login_required
@require_GET
def sources(request):
    access = selectors.access_for(request.user)
    items = list(selectors.sources_list(request.user))
    for source in items:
        source.can_admin = access.can(source.workspace_id, Role.ADMIN)
    return render(request, "dashboard/sources.html", {"sources": items, "can_create": access.can_anywhere(Role.ADMIN)})


@login_required
@require_GET
def source_detail(request, pk: int):
    source = scoped_source(request, pk)
    can_admin = selectors.access_for(request.user).can(source.workspace_id, Role.ADMIN)
    records = selectors.source_records(source)
    for record in records:
        record.label = record_label(record)
    found = selectors.source_items(source) if source.watched else []
    return render(
        request,
        "dashboard/source_detail.html",
        {
            "source": source,
            "records": records,
            "found": found,
            "can_admin": can_admin,
            "groups": list(source.target_groups.all()),
            "accounts": list(source.target_accounts.all()),
            "failed": ItemStatus.FAILED,
            "webhook": Delivery.WEBHOOK,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
@role_required(Role.ADMIN)
def source_edit(request, pk: int | None = None):
    """Create a source, or change one (an empty token field keeps the stored token)."""
    source = scoped_source(request, pk, Role.ADMIN) if pk is not None else None
    if request.method == "GET":
        form = SourceForm(user=request.user, source=source)
        return render(request, "dashboard/source_form.html", {"form": form, "source": source})
    form = SourceForm(request.POST, user=request.user, source=source)
    if form.is_valid():
        target = source or Source(workspace=form.cleaned_data["workspace"], kind=form.cleaned_data["kind"])
        require_role_in(request, target.workspace_id, Role.ADMIN)
        try:
            source_save(
                source=form.apply(target),
                bot_token=form.cleaned_data["bot_token"],
                target_groups=list(form.cleaned_data["target_groups"]),
                target_accounts=list(form.cleaned_data["target_accounts"]),
            )
        except ValidationError as exc:
            if hasattr(exc, "error_dict") and "options" in exc.error_dict and not target.watched:
                exc.error_dict["chat_id"] = exc.error_dict.pop("options")
            add_errors(form, exc)
        else:
            done = _("Saved the source “%(source)s”.") if source else _("Created the source “%(source)s”.")
            messages.success(request, done % {"source": target.name})
            return redirect("dashboard:source", pk=target.pk)
    return render(request, "dashboard/source_form.html", {"form": form, "source": source}, status=400)


def record_label(record: IngestRecord) -> str:
    kind, _sep, value = record.key.partition(":")
    return _("Album %(id)s") % {"id": value} if kind == "group" else _("Message %(id)s") % {"id": value}


def _telegram_call(request, source: Source, call) -> None:
    """Run a Bot API call for ``source``; Telegram's refusal becomes an error message."""
    try:
        done = call()
    except base.PlatformError as error:
        messages.error(request, _("Telegram refused: %(error)s") % {"error": error.message})
    else:
        messages.success(request, done)


@login_required
@require_POST
@role_required(Role.ADMIN)
def source_poll_view(request, pk: int):
    source = scoped_source(request, pk, Role.ADMIN)

    if source.watched:
        try:
            made = watched_poll(source=source)
        except base.PlatformError as error:
            messages.error(request, _("The poll failed: %(error)s") % {"error": error.message})
        else:
            messages.success(request, ngettext("%(count)s post made.", "%(count)s posts made.", made) % {"count": made})
        return redirect(back_to(request, reverse("dashboard:source", args=[source.pk])))

    def poll() -> str:
        count = source_poll(source=source)
        return ngettext("%(count)s update received.", "%(count)s updates received.", count) % {"count": count}

    _telegram_call(request, source, poll)
    return redirect(back_to(request, reverse("dashboard:source", args=[source.pk])))


@login_required
@require_POST
@role_required(Role.ADMIN)
def source_delivery_view(request, pk: int, delivery: str):
    """Webhook (setWebhook to this server's public HTTPS address) or long polling (deleteWebhook)."""
    source = scoped_source(request, pk, Role.ADMIN)
    if delivery == Delivery.POLLING:
        _telegram_call(request, source, lambda: (webhook_disconnect(source=source), _("Polling again."))[1])
    else:
        url = request.build_absolute_uri(reverse("source-telegram-webhook", args=[source.pk]))
        if not url.startswith("https://"):
            messages.error(
                request,
                _(
                    "Telegram only calls HTTPS webhooks, and this page was opened at %(url)s. "
                    "Open the dashboard at its public HTTPS address and try again."
                )
                % {"url": url},
            )
        else:
            _telegram_call(
                request,
                source,
                lambda: (webhook_connect(source=source, url=url), _("Telegram now sends updates to %(url)s.") % {"url": url})[1],
            )
    return redirect(back_to(request, reverse("dashboard:source", args=[source.pk])))


@login_required
@require_POST
@role_required(Role.ADMIN)
def source_enabled_view(request, pk: int, enabled: bool):
    source = scoped_source(request, pk, Role.ADMIN)
    source_set_enabled(source=source, enabled=enabled)
    done = _("“%(source)s” is enabled.") if enabled else _("“%(source)s” is disabled: it takes no new messages.")
    messages.success(request, done % {"source": source.name})
    return redirect(back_to(request, reverse("dashboard:source", args=[source.pk])))


@login_required
@require_POST
@role_required(Role.ADMIN)
def ingest_record_retry(request, pk: int):
    record = get_object_or_404(
        scope(IngestRecord.objects.select_related("source"), request.user, field="source__workspace"), pk=pk
    )
    require_role_in(request, record.source.workspace_id, Role.ADMIN)
    if record_retry(record=record):
        messages.success(request, _("%(record)s will be tried again by the next ingest run.") % {"record": record_label(record)})
    else:
        messages.error(request, _("Only a failed message can be tried again."))
    return redirect(back_to(request, reverse("dashboard:source", args=[record.source_id])))
