"""An Instagram account's posts as a source, read through an Instagram account of Crosspost.

The account decides the backend, as for publishing (:func:`platforms.instagram.uses_graph_api`):

* Graph API (a business or creator account with ``access_token`` and ``ig_user_id``): its own
  media, ``GET /{ig-user-id}/media?fields=id,caption,media_type,media_url,thumbnail_url,
  permalink,timestamp,children{media_url,media_type}``, pages through ``paging.cursors.after``.
  The Graph API shows other accounts' media only through business discovery, which this does
  not use: a Graph account reads itself.
* Private API (instagrapi, the account's session, device and proxy, one relogin when the
  session is gone): ``options.username``'s posts (``users/{username}/usernameinfo/`` once, the
  id kept in the cursor), or the account's own. The posts come from ``feed/user/{id}/`` paged by
  ``next_max_id`` — the request instagrapi's ``user_medias`` makes; it is called directly because
  ``user_medias`` turns a refusal (a private profile, throttling) into an empty list.

Options: ``username`` (private API only), ``backfill`` (0–50, default 0).

Up to three pinned posts come first, whatever their age; the others newest first. A post is new
when it was taken after the cursor's ``last_at``; paging stops at an old post past the pinned
places (or at ``MAX_PAGES``). The first poll starts from now unless ``backfill`` asks for the
latest N; later polls return the new posts oldest first, at most ``request.limit``, and the cursor
points at the newest one returned.

An item: remote id the media id (Graph) or pk (private API), text the caption, media the photo or
video URLs — a carousel's items in order, a video's file (``media_url``; Graph leaves it out for
media with copyrighted music) —, link the permalink, published at the ``timestamp``/``taken_at``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.utils.translation import gettext as _

from .. import base
from ..instagram import graph as graph_backend
from ..instagram import private as private_backend
from ..instagram import uses_graph_api
from ..names import Platform
from . import FetchedItem, Fetcher, FetchRequest, FetchResult, as_int, iso_time, register

GRAPH_PAGE = 50
PRIVATE_PAGE = 33  # what instagrapi asks for
MAX_PAGES = 10
MAX_BACKFILL = 50
PINNED_MAX = 3  # Instagram pins at most three posts to a profile
USERNAME = re.compile(r"@?[A-Za-z0-9._]{1,30}")
GRAPH_FIELDS = "id,caption,media_type,media_url,thumbnail_url,permalink,timestamp,children{media_url,media_type}"


@dataclass(frozen=True)
class _Media:
    at: datetime
    item: FetchedItem


# --- Graph API -----------------------------------------------------------------------------------


def _graph_media(media: dict) -> _Media | None:
    at = graph_backend._timestamp(media.get("timestamp"))
    if at is None or not media.get("id"):
        return None
    if media.get("media_type") == "CAROUSEL_ALBUM":
        children = (media.get("children") or {}).get("data") or []
        urls = [child.get("media_url") for child in children]
    else:
        urls = [media.get("media_url")]
    item = FetchedItem(
        remote_id=str(media["id"]),
        text=media.get("caption") or "",
        media_urls=tuple(url for url in urls if url),
        link=media.get("permalink") or "",
        published_at=at,
        raw=media,
    )
    return _Media(at, item)


def _graph_pages(account: base.AccountSnapshot, size: int) -> Iterator[list[_Media]]:
    api = graph_backend._Api(account)
    after = ""
    while True:
        params: dict[str, Any] = {"fields": GRAPH_FIELDS, "limit": size}
        if after:
            params["after"] = after
        try:
            page = api.get(f"{api.ig_user_id}/media", **params)
        except base.PermissionDenied as error:
            raise base.PermissionDenied(
                _("The token may not read this account's media (it needs instagram_basic): %(detail)s")
                % {"detail": error.message},
                raw=error.raw,
            ) from None
        yield [m for m in map(_graph_media, page.get("data") or []) if m]
        paging = page.get("paging") or {}
        after = (paging.get("cursors") or {}).get("after") or ""
        if not paging.get("next") or not after:
            return


# --- private API ---------------------------------------------------------------------------------


def _best(versions: list[dict] | None) -> str:
    versions = [v for v in versions or [] if v.get("url")]
    if not versions:
        return ""
    return max(versions, key=lambda v: (v.get("width") or 0) * (v.get("height") or 0))["url"]


def _private_url(media: dict) -> str:
    if media.get("media_type") == 2:
        return _best(media.get("video_versions"))
    return _best((media.get("image_versions2") or {}).get("candidates"))


def _private_media(media: dict) -> _Media | None:
    if not media.get("pk") or not media.get("taken_at"):
        return None
    at = datetime.fromtimestamp(int(media["taken_at"]), UTC)
    if media.get("media_type") == 8:
        urls = [_private_url(child) for child in media.get("carousel_media") or []]
    else:
        urls = [_private_url(media)]
    code = media.get("code") or ""
    path = "reel" if media.get("product_type") == "clips" else "p"
    item = FetchedItem(
        remote_id=str(media["pk"]),
        text=(media.get("caption") or {}).get("text") or "",
        media_urls=tuple(url for url in urls if url),
        link=f"https://www.instagram.com/{path}/{code}/" if code else "",
        published_at=at,
        raw=media,
    )
    return _Media(at, item)


def _unreadable(error: base.PlatformError, who: str) -> base.PlatformError:
    """What a refusal to show a profile's posts means for a source (the account itself is fine)."""
    name = error.raw.get("exception")
    if name == "PrivateAccount":
        why = _("the profile is private and the account does not follow it")
    elif name in ("UserNotFound", "ClientNotFoundError"):
        why = _("there is no such profile: check the source's username")
    elif isinstance(error, base.ContentRejected):
        why = error.message
    else:
        return error
    return base.PermissionDenied(
        _("Instagram will not show the posts of %(who)s: %(why)s.") % {"who": who, "why": why}, raw=error.raw
    )


