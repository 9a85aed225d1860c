"""Content rules of a PublishingPolicy, checked per account before anything posts."""

import re
from collections.abc import Iterable

from django.utils.translation import gettext as _

from platforms.base import Problem

MB = 1024 * 1024

HASHTAG = re.compile(r"(?<![\w#])#(\w[\w-]*)", re.UNICODE)


def hashtags(text: str) -> list[str]:
    return [tag.lower() for tag in HASHTAG.findall(text)]


def switched_off(policy, platform_label: str) -> str:
    """Why nothing is published on this platform when ``policy`` switches it off ('' when it does not)."""
    if policy is None or policy.enabled:
        return ""
    return _("Publishing to %(platform)s is switched off in this workspace's rules.") % {"platform": platform_label}


def check_media(policy, assets: Iterable) -> list[Problem]:
    """The policy's media limits on the post's files as uploaded (``assets``: kind, size,
    width, height, duration — media.models.MediaAsset rows); unknown values pass."""
    if policy is None:
        return []
    problems = []
    for asset in assets:
        name = str(asset)
        if policy.max_file_size_mb and asset.size and asset.size > policy.max_file_size_mb * MB:
            problems.append(
                Problem(
                    "max_file_size",
                    _("%(name)s is %(size).1f MB; the rules allow at most %(limit)d MB.")
                    % {"name": name, "size": asset.size / MB, "limit": policy.max_file_size_mb},
                )
            )
        if asset.kind != "video":
            continue
        duration = asset.duration
        if duration is not None and policy.min_video_duration_s and duration < policy.min_video_duration_s:
            problems.append(
                Problem(
                    "video_duration",
                    _("%(name)s lasts %(duration)g s; the rules want at least %(limit)d s.")
                    % {"name": name, "duration": round(duration, 1), "limit": policy.min_video_duration_s},
                )
            )
        if duration is not None and policy.max_video_duration_s and duration > policy.max_video_duration_s:
            problems.append(
                Problem(
                    "video_duration",
                    _("%(name)s lasts %(duration)g s; the rules allow at most %(limit)d s.")
                    % {"name": name, "duration": round(duration, 1), "limit": policy.max_video_duration_s},
                )
            )
        if policy.min_video_quality and asset.width and asset.height:
            quality = min(asset.width, asset.height)
            if quality < policy.min_video_quality:
                problems.append(
                    Problem(
                        "min_video_quality",
                        _("%(name)s is %(width)d×%(height)d (%(quality)dp); the rules want at least %(limit)dp.")
                        % {
                            "name": name,
                            "width": asset.width,
                            "height": asset.height,
                            "quality": quality,
                            "limit": policy.min_video_quality,
                        },
                    )
                )
    return problems


def check_rules(policy, caption: str, assets: Iterable = ()) -> list[Problem]:
    """Hashtag range, forbidden words, required hashtags and media limits of ``policy`` (None: no rules)."""
    if policy is None:
        return []
    problems = []
    tags = hashtags(caption)
    if not policy.hashtag_min <= len(tags) <= policy.hashtag_max:
        problems.append(
            Problem(
                "hashtag_count",
                f"The caption has {len(tags)} hashtag(s); the policy wants {policy.hashtag_min}–{policy.hashtag_max}.",
            )
        )
    lowered = caption.lower()
    found = [word for word in policy.forbidden_words or [] if re.search(rf"(?<!\w){re.escape(word.lower())}(?!\w)", lowered)]
    if found:
        problems.append(Problem("forbidden_words", f"Remove the forbidden word(s): {', '.join(found)}."))
    missing = [tag for tag in policy.required_hashtags or [] if tag.lstrip("#").lower() not in tags]
    if missing:
        problems.append(Problem("required_hashtags", f"Add the required hashtag(s): {', '.join(missing)}."))
    return problems + check_media(policy, assets)
