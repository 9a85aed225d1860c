"""Dashboard pages for the video studio: recordings (with the workspace's usage and the member's
studio permissions, an import form, "sync sources now" and a batch run), a recording's page with
its run's live progress (an HTMX region polled every second while the job moves, as on a
campaign's page), why its template matched, its results and actions; templates, output presets and
input sources with their forms.

Reads are scoped to the member's workspaces (another workspace's object is a 404); writes need the
editor role in the object's workspace (sources: admin), else 403. Every write calls studio.services
/ studio.runner, as the API and the admin do; what they refuse (ValidationError, PermissionDenied
for a missing studio permission, quotas.QuotaExceeded) becomes a message saying what to do."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Role
from accounts.selectors import scope, workspaces_for
from crosspost.models import JobStatus
from dashboard import selectors as dashboard_selectors
from dashboard.views import add_errors, error_text, page_query, render_page, require_role_in, role_required

from . import quotas
from .forms import (
    BatchForm,
    ChooseTemplateForm,
    ImportForm,
    PresetForm,
    RecordingFilterForm,
    RunForm,
    SourceForm,
    TemplateForm,
)
from .models import FileKind, InputSource, OutputPreset, Recording, RecordingStatus, Step, Template
from .runner import STEPS, UNTIL, recording_cancel, recording_run
from .services import (
    PLACEHOLDERS,
    preset_save,
    recording_delete,
    recording_set_template,
    recording_skip,
    source_save,
    source_sync,
    template_save,
)
from .services import (
    recording_import as import_recording,
)

RECORDINGS_PER_PAGE = 25
USAGE_PANELS = 10
ACTIONS = {
    "process": gettext_lazy("Process (silences)"),
    "transcribe": gettext_lazy("Transcribe"),
    "publish": gettext_lazy("Publish"),
    "full-pipeline": gettext_lazy("Full pipeline"),
}


def refusal(exc: Exception) -> str:
    """What a service refused, as one message (a ValidationError's messages, or PermissionDenied's)."""
    if isinstance(exc, ValidationError):
        return error_text(exc)
    return str(exc) or _("You may not do this here.")


def scoped_recording(request, pk: int, min_role: str = Role.VIEWER) -> Recording:
    recording = get_object_or_404(
        scope(Recording.objects.select_related("workspace", "job", "template", "source"), request.user), pk=pk
    )
    if min_role != Role.VIEWER:
        require_role_in(request, recording.workspace_id, min_role)
    return recording


def usage_panels(user, workspace_ids=None) -> list[dict]:
    """Per workspace: storage, this month's recordings and running jobs against the quotas, with the
    member's studio permissions."""
    workspaces = workspaces_for(user).distinct().order_by("name", "pk")
    if workspace_ids is not None:
        workspaces = workspaces.filter(pk__in=workspace_ids)
    panels = []
    for workspace in workspaces[:USAGE_PANELS]:
        usage = quotas.usage_for(workspace.pk)
        limits = usage.limits
        panels.append(
            {
                "workspace": workspace,
                "usage": usage,
                "jobs_percent": usage.percent(usage.jobs_running, limits.concurrent_jobs),
                "permissions": [
                    (quotas.NEEDED[name], granted) for name, granted in quotas.permissions_for(user, workspace.pk).items()
                ],
            }
        )
    return panels


def step_marks(recording: Recording) -> list[dict]:
    """The six steps with a mark each: done, current, waiting, failed or cancelled (the step the
    run stopped at), like a campaign's stages. Without a run, steps up to ``finished_step`` are done."""
    job = recording.job
    finished = STEPS.index(recording.finished_step) if recording.finished_step else -1
    at = STEPS.index(job.stage) if job is not None and job.stage in STEPS else None
    marks = []
    for index, step in enumerate(STEPS):
        if job is None or at is None:
            mark = "done" if index <= finished else "waiting"
        elif job.status == JobStatus.COMPLETED:
            mark = "done" if index <= max(finished, at) else "waiting"
        elif index < at:
            mark = "done"
        elif index > at:
            mark = "waiting"
        else:
            mark = {JobStatus.FAILED: "failed", JobStatus.CANCELLED: "cancelled"}.get(job.status, "current")
        marks.append({"step": step, "label": Step(step).label, "mark": mark})
    return marks


