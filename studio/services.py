"""Writing the studio's settings and recordings: the same checks for the dashboard, the API and the admin.

Sources, templates and presets are validated here (a source's options and credentials per kind, a
template's pattern and metadata placeholders, a preset's targets and the platform's limits); a
recording gets its template here (``recording_match``) and, when the template says so, its whole
pipeline started (``recordings_arrived``)."""

from __future__ import annotations

import logging
import re
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Platform as AccountPlatform
from crosspost.activity import log_activity
from crosspost.models import LogStatus

from . import quotas
from .matching import compile_pattern, match
from .models import InputSource, OutputPreset, Recording, RecordingFile, RecordingStatus, Template
from .topics import stamp

logger = logging.getLogger(__name__)

PLACEHOLDER = re.compile(r"\{(\w*)\}")
PLACEHOLDERS = ("topic", "title", "description", "date", "chapters", "source_name", "name", "duration")
# Every platform the engine publishes to (the accounts' choices, so the API documents one enum).
PRESET_PLATFORM_CHOICES = AccountPlatform.choices
PRESET_PLATFORMS = tuple(AccountPlatform.values)


# --- metadata templates ---------------------------------------------------------------------------


def check_placeholders(text: str, *, field: str) -> None:
    unknown = sorted({name for name in PLACEHOLDER.findall(text or "") if name not in PLACEHOLDERS})
    if unknown:
        raise ValidationError(
            {
                field: _("Unknown placeholder(s) %(unknown)s; use %(known)s.")
                % {
                    "unknown": ", ".join("{" + n + "}" for n in unknown),
                    "known": ", ".join("{" + n + "}" for n in PLACEHOLDERS),
                }
            }
        )


def render_text(text: str, values: dict[str, str]) -> str:
    """``{name}`` placeholders replaced by their values (unknown ones are left as written). Not
    ``str.format``: an operator's template must not reach attributes (``{topic.__class__}``)."""
    return PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), text or "").strip()


# What a template's placeholders are measured as when a preset is saved: short stand-ins (the real
# values are cut to the platform's limits when a recording is published), so what the operator
# wrote around them is checked — and a title made only of placeholders still counts as a title.
SAMPLE_VALUES = {
    "topic": "Topic",
    "title": "Title",
    "description": "",
    "date": "2026-01-31",
    "chapters": "",
    "source_name": "Source",
    "name": "Recording",
    "duration": "0:00",
}


# --- sources --------------------------------------------------------------------------------------


SOURCE_FIELDS = ("name", "kind", "enabled", "options", "sync_interval_s")


@transaction.atomic
def source_save(
    *, workspace, actor=None, instance: InputSource | None = None, secret: dict | None = None, **fields
) -> InputSource:
    """Create or change an input source; an empty secret field keeps the stored value."""
    unknown = set(fields) - set(SOURCE_FIELDS)
    if unknown:
        raise TypeError(f"source_save() got unexpected fields: {', '.join(sorted(unknown))}")
    source = instance or InputSource(workspace=workspace)
    for name, value in fields.items():
        setattr(source, name, value)
    if instance is not None and "kind" in fields and fields["kind"] != instance.kind and instance.recordings.exists():
        raise ValidationError({"kind": _("This source already has recordings; create a new source for another kind.")})
    from .inputs.base import clean_source

    options, cleaned_secret = clean_source(
        source.kind, source.options or {}, secret or {}, existing_secret=(instance.secret if instance else None) or {}
    )
    source.options, source.secret = options, cleaned_secret
    source.full_clean(validate_unique=False)
    if InputSource.objects.filter(workspace=workspace, name=source.name).exclude(pk=source.pk).exists():
        raise ValidationError({"name": _("This workspace already has a source named “%(name)s”.") % {"name": source.name}})
    created = source.pk is None
    source.save()
    log_activity(
        action="studio.source.create" if created else "studio.source.update",
        workspace=workspace,
        actor=actor,
        status=LogStatus.SUCCESS,
        message=f"Input source «{source.name}» ({source.kind}) saved.",
        details={"source": source.pk},
    )
    return source


