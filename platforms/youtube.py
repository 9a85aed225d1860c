"""YouTube: videos.insert (Data API v3) as a resumable upload.

Account: ``credentials`` ``refresh_token``, ``client_id`` and ``client_secret``
(a Google OAuth client; consent with the ``youtube.upload`` scope, plus
``youtube.readonly`` for the processing check and :meth:`YouTubeAdapter.lookup`).
The adapter keeps the short-lived ``access_token`` and its
``access_token_expires_at`` in the same encrypted credentials and reuses it until
it expires. ``options``: ``privacy_status`` (private, unlisted, public — default
private, so nothing goes public unless an operator asks), ``category_id``
(default "22", People & Blogs), ``made_for_kids`` (default false),
``notify_subscribers``. Post options (``post.options["youtube"]``) override them
and add ``title``, ``tags`` (a list or comma-separated),
``contains_synthetic_media`` and ``playlist_id``.

Playlists: with ``playlist_id`` the uploaded video is added to that playlist by
``playlistItems.insert`` (``POST /youtube/v3/playlistItems?part=snippet``, body
``{"snippet": {"playlistId", "resourceId": {"kind": "youtube#video", "videoId"}}}``;
https://developers.google.com/youtube/v3/docs/playlistItems/insert), which needs
the ``youtube`` or ``youtube.force-ssl`` scope — ``youtube.upload`` alone is not
enough. The video is already up by then, so a refusal (playlistNotFound 404,
forbidden / playlistItemsNotAccessible / insufficientPermissions 403,
quotaExceeded 403, a network failure) never fails or repeats the publish: it
becomes a warning on the result (``PublishResult.warnings``) and the video stays
published, outside the playlist.

video / reel / story → one video. Its title is ``options.title`` or the
caption's first line (shortened to 100 characters), its description the
caption; YouTube refuses ``<`` and ``>`` in both, so they become ``‹ ›``.

Shorts: YouTube has no flag for them — a video of at most 3 minutes that is
vertical or square *is* a Short. Reels and stories must qualify (validate);
a plain video that qualifies becomes a Short as well. For every Short the
description gets a closing ``#Shorts`` line (not the title, which keeps its 100
characters for words; the tag has no documented effect, it labels the video for
viewers and search) and the URL is ``https://youtube.com/shorts/<id>``.

Upload protocol: ``POST {YOUTUBE_API_BASE_URL}/upload/youtube/v3/videos?uploadType=resumable``
with the metadata opens a session (``Location``); the file follows in PUTs of
``YOUTUBE_UPLOAD_CHUNK_BYTES`` (a multiple of 256 KiB) with ``Content-Range``;
``308 Resume Incomplete`` + ``Range`` says how much arrived. When a PUT is cut
off or answered 500/502/503/504, ``PUT Content-Range: bytes */TOTAL`` asks where
to resume and the upload continues from the first missing byte (bounded retries
with exponential backoff), never from zero.

Plain HTTP through :func:`http_session` — google-api-python-client would bring
its own transport (httplib2) that bypasses the account's proxy and retries on
its own. Tokens travel in the Authorization header or a token request's body only.
"""

from __future__ import annotations

import json
import os
import re
import time
from datetime import datetime, timedelta
from datetime import time as clock
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import requests
from django.conf import settings
from django.utils import timezone

from . import base
from .http import retry_after_seconds
from .names import Platform
from .oauth import OAuthClient

if TYPE_CHECKING:
    from requests import Response

KIB = 1024
MIB = 1024 * KIB
CHUNK_UNIT = 256 * KIB
TITLE_LIMIT = 100
DESCRIPTION_LIMIT_BYTES = 5000
TAGS_LIMIT = 500
SHORT_MAX_SECONDS = 180
PRIVACY_STATUSES = ("private", "unlisted", "public")
# YouTube's playlist ids are "PL" + 16 or 32 characters (and other prefixes: "UU", "FL", "OL"…); accept that alphabet.
PLAYLIST_ID = re.compile(r"[A-Za-z0-9_-]{10,64}")
CATEGORY_ID = re.compile(r"[0-9]{1,4}")  # videoCategories ids are numbers sent as strings: "22", "28"
DEFAULT_PRIVACY = "private"
DEFAULT_CATEGORY = "22"  # People & Blogs
VIDEO_MAX_BYTES = 256 * 1024 * MIB
RESUMABLE = (500, 502, 503, 504)
PACIFIC = ZoneInfo("America/Los_Angeles")
LOOKUP_PAGE = 50
CLOCK_SKEW = timedelta(minutes=5)

RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "uploadRateLimitExceeded"}
PERMISSION_REASONS = {
    "forbidden",
    "insufficientPermissions",
    "forbiddenPrivacySetting",
    "forbiddenLicenseSetting",
    "authenticatedUserNotChannel",
    "youtubeSignupRequired",
}
BANNED_REASONS = {"authenticatedUserAccountSuspended", "authenticatedUserAccountClosed"}
MEDIA_REASONS = {"mediaBodyRequired", "invalidFilename", "badContent"}
# Why playlistItems.insert refused, in an operator's words (the reasons of its documented errors).
PLAYLIST_REFUSALS = {
    "playlistNotFound": "the playlist does not exist or the channel cannot see it (check playlist_id)",
    "videoNotFound": "YouTube did not find the new video yet",
    "playlistItemsNotAccessible": "the playlist belongs to another channel",
    "forbidden": "the playlist belongs to another channel or the token may not edit it",
    "insufficientPermissions": (
        "the channel was connected without the youtube scope that editing playlists needs (connect it again granting it)"
    ),
    "playlistContainsMaximumNumberOfVideos": "the playlist is full",
    "quotaExceeded": "the project's daily YouTube quota is used up",
}


class UploadUnconfirmed(base.DeliveryUnknown):
    """The whole file went out but YouTube's answer never came: the video may exist.

    Not a :class:`PlatformError`, so the execution becomes unconfirmed and
    :meth:`YouTubeAdapter.lookup` finds the video (or not) before any retry.
    """


def chunk_bytes() -> int:
    """The upload chunk size: YOUTUBE_UPLOAD_CHUNK_BYTES rounded down to a multiple of 256 KiB."""
    size = int(settings.YOUTUBE_UPLOAD_CHUNK_BYTES)
    return max(CHUNK_UNIT, size - size % CHUNK_UNIT)


def token_url() -> str:
    return settings.GOOGLE_OAUTH_TOKEN_URL


def next_pacific_midnight(now: datetime | None = None) -> datetime:
    """When YouTube's daily quota resets."""
    local = (now or timezone.now()).astimezone(PACIFIC)
    return datetime.combine(local.date() + timedelta(days=1), clock(0), tzinfo=PACIFIC)


def _options(request: base.PublishRequest) -> dict[str, Any]:
    """The account's YouTube options overlaid with the post's (the planner passes all platforms' options)."""
    post = request.options or {}
    if isinstance(post.get(Platform.YOUTUBE), dict):
        post = post[Platform.YOUTUBE]
    return {**(request.account.options or {}), **post}


def _clean(text: str) -> str:
    return text.replace("<", "‹").replace(">", "›")


def is_short(item: base.MediaItem) -> bool:
    """YouTube's rule since 2024-10-15: at most 3 minutes, and vertical or square."""
    return bool(item.duration and item.duration <= SHORT_MAX_SECONDS and item.width and item.height and item.height >= item.width)


def video_title(caption: str, options: dict) -> str:
    """``options.title`` as given, else the caption's first line, shortened to 100 characters at a word."""
    if options.get("title"):
        return _clean(str(options["title"]).strip())
    line = next((line.strip() for line in (caption or "").splitlines() if line.strip()), "")
    line = _clean(re.sub(r"\s+", " ", line))
    if len(line) <= TITLE_LIMIT:
        return line
    cut = line[: TITLE_LIMIT - 1].rsplit(" ", 1)[0] or line[: TITLE_LIMIT - 1]
    return cut.rstrip() + "…"


def video_description(caption: str, *, short: bool) -> str:
    description = _clean((caption or "").strip())
    if short and "#shorts" not in description.lower():
        description = f"{description}\n\n#Shorts" if description else "#Shorts"
    return description