def progress_context(request, recording: Recording) -> dict:
    job = recording.job
    live = job is not None and not job.finished
    access = dashboard_selectors.access_for(request.user)
    if job is not None:
        progress = job.progress
    else:
        progress = 100 if recording.finished_step == Step.PUBLISH else 0
    return {
        "recording": recording,
        "job": job,
        "live": live,
        "progress": progress,
        "steps": step_marks(recording),
        "can_edit": access.can(recording.workspace_id, Role.EDITOR),
    }


def _back(recording: Recording):
    return redirect(reverse("dashboard:studio-recording", args=[recording.pk]))


# --- recordings -----------------------------------------------------------------------------------


@login_required
@require_GET
def recordings(request):
    form = RecordingFilterForm(request.GET or None, user=request.user)
    rows = scope(Recording.objects.select_related("workspace", "job", "template", "source"), request.user)
    if form.is_valid():
        data = form.cleaned_data
        if data["q"]:
            rows = rows.filter(Q(display_name__icontains=data["q"]) | Q(title__icontains=data["q"]))
        if data["status"]:
            rows = rows.filter(status=data["status"])
        if data["source"]:
            rows = rows.filter(source=data["source"])
        if data["template"]:
            rows = rows.filter(template=data["template"])
    page = Paginator(rows.order_by("-created_at", "-pk"), RECORDINGS_PER_PAGE).get_page(request.GET.get("page"))
    access = dashboard_selectors.access_for(request.user)
    can_edit = access.can_anywhere(Role.EDITOR)
    context = {
        "form": form,
        "page": page,
        "query": page_query(request),
        "can_edit": can_edit,
        "can_configure": access.can_anywhere(Role.ADMIN),
        "import_form": ImportForm(user=request.user) if can_edit else None,
        "panels": usage_panels(request.user),
        "statuses": RecordingStatus,
    }
    return render_page(request, "dashboard/studio/list.html", context, partial="rows")


@login_required
@require_POST
@role_required(Role.EDITOR)
def recording_import(request):
    """An uploaded file or an address becomes a recording (the same checks as the API's import)."""
    form = ImportForm(request.POST, request.FILES, user=request.user)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect("dashboard:studio")
    workspace = form.cleaned_data["workspace"]
    require_role_in(request, workspace.pk, Role.EDITOR)
    try:
        recording, created = import_recording(
            workspace=workspace, actor=request.user, file=form.cleaned_data.get("file"), url=form.cleaned_data.get("url") or ""
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, refusal(exc))
        return redirect("dashboard:studio")
    if created:
        messages.success(request, _("Imported “%(name)s”.") % {"name": recording.display_name})
    else:
        messages.info(request, _("This file was imported before: here it is."))
    return _back(recording)


@login_required
@require_POST
@role_required(Role.EDITOR)
def recordings_sync(request):
    """List every enabled source of the member's workspaces now (new recordings are imported once)."""
    sources = scope(InputSource.objects.filter(enabled=True).select_related("workspace"), request.user, Role.EDITOR)
    if not sources.exists():
        messages.info(request, _("No enabled input source to sync; an admin adds sources on the Sources page."))
        return redirect("dashboard:studio")
    for source in sources.order_by("pk")[:50]:
        _sync_one(request, source)
    return redirect("dashboard:studio")


def _sync_one(request, source: InputSource) -> None:
    try:
        report = source_sync(source=source, actor=request.user)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, f"{source.name}: {refusal(exc)}")
        return
    if report.error:
        messages.error(request, f"{source.name}: {report.error}")
    count = len(report.created)
    messages.success(
        request,
        ngettext("%(source)s: %(count)d new recording.", "%(source)s: %(count)d new recordings.", count)
        % {"source": source.name, "count": count},
    )