class _PrivatePages:
    """Pages of a profile's feed through one instagrapi connection; ``close`` saves the session."""

    def __init__(self, account: base.AccountSnapshot, username: str, cursor: dict) -> None:
        self.connection = private_backend._Connection(account)
        self.username = username
        self.user_id = str(cursor.get("user_id") or "") if cursor.get("username") == username else ""
        self.who = f"@{username}" if username else f"@{account.handle}"

    def close(self) -> None:
        self.connection.save()

    def _call(self, action):
        try:
            return self.connection.call(action)
        except base.PlatformError as error:
            raise _unreadable(error, self.who) from None

    def resolve(self) -> str:
        self.connection.ensure_login()
        if not self.user_id:
            if self.username:
                user = self._call(lambda client: client.user_info_by_username_v1(self.username))
                self.user_id = str(user.pk)
            else:
                self.user_id = str(self.connection.client.user_id)
        return self.user_id

    def pages(self, size: int) -> Iterator[list[_Media]]:
        user_id = self.resolve()
        max_id = ""
        while True:
            params = {"count": size, "ranked_content": "true"}
            if max_id:
                params["max_id"] = max_id
            payload = self._call(
                lambda client, params=params: client.private_request(
                    f"feed/user/{user_id}/", params={**params, "rank_token": client.rank_token}
                )
            )
            yield [m for m in map(_private_media, payload.get("items") or []) if m]
            max_id = payload.get("next_max_id") or ""
            if not payload.get("more_available") or not max_id:
                return


# --- the fetcher -----------------------------------------------------------------------------------


class InstagramMediaFetcher(Fetcher):
    kind = "instagram"
    needs_account = Platform.INSTAGRAM

    def options_errors(self, options: dict) -> dict[str, str]:
        problems = []
        username = options.get("username")
        if username not in (None, "") and not USERNAME.fullmatch(str(username).strip()):
            problems.append(_("options.username must be an Instagram username: letters, digits, dots and underscores."))
        backfill = as_int(options.get("backfill", 0))
        if backfill is None or not 0 <= backfill <= MAX_BACKFILL:
            problems.append(_("options.backfill must be a number of posts from 0 to %(max)d.") % {"max": MAX_BACKFILL})
        unknown = set(options) - {"username", "backfill"}
        if unknown:
            problems.append(_("Unknown options for an Instagram account: %(keys)s.") % {"keys": ", ".join(sorted(unknown))})
        return {"options": " ".join(problems)} if problems else {}

    def fetch_new(self, request: FetchRequest) -> FetchResult:
        account = request.account
        if account is None:
            raise base.AuthRequired(_("An Instagram account is read through an Instagram account: choose one for the source."))
        username = str(request.options.get("username") or "").strip().lstrip("@").lower()
        if username == (account.handle or "").lstrip("@").lower():
            username = ""  # the account itself
        first = "last_at" not in request.cursor
        backfill = min(max(as_int(request.options.get("backfill")) or 0, 0), MAX_BACKFILL)
        if uses_graph_api(account):
            if username:
                raise base.PermissionDenied(
                    _(
                        "A Graph API account reads only its own posts: read @%(username)s through an account logged in "
                        "with a password (private API), or leave options.username out."
                    )
                    % {"username": username}
                )
            pages = _graph_pages(account, backfill + PINNED_MAX if first else GRAPH_PAGE)
            return self._collect(pages, dict(request.cursor), request.limit, backfill)
        source = _PrivatePages(account, username, request.cursor)
        try:
            pages = source.pages(backfill + PINNED_MAX if first else PRIVATE_PAGE)
            result = self._collect(pages, dict(request.cursor), request.limit, backfill)
        finally:
            source.close()
        cursor = {**result.cursor, "username": username}
        if username:
            cursor["user_id"] = source.user_id
        return FetchResult(items=result.items, cursor=cursor)

    @staticmethod
    def _collect(pages: Iterator[list[_Media]], cursor: dict, limit: int, backfill: int) -> FetchResult:
        if "last_at" not in cursor:
            posts = sorted(next(pages, []), key=lambda m: m.at, reverse=True)
            chosen = posts[:backfill][::-1]
            newest = posts[:1]
            return FetchResult(items=[m.item for m in chosen], cursor=_cursor(cursor, newest))
        last_at = iso_time(cursor.get("last_at"))
        found: dict[str, _Media] = {}
        position = 0
        for number, page in enumerate(pages):
            reached = False
            for media in page:
                if last_at is None or media.at > last_at:
                    found[media.item.remote_id] = media
                elif position >= PINNED_MAX:
                    reached = True  # an old post past the pinned places: the rest are older
                position += 1
            if reached or number + 1 >= MAX_PAGES:
                break
        new = sorted(found.values(), key=lambda m: m.at)[: max(limit, 1)]
        return FetchResult(items=[m.item for m in new], cursor=_cursor(cursor, new[-1:]))


def _cursor(cursor: dict, newest: list[_Media]) -> dict:
    if not newest:
        return {"last_id": "", "last_at": "", **cursor}  # "" is "seen nothing": an empty profile
    media = newest[-1]
    return {**cursor, "last_id": media.item.remote_id, "last_at": media.at.isoformat()}


register(InstagramMediaFetcher())