def _checked(instance, clean, *, duplicate: str) -> dict[str, list[str]]:
    """Every error of a template or preset at once: the model's own checks, the studio's
    (``clean``) and a name already used in the workspace (``duplicate`` names it)."""
    errors: dict[str, list[str]] = {}
    for check in (lambda: instance.full_clean(validate_unique=False), lambda: clean(instance)):
        try:
            check()
        except ValidationError as exc:
            errors.update(exc.message_dict)
    others = type(instance).objects.filter(workspace_id=instance.workspace_id, name=instance.name).exclude(pk=instance.pk)
    if others.exists():
        errors["name"] = [duplicate % {"name": instance.name}]
    return errors


# --- templates ------------------------------------------------------------------------------------

TEMPLATE_FIELDS = (
    "name",
    "enabled",
    "priority",
    "name_regex",
    "source",
    "min_duration_s",
    "max_duration_s",
    "weekdays",
    "time_from",
    "time_until",
    "remove_silence",
    "silence_threshold_db",
    "silence_min_s",
    "silence_padding_s",
    "loudnorm",
    "target_lufs",
    "transcribe",
    "language",
    "subtitles",
    "title_template",
    "description_template",
    "auto_process",
)


def clean_template(template: Template) -> None:
    errors: dict[str, list[str]] = {}
    if template.name_regex:
        try:
            compile_pattern(template.name_regex)
        except ValidationError as exc:
            errors["name_regex"] = exc.messages
    if template.source_id and template.source.workspace_id != template.workspace_id:
        errors["source"] = [_("Choose a source of this workspace.")]
    low, high = template.min_duration_s, template.max_duration_s
    if low is not None and high is not None and low > high:
        errors["max_duration_s"] = [_("The longest duration must not be shorter than the shortest.")]
    days = template.weekdays
    if not isinstance(days, list) or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6 for d in days):
        errors["weekdays"] = [_("Give weekdays as numbers 0 (Monday) to 6 (Sunday).")]
    else:
        template.weekdays = sorted(set(days))
    language = (template.language or "auto").strip().lower()
    if language != "auto" and not re.fullmatch(r"[a-z]{2,3}(-[a-z0-9]{2,8})?", language):
        errors["language"] = [_("Give a language code such as ru or en, or auto.")]
    template.language = language
    if not template.transcribe and template.subtitles != "off":
        errors["subtitles"] = [_("Subtitles are made from the transcript: turn transcription on, or subtitles off.")]
    for field in ("title_template", "description_template"):
        try:
            check_placeholders(getattr(template, field), field=field)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if not (template.title_template or "").strip():
        errors["title_template"] = [_("Give a title template, e.g. {topic} — {date}.")]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def template_save(*, workspace, actor=None, instance: Template | None = None, presets=None, **fields) -> Template:
    unknown = set(fields) - set(TEMPLATE_FIELDS)
    if unknown:
        raise TypeError(f"template_save() got unexpected fields: {', '.join(sorted(unknown))}")
    template = instance or Template(workspace=workspace)
    for name, value in fields.items():
        setattr(template, name, value)
    errors = _checked(template, clean_template, duplicate=_("This workspace already has a template named “%(name)s”."))
    if presets is not None and any(p.workspace_id != workspace.pk for p in presets):
        errors["presets"] = [_("Choose output presets of this workspace.")]
    if errors:
        raise ValidationError(errors)
    created = template.pk is None
    template.save()
    if presets is not None:
        template.presets.set(presets)
    log_activity(
        action="studio.template.create" if created else "studio.template.update",
        workspace=workspace,
        actor=actor,
        status=LogStatus.SUCCESS,
        message=f"Studio template «{template.name}» (priority {template.priority}) saved.",
        details={"template": template.pk},
    )
    return template


# --- presets --------------------------------------------------------------------------------------

PRESET_FIELDS = (
    "name",
    "platform",
    "group",
    "privacy",
    "category",
    "playlist",
    "tags",
    "title_template",
    "description_template",
    "publish_mode",
)


