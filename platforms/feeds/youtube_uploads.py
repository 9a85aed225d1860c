"""A YouTube channel's uploads as a source: Data API v3 through a connected YouTube account.

Options: ``channel_id`` (``UC…``; none: the account's own channel) and ``backfill`` (0–50,
default 0). The account's OAuth client renews its access token as the YouTube adapter does
(:class:`platforms.youtube._Api`), through its proxy; reading needs the ``youtube.readonly``
scope. Each poll costs one quota unit per call: ``channels.list?part=contentDetails`` once per
source (the uploads playlist is kept in the cursor), then ``playlistItems.list`` (50 a page).

The uploads playlist lists videos newest first. The first poll starts from now (remembers the
newest video and returns nothing) unless ``backfill`` asks for the latest N. Later polls page
back (at most ``MAX_PAGES``) until the cursor's last video — or a video added before it, when
that one was deleted — and return the new ones oldest first, at most ``request.limit``; the
cursor then points at the newest one returned. Videos that are not public (private, unlisted:
the owner sees them in the playlist) are passed over, and not returned if they go public later.

An item: remote id the video id, text the title, a blank line and the description, link
``https://www.youtube.com/watch?v=<id>``, published when the video went public
(``contentDetails.videoPublishedAt``, else when it was added), media the best thumbnail.
The video file itself cannot be downloaded through the Data API: a repost carries the thumbnail
and the link.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext as _

from .. import base
from ..names import Platform
from ..youtube import _Api, _error_body
from . import FetchedItem, Fetcher, FetchRequest, FetchResult, as_int, iso_time, register

PAGE = 50  # playlistItems.list's maximum maxResults
MAX_PAGES = 10
MAX_BACKFILL = 50
CHANNEL_ID = re.compile(r"UC[0-9A-Za-z_-]{22}")
THUMBNAILS = ("maxres", "standard", "high", "medium", "default")


class _ReadApi(_Api):
    """The YouTube adapter's client, with what its refusals mean when reading a channel."""

    def error(self, response, what: str) -> base.PlatformError:
        reason, message, _body = _error_body(response)
        raw = self.scrub({"call": what, "http_status": response.status_code, "reason": reason, "message": message})
        text = self.scrub(f"YouTube {what}: {reason or f'HTTP {response.status_code}'}" + (f" ({message})" if message else ""))
        if reason == "playlistNotFound":
            return base.PermissionDenied(
                _("%(text)s. The channel's uploads cannot be found: the channel was deleted, or check its channel_id.")
                % {"text": text},
                raw=raw,
            )
        if reason in ("insufficientPermissions", "forbidden") or (response.status_code == 403 and not reason):
            return base.PermissionDenied(
                _("%(text)s. The token may not read channels: connect the YouTube account again granting youtube.readonly.")
                % {"text": text},
                raw=raw,
            )
        return super().error(response, what)


def _video_id(entry: dict) -> str:
    return (entry.get("contentDetails") or {}).get("videoId") or (
        ((entry.get("snippet") or {}).get("resourceId") or {}).get("videoId") or ""
    )


def _thumbnail(snippet: dict) -> str:
    thumbnails = snippet.get("thumbnails") or {}
    for size in THUMBNAILS:
        url = (thumbnails.get(size) or {}).get("url")
        if url:
            return url
    return ""


def _item(entry: dict) -> FetchedItem:
    snippet, details = entry.get("snippet") or {}, entry.get("contentDetails") or {}
    video_id = _video_id(entry)
    title, description = (snippet.get("title") or "").strip(), (snippet.get("description") or "").strip()
    thumbnail = _thumbnail(snippet)
    return FetchedItem(
        remote_id=video_id,
        text="\n\n".join(part for part in (title, description) if part),
        media_urls=(thumbnail,) if thumbnail else (),
        link=f"https://www.youtube.com/watch?v={video_id}",
        published_at=iso_time(details.get("videoPublishedAt")) or iso_time(snippet.get("publishedAt")),
        raw=entry,
    )


def _public(entry: dict) -> bool:
    status = (entry.get("status") or {}).get("privacyStatus")
    return status in (None, "public")


