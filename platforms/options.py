"""The per-platform options a post may set (``Post.options[platform]``), with their JSON types.

Each adapter reads only these keys of a post's options; TikTok, YouTube and
Pinterest overlay them on the account's options, so there a post may also
override an account-level key (a board, a privacy level). Kept apart from the
adapters so checking a post does not import any platform's client library.
"""

from typing import Any

from .names import Platform

# A JSON type as Python sees it after json.loads; bool is checked before int (bool is an int).
BOOL, INT, NUMBER, STR = "boolean", "integer", "number", "string"
STR_LIST = "list of strings (or one comma-separated string)"
DIGITS = "whole number (or a string of digits)"

# Understood by every platform: allow the media pipeline to trim a video that is too long.
COMMON = {"allow_trim": BOOL}

POST_OPTIONS: dict[str, dict[str, str]] = {
    Platform.TELEGRAM: {"disable_notification": BOOL, "protect_content": BOOL},
    Platform.VK: {"album_id": DIGITS, "privacy_view": STR},
    Platform.INSTAGRAM: {"share_to_feed": BOOL},
    Platform.TIKTOK: {
        "privacy_level": STR,
        "title": STR,
        "disable_comment": BOOL,
        "disable_duet": BOOL,
        "disable_stitch": BOOL,
        "brand_content_toggle": BOOL,
        "brand_organic_toggle": BOOL,
        "is_aigc": BOOL,
        "auto_add_music": BOOL,
        "pull_from_url": BOOL,
        "video_cover_timestamp_ms": INT,
        "photo_cover_index": INT,
    },
    Platform.YOUTUBE: {
        "title": STR,
        "tags": STR_LIST,
        "category_id": STR,
        "privacy_status": STR,
        "made_for_kids": BOOL,
        "notify_subscribers": BOOL,
        "contains_synthetic_media": BOOL,
        "playlist_id": STR,
    },
    Platform.PINTEREST: {
        "board_id": STR,
        "board_section_id": STR,
        "title": STR,
        "link": STR,
        "alt_text": STR,
        "cover_image_url": STR,
        "cover_image_key_frame_time": NUMBER,
    },
    Platform.SANDBOX: {},
}


def matches(value: Any, kind: str) -> bool:
    if kind == BOOL:
        return isinstance(value, bool)
    if kind == INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == NUMBER:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == STR:
        return isinstance(value, str)
    if kind == DIGITS:
        return (isinstance(value, int) and not isinstance(value, bool) and value >= 0) or (
            isinstance(value, str) and value.isascii() and value.isdigit()
        )
    if kind == STR_LIST:
        return isinstance(value, str) or (isinstance(value, list) and all(isinstance(item, str) for item in value))
    raise ValueError(f"unknown option type {kind!r}")


def problems(platform: str, options: Any) -> list[str]:
    """What is wrong with one platform's options, one sentence each (empty: fine)."""
    if not isinstance(options, dict):
        return [f"options.{platform} must be an object of {platform} options, not {type(options).__name__}."]
    known = {**COMMON, **POST_OPTIONS[platform]}
    found = []
    unknown = sorted(set(options) - set(known))
    if unknown:
        allowed = ", ".join(sorted(known))
        found.append(f"options.{platform} has unknown keys: {', '.join(unknown)} (known: {allowed}).")
    for key, value in options.items():
        if key in known and not matches(value, known[key]):
            found.append(f"options.{platform}.{key} must be a {known[key]}.")
    return found