def video_tags(options: dict, marker: str = "") -> list[str]:
    """The post's tags, plus the execution marker that lookup() finds the video by."""
    value = options.get("tags") or []
    tags = [t.strip() for t in (value.split(",") if isinstance(value, str) else value) if str(t).strip()]
    if marker and marker not in tags:
        tags.append(marker)
    return [_clean(str(t)) for t in tags]


def tags_length(tags: list[str]) -> int:
    """YouTube's count: commas between tags count, a tag with a space counts its quotes."""
    return sum(len(t) + (2 if " " in t else 0) for t in tags) + max(len(tags) - 1, 0)


def playlist_problem(playlist_id: str) -> str | None:
    """Why ``playlist_id`` cannot be a YouTube playlist id, or None (empty: no playlist, fine)."""
    if not playlist_id or PLAYLIST_ID.fullmatch(playlist_id):
        return None
    return (
        f"playlist_id {playlist_id!r} is not a YouTube playlist id: copy the part after list= from the playlist's "
        "address (like PLxxxxxxxxxxxxxxxx; 10 to 64 letters, digits, - and _)."
    )


def category_problem(category_id: str) -> str | None:
    """Why ``category_id`` cannot be a YouTube video category id, or None (empty: the default, fine)."""
    if not category_id or CATEGORY_ID.fullmatch(category_id):
        return None
    return (
        f"category_id {category_id!r} is not a YouTube category id: use its number, like 22 (People & Blogs) or 27 (Education)."
    )


def _acknowledged(response: Response) -> int:
    """The first byte YouTube does not have yet, from a 308's ``Range: bytes=0-N``."""
    match = re.fullmatch(r"bytes=0-(\d+)", response.headers.get("Range", "").strip())
    return int(match[1]) + 1 if match else 0