def _tags(value) -> list[str]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise ValidationError({"tags": _("Give tags as a list of words (or one comma-separated line).")})
    return [t.strip() for t in value if t.strip()]


def clean_preset(preset: OutputPreset, accounts) -> None:
    errors: dict[str, list[str]] = {}
    if preset.platform not in PRESET_PLATFORMS:
        errors["platform"] = [_("Choose one of %(platforms)s.") % {"platforms": ", ".join(PRESET_PLATFORMS)}]
    try:
        preset.tags = _tags(preset.tags)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    accounts = list(accounts or [])
    if not accounts and preset.group_id is None:
        errors["accounts"] = [_("Choose the account(s) or the group the recordings go to.")]
    for account in accounts:
        if account.workspace_id != preset.workspace_id:
            errors["accounts"] = [_("Choose accounts of this workspace.")]
            break
        if account.platform != preset.platform:
            errors["accounts"] = [
                _("%(account)s is a %(platform)s account; this preset publishes to %(target)s.")
                % {"account": account, "platform": account.platform, "target": preset.platform}
            ]
            break
    if preset.group_id is not None and preset.group.workspace_id != preset.workspace_id:
        errors["group"] = [_("Choose a group of this workspace.")]
    for field in ("title_template", "description_template"):
        try:
            check_placeholders(getattr(preset, field), field=field)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if "platform" not in errors and "tags" not in errors:
        # What the templates write themselves (placeholders filled in later are cut to fit then).
        from platforms.limits import metadata_problems

        problems = metadata_problems(
            preset.platform,
            title=render_text(preset.title_template or "{title}", SAMPLE_VALUES),
            description=render_text(preset.description_template, SAMPLE_VALUES),
            tags=preset.tags,
            privacy=preset.privacy,
            category=preset.category,
            playlist=preset.playlist,
        )
        if problems:
            errors.setdefault("__all__", []).extend(problems)
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def preset_save(*, workspace, actor=None, instance: OutputPreset | None = None, accounts=None, **fields) -> OutputPreset:
    unknown = set(fields) - set(PRESET_FIELDS)
    if unknown:
        raise TypeError(f"preset_save() got unexpected fields: {', '.join(sorted(unknown))}")
    preset = instance or OutputPreset(workspace=workspace)
    for name, value in fields.items():
        setattr(preset, name, value)
    chosen = list(accounts) if accounts is not None else (list(preset.accounts.all()) if preset.pk else [])
    errors = _checked(
        preset, lambda p: clean_preset(p, chosen), duplicate=_("This workspace already has a preset named “%(name)s”.")
    )
    if errors:
        raise ValidationError(errors)
    created = preset.pk is None
    preset.save()
    if accounts is not None:
        preset.accounts.set(chosen)
    log_activity(
        action="studio.preset.create" if created else "studio.preset.update",
        workspace=workspace,
        actor=actor,
        status=LogStatus.SUCCESS,
        message=f"Output preset «{preset.name}» ({preset.platform}) saved.",
        details={"preset": preset.pk},
    )
    return preset


# --- recordings -----------------------------------------------------------------------------------


def recording_match(*, recording: Recording, save: bool = True, templates: list[Template] | None = None) -> Recording:
    """Choose the recording's template by the rules and keep why (callers that must keep a template
    chosen by hand check ``match_reason["manual"]`` first). ``templates``: the workspace's enabled
    templates when the caller already has them."""
    found = match(recording, templates)
    recording.template = found.template
    recording.match_reason = found.as_json()
    if save:
        recording.save(update_fields=["template", "match_reason", "updated_at"])
    return recording


