"""A watched source's repost rules (``Source.rules``): which items become posts, how their text is
changed, when they go out and how many a day.

    {"include": ["drop", "sale"],        any of them must be in the text (case-insensitive)
     "exclude": ["giveaway"],            none of them may be
     "include_regex": "…", "exclude_regex": "…",
     "min_length": 40,                   characters of text, at least
     "require_media": true, "skip_reposts": true, "skip_ads": true,
     "template": "{text}\\n\\n{link}",    the caption; {text} {link} {source}
     "strip_links": true, "strip_hashtags": true, "hashtags": ["#shop"],
     "quiet_hours": {"start": "23:00", "end": "08:00"},   in the workspace's time zone
     "daily_cap": 10}                    posts a day at most; more are skipped

Checked by ``rules_errors`` (every message says what to fix), applied by ``rule_skip`` and
``caption_of``. Every key is optional; ``{}`` takes every item as it is.
"""

from __future__ import annotations

import re
import string
from datetime import time
from typing import Any

from django.utils.translation import gettext as _

KEYS = {
    "include",
    "exclude",
    "include_regex",
    "exclude_regex",
    "min_length",
    "require_media",
    "skip_reposts",
    "skip_ads",
    "template",
    "strip_links",
    "strip_hashtags",
    "hashtags",
    "quiet_hours",
    "daily_cap",
}
FLAGS = ("require_media", "skip_reposts", "skip_ads", "strip_links", "strip_hashtags")
PLACEHOLDERS = {"text", "link", "source"}
# What advertising looks like in a post's text when the platform does not mark it: Russian law's
# "реклама" label with its erid token, and the usual hashtags.
AD_MARKERS = re.compile(r"(#реклама|#ad\b|#ads\b|#sponsored|\berid\s*[:=])", re.IGNORECASE)
LINK = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
HASHTAG = re.compile(r"(?<!\w)#\w+")
CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def _words(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(word, str) and word.strip() for word in value)


def _clock(value: Any) -> time | None:
    match = CLOCK.fullmatch(str(value or "").strip())
    return time(int(match[1]), int(match[2])) if match else None


def rules_errors(rules: Any) -> dict[str, str]:
    """Every problem of ``rules`` in one message under ``rules`` (empty when they are fine)."""
    if not isinstance(rules, dict):
        return {"rules": _('Rules must be a JSON object, like {"include": ["sale"]}.')}
    problems = []
    unknown = set(rules) - KEYS
    if unknown:
        problems.append(
            _("Unknown rules: %(keys)s (known: %(known)s).")
            % {"keys": ", ".join(sorted(unknown)), "known": ", ".join(sorted(KEYS))}
        )
    for key in ("include", "exclude", "hashtags"):
        if key in rules and not _words(rules[key]):
            problems.append(_("%(key)s must be a list of non-empty words.") % {"key": key})
    for key in ("include_regex", "exclude_regex"):
        if key in rules:
            try:
                re.compile(str(rules[key]))
            except re.error as exc:
                problems.append(_("%(key)s is not a valid regular expression: %(error)s.") % {"key": key, "error": exc})
    for key in ("min_length", "daily_cap"):
        if key in rules and (isinstance(rules[key], bool) or not isinstance(rules[key], int) or rules[key] < 1):
            problems.append(_("%(key)s must be a whole number of at least 1.") % {"key": key})
    for key in FLAGS:
        if key in rules and not isinstance(rules[key], bool):
            problems.append(_("%(key)s must be true or false.") % {"key": key})
    if "template" in rules:
        problems += _template_problems(rules["template"])
    if "quiet_hours" in rules:
        quiet = rules["quiet_hours"]
        if not isinstance(quiet, dict) or set(quiet) != {"start", "end"} or not all(map(_clock, quiet.values())):
            problems.append(_('quiet_hours must be {"start": "HH:MM", "end": "HH:MM"}, like {"start": "23:00", "end": "08:00"}.'))
        elif _clock(quiet["start"]) == _clock(quiet["end"]):
            problems.append(_("quiet_hours must start and end at different times."))
    return {"rules": " ".join(str(problem) for problem in problems)} if problems else {}


def _template_problems(template: Any) -> list[str]:
    if not isinstance(template, str) or not template.strip():
        return [_("template must be text with {text}, {link} or {source} in it.")]
    try:
        fields = {name for _literal, name, spec, conversion in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        return [_("template cannot be read: %(error)s (write a literal brace as {{ or }}).") % {"error": exc}]
    unknown = fields - PLACEHOLDERS
    if unknown:
        return [
            _("template knows {text}, {link} and {source} only, not %(names)s.")
            % {"names": ", ".join("{" + name + "}" for name in sorted(unknown))}
        ]
    return []


def rule_skip(rules: dict, *, text: str, has_media: bool, is_repost: bool, is_ad: bool) -> str:
    """Why the rules skip an item ('' when they take it). The daily cap is counted by the caller."""
    lowered = text.lower()
    if rules.get("skip_reposts") and is_repost:
        return _("A repost of another post (skip_reposts).")
    if rules.get("skip_ads") and (is_ad or AD_MARKERS.search(text)):
        return _("Marked as advertising (skip_ads).")
    if rules.get("require_media") and not has_media:
        return _("No photo or video (require_media).")
    if rules.get("min_length") and len(text.strip()) < rules["min_length"]:
        return _("The text is %(length)s characters, shorter than min_length %(min)s.") % {
            "length": len(text.strip()),
            "min": rules["min_length"],
        }
    include = rules.get("include") or []
    if include and not any(word.lower() in lowered for word in include):
        return _("None of the include words is in the text.")
    found = [word for word in rules.get("exclude") or [] if word.lower() in lowered]
    if found:
        return _("The text has an excluded word: %(word)s.") % {"word": found[0]}
    if rules.get("include_regex") and not re.search(rules["include_regex"], text, re.IGNORECASE):
        return _("The text does not match include_regex.")
    if rules.get("exclude_regex") and re.search(rules["exclude_regex"], text, re.IGNORECASE):
        return _("The text matches exclude_regex.")
    return ""


def caption_of(rules: dict, *, text: str, link: str, source: str) -> str:
    """The post's caption: the item's text changed as the rules say (links and hashtags stripped
    from the item's own text, the template filled, the required hashtags appended once)."""
    if rules.get("strip_links"):
        text = LINK.sub("", text)
    if rules.get("strip_hashtags"):
        text = HASHTAG.sub("", text)
    if rules.get("strip_links") or rules.get("strip_hashtags"):
        text = "\n".join(re.sub(r"[ \t]{2,}", " ", line).strip() for line in text.splitlines())
        text = re.sub(r"\n{3,}", "\n\n", text).strip()
    template = rules.get("template")
    caption = template.format(text=text, link=link, source=source).strip() if template else text
    present = {tag.lower() for tag in HASHTAG.findall(caption)}
    wanted = []
    for tag in rules.get("hashtags") or []:
        tag = "#" + tag.strip().lstrip("#")
        if tag.lower() not in present:
            wanted.append(tag)
            present.add(tag.lower())
    return f"{caption}\n\n{' '.join(wanted)}".strip() if wanted else caption


def quiet_hours(rules: dict) -> tuple[time, time] | None:
    quiet = rules.get("quiet_hours")
    return (_clock(quiet["start"]), _clock(quiet["end"])) if quiet else None
