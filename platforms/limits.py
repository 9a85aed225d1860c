"""What each platform accepts as a video's metadata, checked without a request.

The studio checks an output preset (title, description, tags, privacy, category,
playlist) when it is saved, long before a recording is published; the adapters'
``validate`` checks the same limits again on the real request. The numbers live in
the adapters (``youtube.TITLE_LIMIT``, ``telegram.CAPTION_LIMIT``…) and are only
read here, so a limit changes in one place.

What each field means per platform:

- YouTube: the video's title (empty: the description's first line, shortened),
  description (5000 *bytes*, ``<``/``>`` become ``‹``/``›`` — measured after that),
  tags (500 characters counted YouTube's way, with room kept for the execution
  marker), ``privacy_status``, ``category_id`` (a number as a string) and
  ``playlist_id``.
- VK video: the video's name is the caption's first line (cut at
  ``VIDEO_NAME_LIMIT``) and the wall post's text is the caption; ``privacy`` is
  video.save's ``privacy_view``, ``playlist`` its ``album_id``; VK videos have no
  tags or category.
- Telegram, Instagram, TikTok, Pinterest, sandbox: a title they have no field for
  opens the caption — the caption measured is the title, a blank line, then the
  description (Pinterest has a title of its own).

A field the platform has no place for must be empty, so a preset never carries a
setting that silently does nothing. Plain data in and out: English sentences, one
per problem (the caller translates or shows them as they are).
"""

from __future__ import annotations

from collections.abc import Callable

from . import pinterest, telegram, tiktok, vk, youtube
from .instagram import common as instagram
from .names import Platform
from .sandbox import SandboxAdapter

# The execution marker the YouTube adapter adds to the tags ("cp-<execution id>"): room is kept for a long one.
MARKER_ROOM = "cp-0000000000"


def caption_text(title: str, description: str) -> str:
    """The caption of a platform without a title field: the title, a blank line, the description."""
    return "\n\n".join(part for part in (title.strip(), description.strip()) if part)


def _youtube(title: str, description: str, tags: list[str], privacy: str, category: str, playlist: str) -> list[str]:
    found = []
    full_title = youtube.video_title(description, {"title": title})
    if not full_title:
        found.append("A YouTube video needs a title: write one, or a description whose first line becomes it.")
    elif len(full_title) > youtube.TITLE_LIMIT:
        found.append(f"The title has {len(full_title)} characters; YouTube allows {youtube.TITLE_LIMIT}.")
    size = len(youtube.video_description(description, short=False).encode())
    if size > youtube.DESCRIPTION_LIMIT_BYTES:
        found.append(
            f"The description is {size} bytes (UTF-8; < and > count as ‹ ›); YouTube allows {youtube.DESCRIPTION_LIMIT_BYTES}."
        )
    if youtube.tags_length(youtube.video_tags({"tags": tags}, MARKER_ROOM)) > youtube.TAGS_LIMIT:
        room = youtube.TAGS_LIMIT - len(MARKER_ROOM) - 1  # the marker and its comma
        found.append(
            f"The tags take {youtube.tags_length(tags)} characters (commas count, a tag with spaces counts its quotes); "
            f"YouTube allows {room} here (Crosspost adds a tag of its own)."
        )
    if privacy and privacy not in youtube.PRIVACY_STATUSES:
        found.append(f"Privacy {privacy!r} is not YouTube's: use one of {', '.join(youtube.PRIVACY_STATUSES)}.")
    found += [problem for problem in (youtube.category_problem(category), youtube.playlist_problem(playlist)) if problem]
    return found


def _vk(title: str, description: str, tags: list[str], privacy: str, category: str, playlist: str) -> list[str]:
    found = []
    if len(title.strip()) > vk.VIDEO_NAME_LIMIT:
        found.append(f"The title has {len(title.strip())} characters; a VK video's name allows {vk.VIDEO_NAME_LIMIT}.")
    text = caption_text(title, description)
    if len(text) > vk.MESSAGE_LIMIT:
        found.append(f"Title and description make {len(text)} characters; a VK post allows {vk.MESSAGE_LIMIT}.")
    found += [problem for problem in (vk.privacy_view_problem(privacy), vk.album_problem(playlist)) if problem]
    found += _unsupported("VK", tags=tags, category=category)
    return found