@login_required
@require_POST
@role_required(Role.EDITOR)
def recordings_batch(request):
    """Run the whole pipeline of every selected recording; each refused one says why."""
    form = BatchForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Select the recordings to run first."))
        return redirect("dashboard:studio")
    ids = list(dict.fromkeys(form.cleaned_data["ids"]))
    found = {r.pk: r for r in scope(Recording.objects.select_related("workspace"), request.user).filter(pk__in=ids)}
    started = 0
    for pk in ids:
        recording = found.get(pk)
        if recording is None:
            messages.error(request, _("Recording %(id)s: not in your workspaces.") % {"id": pk})
            continue
        if not request.access.can(recording.workspace_id, Role.EDITOR):
            messages.error(request, _("%(name)s: you need the editor role in its workspace.") % {"name": recording})
            continue
        try:
            with transaction.atomic():
                recording_run(recording=recording, actor=request.user, until=UNTIL["full-pipeline"])
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, f"{recording}: {refusal(exc)}")
        else:
            started += 1
    if started:
        messages.success(
            request,
            ngettext("Started the pipeline of %(count)d recording.", "Started the pipeline of %(count)d recordings.", started)
            % {"count": started},
        )
    return redirect("dashboard:studio")


# --- a recording's page ---------------------------------------------------------------------------


@login_required
@require_GET
def recording_detail(request, pk: int):
    """The whole page; an HTMX poll gets only the progress region. When that poll sees the run end,
    the page reloads once, so what the run wrote appears."""
    recording = scoped_recording(request, pk)
    context = progress_context(request, recording)
    if request.htmx and request.GET.get("region") == "progress":
        response = render_page(request, "dashboard/studio/detail.html", context, partial="progress")
        if not context["live"] and request.GET.get("was") == "live":
            response["HX-Refresh"] = "true"
        return response
    reason = recording.match_reason or {}
    files = {row.kind: row for row in recording.files.all()}
    permissions = quotas.permissions_for(request.user, recording.workspace_id)
    chapters = (recording.topics or {}).get("chapters") or []
    context.update(
        {
            "reason": reason,
            "permissions": permissions,
            "template_form": ChooseTemplateForm(recording=recording),
            "actions": list(ACTIONS.items()),
            "redo_steps": [(s["step"], s["label"]) for s in context["steps"]][: _redo_limit(recording)],
            "files": files,
            "has_srt": FileKind.SRT in files,
            "has_vtt": FileKind.VTT in files,
            "chapters": chapters,
            "posts": recording.posts.order_by("pk"),
            "skipped": recording.status == RecordingStatus.SKIPPED,
        }
    )
    return render_page(request, "dashboard/studio/detail.html", context)


def _redo_limit(recording: Recording) -> int:
    """A run may redo from a step whose previous step finished (so up to one past the last finished)."""
    return (STEPS.index(recording.finished_step) + 2) if recording.finished_step else 1


@login_required
@require_POST
@role_required(Role.EDITOR)
def recording_run_view(request, pk: int):
    recording = scoped_recording(request, pk, Role.EDITOR)
    form = RunForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(_("Unknown action or step."))
    action, from_step = form.cleaned_data["action"], form.cleaned_data["from_step"] or None
    try:
        recording_run(recording=recording, actor=request.user, until=UNTIL[action], from_step=from_step)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, refusal(exc))
    else:
        if from_step:
            messages.success(request, _("Running again from “%(step)s”.") % {"step": Step(from_step).label})
        else:
            messages.success(request, _("Started: %(action)s.") % {"action": ACTIONS[action]})
    return _back(recording)


@login_required
@require_POST
@role_required(Role.EDITOR)
def recording_cancel_view(request, pk: int):
    recording = scoped_recording(request, pk, Role.EDITOR)
    try:
        recording_cancel(recording=recording, actor=request.user)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, refusal(exc))
    else:
        messages.success(request, _("Cancelling: the run stops within seconds; finished steps are kept."))
    return _back(recording)


