"""Where a watched source's new posts come from: one small fetcher per source kind.

A fetcher is plain data in and out, like the publishing adapters: ``fetch_new(request)`` gets the
source's options, the cursor it returned last time and (for kinds read through an account: VK
wall, Instagram, YouTube) the account's snapshot with its proxy, and returns the items newer than
the cursor, oldest first, with the cursor to store once they are safely made into posts. Errors
are the ``PlatformError`` family.

Kinds: ``vk_wall`` (:mod:`.vk_wall`), ``youtube`` (:mod:`.youtube_uploads`), ``instagram``
(:mod:`.instagram_media`), ``rss`` (:mod:`.rss`). Every one read through an account starts from
now on its first poll (an empty cursor) unless its ``backfill`` option asks for the latest N, and
never hands out a pinned old post again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from ..base import AccountSnapshot


@dataclass(frozen=True)
class FetchedItem:
    """One post found on a source."""

    remote_id: str  # stable per source: the exactly-once key
    text: str = ""
    media_urls: tuple[str, ...] = ()  # in order; fetched by the caller into storage
    link: str = ""  # the post's public URL
    published_at: datetime | None = None
    is_repost: bool = False  # a share of someone else's post
    is_ad: bool = False  # marked as advertising by the platform
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class FetchRequest:
    options: dict[str, Any]  # the source's per-kind options (validated by sources.kinds)
    cursor: dict[str, Any] = field(default_factory=dict)  # what fetch_new returned last time ({} at first)
    account: AccountSnapshot | None = None  # for kinds read through an account (its proxy included)
    limit: int = 50


@dataclass(frozen=True)
class FetchResult:
    items: list[FetchedItem]  # newer than the cursor, oldest first
    cursor: dict[str, Any]  # to store after the items are made into posts (last id/time, ETag, Last-Modified)


class Fetcher:
    kind: ClassVar[str]
    needs_account: ClassVar[str | None] = None  # the platform of the account the kind is read through

    def fetch_new(self, request: FetchRequest) -> FetchResult:
        raise NotImplementedError

    def options_errors(self, options: dict) -> dict[str, str]:
        """What is wrong with a source's options, field → message (translated); {} when they are fine.

        The fetchers here put every problem under ``"options"`` (the Source field), in one message.
        """
        return {}


# --- small readers of platform answers, shared by the fetchers ------------------------------------


def as_int(value: Any) -> int | None:
    """An integer from an option or an API field (``"12"``, ``12``); None for anything else (booleans too)."""
    if isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def iso_time(value: str | None) -> datetime | None:
    """An ISO 8601 time as the platforms write it (``Z`` or an offset); None when it is not one."""
    try:
        return datetime.fromisoformat((value or "").replace("Z", "+00:00"))
    except ValueError:
        return None


_FETCHERS: dict[str, Fetcher] = {}


def register(fetcher: Fetcher) -> Fetcher:
    _FETCHERS[fetcher.kind] = fetcher
    return fetcher


def get_fetcher(kind: str) -> Fetcher:
    _load()
    return _FETCHERS[kind]


def has_fetcher(kind: str) -> bool:
    _load()
    return kind in _FETCHERS


def _load() -> None:
    """Import the fetcher modules (each registers itself)."""
    import importlib

    for name in ("rss", "vk_wall", "youtube_uploads", "instagram_media"):
        try:
            importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