def _caption_only(name: str, limit: int, *, measure: Callable[[str], int] = len) -> Callable[..., list[str]]:
    """The check of a platform whose only text is a caption of ``limit`` (counted by ``measure``)."""

    def check(title: str, description: str, tags: list[str], privacy: str, category: str, playlist: str) -> list[str]:
        found = []
        text = caption_text(title, description)
        if measure(text) > limit:
            found.append(f"Title and description make a caption of {measure(text)} characters; {name} allows {limit}.")
        return found + _unsupported(name, tags=tags, privacy=privacy, category=category, playlist=playlist)

    return check


def _instagram(title: str, description: str, tags: list[str], privacy: str, category: str, playlist: str) -> list[str]:
    found = _caption_only("Instagram", instagram.CAPTION_LIMIT)(title, description, tags, privacy, category, playlist)
    return found + [problem.message for problem in instagram.caption_problems(caption_text(title, description))]


def _tiktok(title: str, description: str, tags: list[str], privacy: str, category: str, playlist: str) -> list[str]:
    found = _caption_only("TikTok", tiktok.TITLE_LIMIT, measure=tiktok.utf16_length)(
        title, description, tags, "", category, playlist
    )
    if privacy and privacy not in tiktok.PRIVACY_LEVELS:
        found.append(f"Privacy {privacy!r} is not TikTok's: use one of {', '.join(tiktok.PRIVACY_LEVELS)}.")
    return found


def _pinterest(title: str, description: str, tags: list[str], privacy: str, category: str, playlist: str) -> list[str]:
    found = []
    if len(title.strip()) > pinterest.TITLE_LIMIT:
        found.append(f"The title has {len(title.strip())} characters; a Pin title allows {pinterest.TITLE_LIMIT}.")
    if len(description.strip()) > pinterest.DESCRIPTION_LIMIT:
        found.append(
            f"The description has {len(description.strip())} characters; a Pin description allows {pinterest.DESCRIPTION_LIMIT}."
        )
    return found + _unsupported("Pinterest", tags=tags, privacy=privacy, category=category, playlist=playlist)


def _unsupported(name: str, **fields: str | list[str]) -> list[str]:
    """A field given for a platform that has no place for it: it would silently do nothing."""
    return [f"{name} has no {field} setting for a video: leave {field} empty." for field, value in fields.items() if value]


CHECKS: dict[str, Callable[..., list[str]]] = {
    Platform.YOUTUBE: _youtube,
    Platform.VK: _vk,
    Platform.TELEGRAM: _caption_only("Telegram", telegram.CAPTION_LIMIT),  # a caption under a video
    Platform.INSTAGRAM: _instagram,
    Platform.TIKTOK: _tiktok,
    Platform.PINTEREST: _pinterest,
    Platform.SANDBOX: _caption_only("Sandbox", SandboxAdapter.caption_limit or 0),
}


def metadata_problems(
    platform: str,
    *,
    title: str = "",
    description: str = "",
    tags: list[str] | None = None,
    privacy: str = "",
    category: str = "",
    playlist: str = "",
) -> list[str]:
    """What ``platform`` would refuse in a video's metadata, one sentence each (empty: fine).

    Empty values mean "the platform's default" and are never a problem, except a YouTube video with
    neither title nor description (it needs a title).
    """
    check = CHECKS.get(platform)
    if check is None:
        return [f"unknown platform {platform!r}: use one of {', '.join(sorted(CHECKS))}."]
    clean_tags = [str(tag).strip() for tag in tags or [] if str(tag).strip()]
    return check(
        title or "", description or "", clean_tags, (privacy or "").strip(), (category or "").strip(), (playlist or "").strip()
    )
