"""What both Instagram backends share: the limits, the offline checks, and the rule
that finds a post again after a crash.

Finding a post again (``lookup``)
---------------------------------
The execution marker cannot go into the caption — the audience would read it — and
Instagram keeps nothing else of ours. So a post is taken to be an execution's when

* its caption equals the execution's caption once both are normalised
  (Unicode NFC, runs of whitespace collapsed to one space, ends trimmed), and
* it was taken at or after the execution started, less ``CLOCK_SKEW`` for
  our clock and Instagram's disagreeing.

Only the ``LOOKUP_RECENT`` newest posts are searched. Stories carry no caption
Instagram shows back, so a story is the execution's when it is of the same kind
(photo or video) and was taken in the same window. The rule can claim a post
with the same caption that someone published on the same account by hand in
that window; the other way to err would be publishing twice.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta

import requests
import urllib3

from ..base import DeliveryUnknown, LookupRequest, MediaItem, Problem, PublishRequest

CAPTION_LIMIT = 2200
HASHTAG_LIMIT = 30
MENTION_LIMIT = 20
CAROUSEL_MIN, CAROUSEL_MAX = 2, 10
# Feed photos (single or in a carousel): width / height from 4:5 to 1.91:1.
FEED_ASPECT_MIN, FEED_ASPECT_MAX = 4 / 5, 1.91

LOOKUP_RECENT = 20
CLOCK_SKEW = timedelta(minutes=2)

HASHTAG = re.compile(r"(?<![\w&])#\w+")
MENTION = re.compile(r"(?<![\w.@])@[\w.]+")

# media_type → (how many items, the kinds allowed)
SHAPES: dict[str, tuple[tuple[int, int], frozenset[str]]] = {
    "photo": ((1, 1), frozenset({"image"})),
    "video": ((1, 1), frozenset({"video"})),
    "reel": ((1, 1), frozenset({"video"})),
    "story": ((1, 1), frozenset({"image", "video"})),
    "carousel": ((CAROUSEL_MIN, CAROUSEL_MAX), frozenset({"image", "video"})),
}


def caption_problems(caption: str) -> list[Problem]:
    problems = []
    hashtags = len(HASHTAG.findall(caption))
    if hashtags > HASHTAG_LIMIT:
        problems.append(Problem("too_many_hashtags", f"The caption has {hashtags} hashtags; Instagram allows {HASHTAG_LIMIT}."))
    mentions = len(MENTION.findall(caption))
    if mentions > MENTION_LIMIT:
        problems.append(
            Problem("too_many_mentions", f"The caption mentions {mentions} accounts; Instagram allows {MENTION_LIMIT}.")
        )
    return problems


def shape_problems(request: PublishRequest) -> list[Problem]:
    """The number and kinds of media items each media type takes."""
    if request.media_type not in SHAPES:
        return []
    (low, high), kinds = SHAPES[request.media_type]
    count = len(request.media)
    if not low <= count <= high:
        wanted = f"{low} to {high} media items" if low != high else "exactly one media item"
        return [Problem("media_count", f"An Instagram {request.media_type} takes {wanted}; this post has {count}.")]
    wrong = [item for item in request.media if item.kind not in kinds]
    if wrong:
        allowed = " or ".join(sorted(kinds))
        return [Problem("media_kind", f"An Instagram {request.media_type} takes {allowed} media, not {wrong[0].kind}.")]
    return []


def aspect_problems(request: PublishRequest) -> list[Problem]:
    """Feed photos outside 4:5 … 1.91:1 are refused by Instagram (renditions crop them)."""
    if request.media_type not in ("photo", "carousel"):
        return []
    for position, item in enumerate(request.media, start=1):
        if item.kind != "image" or not item.width or not item.height:
            continue
        ratio = item.width / item.height
        if not FEED_ASPECT_MIN - 0.005 <= ratio <= FEED_ASPECT_MAX + 0.005:
            return [
                Problem(
                    "aspect_ratio",
                    f"Image {position} is {item.width}×{item.height}; Instagram feed photos must be between 4:5 "
                    "and 1.91:1 — use the 4:5 or 1:1 rendition.",
                )
            ]
    return []


def mime_problems(media: tuple[MediaItem, ...], *, images: dict[str, str], videos: dict[str, str], backend: str) -> list[Problem]:
    """Formats the backend can send; ``images``/``videos`` map MIME types to their names."""
    for position, item in enumerate(media, start=1):
        allowed = images if item.kind == "image" else videos
        if item.mime not in allowed:
            names = ", ".join(dict.fromkeys(allowed.values()))
            return [
                Problem(
                    "media_format",
                    f"Media {position} is {item.mime or 'of an unknown type'}; Instagram ({backend}) takes {names} {item.kind}s.",
                )
            ]
    return []


def normalise_caption(text: str | None) -> str:
    return " ".join(unicodedata.normalize("NFC", text or "").split())


def is_our_post(*, caption: str | None, taken_at: datetime | None, expected_caption: str, started_at: datetime | None) -> bool:
    """The lookup rule of this module's docstring, for feed posts."""
    if taken_at is None or started_at is None or taken_at < started_at - CLOCK_SKEW:
        return False
    return normalise_caption(caption) == normalise_caption(expected_caption)


def is_our_story(*, is_video: bool, taken_at: datetime | None, expected_video: bool, started_at: datetime | None) -> bool:
    if taken_at is None or started_at is None or taken_at < started_at - CLOCK_SKEW:
        return False
    return is_video == expected_video


def first_media_kind(execution: LookupRequest) -> str:
    return execution.media_kinds[0] if execution.media_kinds else ""


# libcurl errors raised before a request left: resolve proxy/host, connect, TLS handshake.
_CURL_NOT_SENT = {5, 6, 7, 35}


def may_have_arrived(cause: BaseException | None) -> bool:
    """Whether a request that failed with ``cause`` may have reached Instagram (unsure: yes).

    Stricter than :func:`platforms.http.may_have_arrived`: instagrapi's
    curl transport reports libcurl error codes, and an unknown cause counts as sent.
    """
    if cause is None:
        return True
    if isinstance(cause, requests.exceptions.ConnectTimeout):
        return False
    curl_code = getattr(cause.__cause__, "code", None)  # instagrapi's curl transport chains libcurl's error
    if curl_code is not None:
        return int(curl_code) not in _CURL_NOT_SENT
    if isinstance(cause, requests.exceptions.ConnectionError) and not isinstance(cause, requests.exceptions.ProxyError):
        # Refused/unreachable arrives wrapped in MaxRetryError; a connection dropped
        # mid-request is a bare ProtocolError ("Connection aborted").
        return bool(cause.args) and isinstance(cause.args[0], urllib3.exceptions.ProtocolError)
    return True


class PublishOutcomeUnknown(DeliveryUnknown):
    """The publishing call went out and no usable answer came back: the post may exist.

    Deliberately not a :class:`~platforms.base.PlatformError`: the
    publisher then marks the execution unconfirmed, and reconciliation asks
    ``lookup`` before anything is posted again.
    """