@transaction.atomic
def recording_set_template(*, recording: Recording, template: Template | None, actor=None) -> Recording:
    from .runner import running_job

    if template is not None and template.workspace_id != recording.workspace_id:
        raise ValidationError({"template": _("Choose a template of this workspace.")})
    if running_job(recording) is not None:
        raise ValidationError(_("The recording is being processed; cancel its job first."), code="conflict")
    recording.template = template
    recording.match_reason = {
        "template": template.pk if template else None,
        "name": template.name if template else "",
        "priority": template.priority if template else None,
        "rules": [],
        "others": [],
        "summary": (_("Chosen by hand by %(who)s.") % {"who": actor}) if template else _("No template: chosen by hand."),
        "manual": True,
    }
    recording.save(update_fields=["template", "match_reason", "updated_at"])
    log_activity(
        action="studio.recording.template",
        workspace=recording.workspace,
        actor=actor,
        status=LogStatus.INFO,
        message=f"Recording «{recording}» uses template «{template or '—'}».",
        details={"recording": recording.pk, "template": template.pk if template else None},
    )
    return recording


def recordings_arrived(recordings: list[Recording], *, actor=None) -> list[Recording]:
    """New recordings: each gets its template; those whose template processes automatically start
    their whole pipeline (a quota refusal leaves them waiting, with the reason in ``error``)."""
    from .runner import recording_run  # the runner imports these services

    templates: dict[int, list[Template]] = {}  # per workspace, read once for the whole batch
    for recording in recordings:
        if recording.workspace_id not in templates:
            templates[recording.workspace_id] = list(
                Template.objects.filter(workspace_id=recording.workspace_id, enabled=True).select_related("source")
            )
        recording_match(recording=recording, templates=templates[recording.workspace_id])
        template = recording.template
        if template is None or not template.auto_process:
            continue
        try:
            recording_run(recording=recording, actor=actor, until=None, automatic=True)
        except ValidationError as exc:
            Recording.objects.filter(pk=recording.pk).update(error="; ".join(exc.messages), updated_at=timezone.now())
    return recordings


def source_sync(*, source: InputSource, actor=None):
    """List the source now: each new recording is imported once, gets its template and, when the
    template processes automatically, its pipeline. Past the month's recordings quota the rest is
    left at the source (the next month's sync imports it) and the source says why."""
    from .sync import discover

    quotas.require(actor, source.workspace_id, "can_process")
    left = quotas.recordings_left(source.workspace_id)
    report = discover(source=source)
    created = sorted(report.created, key=lambda r: (r.recorded_at or r.created_at, r.pk))
    if len(created) > left:
        excess = created[left:]
        Recording.objects.filter(pk__in=[r.pk for r in excess]).delete()
        created = created[:left]
        try:
            quotas.check_recordings(source.workspace_id, adding=len(excess))
        except quotas.QuotaExceeded as exc:
            report.error = exc.messages[0]
            InputSource.objects.filter(pk=source.pk).update(last_error=report.error)
    report.created = created
    if created:
        log_activity(
            action="studio.source.sync",
            workspace=source.workspace,
            actor=actor,
            status=LogStatus.SUCCESS,
            message=f"{len(created)} new recording(s) from «{source.name}».",
            details={"source": source.pk, "recordings": [r.pk for r in created]},
        )
    recordings_arrived(created, actor=None)
    return report


def recording_import(*, workspace, actor=None, file=None, url: str = "") -> tuple[Recording, bool]:
    """An operator's upload or address becomes a recording (the API's and the dashboard's import):
    the member's permission and the quotas are checked first; the same file or URL again is the
    recording it already is. Returns (recording, created); a new one gets its template (and its
    pipeline when the template processes automatically)."""
    from .sync import import_upload, import_url  # the inputs' clients load only when something is imported

    if (file is None) == (not url):
        raise ValidationError(_("Send either a file or an address, not both or neither."))
    quotas.require(actor, workspace.pk, "can_process")
    if file is not None:
        quotas.check_storage(workspace.pk, adding_bytes=file.size or 0)
    quotas.check_recordings(workspace.pk)
    newest = Recording.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    if file is not None:
        recording = import_upload(workspace=workspace, file=file, author=actor)
    else:
        recording = import_url(workspace=workspace, url=url, author=actor)
    created = recording.pk > newest  # the same file or URL again answers the recording it already is
    if created:
        recordings_arrived([recording], actor=actor)
        recording.refresh_from_db()
    return recording, created


