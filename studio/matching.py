"""Which template a recording gets, and why.

Every enabled template of the recording's workspace is tried; a rule left empty matches anything.
Among the templates whose rules all match, the highest priority wins; equal priorities go to the
older template (lower id), so the choice is the same on every run. The verdict of each rule of the
winner, and the first failing rule of every other template, are kept (``Recording.match_reason``)
so an operator sees why. Weekday and time window are judged in the workspace's time zone on the
recording's start (its discovery time when the source gave none).

Name patterns are operators' regular expressions: they run with ``regex``'s timeout, so a pattern
that backtracks catastrophically counts as not matching instead of hanging a worker."""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import regex
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import Recording, Template

REGEX_TIMEOUT_S = 0.05
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def compile_pattern(pattern: str):
    """The compiled pattern (case-insensitive), or ValidationError saying what is wrong with it."""
    try:
        return regex.compile(pattern, regex.IGNORECASE | regex.V0)
    except regex.error as exc:
        raise ValidationError(
            _("“%(pattern)s” is not a valid regular expression: %(error)s.") % {"pattern": pattern, "error": exc}
        ) from exc


@dataclass
class Verdict:
    rule: str
    ok: bool
    detail: str

    def as_json(self) -> dict:
        return {"rule": self.rule, "ok": self.ok, "detail": self.detail}


@dataclass
class Match:
    template: Template | None
    verdicts: list[Verdict] = field(default_factory=list)
    others: list[dict] = field(default_factory=list)

    def as_json(self) -> dict:
        winner = self.template
        return {
            "template": winner.pk if winner else None,
            "name": winner.name if winner else "",
            "priority": winner.priority if winner else None,
            "rules": [v.as_json() for v in self.verdicts],
            "others": self.others,
            "summary": self.summary,
        }

    @property
    def summary(self) -> str:
        if self.template is None:
            if not self.others:
                return _("No template is enabled in this workspace; choose one by hand or create one.")
            return _("No template matched; choose one by hand.")
        return _("“%(name)s” (priority %(priority)d) matched: %(rules)s.") % {
            "name": self.template.name,
            "priority": self.template.priority,
            "rules": "; ".join(v.detail for v in self.verdicts) or _("it has no rules, so it matches everything"),
        }


def _local(recording: Recording, tz: str):
    moment = recording.recorded_at or recording.created_at or timezone.now()
    return moment.astimezone(ZoneInfo(tz or "UTC"))


def verdicts(template: Template, recording: Recording) -> list[Verdict]:
    """Each rule the template sets, judged on the recording (empty rules are left out)."""
    found: list[Verdict] = []
    if template.name_regex:
        try:
            hit = compile_pattern(template.name_regex).search(recording.display_name or "", timeout=REGEX_TIMEOUT_S)
            detail = (_("the name matches /%(pattern)s/") if hit else _("the name does not match /%(pattern)s/")) % {
                "pattern": template.name_regex
            }
        except (ValidationError, TimeoutError):
            hit, detail = None, _("the pattern /%(pattern)s/ is invalid or too slow") % {"pattern": template.name_regex}
        found.append(Verdict("name", bool(hit), detail))
    if template.source_id:
        ok = recording.source_id == template.source_id
        found.append(
            Verdict(
                "source",
                ok,
                (_("it comes from “%(source)s”") if ok else _("it does not come from “%(source)s”"))
                % {"source": template.source.name},
            )
        )
    duration = recording.duration_s
    if template.min_duration_s is not None or template.max_duration_s is not None:
        low, high = template.min_duration_s, template.max_duration_s
        if duration is None:
            found.append(Verdict("duration", False, _("its duration is not known yet")))
        else:
            ok = (low is None or duration >= low) and (high is None or duration <= high)
            bounds = f"{low if low is not None else 0}–{high if high is not None else '∞'} s"
            found.append(
                Verdict(
                    "duration",
                    ok,
                    (_("%(duration)d s is within %(bounds)s") if ok else _("%(duration)d s is outside %(bounds)s"))
                    % {"duration": round(duration), "bounds": bounds},
                )
            )
    tz = recording.workspace.timezone if recording.workspace_id else "UTC"
    local = _local(recording, tz)
    if template.weekdays:
        days = sorted({int(d) for d in template.weekdays})
        ok = local.weekday() in days
        names = ", ".join(WEEKDAYS[d] for d in days if 0 <= d <= 6)
        found.append(
            Verdict(
                "weekday",
                ok,
                (_("recorded on %(day)s, one of %(days)s") if ok else _("recorded on %(day)s, not one of %(days)s"))
                % {"day": WEEKDAYS[local.weekday()], "days": names},
            )
        )
    if template.time_from is not None or template.time_until is not None:
        start, end, at = template.time_from, template.time_until, local.time().replace(tzinfo=None)
        if start is not None and end is not None and start > end:  # a window across midnight
            ok = at >= start or at <= end
        else:
            ok = (start is None or at >= start) and (end is None or at <= end)
        window = f"{start.strftime('%H:%M') if start else '00:00'}–{end.strftime('%H:%M') if end else '24:00'} {tz}"
        found.append(
            Verdict(
                "time",
                ok,
                (_("recorded at %(at)s, inside %(window)s") if ok else _("recorded at %(at)s, outside %(window)s"))
                % {"at": at.strftime("%H:%M"), "window": window},
            )
        )
    return found


def match(recording: Recording, templates: list[Template] | None = None) -> Match:
    if templates is None:
        templates = list(Template.objects.filter(workspace_id=recording.workspace_id, enabled=True).select_related("source"))
    ordered = sorted(templates, key=lambda t: (-t.priority, t.pk))
    winner: Template | None = None
    winning: list[Verdict] = []
    others: list[dict] = []
    for template in ordered:
        judged = verdicts(template, recording)
        failed = next((v for v in judged if not v.ok), None)
        if failed is None and winner is None:
            winner, winning = template, judged
            continue
        others.append(
            {
                "template": template.pk,
                "name": template.name,
                "priority": template.priority,
                "matched": failed is None,
                "detail": failed.detail if failed else _("matched too, but “%(name)s” comes first") % {"name": winner.name},
            }
        )
    return Match(template=winner, verdicts=winning, others=others)