def _error_body(response: Response) -> tuple[str, str, dict]:
    """(reason, message, error) of a Google API error response."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    error = body.get("error") if isinstance(body, dict) and isinstance(body.get("error"), dict) else {}
    errors = error.get("errors") if isinstance(error.get("errors"), list) else []
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    return str(first.get("reason") or ""), str(error.get("message") or first.get("message") or ""), error


class _Api(OAuthClient):
    """One account's Google OAuth + YouTube Data API client."""

    name = "Google"
    base_url_setting = "YOUTUBE_API_BASE_URL"
    default_lifetime = 3600
    renew_without_expiry = True  # Google access tokens live an hour: one of unknown age is renewed first
    missing_credentials = (
        "The account has no Google refresh token: connect the YouTube channel (OAuth, offline access) and save "
        "refresh_token, client_id and client_secret."
    )

    def send(self, method: str, url: str, what: str, **kwargs) -> Response:
        """One request; network failures become Transient/ProxyFailed with the chain cut (it quotes URLs)."""
        try:
            return self.session.request(method, url, **kwargs)
        except base.PlatformError as error:
            raise error from None
        except requests.RequestException as exc:
            raise base.Transient(f"YouTube {what} failed: {type(exc).__name__}") from None

    # --- tokens -------------------------------------------------------------------------------

    def request_token(self, credentials: dict) -> Response:
        if not (credentials.get("refresh_token") and credentials.get("client_id") and credentials.get("client_secret")):
            raise base.AuthRequired(
                "The Google access token expired and the account cannot renew it (credentials need refresh_token, "
                "client_id and client_secret): connect the YouTube channel again."
            )
        data = {
            "client_id": credentials["client_id"],
            "client_secret": credentials["client_secret"],
            "grant_type": "refresh_token",
            "refresh_token": credentials["refresh_token"],
        }
        return self.send("POST", token_url(), "token refresh", data=data)

    def refused(self, body: dict, status: int) -> base.AuthRequired:
        reason = str(body.get("error") or f"HTTP {status}")
        raw = {"token_refresh": self.scrub({"http_status": status, "error": reason})}
        if reason == "invalid_grant":
            return base.AuthRequired(
                "Google refused the refresh token (invalid_grant: revoked, expired or unused for months): "
                "re-consent needed — connect the YouTube channel again.",
                raw=raw,
            )
        return base.AuthRequired(
            f"Google refused to renew the access token ({reason}): check client_id and client_secret, "
            "then connect the YouTube channel again.",
            raw=raw,
        )

    # --- calls --------------------------------------------------------------------------------

    def request(self, method: str, url: str, what: str, *, headers: dict | None = None, **kwargs) -> Response:
        """An authorised request; a 401 renews the token once and repeats it."""
        while True:
            token = self.token()
            response = self.send(method, url, what, headers={**(headers or {}), "Authorization": f"Bearer {token}"}, **kwargs)
            if response.status_code == 401 and not self.renewed and _error_body(response)[0] != "youtubeSignupRequired":
                self.renew(token)
                continue
            return response

    def get(self, path: str, what: str, **params) -> dict:
        response = self.request("GET", f"{self.base_url}/youtube/v3/{path}", what, params=params)
        if response.status_code != 200:
            raise self.error(response, what)
        try:
            return response.json()
        except ValueError:
            raise base.Transient(f"YouTube {what} answered without JSON.") from None

    def error(self, response: Response, what: str) -> base.PlatformError:
        status = response.status_code
        reason, message, _ = _error_body(response)
        raw = self.scrub({"call": what, "http_status": status, "reason": reason, "message": message})
        text = self.scrub(f"YouTube {what}: {reason or f'HTTP {status}'}" + (f" ({message})" if message else ""))
        if reason in RATE_REASONS or status == 429:
            return base.RateLimited(text, retry_after=retry_after_seconds(response.headers.get("Retry-After"), 60.0), raw=raw)
        if reason == "quotaExceeded":
            return base.QuotaExceeded(
                f"{text}. The project's daily YouTube quota is used up until midnight Pacific time.",
                until=next_pacific_midnight(),
                raw=raw,
            )
        if reason == "uploadLimitExceeded":
            return base.QuotaExceeded(
                f"{text}. The channel reached YouTube's upload limit: try again in 24 hours.",
                until=timezone.now() + timedelta(hours=24),
                raw=raw,
            )
        if reason in BANNED_REASONS:
            return base.AccountBanned(text, raw=raw)
        if reason == "youtubeSignupRequired":
            return base.PermissionDenied(f"{text}. The Google account has no YouTube channel: create one.", raw=raw)
        if status == 401:
            return base.AuthRequired(f"{text}. Google rejected the credentials: connect the YouTube channel again.", raw=raw)
        if reason in PERMISSION_REASONS or status == 403:
            return base.PermissionDenied(
                f"{text}. The token may not do this: connect the channel again granting the youtube.upload scope.", raw=raw
            )
        if reason in MEDIA_REASONS:
            return base.MediaRejected(text, raw=raw)
        if status >= 500:
            return base.Transient(text, raw=raw)
        return base.ContentRejected(text, raw=raw)


