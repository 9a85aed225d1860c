"""Content rules from a publishing_rules YAML onto a workspace's PublishingPolicy rows.

The YAML is the one of the seed requirements::

    platforms:
      instagram:
        enabled: false                → enabled (the planner blocks its accounts)
        max_daily_posts: 5            → daily_limit
        optimal_times: ["09:00"]      → optimal_times, and use_optimal_times (the pacing
                                        posts at the next one; ``use_optimal_times: false``
                                        keeps them stored but unused)
        hashtags_count: [10, 30]      → hashtag_min, hashtag_max
        caption_templates: {fashion: "✨ {title}…"}   → caption_template (one; --template picks)
        forbidden_words / required_hashtags            → added to content_rules' ones
        video_duration: [15, 60]      → min/max_video_duration_s
        min_video_quality / max_file_size              → override content_rules' ones
    content_rules:
      forbidden_words: [...]          → every listed platform
      required_hashtags: [...]        → every listed platform
      min_video_quality: 720p         → min_video_quality (shorter side, px), every listed platform
      max_file_size: 100MB            → max_file_size_mb, every listed platform
      video_duration: [15, 60]        → every listed platform

The media limits are preflight checks of the planner (publishing.rules.check_media); an
explicit null clears one. Fields the YAML leaves out keep their current values. Keys
Crosspost does not know (``channels``…) are reported as warnings naming their YAML path,
and the rest is imported. Every error names its YAML path; nothing is saved unless all is
valid.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import Platform, Workspace
from crosspost.activity import log_activity
from crosspost.models import LogStatus

from .caption_templates import check_template
from .models import PublishingPolicy
from .planner import policy_for

CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
MEDIA_KEYS = {"video_duration", "min_video_quality", "max_file_size"}
PLATFORM_KEYS = {
    "enabled",
    "use_optimal_times",
    "max_daily_posts",
    "optimal_times",
    "hashtags_count",
    "caption_templates",
    "caption_template",
    "forbidden_words",
    "required_hashtags",
    *MEDIA_KEYS,
}
CONTENT_KEYS = {"forbidden_words", "required_hashtags", *MEDIA_KEYS}
QUALITY = re.compile(r"^\s*(\d+)\s*p?\s*$", re.IGNORECASE)
NAMED_QUALITY = {"hd": 720, "full hd": 1080, "fhd": 1080, "2k": 1440, "qhd": 1440, "4k": 2160, "uhd": 2160}
FILE_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(kb|mb|gb)?\s*$", re.IGNORECASE)
FILE_UNITS = {"kb": 1 / 1024, "mb": 1, "gb": 1024}


class RulesError(ValueError):
    """Invalid rules; ``errors`` are "path: message" lines."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass
class RulesImport:
    policies: dict[str, dict] = field(default_factory=dict)  # platform → PublishingPolicy field values
    warnings: list[str] = field(default_factory=list)


def _strings(value, path: str, errors: list[str]) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        errors.append(f"{path}: expected a list of non-empty texts, got {value!r}.")
        return []
    return [v.strip() for v in value]


def _hashtags(value, path: str, errors: list[str]) -> list[str]:
    tags = _strings(value, path, errors)
    bad = [t for t in tags if not re.fullmatch(r"#?\w[\w-]*", t)]
    if bad:
        errors.append(f"{path}: {', '.join(bad)} is not a hashtag (one word, letters, digits, _ or -).")
    return ["#" + t.lstrip("#") for t in tags if t not in bad]


def _unknown(keys, path: str) -> list[str]:
    """One warning per key Crosspost does not know, naming where it is."""
    return [
        _("%(path)s: ignored (not a publishing rule Crosspost knows).") % {"path": f"{path}{key}"}
        for key in sorted(keys, key=str)
    ]


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _media_limits(rules: dict, path: str, errors: list[str]) -> dict:
    """video_duration, min_video_quality and max_file_size of ``rules`` as policy fields (null clears)."""
    values: dict = {}
    if "video_duration" in rules:
        value = rules["video_duration"]
        if value is None:
            values["min_video_duration_s"] = values["max_video_duration_s"] = None
        elif (
            not isinstance(value, list)
            or len(value) != 2
            or not all(v is None or (_is_int(v) and v >= 0) for v in value)
            or (None not in value and value[0] > value[1])
        ):
            errors.append(
                _("%(path)s: expected [min, max] seconds with 0 ≤ min ≤ max (null: no limit), got %(value)r.")
                % {"path": f"{path}.video_duration", "value": value}
            )
        else:
            values["min_video_duration_s"] = value[0] or None
            values["max_video_duration_s"] = value[1] or None
    if "min_video_quality" in rules:
        value = rules["min_video_quality"]
        quality = None
        if _is_int(value) and value > 0:
            quality = value
        elif isinstance(value, str):
            match = QUALITY.match(value)
            quality = int(match.group(1)) if match else NAMED_QUALITY.get(value.strip().lower())
        if value is None:
            values["min_video_quality"] = None
        elif not quality:
            errors.append(
                _("%(path)s: expected a video quality such as 720p, got %(value)r.")
                % {"path": f"{path}.min_video_quality", "value": value}
            )
        else:
            values["min_video_quality"] = quality
    if "max_file_size" in rules:
        value = rules["max_file_size"]
        size = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            size = value
        elif isinstance(value, str) and (match := FILE_SIZE.match(value)):
            size = float(match.group(1)) * FILE_UNITS[(match.group(2) or "mb").lower()]
        if value is None:
            values["max_file_size_mb"] = None
        elif size is None or size < 1:
            errors.append(
                _("%(path)s: expected a size of at least 1 MB such as 100MB or 2GB, got %(value)r.")
                % {"path": f"{path}.max_file_size", "value": value}
            )
        else:
            values["max_file_size_mb"] = math.floor(size)
    return values


