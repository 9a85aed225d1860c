"""Studio: the latest recordings of the member's workspaces with their status and progress; a
recording's card (template and why, what the steps produced, the job's bar) with Run the whole
pipeline, Cancel, Skip — the same runner and services as the dashboard, the API and the admin, so a
missing permission or a used-up quota is said in words and nothing starts."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _

from accounts.models import Role
from accounts.selectors import scope
from crosspost.models import LogStatus
from dashboard.selectors import Access
from studio.models import Recording, RecordingStatus, Step
from studio.runner import STEPS, recording_cancel, recording_run, running_job
from studio.services import recording_skip
from studio.topics import stamp

from ..models import TelegramLink
from ..services import bot_action
from ..ui import Menu, keyboard, progress_bar
from . import Routes
from .screens import Refused, Screen, local_time, menu_button, respond, role_needed, section_entry, short, zone_of

routes = Routes("studio")

LIMIT = 10
ICONS = {
    RecordingStatus.DISCOVERED: "🆕",
    RecordingStatus.DOWNLOADING: "⬇",
    RecordingStatus.DOWNLOADED: "📥",
    RecordingStatus.PROCESSING: "⚙",
    RecordingStatus.READY: "✅",
    RecordingStatus.PUBLISHED: "📤",
    RecordingStatus.FAILED: "❌",
    RecordingStatus.SKIPPED: "⏭",
}


class RecordingAct(CallbackData, prefix="rc"):
    id: int
    act: str  # open | run | cancel | skip | unskip


def _clock(seconds: float | None) -> str:
    return "—" if seconds is None else stamp(seconds)


def _line(recording: Recording) -> str:
    line = f"{ICONS.get(recording.status, '•')} {short(recording.display_name, 40)} · {recording.get_status_display()}"
    job = running_job(recording)
    if job is not None:
        line += f"\n   {progress_bar(job.progress, 100)}"
    return line


def studio_screen(user) -> Screen:
    recordings = list(scope(Recording.objects.select_related("job", "workspace"), user).order_by("-created_at", "-pk")[:LIMIT])
    lines = [_("Studio: the latest recordings"), ""]
    lines += [_line(r) for r in recordings] or [_("No recordings yet: they arrive from the studio's sources or uploads.")]
    opens = [
        InlineKeyboardButton(text=short(r.display_name, 20), callback_data=RecordingAct(id=r.pk, act="open").pack())
        for r in recordings
    ]
    return Screen(
        "\n".join(lines),
        keyboard(
            *[opens[i : i + 2] for i in range(0, len(opens), 2)],
            [InlineKeyboardButton(text="🔄 " + _("Refresh"), callback_data=Menu(section="studio").pack()), menu_button()],
        ),
    )


def visible_recording(user, pk: int) -> Recording:
    recording = scope(Recording.objects.select_related("job", "template", "workspace", "source"), user).filter(pk=pk).first()
    if recording is None:
        raise Refused(_("Recording not found: it was deleted, or it is not in your workspaces."))
    return recording


def recording_card(user, access: Access, pk: int, notice: str = "") -> Screen:
    recording = visible_recording(user, pk)
    zone = zone_of(user)
    lines = [notice, ""] if notice else []
    lines += [
        f"{ICONS.get(recording.status, '•')} {recording.display_name}",
        _("Workspace: %(workspace)s") % {"workspace": recording.workspace.name},
        _("Status: %(status)s") % {"status": recording.get_status_display()},
        _("Recorded: %(when)s · %(duration)s")
        % {"when": local_time(recording.recorded_at, zone), "duration": _clock(recording.duration_s)},
        _("Template: %(template)s") % {"template": recording.template.name if recording.template else "—"},
    ]
    summary = (recording.match_reason or {}).get("summary")
    if summary:
        lines.append("   " + short(summary, 300))
    if recording.finished_step:
        done = STEPS[: STEPS.index(recording.finished_step) + 1]
        lines.append(_("Done: %(steps)s") % {"steps": ", ".join(str(Step(s).label) for s in done)})
    if recording.removed_s is not None:
        lines.append(
            _("Silence removed: %(removed)s s → %(duration)s")
            % {"removed": f"{recording.removed_s:.1f}", "duration": _clock(recording.trimmed_duration_s)}
        )
    if recording.title:
        lines.append(_("Title: %(title)s") % {"title": short(recording.title, 100)})
    job = running_job(recording)
    if job is not None:
        lines += ["", f"{progress_bar(job.progress, 100)} — {short(job.message, 120)}"]
    elif recording.error:
        lines.append(_("Error: %(error)s") % {"error": short(recording.error, 300)})

    def act(name: str) -> str:
        return RecordingAct(id=recording.pk, act=name).pack()

    writes = []
    if access.can(recording.workspace_id, Role.EDITOR):
        if job is not None:
            writes.append(InlineKeyboardButton(text="⏹ " + _("Cancel the job"), callback_data=act("cancel")))
        elif recording.status == RecordingStatus.SKIPPED:
            writes.append(InlineKeyboardButton(text="↩ " + _("Bring back"), callback_data=act("unskip")))
        else:
            writes.append(InlineKeyboardButton(text="▶ " + _("Run the whole pipeline"), callback_data=act("run")))
            writes.append(InlineKeyboardButton(text="⏭ " + _("Skip"), callback_data=act("skip")))
    return Screen(
        "\n".join(lines),
        keyboard(
            [InlineKeyboardButton(text="🔄 " + _("Refresh"), callback_data=act("open"))],
            writes,
            [InlineKeyboardButton(text="← " + _("Back"), callback_data=Menu(section="studio").pack()), menu_button()],
        ),
    )


def act_on(link: TelegramLink, access: Access, pk: int, act: str) -> Screen:
    recording = visible_recording(link.user, pk)
    if not access.can(recording.workspace_id, Role.EDITOR):
        raise role_needed(Role.EDITOR)
    try:
        if act == "run":
            job = recording_run(recording=recording, actor=link.user)
            notice = _("Started: job #%(job)d runs the whole pipeline.") % {"job": job.pk}
        elif act == "cancel":
            recording_cancel(recording=recording, actor=link.user)
            notice = _("Asked to stop: finished steps are kept and a new run resumes after them.")
        else:
            recording_skip(recording=recording, actor=link.user, skipped=act == "skip")
            notice = _("Skipped.") if act == "skip" else _("Back in the queue.")
    except (ValidationError, PermissionDenied) as exc:
        # A missing permission, a quota, or the recording's state: said as the services say it.
        reason = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        bot_action(link=link, action=f"studio.{act}", status=LogStatus.FAILED, message=reason, workspace=recording.workspace)
        screen = recording_card(link.user, access, pk, notice="⚠ " + reason)
        screen.toast = short(reason, 190)
        return screen
    bot_action(
        link=link,
        action=f"studio.{act}",
        status=LogStatus.SUCCESS,
        message=f"{recording}: {notice}",
        workspace=recording.workspace,
    )
    screen = recording_card(link.user, access, pk, notice=notice)
    screen.toast = notice
    return screen


section_entry(routes, "studio", studio_screen, lambda link, access: (link.user,))


@routes.callback_query(RecordingAct.filter())
async def recording_action(query: CallbackQuery, callback_data: RecordingAct, link: TelegramLink, access: Access) -> None:
    pk, act = callback_data.id, callback_data.act
    if act == "open":
        await respond(query, recording_card, link.user, access, pk)
    elif act in ("run", "cancel", "skip", "unskip"):
        await respond(query, act_on, link, access, pk, act)
    else:
        await query.answer(_("This button is out of date: open the menu again."), show_alert=True)
