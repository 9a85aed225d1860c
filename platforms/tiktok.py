"""TikTok: Direct Post through the Content Posting API (v2).

Account: ``credentials`` ``access_token`` (a user token with the ``video.publish``
scope), ``refresh_token``, ``client_key`` and ``client_secret`` (the app's; used
to renew the access token); ``options["privacy_level"]`` — who may see the posts.
Post options (``post.options["tiktok"]``) override it and add ``disable_comment``,
``disable_duet``, ``disable_stitch``, ``video_cover_timestamp_ms``,
``brand_content_toggle``, ``brand_organic_toggle``, ``is_aigc``; photo posts also
take ``title``, ``auto_add_music`` and ``photo_cover_index``. Either level may set
``pull_from_url`` to have TikTok fetch a video from its public URL instead of
uploading it (the URL's domain must be verified in the TikTok developer portal).

Every publish first asks ``creator_info/query`` for the creator's current
settings: the privacy level must be one of the creator's ``privacy_level_options``
(none set: ``SELF_ONLY``, which every creator offers and an unaudited app is
limited to — nothing goes public unless an operator asks for it), the video may
not be longer than ``max_video_post_duration_sec``, and interactions the creator
disabled stay disabled.

video / reel → ``video/init`` with ``FILE_UPLOAD`` (the file in sequential
chunks of :data:`CHUNK_BYTES`, PUT to the returned ``upload_url`` with
``Content-Range``) or ``PULL_FROM_URL``; photo / carousel (1–35 images) →
``content/init`` with ``media_type=PHOTO``, ``post_mode=DIRECT_POST`` and the
images' public URLs (TikTok only pulls photos). Then ``status/fetch`` is polled
until ``PUBLISH_COMPLETE`` or ``FAILED``.

Plain HTTP through :func:`http_session`; the token goes in the Authorization
header only. A 401 ``access_token_invalid`` renews the token once
(``POST {TIKTOK_API_BASE_URL}/v2/oauth/token/``, refresh tokens rotate: the new
pair is stored encrypted) and repeats the call.

Once TikTok holds the post (the last chunk arrived, or a pull/photo init was
sent), a failure to hear how it ended is never reported as retryable: it raises
:class:`PublishPending`, the execution becomes unconfirmed and :meth:`TikTokAdapter.lookup`
settles it from the ``publish_id`` recorded in the activity log.
"""

from __future__ import annotations

import ipaddress
import json
import os
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.utils import timezone

from . import base
from .http import may_have_arrived, retry_after_seconds
from .names import Platform
from .oauth import OAuthClient

if TYPE_CHECKING:
    from requests import Response

MB = 1024 * 1024
GB = 1024 * MB
# FILE_UPLOAD chunk size. TikTok: chunks of 5–64 MB, the last one takes the
# remainder (up to 128 MB), a file no larger than one chunk goes whole. Tests lower it.
CHUNK_BYTES = 10 * MB
MAX_CHUNKS = 1000
CHUNK_RETRIES = 2  # a chunk answered with 5xx is sent again this many times
VIDEO_MAX_BYTES = 4 * GB
VIDEO_MAX_SECONDS = 600  # the API's ceiling; the creator's own limit is checked at publish
VIDEO_MIMES = frozenset({"video/mp4", "video/quicktime", "video/webm"})
PHOTO_MIMES = frozenset({"image/jpeg", "image/webp"})
PHOTO_MAX_BYTES = 20 * MB
PHOTO_MAX = 35
TITLE_LIMIT = 2200  # video caption, UTF-16 code units
PHOTO_TITLE_LIMIT = 90
PHOTO_DESCRIPTION_LIMIT = 4000
DEFAULT_PRIVACY = "SELF_ONLY"
# The privacy levels TikTok documents; a creator offers some of them (creator_info's privacy_level_options).
PRIVACY_LEVELS = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY")
ACCEPTED_ACTION = "tiktok.accepted"