class YouTubeAdapter(base.Adapter):
    platform = Platform.YOUTUBE
    media_types = frozenset({"video", "reel", "story"})
    can_lookup = True
    # Interrupted uploads: this many resume attempts, waiting retry_delay · 2^n seconds (tests set 0).
    upload_retries = 5
    retry_delay = 1.0
    # After the upload: watch processing this many times, processing_interval apart (0: skip).
    processing_poll_attempts = 6
    processing_interval = 10.0

    # --- validate -------------------------------------------------------------------------------

    def validate(self, request: base.PublishRequest) -> list[base.Problem]:
        if not self.supports(request.media_type):
            return [
                base.Problem(
                    "media_type",
                    f"YouTube cannot publish a {request.media_type}: choose video, or reel / story for a Short.",
                )
            ]
        problems = []
        credentials = request.account.credentials or {}
        missing = [k for k in ("refresh_token", "client_id", "client_secret") if not credentials.get(k)]
        if missing:
            problems.append(
                base.Problem(
                    "credentials", f"The account lacks {', '.join(missing)}: connect the YouTube channel (OAuth, offline access)."
                )
            )
        options = _options(request)
        media = request.media
        if len(media) != 1 or media[0].kind != "video":
            problems.append(base.Problem("media_count", "A YouTube post takes exactly one video."))
            return problems
        item = media[0]
        if not item.path and not item.url:
            problems.append(base.Problem("media_missing", "The video has neither a file nor a URL."))
        if item.size > VIDEO_MAX_BYTES:
            problems.append(base.Problem("video_too_big", "YouTube takes videos up to 256 GB."))
        short = is_short(item)
        if request.media_type in ("reel", "story") and not short:
            problems.append(
                base.Problem(
                    "not_a_short",
                    f"A {request.media_type} goes to YouTube as a Short: at most 3 minutes and vertical or square "
                    f"(this one is {item.width or '?'}×{item.height or '?'}, "
                    + (f"{item.duration:.0f} s)." if item.duration else "of unknown length)."),
                )
            )
        title = video_title(request.caption, options)
        if not title:
            problems.append(base.Problem("title", "A YouTube video needs a title: write a caption or set options.title."))
        elif len(title) > TITLE_LIMIT:
            problems.append(base.Problem("title", f"The title has {len(title)} characters; YouTube allows {TITLE_LIMIT}."))
        description = video_description(request.caption, short=short)
        if len(description.encode()) > DESCRIPTION_LIMIT_BYTES:
            problems.append(
                base.Problem(
                    "caption_too_long",
                    f"The description is {len(description.encode())} bytes; YouTube allows {DESCRIPTION_LIMIT_BYTES}.",
                )
            )
        tags = video_tags(options, request.marker or "cp-0000000000")
        if tags_length(tags) > TAGS_LIMIT:
            problems.append(base.Problem("tags", f"The tags take {tags_length(tags)} characters; YouTube allows {TAGS_LIMIT}."))
        privacy = str(options.get("privacy_status") or DEFAULT_PRIVACY)
        if privacy not in PRIVACY_STATUSES:
            problems.append(base.Problem("privacy_status", f"privacy_status must be one of {', '.join(PRIVACY_STATUSES)}."))
        if problem := category_problem(str(options.get("category_id") or "")):
            problems.append(base.Problem("category_id", problem))
        if problem := playlist_problem(str(options.get("playlist_id") or "")):
            problems.append(base.Problem("playlist_id", problem))
        return problems

    # --- publish --------------------------------------------------------------------------------

    def publish(self, request: base.PublishRequest) -> base.PublishResult:
        if not self.supports(request.media_type) or len(request.media) != 1:
            raise base.ContentRejected(f"YouTube publishes one video as a video, reel or story, not a {request.media_type}.")
        item = request.media[0]
        if not item.path:
            raise base.MediaRejected("The video has no local file to upload (YouTube takes uploads, not URLs).")
        try:
            total = os.path.getsize(item.path)
        except OSError as exc:
            raise base.MediaRejected(f"The video file cannot be read: {exc.strerror} ({os.path.basename(item.path)}).") from None
        options = _options(request)
        short = is_short(item)
        privacy = str(options.get("privacy_status") or DEFAULT_PRIVACY)
        metadata = {
            "snippet": {
                "title": video_title(request.caption, options),
                "description": video_description(request.caption, short=short),
                "tags": video_tags(options, request.marker),
                "categoryId": str(options.get("category_id") or DEFAULT_CATEGORY),
                "defaultLanguage": request.account.language,
            },
            "status": {
                "privacyStatus": privacy,
                "selfDeclaredMadeForKids": bool(options.get("made_for_kids")),
                "containsSyntheticMedia": bool(options.get("contains_synthetic_media")),
            },
        }
        api = _Api(request.account)
        mime = item.mime or "video/*"
        session_uri = self._start(api, metadata, total, mime, notify=options.get("notify_subscribers"))
        video, progress = self._upload(api, session_uri, item.path, total, mime)
        video_id = str(video.get("id") or "")
        if not video_id:
            raise base.Transient("YouTube finished the upload without a video id.", raw={"video": api.scrub(video)})
        processed = self._processing(api, video_id)
        returned = (video.get("status") or {}).get("privacyStatus")
        raw = {
            "video_id": video_id,
            "short": short,
            "privacy_status": returned or privacy,
            "upload": progress,
            "processing": processed,
        }
        if returned and returned != privacy:
            # Unverified API projects have their uploads locked private until they pass YouTube's audit.
            raw["privacy_locked"] = f"asked {privacy}, YouTube set {returned} (is the API project audited?)"
        warnings = []
        playlist_id = str(options.get("playlist_id") or "").strip()
        if playlist_id:
            raw["playlist"], warning = self._add_to_playlist(api, playlist_id, video_id)
            warnings += [warning] if warning else []
        url = f"https://youtube.com/shorts/{video_id}" if short else f"https://www.youtube.com/watch?v={video_id}"
        return base.PublishResult(remote_id=video_id, url=url, raw=api.scrub(raw), warnings=tuple(warnings))

    def _add_to_playlist(self, api: _Api, playlist_id: str, video_id: str) -> tuple[dict, str]:
        """playlistItems.insert of the uploaded video: (what to keep, a warning or "").

        Never raises: the video is up, and a publish that failed now would be repeated — a second upload.
        """
        body = {"snippet": {"playlistId": playlist_id, "resourceId": {"kind": "youtube#video", "videoId": video_id}}}
        try:
            response = api.request(
                "POST",
                f"{api.base_url}/youtube/v3/playlistItems",
                "playlistItems.insert",
                params={"part": "snippet"},
                data=json.dumps(body).encode(),
                headers={"Content-Type": "application/json; charset=UTF-8"},
            )
            if response.status_code != 200:
                raise api.error(response, "playlistItems.insert")
            item = response.json()
        except base.PlatformError as error:
            reason = str(error.raw.get("reason") or error.code)
            why = PLAYLIST_REFUSALS.get(reason) or f"YouTube answered {reason}" + (
                f" ({error.raw['message']})" if error.raw.get("message") else ""
            )
            warning = (
                f"The video is on YouTube, but it was not added to playlist {playlist_id}: {why}. "
                "Add it to the playlist in YouTube Studio."
            )
            return {"playlist_id": playlist_id, "added": False, "reason": reason}, warning
        except ValueError:
            item = {}  # added (200) with an unreadable answer: nothing more to keep
        snippet = item.get("snippet") if isinstance(item, dict) else None
        return {
            "playlist_id": playlist_id,
            "added": True,
            "item_id": item.get("id") if isinstance(item, dict) else None,
            "position": (snippet or {}).get("position"),
        }, ""

    def _start(self, api: _Api, metadata: dict, total: int, mime: str, *, notify) -> str:
        """Open a resumable session; its URI."""
        params = {"uploadType": "resumable", "part": "snippet,status"}
        if notify is not None:
            params["notifySubscribers"] = "true" if notify else "false"
        response = api.request(
            "POST",
            f"{api.base_url}/upload/youtube/v3/videos",
            "videos.insert",
            params=params,
            data=json.dumps(metadata).encode(),
            headers={
                "Content-Type": "application/json; charset=UTF-8",
                "X-Upload-Content-Length": str(total),
                "X-Upload-Content-Type": mime,
            },
        )
        location = response.headers.get("Location", "")
        if response.status_code != 200 or not location:
            if response.status_code < 300:
                raise base.Transient("YouTube opened no upload session (no Location).")
            raise api.error(response, "videos.insert")
        return location

    def _upload(self, api: _Api, uri: str, path: str, total: int, mime: str) -> tuple[dict, dict]:
        """Send the file in chunks and resume after interruptions; the video resource and what it took."""
        size = chunk_bytes()
        offset, failures, ask = 0, 0, False
        sent_last = False  # the final byte went out at least once: the video may exist
        progress = {"chunks": 0, "resumed": 0}
        with open(path, "rb") as handle:
            while True:
                if ask:
                    headers = {"Content-Range": f"bytes */{total}"}
                    body = b""
                else:
                    handle.seek(offset)
                    body = handle.read(min(size, total - offset))
                    last = offset + len(body) - 1
                    headers = {"Content-Type": mime, "Content-Range": f"bytes {offset}-{last}/{total}"}
                    sent_last = sent_last or last == total - 1
                    progress["chunks"] += 1
                interrupted: base.PlatformError | None = None
                try:
                    # 308 here is "Resume Incomplete", not a redirect.
                    response = api.request("PUT", uri, "upload", data=body, headers=headers, allow_redirects=False)
                except (base.Transient, base.ProxyFailed) as error:
                    response, interrupted = None, error
                if response is not None and response.status_code in (200, 201):
                    return response.json(), progress
                if response is not None and response.status_code == 308:
                    acknowledged = _acknowledged(response)
                    if acknowledged > offset:
                        failures = 0
                    offset, ask = acknowledged, False
                    continue
                if response is not None and response.status_code == 404 and ask:
                    raise base.Transient("YouTube's upload session expired: the upload starts over on the next attempt.")
                if response is not None and response.status_code not in RESUMABLE:
                    raise api.error(response, "upload")
                failures += 1
                if failures > self.upload_retries:
                    what = interrupted.message if interrupted is not None else f"HTTP {response.status_code}"
                    if sent_last:
                        raise UploadUnconfirmed(
                            f"The whole video went to YouTube but its answer never came ({what}): the video may exist."
                        )
                    if isinstance(interrupted, base.ProxyFailed):
                        raise interrupted
                    raise base.Transient(f"The YouTube upload kept failing at byte {offset} of {total}: {what}")
                progress["resumed"] += 1
                time.sleep(self.retry_delay * 2 ** (failures - 1))
                ask = True

    def _processing(self, api: _Api, video_id: str) -> dict:
        """Watch processing for a while; a failed or rejected video raises. Best effort otherwise."""
        seen: dict = {}
        for attempt in range(self.processing_poll_attempts):
            if attempt:
                time.sleep(self.processing_interval)
            try:
                answer = api.get("videos", "videos.list", part="status,processingDetails", id=video_id)
            except base.PermissionDenied:
                return {"checked": False, "why": "the token lacks youtube.readonly"}
            except base.PlatformError as error:
                return {**seen, "checked": False, "why": error.code}
            items = answer.get("items") or []
            if not items:
                continue
            status = items[0].get("status") or {}
            details = items[0].get("processingDetails") or {}
            seen = {
                "upload_status": status.get("uploadStatus"),
                "processing_status": details.get("processingStatus"),
            }
            raw = {"video_id": video_id, **status, "processingDetails": details}
            upload_status = status.get("uploadStatus")
            if upload_status in ("failed", "rejected", "deleted"):
                reason = status.get("rejectionReason") or status.get("failureReason") or "no reason given"
                if reason in ("uploaderAccountSuspended", "uploaderAccountClosed"):
                    raise base.AccountBanned(f"YouTube rejected video {video_id}: {reason}.", raw=raw)
                raise base.MediaRejected(f"YouTube {upload_status} video {video_id}: {reason}.", raw=raw)
            if details.get("processingStatus") in ("failed", "terminated"):
                reason = details.get("processingFailureReason") or "no reason given"
                raise base.MediaRejected(f"YouTube could not process video {video_id}: {reason}.", raw=raw)
            if upload_status == "processed" or details.get("processingStatus") == "succeeded":
                return seen
        return seen

    # --- check / lookup -------------------------------------------------------------------------

    def check(self, account: base.AccountSnapshot) -> base.Health:
        """Renew the access token (the refresh token and OAuth client work), then read the channel."""
        try:
            api = _Api(account)
            api.token()
            answer = api.get("channels", "channels.list", part="snippet", mine="true")
        except base.PermissionDenied as error:
            return base.Health(
                ok=True,
                detail=f"The Google token works; the channel is unreadable without youtube.readonly ({error.code}).",
                raw=error.raw,
            )
        except base.PlatformError as error:
            return base.Health(ok=False, detail=error.message, account_status=error.account_status, raw=error.raw)
        items = answer.get("items") or []
        if not items:
            return base.Health(ok=False, detail="The Google account has no YouTube channel: create one.")
        channel = items[0]
        name = (channel.get("snippet") or {}).get("title") or channel.get("id")
        return base.Health(ok=True, detail=f"YouTube channel {name} is connected.", raw={"channel_id": channel.get("id")})

    def lookup(self, execution: base.LookupRequest) -> base.PublishResult | None:
        """Find the video an unconfirmed execution may have uploaded, by the tag it carries.

        Every upload is tagged with the execution marker (``cp-<id>``; tags are not
        shown on the watch page). Lookup reads the channel's uploads playlist
        (``channels.list mine=true`` → ``playlistItems.list``, newest 50), keeps the
        videos added since the execution was created and asks ``videos.list``
        for their tags. A video tagged with the marker → it; none → None (no video
        exists: only a completed upload creates one, so a retry is safe).

        Needs the ``youtube.readonly`` scope; without it → LookupUnsupported, and an
        operator checks the channel, then marks the execution published or retries it.
        """
        marker = execution.marker
        try:
            api = _Api(execution.account)
            channels = api.get("channels", "channels.list", part="contentDetails", mine="true").get("items") or []
            if not channels:
                raise base.LookupUnsupported("The Google account has no YouTube channel to look in.")
            uploads = ((channels[0].get("contentDetails") or {}).get("relatedPlaylists") or {}).get("uploads")
            page = api.get(
                "playlistItems", "playlistItems.list", part="snippet,contentDetails", playlistId=uploads, maxResults=LOOKUP_PAGE
            )
        except base.PermissionDenied as error:
            raise base.LookupUnsupported(
                f"YouTube will not list the channel's uploads ({error.code}): grant youtube.readonly, or check the channel "
                "and mark the execution published or retry it."
            ) from None
        since = execution.created_at - CLOCK_SKEW
        candidates = []
        for entry in page.get("items") or []:
            published = (entry.get("snippet") or {}).get("publishedAt") or ""
            video_id = (entry.get("contentDetails") or {}).get("videoId") or (entry.get("snippet") or {}).get(
                "resourceId", {}
            ).get("videoId")
            try:
                at = datetime.fromisoformat(published.replace("Z", "+00:00"))
            except ValueError:
                at = None
            if video_id and (at is None or at >= since):
                candidates.append(video_id)
        if not candidates:
            return None
        videos = api.get("videos", "videos.list", part="snippet", id=",".join(candidates)).get("items") or []
        found = [v for v in videos if marker in ((v.get("snippet") or {}).get("tags") or [])]
        if not found:
            return None
        video_id = found[0]["id"]
        return base.PublishResult(
            remote_id=video_id,
            url=f"https://www.youtube.com/watch?v={video_id}",
            raw={"found_by": "lookup", "video_id": video_id, "marker": marker},
        )

    # --- statistics ------------------------------------------------------------------------------

    def metrics(self, request: base.MetricsRequest) -> base.Metrics:
        """videos.list?part=statistics&id=<video id>: viewCount, likeCount, commentCount (strings of
        digits). YouTube removed dislikes from the API, has no shares or saves count, and gives watch
        time only through the YouTube Analytics API (another OAuth scope), which Crosspost does not
        use; a count the owner hid (likes on some videos) is absent and becomes an error for this
        reading. A video missing from the answer (deleted, private to another channel) raises
        ContentRejected (permanent)."""
        api = _Api(request.account)
        try:
            answer = api.get("videos", "videos.list", part="statistics", id=request.remote_id)
        except base.PermissionDenied as error:
            raise base.PermissionDenied(
                "YouTube refused videos.list: the token lacks the youtube.readonly scope — connect the channel again "
                "granting it.",
                raw=error.raw,
            ) from None
        items = [item for item in answer.get("items") or [] if item.get("id") == request.remote_id]
        if not items:
            raise base.ContentRejected(f"YouTube video {request.remote_id} is gone or no longer visible to the channel.")
        statistics = items[0].get("statistics") or {}
        result = base.Metrics(
            unavailable={
                "shares": "The YouTube Data API reports no shares.",
                "saves": "The YouTube Data API reports no saves.",
                "watch_time_s": "Watch time comes only from the YouTube Analytics API, which Crosspost does not use.",
            },
            raw={"video_id": request.remote_id, "statistics": statistics},
        )
        for metric, key in (("views", "viewCount"), ("likes", "likeCount"), ("comments", "commentCount")):
            try:
                result.values[metric] = int(statistics[key])
            except (KeyError, TypeError, ValueError):
                result.errors[metric] = f"videos.list gave no {key} (hidden by the owner, or comments turned off)."
        return result