@login_required
@require_POST
@role_required(Role.EDITOR)
def recording_template_view(request, pk: int):
    recording = scoped_recording(request, pk, Role.EDITOR)
    form = ChooseTemplateForm(request.POST, recording=recording)
    if not form.is_valid():
        messages.error(request, _("Choose one of this workspace's templates."))
        return _back(recording)
    try:
        recording_set_template(recording=recording, template=form.cleaned_data["template"], actor=request.user)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, refusal(exc))
    else:
        messages.success(request, _("Template chosen."))
    return _back(recording)


@login_required
@require_POST
@role_required(Role.EDITOR)
def recording_skip_view(request, pk: int, skipped: bool):
    recording = scoped_recording(request, pk, Role.EDITOR)
    try:
        recording_skip(recording=recording, actor=request.user, skipped=skipped)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, refusal(exc))
    else:
        messages.success(request, _("Skipped: no run picks it up.") if skipped else _("Back in the queue."))
    return _back(recording)


@login_required
@require_http_methods(["GET", "POST"])
@role_required(Role.EDITOR)
def recording_delete_view(request, pk: int):
    recording = scoped_recording(request, pk, Role.EDITOR)
    if request.method == "GET":
        return render_page(request, "dashboard/studio/delete.html", {"recording": recording})
    try:
        recording_delete(recording=recording, actor=request.user)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, refusal(exc))
        return _back(recording)
    messages.success(request, _("Deleted “%(name)s” and its files.") % {"name": recording.display_name})
    return redirect("dashboard:studio")


# --- templates ------------------------------------------------------------------------------------


@login_required
@require_GET
def templates(request):
    rows = scope(Template.objects.select_related("workspace", "source").prefetch_related("presets"), request.user)
    access = dashboard_selectors.access_for(request.user)
    context = {"rows": rows.order_by("workspace__name", "-priority", "pk"), "can_edit": access.can_anywhere(Role.EDITOR)}
    return render_page(request, "dashboard/studio/templates.html", context)


@login_required
@require_http_methods(["GET", "POST"])
@role_required(Role.EDITOR)
def template_edit(request, pk: int | None = None):
    return _settings_edit(
        request,
        Template,
        pk,
        form_class=TemplateForm,
        save=template_save,
        related="presets",
        page="dashboard/studio/template_form.html",
        saved=_("Saved the template “%(name)s”."),
        back="dashboard:studio-templates",
    )


def _settings_edit(request, model, pk, *, form_class, save, related: str, page: str, saved: str, back: str, initial=None):
    """A template's or a preset's form: shown, then saved through its service (whose refusals
    become field errors); the member needs the editor role in the object's workspace."""
    instance = None
    if pk is not None:
        instance = get_object_or_404(scope(model.objects.select_related("workspace"), request.user), pk=pk)
        require_role_in(request, instance.workspace_id, Role.EDITOR)
    context = {
        "preset" if model is OutputPreset else "template": instance,
        "placeholders": ["{" + name + "}" for name in PLACEHOLDERS],
    }
    if request.method == "GET":
        context["form"] = form_class(
            user=request.user, instance=instance, initial=initial(instance) if initial and instance else None
        )
        return render_page(request, page, context)
    form = form_class(request.POST, user=request.user, instance=instance)
    if form.is_valid():
        workspace = instance.workspace if instance else form.cleaned_data["workspace"]
        require_role_in(request, workspace.pk, Role.EDITOR)
        changes = form.changes()
        chosen = changes.pop(related)
        try:
            done = save(workspace=workspace, actor=request.user, instance=instance, **{related: chosen}, **changes)
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, saved % {"name": done.name})
            return redirect(back)
    context["form"] = form
    return render_page(request, page, context, status=400)


# --- presets --------------------------------------------------------------------------------------