UNAUDITED_MESSAGE = (
    "Your TikTok app is not audited yet: TikTok only lets it post to private accounts (SELF_ONLY). "
    "Set the account's privacy to private or get the app audited."
)
QUOTA_CODES = {
    "spam_risk_too_many_posts": "TikTok's daily post cap for this account is reached",
    "reached_active_user_cap": "TikTok's daily cap of posting users for this app is reached",
    "spam_risk_too_many_pending_share": "TikTok allows at most 5 pending shares in 24 hours",
}
FAIL_REASONS_MEDIA = {"video_pull_failed", "photo_pull_failed"}


class PublishPending(base.DeliveryUnknown):
    """TikTok holds the post but did not say how it ended (lost answer, still processing).

    Deliberately not a :class:`PlatformError`: a retry could post twice. The
    execution becomes unconfirmed and :meth:`TikTokAdapter.lookup` asks TikTok
    about the ``publish_id`` later.
    """


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def chunk_plan(size: int, chunk_bytes: int | None = None) -> tuple[int, int]:
    """(chunk_size, total_chunk_count) for a FILE_UPLOAD of ``size`` bytes.

    TikTok: ``total_chunk_count = floor(video_size / chunk_size)``, the last chunk
    takes the remainder; a file no larger than one chunk is one chunk of its size.
    """
    chunk = chunk_bytes or CHUNK_BYTES
    if size <= chunk:
        return size, 1
    count = size // chunk
    if count > MAX_CHUNKS:  # only files far beyond TikTok's 4 GB get here
        chunk = -(-size // MAX_CHUNKS)
        count = size // chunk
    return chunk, count


def chunk_ranges(size: int, chunk: int, count: int) -> list[tuple[int, int]]:
    """Inclusive byte ranges of the chunks; the last one runs to the end of the file."""
    return [(i * chunk, (size if i == count - 1 else (i + 1) * chunk) - 1) for i in range(count)]


def public_url(item: base.MediaItem) -> str:
    """An absolute URL TikTok may pull ``item`` from (https, a domain name), or ""."""
    url = item.url or ""
    if url and not url.startswith(("http://", "https://")):
        prefix = (settings.PUBLIC_MEDIA_BASE_URL or "").rstrip("/")
        url = f"{prefix}/{url.lstrip('/')}" if prefix else ""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or parts.hostname == "localhost":
        return ""
    try:
        ipaddress.ip_address(parts.hostname)
    except ValueError:
        return url
    return ""  # TikTok pulls from verified domains only, never from an IP address


def _options(request: base.PublishRequest) -> dict[str, Any]:
    """The account's TikTok options overlaid with the post's.

    The planner passes a post's whole ``options`` (keyed by platform) to
    ``validate``; the publisher passes the TikTok part only: both are accepted.
    """
    post = request.options or {}
    if isinstance(post.get(Platform.TIKTOK), dict):
        post = post[Platform.TIKTOK]
    return {**(request.account.options or {}), **post}


def _pull(options: dict, item: base.MediaItem) -> str:
    """The URL to pull a video from, or "" to upload the file."""
    url = public_url(item)
    if url and (options.get("pull_from_url") or not item.path):
        return url
    return ""


class _Api(OAuthClient):
    """One account's Content Posting API client; renews its access token once when TikTok rejects it."""

    name = "TikTok"
    base_url_setting = "TIKTOK_API_BASE_URL"
    default_lifetime = 86400
    missing_credentials = "The account has no TikTok access token: connect it (OAuth) and save access_token and refresh_token."

    # --- transport ----------------------------------------------------------------------------

    def send(self, method: str, url: str, what: str, *, sends: bool = False, **kwargs) -> Response:
        """One request; network failures become Transient, or PublishPending when ``sends`` and it may have arrived.

        Exception chains are cut: requests' messages quote URLs, upload tokens included.
        """
        try:
            return self.session.request(method, url, **kwargs)
        except base.PlatformError as error:
            if sends and may_have_arrived(error.__cause__):
                raise PublishPending(
                    f"TikTok did not answer {what} ({type(error.__cause__).__name__}): the post may exist."
                ) from None
            raise error from None
        except requests.RequestException as exc:
            if sends and may_have_arrived(exc):
                raise PublishPending(f"TikTok's answer to {what} was cut off: the post may exist.") from None
            raise base.Transient(f"TikTok {what} failed: {type(exc).__name__}") from None

    def call(self, path: str, body: dict | None = None, *, sends: bool = False) -> dict:
        """POST ``path`` (JSON); its ``data``, or the PlatformError its ``error`` maps to."""
        while True:
            token = self.token()
            response = self.send(
                "POST",
                f"{self.base_url}{path}",
                path,
                sends=sends,
                data=json.dumps(body).encode() if body is not None else None,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json; charset=UTF-8"},
            )
            try:
                envelope = response.json()
            except ValueError:
                envelope = {}
            envelope = envelope if isinstance(envelope, dict) else {}
            error = envelope.get("error") if isinstance(envelope.get("error"), dict) else {}
            code = str(error.get("code") or ("ok" if response.status_code < 400 else ""))
            # creator_info answers spam-risk codes with HTTP 200: the code decides, not the status.
            if code == "ok" and response.status_code < 400:
                data = envelope.get("data")
                return data if isinstance(data, dict) else {}
            if code == "access_token_invalid" and not self.renewed:
                self.renew(token)
                continue
            raise self.error(path, response, error)

    def request_token(self, credentials: dict) -> Response:
        client_key = credentials.get("client_key") or credentials.get("client_id")
        if not (credentials.get("refresh_token") and client_key and credentials.get("client_secret")):
            raise base.AuthRequired(
                "TikTok rejected the access token and the account cannot renew it (credentials need refresh_token, "
                "client_key and client_secret): reconnect the account."
            )
        url = settings.TIKTOK_OAUTH_TOKEN_URL or f"{self.base_url}/v2/oauth/token/"
        data = {
            "client_key": client_key,
            "client_secret": credentials["client_secret"],
            "grant_type": "refresh_token",
            "refresh_token": credentials["refresh_token"],
        }
        return self.send("POST", url, "token refresh", data=data)

    def refused(self, body: dict, status: int) -> base.AuthRequired:
        reason = body.get("error") or (body.get("data") or {}).get("error_code") or f"HTTP {status}"
        return base.AuthRequired(
            f"TikTok refused to renew the access token ({reason}): reconnect the account (OAuth) and save the new tokens.",
            raw={"token_refresh": self.scrub({"http_status": status, "error": reason})},
        )

    # --- errors -------------------------------------------------------------------------------

    def error(self, path: str, response: Response, error: dict) -> base.PlatformError:
        status = response.status_code
        code = str(error.get("code") or f"http_{status}")
        message = str(error.get("message") or "")
        raw = self.scrub({"endpoint": path, "http_status": status, "error": error})
        endpoint = "/".join(path.strip("/").split("/")[-2:])
        text = self.scrub(f"TikTok {endpoint}: {code}" + (f" ({message})" if message else ""))
        return error_for(code, text, status=status, raw=raw, retry_after=response.headers.get("Retry-After"))


def error_for(code: str, text: str, *, status: int = 400, raw: dict | None = None, retry_after=None) -> base.PlatformError:
    """The PlatformError an error code (or a FAILED status's ``fail_reason``) maps to."""
    raw = raw or {}
    if code == "unaudited_client_can_only_post_to_private_accounts":
        return base.PermissionDenied(UNAUDITED_MESSAGE, raw=raw)
    if code == "access_token_invalid" or code == "auth_removed":
        return base.AuthRequired(f"{text}. Reconnect the TikTok account (OAuth) and save the new tokens.", raw=raw)
    if code == "scope_not_authorized":
        return base.PermissionDenied(
            f"{text}. The token lacks the video.publish scope: reconnect the account granting it.", raw=raw
        )
    if code == "rate_limit_exceeded" or status == 429:
        return base.RateLimited(text, retry_after=retry_after_seconds(retry_after, 60.0), raw=raw)
    if code in QUOTA_CODES:
        return base.QuotaExceeded(f"{text}: {QUOTA_CODES[code]}.", until=timezone.now() + timedelta(hours=24), raw=raw)
    if code == "spam_risk_user_banned_from_posting":
        return base.AccountBanned(f"{text}: TikTok banned this account from posting.", raw=raw)
    if code == "url_ownership_unverified":
        return base.PermissionDenied(
            f"{text}. Verify the media domain in the TikTok developer portal, or turn pull_from_url off.", raw=raw
        )
    if code == "privacy_level_option_mismatch":
        return base.PermissionDenied(f"{text}. Choose a privacy level the creator offers.", raw=raw)
    if code in ("invalid_param", "app_version_check_failed") or code.endswith("_check_failed") or code in FAIL_REASONS_MEDIA:
        return base.MediaRejected(text, raw=raw)
    if code in ("spam_risk_text", "spam_risk", "publish_cancelled"):
        return base.ContentRejected(text, raw=raw)
    if code in ("internal", "internal_error") or status >= 500:
        return base.Transient(text, raw=raw)
    return base.ContentRejected(text, raw=raw)


def _read_range(item: base.MediaItem, first: int, last: int) -> bytes:
    try:
        with open(item.path, "rb") as handle:
            handle.seek(first)
            return handle.read(last - first + 1)
    except OSError as exc:
        raise base.MediaRejected(f"The video file cannot be read: {exc.strerror} ({os.path.basename(item.path)}).") from None


class TikTokAdapter(base.Adapter):
    platform = Platform.TIKTOK
    media_types = frozenset({"video", "reel", "photo", "carousel"})
    mixed_carousels = False  # photo posts are photos only
    can_lookup = True  # from the recorded publish_id; see lookup()
    lookup_records = (ACCEPTED_ACTION,)
    # status/fetch polling: every poll_interval seconds, at most poll_attempts times (tests set 0); TikTok allows
    # 30 status calls a minute. A post still processing after that is settled later by lookup().
    poll_interval = 5.0
    poll_attempts = 24
    chunk_retry_delay = 2.0

    # --- validate -------------------------------------------------------------------------------

    def validate(self, request: base.PublishRequest) -> list[base.Problem]:
        if not self.supports(request.media_type):
            return [
                base.Problem(
                    "media_type", f"TikTok cannot publish a {request.media_type}: choose video, reel, photo or carousel."
                )
            ]
        problems = []
        credentials = request.account.credentials or {}
        if not credentials.get("access_token") and not credentials.get("refresh_token"):
            problems.append(
                base.Problem(
                    "access_token", "The account has no TikTok access token: connect it and save access_token and refresh_token."
                )
            )
        options = _options(request)
        caption = request.caption or ""
        media = request.media
        if request.media_type in ("video", "reel"):
            if utf16_length(caption) > TITLE_LIMIT:
                problems.append(
                    base.Problem("caption_too_long", f"The caption has {len(caption)} characters; TikTok allows {TITLE_LIMIT}.")
                )
            if len(media) != 1 or media[0].kind != "video":
                problems.append(base.Problem("media_count", f"A TikTok {request.media_type} takes exactly one video."))
                return problems
            return problems + self._video_problems(media[0], options)
        if utf16_length(caption) > PHOTO_DESCRIPTION_LIMIT:
            problems.append(
                base.Problem(
                    "caption_too_long",
                    f"The caption has {len(caption)} characters; TikTok allows {PHOTO_DESCRIPTION_LIMIT} under photos.",
                )
            )
        if utf16_length(str(options.get("title") or "")) > PHOTO_TITLE_LIMIT:
            problems.append(base.Problem("title_too_long", f"A TikTok photo title has at most {PHOTO_TITLE_LIMIT} characters."))
        low = 2 if request.media_type == "carousel" else 1
        if not low <= len(media) <= PHOTO_MAX or any(item.kind != "image" for item in media):
            problems.append(
                base.Problem("media_count", f"A TikTok {request.media_type} takes {low} to {PHOTO_MAX} photos (no videos).")
            )
            return problems
        for index, item in enumerate(media, start=1):
            label = f"Photo {index}"
            if item.mime not in PHOTO_MIMES:
                problems.append(
                    base.Problem(
                        "photo_format", f"{label} is {item.mime or 'of unknown type'}; TikTok takes JPEG or WebP photos."
                    )
                )
            if item.size > PHOTO_MAX_BYTES:
                problems.append(
                    base.Problem("photo_too_big", f"{label} is {item.size / MB:.1f} MB; TikTok takes photos up to 20 MB.")
                )
            if not public_url(item):
                problems.append(
                    base.Problem(
                        "public_url",
                        f"{label} has no public https URL: TikTok fetches photos itself. Set PUBLIC_MEDIA_BASE_URL "
                        "to a domain verified in the TikTok developer portal.",
                    )
                )
        return problems

    @staticmethod
    def _video_problems(item: base.MediaItem, options: dict) -> list[base.Problem]:
        problems = []
        if item.mime and item.mime not in VIDEO_MIMES:
            problems.append(base.Problem("video_format", f"The video is {item.mime}; TikTok takes MP4, MOV or WebM."))
        if item.size > VIDEO_MAX_BYTES:
            problems.append(base.Problem("video_too_big", f"The video is {item.size / GB:.1f} GB; TikTok takes up to 4 GB."))
        if item.duration and item.duration > VIDEO_MAX_SECONDS:
            problems.append(
                base.Problem(
                    "video_too_long", f"The video lasts {item.duration:.0f} s; TikTok's API takes up to {VIDEO_MAX_SECONDS} s."
                )
            )
        if not item.path and not public_url(item):
            problems.append(
                base.Problem("media_missing", "The video has no local file and no public https URL TikTok could pull.")
            )
        elif options.get("pull_from_url") and not public_url(item):
            problems.append(
                base.Problem(
                    "public_url", "pull_from_url is set but the video has no public https URL: set PUBLIC_MEDIA_BASE_URL."
                )
            )
        return problems

    # --- publish --------------------------------------------------------------------------------

    def publish(self, request: base.PublishRequest) -> base.PublishResult:
        if not self.supports(request.media_type):
            raise base.ContentRejected(f"TikTok cannot publish a {request.media_type}.")
        api = _Api(request.account)
        options = _options(request)
        creator = api.call("/v2/post/publish/creator_info/query/")
        privacy = self._privacy(options, creator)
        if request.media_type in ("video", "reel"):
            publish_id, source, extra = self._video(api, request, options, creator, privacy)
            kind = "video"
        else:
            publish_id, source, extra = self._photos(api, request, options, creator, privacy)
            kind = "photo"
        status = self._await(api, publish_id)
        post_ids = [str(i) for i in status.get("publicaly_available_post_id") or []]
        username = creator.get("creator_username") or ""
        url = f"https://www.tiktok.com/@{username}/{kind}/{post_ids[0]}" if post_ids and username else ""
        return base.PublishResult(
            remote_id=post_ids[0] if post_ids else publish_id,
            url=url,
            raw=api.scrub(
                {
                    "publish_id": publish_id,
                    "status": status.get("status"),
                    "post_ids": post_ids,
                    "privacy_level": privacy,
                    "source": source,
                    "creator": username,
                    **extra,
                }
            ),
        )

    @staticmethod
    def _privacy(options: dict, creator: dict) -> str:
        offered = [str(o) for o in creator.get("privacy_level_options") or []]
        privacy = str(options.get("privacy_level") or DEFAULT_PRIVACY)
        if offered and privacy not in offered:
            raise base.PermissionDenied(
                f"The privacy level {privacy} is not one this TikTok account offers ({', '.join(offered)}): "
                "set options.privacy_level to one of them.",
                raw={"privacy_level": privacy, "privacy_level_options": offered},
            )
        return privacy

    @staticmethod
    def _flags(options: dict, creator: dict, names: tuple[str, ...]) -> dict[str, bool]:
        """disable_* flags: what the post asks, and always what the creator disabled in TikTok."""
        return {f"disable_{n}": bool(options.get(f"disable_{n}")) or bool(creator.get(f"{n}_disabled")) for n in names}

    def _video(self, api: _Api, request, options: dict, creator: dict, privacy: str) -> tuple[str, str, dict]:
        item = request.media[0]
        limit = creator.get("max_video_post_duration_sec")
        if limit and item.duration and item.duration > float(limit):
            raise base.MediaRejected(
                f"The video lasts {item.duration:.0f} s; this TikTok account may post videos up to {limit} s.",
                raw={"duration": item.duration, "max_video_post_duration_sec": limit},
            )
        post_info: dict[str, Any] = {
            "title": request.caption or "",
            "privacy_level": privacy,
            **self._flags(options, creator, ("comment", "duet", "stitch")),
            "brand_content_toggle": bool(options.get("brand_content_toggle")),
            "brand_organic_toggle": bool(options.get("brand_organic_toggle")),
        }
        if options.get("video_cover_timestamp_ms") is not None:
            post_info["video_cover_timestamp_ms"] = int(options["video_cover_timestamp_ms"])
        if options.get("is_aigc"):
            post_info["is_aigc"] = True
        pull = _pull(options, item)
        if pull:
            data = api.call(
                "/v2/post/publish/video/init/",
                {"post_info": post_info, "source_info": {"source": "PULL_FROM_URL", "video_url": pull}},
                sends=True,
            )
            publish_id = self._accepted(request, data, "PULL_FROM_URL")
            return publish_id, "PULL_FROM_URL", {}
        if not item.path:
            raise base.MediaRejected("The video has no local file and no public https URL TikTok could pull.")
        try:
            size = os.path.getsize(item.path)
        except OSError as exc:
            raise base.MediaRejected(f"The video file cannot be read: {exc.strerror} ({os.path.basename(item.path)}).") from None
        chunk, count = chunk_plan(size)
        data = api.call(
            "/v2/post/publish/video/init/",
            {
                "post_info": post_info,
                "source_info": {"source": "FILE_UPLOAD", "video_size": size, "chunk_size": chunk, "total_chunk_count": count},
            },
        )
        publish_id = self._accepted(request, data, "FILE_UPLOAD")
        upload_url = str(data.get("upload_url") or "")
        if not upload_url:
            raise base.Transient("TikTok's video/init answered without an upload_url.", raw={"publish_id": publish_id})
        self._upload(api, upload_url, item, size, chunk, count)
        return publish_id, "FILE_UPLOAD", {"chunks": count, "chunk_size": chunk, "video_size": size}

    def _upload(self, api: _Api, upload_url: str, item: base.MediaItem, size: int, chunk: int, count: int) -> None:
        """PUT the chunks in order. The last chunk's lost answer is left to status polling: TikTok may have it all."""
        ranges = chunk_ranges(size, chunk, count)
        for index, (first, last) in enumerate(ranges):
            final = index == count - 1
            body = _read_range(item, first, last)
            for attempt in range(CHUNK_RETRIES + 1):
                try:
                    response = api.send(
                        "PUT",
                        upload_url,
                        f"upload of chunk {index + 1}/{count}",
                        sends=final,
                        data=body,
                        headers={"Content-Type": item.mime or "video/mp4", "Content-Range": f"bytes {first}-{last}/{size}"},
                    )
                except PublishPending:
                    return  # the last chunk may have arrived: the status says whether it did
                if response.status_code < 300:
                    break
                if response.status_code >= 500 and attempt < CHUNK_RETRIES:
                    time.sleep(self.chunk_retry_delay)
                    continue
                raise self._upload_error(response, index, count)

    @staticmethod
    def _upload_error(response: Response, index: int, count: int) -> base.PlatformError:
        status = response.status_code
        raw = {
            "upload_chunk": index + 1,
            "chunks": count,
            "http_status": status,
            "content_range": response.headers.get("Content-Range"),
        }
        text = f"TikTok refused chunk {index + 1}/{count} of the video: HTTP {status}"
        if status >= 500:
            return base.Transient(text, raw=raw)
        if status == 403:
            return base.Transient(f"{text} (the upload URL expired).", raw=raw)
        if status == 416:
            return base.Transient(f"{text} (TikTok's upload progress does not match the chunk sent).", raw=raw)
        return base.MediaRejected(text, raw=raw)

    def _photos(self, api: _Api, request, options: dict, creator: dict, privacy: str) -> tuple[str, str, dict]:
        urls = [public_url(item) for item in request.media]
        if not urls or not all(urls):
            raise base.MediaRejected("TikTok fetches photos from public https URLs: set PUBLIC_MEDIA_BASE_URL.")
        post_info: dict[str, Any] = {
            "description": request.caption or "",
            "privacy_level": privacy,
            **self._flags(options, creator, ("comment",)),
            "auto_add_music": bool(options.get("auto_add_music", True)),
            "brand_content_toggle": bool(options.get("brand_content_toggle")),
            "brand_organic_toggle": bool(options.get("brand_organic_toggle")),
        }
        if options.get("title"):
            post_info["title"] = str(options["title"])
        cover = int(options.get("photo_cover_index") or 0)
        data = api.call(
            "/v2/post/publish/content/init/",
            {
                "media_type": "PHOTO",
                "post_mode": "DIRECT_POST",
                "post_info": post_info,
                "source_info": {
                    "source": "PULL_FROM_URL",
                    "photo_images": urls,
                    "photo_cover_index": cover if 0 <= cover < len(urls) else 0,
                },
            },
            sends=True,
        )
        return self._accepted(request, data, "PULL_FROM_URL"), "PULL_FROM_URL", {"photos": len(urls)}

    @staticmethod
    def _accepted(request: base.PublishRequest, data: dict, source: str) -> str:
        """Record the publish_id before anything else can fail: lookup() needs it after a crash."""
        publish_id = str(data.get("publish_id") or "")
        if not publish_id:
            raise PublishPending("TikTok accepted the post without a publish_id: check the TikTok profile.")
        if request.record is not None:
            request.record(
                ACCEPTED_ACTION,
                f"TikTok accepted the post: publish_id {publish_id} ({source}).",
                {"publish_id": publish_id, "source": source},
            )
        return publish_id

    def _await(self, api: _Api, publish_id: str) -> dict:
        """Poll status/fetch until the post is complete; raise what a FAILED status means."""
        for attempt in range(max(self.poll_attempts, 1)):
            if attempt:
                time.sleep(self.poll_interval)
            try:
                status = api.call("/v2/post/publish/status/fetch/", {"publish_id": publish_id})
            except base.PlatformError as error:
                if isinstance(error, (base.Transient, base.RateLimited)):
                    continue
                raise PublishPending(
                    f"TikTok holds the post (publish_id {publish_id}) but its status cannot be read: {error.message}"
                ) from None
            state = status.get("status")
            if state in ("PUBLISH_COMPLETE", "SEND_TO_USER_INBOX"):
                return status
            if state == "FAILED":
                reason = str(status.get("fail_reason") or "unknown")
                raise error_for(
                    reason,
                    f"TikTok could not publish the post: {reason}",
                    raw=api.scrub({"publish_id": publish_id, "status": "FAILED", "fail_reason": reason}),
                )
        raise PublishPending(
            f"TikTok is still processing the post (publish_id {publish_id}); it will be checked again before any retry."
        )

    # --- check / lookup -------------------------------------------------------------------------

    def check(self, account: base.AccountSnapshot) -> base.Health:
        """creator_info/query: the token works, the creator may post, and with which privacy levels."""
        try:
            creator = _Api(account).call("/v2/post/publish/creator_info/query/")
        except base.PlatformError as error:
            return base.Health(ok=False, detail=error.message, account_status=error.account_status, raw=error.raw)
        offered = [str(o) for o in creator.get("privacy_level_options") or []]
        raw = {
            "creator": creator.get("creator_username"),
            "privacy_level_options": offered,
            "max_video_post_duration_sec": creator.get("max_video_post_duration_sec"),
        }
        who = f"@{creator.get('creator_username') or 'creator'}"
        privacy = str((account.options or {}).get("privacy_level") or DEFAULT_PRIVACY)
        if offered and privacy not in offered:
            return base.Health(
                ok=False, detail=f"{who} does not offer the privacy level {privacy} (offers {', '.join(offered)}).", raw=raw
            )
        return base.Health(ok=True, detail=f"{who} can post to TikTok ({privacy}).", raw=raw)

    def lookup(self, execution: base.LookupRequest) -> base.PublishResult | None:
        """Settle an unconfirmed execution from the ``publish_id`` TikTok gave it.

        The Content Posting API cannot list or search a creator's posts; it can
        only report on a ``publish_id``. Publishing records that id in the
        activity log (action ``tiktok.accepted``) the moment TikTok returns it, so
        a crash after that point is resolved here: ``PUBLISH_COMPLETE`` → the post
        exists; ``FAILED`` → it does not (None: a retry is safe); still processing
        → LookupUnsupported, and the next reconciliation asks again.

        With no recorded id the worker stopped before TikTok answered the init
        call. For an upload nothing can be live then, but a pull or photo init may
        have been accepted with an id we never saw: LookupUnsupported — an
        operator checks the TikTok profile, then marks the execution published or
        retries it.
        """
        publish_id = str((execution.records.get(ACCEPTED_ACTION) or {}).get("publish_id") or "")
        if not publish_id:
            raise base.LookupUnsupported(
                "TikTok never returned a publish_id for this execution and cannot list a creator's posts: check the "
                "TikTok profile, then mark the execution published or retry it."
            )
        api = _Api(execution.account)
        status = api.call("/v2/post/publish/status/fetch/", {"publish_id": publish_id})
        state = status.get("status")
        if state == "FAILED":
            return None
        if state not in ("PUBLISH_COMPLETE", "SEND_TO_USER_INBOX"):
            raise base.LookupUnsupported(f"TikTok is still processing publish_id {publish_id} ({state}).")
        post_ids = [str(i) for i in status.get("publicaly_available_post_id") or []]
        return base.PublishResult(
            remote_id=post_ids[0] if post_ids else publish_id,
            raw={"found_by": "lookup", "publish_id": publish_id, "status": state, "post_ids": post_ids},
        )

    # --- statistics ------------------------------------------------------------------------------

    def metrics(self, request: base.MetricsRequest) -> base.Metrics:
        """``POST /v2/video/query/?fields=id,view_count,like_count,comment_count,share_count`` with
        ``filters.video_ids`` (the Display API, scope ``video.list``; the creator's own public videos).

        It needs the video id. Publishing gets it only for public posts (``publicaly_available_post_id``
        of status/fetch); otherwise the execution keeps the ``publish_id``, and status/fetch is asked
        once more in case the post went public since. Still no id → every metric "not available".
        TikTok gives no saves (favourites) or watch time to apps."""
        api = _Api(request.account)
        result = base.Metrics(
            unavailable={
                "saves": "TikTok's API gives no saves (favourites) count.",
                "watch_time_s": "TikTok's API gives no watch time.",
            }
        )
        video_id = request.remote_id
        if not video_id.isdigit():
            status = api.call("/v2/post/publish/status/fetch/", {"publish_id": video_id})
            post_ids = [str(i) for i in status.get("publicaly_available_post_id") or []]
            if not post_ids:
                why = (
                    "TikTok gives the video id (and so statistics) only for public posts; this one is not public "
                    f"(publish_id {video_id})."
                )
                result.unavailable.update(dict.fromkeys(("views", "likes", "comments", "shares"), why))
                result.raw = {"publish_id": video_id, "status": status.get("status")}
                return result
            video_id = post_ids[0]
        try:
            data = api.call(f"/v2/video/query/?fields={VIDEO_FIELDS}", {"filters": {"video_ids": [video_id]}})
        except base.PermissionDenied as error:
            raise base.PermissionDenied(
                "TikTok refused video/query: the token lacks the video.list scope — reconnect the account granting it.",
                raw=error.raw,
            ) from None
        video = next((v for v in data.get("videos") or [] if str(v.get("id")) == video_id), None)
        if video is None:
            raise base.ContentRejected(f"TikTok video {video_id} is gone, private, or not the creator's.")
        for metric, key in (
            ("views", "view_count"),
            ("likes", "like_count"),
            ("comments", "comment_count"),
            ("shares", "share_count"),
        ):
            if isinstance(video.get(key), int):
                result.values[metric] = video[key]
            else:
                result.errors[metric] = f"video/query gave no {key}."
        result.raw = {"video_id": video_id, "video": {k: video.get(k) for k in ("id", *VIDEO_FIELDS.split(",")[1:])}}
        return result


VIDEO_FIELDS = "id,view_count,like_count,comment_count,share_count"