def recordings_waiting_start(*, limit: int = 20) -> int:
    """Start recordings that wait for a free job slot: their template processes automatically but
    their run was refused when they arrived (the workspace ran its concurrent jobs, say). Oldest
    first; a workspace still at its limit keeps waiting. Returns how many started."""
    from .runner import recording_run

    waiting = Recording.objects.filter(
        job__isnull=True,
        template__auto_process=True,
        template__enabled=True,
        status__in=(RecordingStatus.DISCOVERED, RecordingStatus.DOWNLOADED),
    ).order_by("created_at", "pk")
    started, full = 0, set()
    for recording in waiting[: limit * 5]:
        if recording.workspace_id in full:
            continue
        try:
            recording_run(recording=recording, actor=None, automatic=True)
        except quotas.QuotaExceeded as exc:
            if exc.code == "jobs":
                full.add(recording.workspace_id)
            Recording.objects.filter(pk=recording.pk).update(error="; ".join(exc.messages), updated_at=timezone.now())
            continue
        except ValidationError as exc:
            Recording.objects.filter(pk=recording.pk).update(error="; ".join(exc.messages), updated_at=timezone.now())
            continue
        started += 1
        if started >= limit:
            break
    return started


def recording_skip(*, recording: Recording, actor=None, skipped: bool = True) -> Recording:
    from .runner import running_job

    if running_job(recording) is not None:
        raise ValidationError(_("The recording is being processed; cancel its job first."), code="conflict")
    if skipped:
        recording.status = RecordingStatus.SKIPPED
    else:
        recording.status = (
            RecordingStatus.DOWNLOADED if recording.files.filter(kind="original").exists() else RecordingStatus.DISCOVERED
        )
    recording.save(update_fields=["status", "updated_at"])
    log_activity(
        action="studio.recording.skip" if skipped else "studio.recording.unskip",
        workspace=recording.workspace,
        actor=actor,
        status=LogStatus.INFO,
        message=f"Recording «{recording}» {'skipped' if skipped else 'back in the queue'}.",
        details={"recording": recording.pk},
    )
    return recording


def recording_delete(*, recording: Recording, actor=None) -> None:
    """Delete a recording and its stored files (the post it produced stays: it belongs to posts)."""
    from .runner import running_job

    quotas.require(actor, recording.workspace_id, "can_delete")
    if running_job(recording) is not None:
        raise ValidationError(_("The recording is being processed; cancel its job first."), code="conflict")
    names = [f.file.name for f in recording.files.all() if f.file]
    workspace, label, pk = recording.workspace, str(recording), recording.pk
    with transaction.atomic():
        recording.delete()
    storage = RecordingFile._meta.get_field("file").storage
    for name in names:
        try:
            storage.delete(name)
        except OSError:
            logger.warning("Could not delete %s", name)
    log_activity(
        action="studio.recording.delete",
        workspace=workspace,
        actor=actor,
        status=LogStatus.INFO,
        message=f"Recording «{label}» and its files deleted.",
        details={"recording": pk},
    )


def metadata_values(recording: Recording, *, chapters: str = "") -> dict[str, str]:
    """What the placeholders stand for, for this recording."""
    topics = recording.topics or {}
    when = recording.recorded_at or recording.created_at or timezone.now()
    tz = recording.workspace.timezone or "UTC"
    from zoneinfo import ZoneInfo

    local: date = when.astimezone(ZoneInfo(tz)).date()
    seconds = round(recording.trimmed_duration_s or recording.duration_s or 0)
    return {
        "topic": topics.get("topic") or topics.get("title") or recording.display_name,
        "title": topics.get("title") or recording.display_name,
        "description": topics.get("description") or "",
        "date": local.isoformat(),
        "chapters": chapters,
        "source_name": recording.source.name if recording.source_id else _("upload"),
        "name": recording.display_name,
        "duration": stamp(seconds),
    }