def parse_rules(data, *, template: str | None = None) -> RulesImport:
    """Validate ``data`` (the loaded YAML) and map it to policy fields; RulesError lists every problem."""
    errors: list[str] = []
    result = RulesImport()
    if not isinstance(data, dict):
        raise RulesError([f"(top level): expected a mapping with 'platforms' and 'content_rules', got {type(data).__name__}."])
    result.warnings += _unknown(set(data) - {"platforms", "content_rules"}, "")

    content = data.get("content_rules") or {}
    shared: dict[str, list[str]] = {}
    if not isinstance(content, dict):
        errors.append("content_rules: expected a mapping.")
        content = {}
    for key, value in content.items():
        path = f"content_rules.{key}"
        if key == "forbidden_words":
            shared["forbidden_words"] = _strings(value, path, errors)
        elif key == "required_hashtags":
            shared["required_hashtags"] = _hashtags(value, path, errors)
    shared_limits = _media_limits(content, "content_rules", errors)
    result.warnings += _unknown(set(content) - CONTENT_KEYS, "content_rules.")

    platforms = data.get("platforms")
    if not isinstance(platforms, dict) or not platforms:
        errors.append("platforms: expected a mapping of platform name to its rules.")
        platforms = {}
    for name, rules in platforms.items():
        path = f"platforms.{name}"
        if name not in Platform.values:
            errors.append(f"{path}: unknown platform; use one of {', '.join(Platform.values)}.")
            continue
        rules = rules or {}
        if not isinstance(rules, dict):
            errors.append(f"{path}: expected a mapping of rules.")
            continue
        values: dict = {k: list(v) for k, v in shared.items()}
        result.warnings += _unknown(set(rules) - PLATFORM_KEYS, f"{path}.")
        for key in ("enabled", "use_optimal_times"):
            if key in rules:
                if not isinstance(rules[key], bool):
                    errors.append(
                        _("%(path)s: expected true or false, got %(value)r.") % {"path": f"{path}.{key}", "value": rules[key]}
                    )
                else:
                    values[key] = rules[key]
        if "max_daily_posts" in rules:
            value = rules["max_daily_posts"]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                errors.append(f"{path}.max_daily_posts: expected a whole number ≥ 1, got {value!r}.")
            else:
                values["daily_limit"] = value
        if "optimal_times" in rules:
            times = _strings(rules["optimal_times"], f"{path}.optimal_times", errors)
            bad = [t for t in times if not CLOCK.match(t)]
            if bad:
                errors.append(f"{path}.optimal_times: {', '.join(bad)} is not a time of day as HH:MM.")
            values["optimal_times"] = times
            values.setdefault("use_optimal_times", bool(times))
        if "hashtags_count" in rules:
            value = rules["hashtags_count"]
            if (
                not isinstance(value, list)
                or len(value) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
                or value[0] > value[1]
            ):
                errors.append(f"{path}.hashtags_count: expected [min, max] with 0 ≤ min ≤ max, got {value!r}.")
            else:
                values["hashtag_min"], values["hashtag_max"] = value
        for key, parse in (("forbidden_words", _strings), ("required_hashtags", _hashtags)):
            if key in rules:
                extra = parse(rules[key], f"{path}.{key}", errors)
                values[key] = list(dict.fromkeys([*values.get(key, []), *extra]))
        values.update(shared_limits)
        values.update(_media_limits(rules, path, errors))
        chosen = _template(rules, path, template, errors)
        if chosen is not None:
            errors += [f"{path}.caption_templates: {p}" for p in check_template(chosen)]
            values["caption_template"] = chosen
        result.policies[name] = values
    if errors:
        raise RulesError(errors)
    return result


def _template(rules: dict, path: str, wanted: str | None, errors: list[str]) -> str | None:
    if "caption_template" in rules:
        if not isinstance(rules["caption_template"], str):
            errors.append(f"{path}.caption_template: expected a text.")
            return None
        return rules["caption_template"]
    templates = rules.get("caption_templates")
    if templates is None:
        return None
    if not isinstance(templates, dict) or not templates or not all(isinstance(v, str) for v in templates.values()):
        errors.append(f"{path}.caption_templates: expected a mapping of template name to text.")
        return None
    if wanted is not None and wanted in templates:
        return templates[wanted]
    if len(templates) == 1:
        return next(iter(templates.values()))
    names = ", ".join(sorted(templates))
    if wanted is not None:
        errors.append(f"{path}.caption_templates: no template named {wanted!r} (there are: {names}).")
    else:
        errors.append(f"{path}.caption_templates: several templates ({names}); choose one with --template NAME.")
    return None


@transaction.atomic
def import_publishing_rules(*, workspace: Workspace, data, template: str | None = None, actor=None) -> RulesImport:
    """Apply ``data`` to ``workspace``'s policies: all of it or, on any error, nothing (RulesError)."""
    result = parse_rules(data, template=template)
    saved = {p.platform: p for p in PublishingPolicy.objects.select_for_update().filter(workspace=workspace)}
    for platform, values in result.policies.items():
        policy = policy_for(workspace.pk, platform, saved)
        for name, value in values.items():
            setattr(policy, name, value)
        try:
            policy.full_clean()
        except ValidationError as exc:
            raise RulesError([f"platforms.{platform}: {'; '.join(exc.messages)}"]) from exc
        policy.save()
    log_activity(
        action="policy.import",
        workspace=workspace,
        actor=actor,
        status=LogStatus.SUCCESS,
        message=f"Imported publishing rules for {', '.join(result.policies) or 'no platform'}.",
        details={"platforms": {p: sorted(v) for p, v in result.policies.items()}, "warnings": result.warnings},
    )
    return result
