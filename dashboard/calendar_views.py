"""The calendar (month and week views of a workspace's posts, with the queue's free slots), moving
a post by dragging it, Add to queue, and the queue's weekly slots.

Every member reads the calendar of their workspaces; editors move posts and add them to the
queue; admins and owners edit the slots. A drop is a plain POST (CSRF through the page's
``hx-headers``) answered with the calendar region again, with the error in it when the move was
refused — the chip then stays where it was.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.models import AccountGroup, Role, Workspace
from planning.models import QueueSlot, Weekday
from planning.queue import post_add_to_queue, queue_slot_add, queue_slot_remove, queue_slots, slot_suggestions
from publishing.services import post_reschedule

from . import selectors
from .calendar_forms import CalendarFilterForm, MoveForm, SlotAddForm
from .calendar_selectors import calendar_page, drafts_for_queue
from .views import back_to, editor_post, error_text, render_page


def _filter_form(request, data=None) -> CalendarFilterForm:
    workspaces = list(selectors.workspaces_with_role(request.user, Role.VIEWER))
    return CalendarFilterForm(data if data is not None else request.GET, workspaces=workspaces)


def _calendar_context(request, form: CalendarFilterForm, error: str = "") -> dict:
    access = getattr(request, "access", None) or selectors.access_for(request.user)
    workspace = form.workspace
    can_edit = workspace is not None and access.can(workspace.pk, Role.EDITOR)
    page = None
    if workspace is not None:
        page = calendar_page(
            form.filters(), view=form.chosen_view, anchor=form.chosen_date, tz=timezone.get_current_timezone(), now=timezone.now()
        )
    return {
        "form": form,
        "page": page,
        "workspace": workspace,
        "can_edit": can_edit,
        "can_edit_slots": workspace is not None and access.can(workspace.pk, Role.ADMIN),
        "drafts": drafts_for_queue(workspace) if can_edit else [],
        "queue_group": form.filters().group if workspace is not None else None,
        "query": form.query(),
        "prev_query": form.query(date=page.previous.isoformat()) if page else "",
        "next_query": form.query(date=page.next.isoformat()) if page else "",
        "month_query": form.query(view="month"),
        "week_query": form.query(view="week"),
        "error": error,
        "weekdays": [Weekday(d).label for d in range(7)],
        "hours": range(24),
    }


@login_required
@require_GET
def calendar(request):
    """The month (or week) of the chosen workspace; filters and paging swap only the calendar region."""
    form = _filter_form(request)
    return render_page(request, "dashboard/calendar.html", _calendar_context(request, form), "calendar")


def _moved_time(post, form: MoveForm) -> datetime:
    """The post's new moment: the dropped day (and hour), keeping its local minutes (and hour in the
    month view). A local time the clocks skip that day is refused, not shifted."""
    tz = timezone.get_current_timezone()
    current = (post.scheduled_at or timezone.now()).astimezone(tz)
    hour = form.cleaned_data["hour"]
    wall = datetime.combine(form.cleaned_data["date"], time(current.hour if hour is None else hour, current.minute))
    moment = wall.replace(tzinfo=tz)
    if moment.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wall:
        raise ValidationError(
            _("%(time)s does not exist on %(day)s: the clocks jump forward then. Drop it on another hour.")
            % {"time": wall.strftime("%H:%M"), "day": wall.date().isoformat()}
        )
    return moment


@login_required
@require_POST
def calendar_move(request, pk: int):
    """A chip dropped on another day or hour: the post (and its waiting executions) move there."""
    request.access = selectors.access_for(request.user)
    post = editor_post(request, pk)
    move = MoveForm(request.POST)
    error = ""
    if not move.is_valid():
        error = _("Drop the post on a day of the calendar.")
    else:
        try:
            post_reschedule(post=post, scheduled_at=_moved_time(post, move), actor=request.user)
        except ValidationError as exc:
            error = error_text(exc)
    form = _filter_form(request, {**request.GET.dict(), "workspace": str(post.workspace_id)})
    context = _calendar_context(request, form, error=error)
    return render_page(request, "dashboard/calendar.html", context, "calendar", status=400 if error else 200)


@login_required
@require_POST
def post_queue(request, pk: int):
    """Add to queue: the post takes the next free slot of the workspace's queue (or a group's)."""
    request.access = selectors.access_for(request.user)
    post = editor_post(request, pk)
    group = None
    if raw := request.POST.get("group"):
        if not raw.isdigit():
            return HttpResponseBadRequest(_("Choose a group from the list."))
        group = get_object_or_404(AccountGroup, pk=int(raw), workspace_id=post.workspace_id)
    error = ""
    try:
        slot = post_add_to_queue(post=post, actor=request.user, group=group)
    except ValidationError as exc:
        error = error_text(exc)
    else:
        shown = timezone.localtime(slot).strftime("%Y-%m-%d %H:%M")
        messages.success(request, _("Added to the queue: %(post)s goes out at %(time)s.") % {"post": post, "time": shown})
    if request.htmx and request.POST.get("from") == "calendar":
        form = _filter_form(request, {**request.GET.dict(), "workspace": str(post.workspace_id)})
        context = _calendar_context(request, form, error=error)
        return render_page(request, "dashboard/calendar.html", context, "calendar", status=400 if error else 200)
    if error:
        messages.error(request, error)
    return redirect(back_to(request, reverse("dashboard:post", args=[post.pk])))


# --- the queue's weekly slots ----------------------------------------------------------------------


def _slots_scope(request) -> tuple[Workspace, AccountGroup | None]:
    """The workspace (one of the member's) and group whose queue the slots page shows."""
    workspaces = list(selectors.workspaces_with_role(request.user, Role.VIEWER))
    if not workspaces:
        raise PermissionDenied(_("You are not a member of any workspace."))
    raw = request.POST.get("workspace") or request.GET.get("workspace") or ""
    workspace = next((w for w in workspaces if str(w.pk) == raw), workspaces[0])
    raw_group = request.POST.get("group") or request.GET.get("group") or ""
    group = AccountGroup.objects.filter(workspace=workspace, pk=int(raw_group)).first() if raw_group.isdigit() else None
    return workspace, group


def _slots_context(request, workspace: Workspace, group: AccountGroup | None, form: SlotAddForm | None = None) -> dict:
    access = selectors.access_for(request.user)
    slots = queue_slots(workspace, group)
    by_day = [[s for s in slots if s.weekday == d] for d in range(7)]
    return {
        "workspace": workspace,
        "group": group,
        "workspaces": list(selectors.workspaces_with_role(request.user, Role.VIEWER)),
        "groups": list(AccountGroup.objects.filter(workspace=workspace).order_by("name", "pk")),
        "days": list(zip([Weekday(d).label for d in range(7)], by_day, strict=True)),
        "can_edit": access.can(workspace.pk, Role.ADMIN),
        "suggestions": slot_suggestions(workspace, group),
        "form": form or SlotAddForm(),
        "slot_count": len(slots),
    }


@login_required
@require_GET
def calendar_slots(request):
    """The weekly slots of the workspace's queue or a group's; admins and owners edit them."""
    workspace, group = _slots_scope(request)
    return render_page(request, "dashboard/calendar_slots.html", _slots_context(request, workspace, group), "slots")


@login_required
@require_POST
def calendar_slots_add(request):
    """Add the time on each ticked weekday (the days that already have it are left as they are)."""
    workspace, group = _slots_scope(request)
    if not selectors.access_for(request.user).can(workspace.pk, Role.ADMIN):
        raise PermissionDenied(_("You need the %(role)s role in this workspace to do this.") % {"role": Role.ADMIN.label})
    form = SlotAddForm(request.POST)
    if form.is_valid():
        added, at = 0, form.cleaned_data["time"]
        for weekday in form.cleaned_data["weekdays"]:
            if QueueSlot.objects.filter(workspace=workspace, group=group, weekday=weekday, time=at).exists():
                continue
            try:
                queue_slot_add(workspace=workspace, group=group, weekday=weekday, time=at, actor=request.user)
                added += 1
            except ValidationError as exc:
                form.add_error(None, exc)
                break
        if not form.errors:
            if added:
                messages.success(request, _("%(count)d slot(s) added.") % {"count": added})
            else:
                messages.info(request, _("The queue already has those slots."))
            form = None
    context = _slots_context(request, workspace, group, form)
    return render_page(request, "dashboard/calendar_slots.html", context, "slots", status=400 if form else 200)


@login_required
@require_POST
def calendar_slot_remove(request, pk: int):
    slot = get_object_or_404(QueueSlot.objects.select_related("workspace", "group"), pk=pk)
    access = selectors.access_for(request.user)
    if not access.can(slot.workspace_id, Role.VIEWER):
        raise Http404(_("No such slot in your workspaces."))
    if not access.can(slot.workspace_id, Role.ADMIN):
        raise PermissionDenied(_("You need the %(role)s role in this workspace to do this.") % {"role": Role.ADMIN.label})
    workspace, group = slot.workspace, slot.group
    queue_slot_remove(slot=slot, actor=request.user)
    messages.success(request, _("Slot removed."))
    return render_page(request, "dashboard/calendar_slots.html", _slots_context(request, workspace, group), "slots")