class YouTubeUploadsFetcher(Fetcher):
    kind = "youtube"
    needs_account = Platform.YOUTUBE

    def options_errors(self, options: dict) -> dict[str, str]:
        problems = []
        channel = options.get("channel_id")
        if channel not in (None, "") and not CHANNEL_ID.fullmatch(str(channel).strip()):
            problems.append(
                _(
                    "options.channel_id must be a YouTube channel id: UC and 22 more letters, digits, - or _ "
                    "(leave it out for the account's own channel)."
                )
            )
        backfill = as_int(options.get("backfill", 0))
        if backfill is None or not 0 <= backfill <= MAX_BACKFILL:
            problems.append(_("options.backfill must be a number of videos from 0 to %(max)d.") % {"max": MAX_BACKFILL})
        unknown = set(options) - {"channel_id", "backfill"}
        if unknown:
            problems.append(_("Unknown options for a YouTube channel: %(keys)s.") % {"keys": ", ".join(sorted(unknown))})
        return {"options": " ".join(problems)} if problems else {}

    def fetch_new(self, request: FetchRequest) -> FetchResult:
        if request.account is None:
            raise base.AuthRequired(_("A YouTube channel is read through a YouTube account: choose one for the source."))
        api = _ReadApi(request.account)
        channel = str(request.options.get("channel_id") or "").strip()
        cursor = dict(request.cursor)
        if cursor.get("channel") != (channel or "mine") or not cursor.get("uploads"):
            cursor = {"channel": channel or "mine", "uploads": self._uploads(api, channel)}
        uploads = cursor["uploads"]
        if "last_id" not in cursor:
            backfill = min(max(as_int(request.options.get("backfill")) or 0, 0), MAX_BACKFILL)
            entries = self._page(api, uploads, max(backfill, 1), "")["items"]
            newest = entries[:1]
            chosen = [e for e in entries[:backfill] if _public(e)][::-1]
            return FetchResult(items=[_item(e) for e in chosen], cursor=self._cursor(cursor, newest))
        last_id, last_added = cursor["last_id"], iso_time(cursor.get("last_added"))
        found: list[dict] = []
        token = ""
        for _number in range(MAX_PAGES):
            page = self._page(api, uploads, PAGE, token)
            reached = False
            for entry in page["items"]:
                added = iso_time((entry.get("snippet") or {}).get("publishedAt"))
                if _video_id(entry) == last_id or (last_added and added and added < last_added):
                    reached = True
                    break
                found.append(entry)
            token = page.get("nextPageToken") or ""
            if reached or not token:
                break
        new = found[::-1][: max(request.limit, 1)]  # oldest first
        return FetchResult(items=[_item(e) for e in new if _public(e)], cursor=self._cursor(cursor, new[-1:]))

    def _uploads(self, api: _ReadApi, channel: str) -> str:
        which = {"id": channel} if channel else {"mine": "true"}
        items = api.get("channels", "channels.list", part="contentDetails", **which).get("items") or []
        uploads = ((items[0].get("contentDetails") or {}).get("relatedPlaylists") or {}).get("uploads") if items else ""
        if not uploads:
            whose = _("no YouTube channel has the id %(id)s") % {"id": channel} if channel else _("the account has no channel")
            raise base.PermissionDenied(_("YouTube: %(whose)s, so there are no uploads to read.") % {"whose": whose})
        return uploads

    @staticmethod
    def _page(api: _ReadApi, uploads: str, size: int, token: str) -> dict:
        params = {"part": "snippet,contentDetails,status", "playlistId": uploads, "maxResults": size}
        if token:
            params["pageToken"] = token
        page = api.get("playlistItems", "playlistItems.list", **params)
        page["items"] = [e for e in page.get("items") or [] if _video_id(e)]
        return page

    @staticmethod
    def _cursor(cursor: dict, newest: list[dict]) -> dict:
        if not newest:
            return {"last_id": "", "last_added": "", **cursor}  # a first poll of an empty channel: "" is "seen nothing"
        entry = newest[-1]
        return {**cursor, "last_id": _video_id(entry), "last_added": (entry.get("snippet") or {}).get("publishedAt") or ""}


register(YouTubeUploadsFetcher())