@login_required
@require_GET
def presets(request):
    rows = scope(OutputPreset.objects.select_related("workspace", "group").prefetch_related("accounts"), request.user)
    access = dashboard_selectors.access_for(request.user)
    context = {"rows": rows.order_by("workspace__name", "name", "pk"), "can_edit": access.can_anywhere(Role.EDITOR)}
    return render_page(request, "dashboard/studio/presets.html", context)


@login_required
@require_http_methods(["GET", "POST"])
@role_required(Role.EDITOR)
def preset_edit(request, pk: int | None = None):
    return _settings_edit(
        request,
        OutputPreset,
        pk,
        form_class=PresetForm,
        save=preset_save,
        related="accounts",
        page="dashboard/studio/preset_form.html",
        saved=_("Saved the preset “%(name)s”."),
        back="dashboard:studio-presets",
        initial=PresetForm.initial_from,
    )


# --- input sources --------------------------------------------------------------------------------


@login_required
@require_GET
def sources(request):
    rows = scope(InputSource.objects.select_related("workspace"), request.user)
    access = dashboard_selectors.access_for(request.user)
    context = {
        "rows": rows.order_by("workspace__name", "name", "pk"),
        "can_configure": access.can_anywhere(Role.ADMIN),
        "can_sync": access.can_anywhere(Role.EDITOR),
    }
    return render_page(request, "dashboard/studio/sources.html", context)


@login_required
@require_http_methods(["GET", "POST"])
@role_required(Role.ADMIN)
def source_edit(request, pk: int | None = None):
    """Credentials are write-only: the page says which are stored, never what they are."""
    source = None
    if pk is not None:
        source = get_object_or_404(scope(InputSource.objects.select_related("workspace"), request.user), pk=pk)
        require_role_in(request, source.workspace_id, Role.ADMIN)
    context = {"source": source, "stored": sorted((source.secret or {}).keys()) if source else []}
    if request.method == "GET":
        initial = SourceForm.initial_from(source) if source else None
        context["form"] = SourceForm(user=request.user, instance=source, initial=initial)
        return render_page(request, "dashboard/studio/source_form.html", context)
    form = SourceForm(request.POST, user=request.user, instance=source)
    if form.is_valid():
        workspace = source.workspace if source else form.cleaned_data["workspace"]
        require_role_in(request, workspace.pk, Role.ADMIN)
        data = form.cleaned_data
        try:
            saved = source_save(
                workspace=workspace,
                actor=request.user,
                instance=source,
                secret=form.secret(),
                name=data["name"],
                kind=data["kind"],
                enabled=data["enabled"],
                sync_interval_s=data["sync_interval_s"],
                options=_options(source, form),
            )
        except ValidationError as exc:
            _source_errors(form, exc)
        else:
            messages.success(request, _("Saved the source “%(name)s”.") % {"name": saved.name})
            return redirect("dashboard:studio-sources")
    context["form"] = form
    return render_page(request, "dashboard/studio/source_form.html", context, status=400)


def _options(source: InputSource | None, form: SourceForm) -> dict:
    """The form's options over the stored ones of the same kind, so options the form has no field for
    (a folder's settle_seconds, a Disk's recursive, set through the API) are kept."""
    kept = dict(source.options or {}) if source is not None and source.kind == form.cleaned_data["kind"] else {}
    return {**kept, **form.options()}


def _source_errors(form: SourceForm, exc: ValidationError) -> None:
    """The service names ``options`` / ``secret``: their messages go next to the kind's fields."""
    if not hasattr(exc, "error_dict"):
        add_errors(form, exc)
        return
    for field, errors in exc.error_dict.items():
        target = form.field_for(field) if field in ("options", "secret") else field
        form.add_error(target if target in form.fields else None, errors)


@login_required
@require_POST
@role_required(Role.EDITOR)
def source_sync_view(request, pk: int):
    source = get_object_or_404(scope(InputSource.objects.select_related("workspace"), request.user), pk=pk)
    require_role_in(request, source.workspace_id, Role.EDITOR)
    if not source.enabled:
        messages.error(request, _("The source is disabled; enable it first."))
    else:
        _sync_one(request, source)
    return redirect("dashboard:studio-sources")
