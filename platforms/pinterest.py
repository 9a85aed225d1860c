"""Pinterest: Pins through API v5.

Account: ``credentials`` ``access_token``, ``refresh_token``, ``client_id`` and
``client_secret`` (the app's, to renew the access token; ``continuous_refresh:
true`` for apps created before 2025-09-25), ``options["board_id"]`` — the board
to pin to — and optionally ``board_section_id``. Post options
(``post.options["pinterest"]``): ``title`` (none by default: the caption is the
description), ``link``, ``alt_text``, and for videos ``cover_image_url`` or
``cover_image_key_frame_time`` (seconds, default 1: a first frame is often black).

photo → an image Pin; carousel (2–5 images) → a multi-image Pin; video / reel →
a video Pin. Images go by URL (``image_url``) when they have a public one,
otherwise inline (``image_base64``, JPEG or PNG). Videos: ``POST /media``
registers an upload, the file goes to the returned ``upload_url`` as an S3-style
form (the ``upload_parameters`` fields, then ``file``; no Pinterest token goes
there), ``GET /media/{id}`` is polled until ``succeeded``, then the Pin is
created with ``source_type: video_id``.

Plain HTTP through :func:`http_session`, the token in the Authorization header.
A 401 renews it once (``POST /oauth/token``, ``grant_type=refresh_token``, HTTP
Basic client authentication) and the new tokens are stored encrypted.

Limits follow the official OpenAPI description (v5.23): title ≤ 100, description
≤ 800, alt_text ≤ 500, link ≤ 2048 characters, 2–5 carousel images. Media sizes
and video durations are third-party figures (PLATFORM_APIS.md §7.5).
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

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
TITLE_LIMIT = 100
DESCRIPTION_LIMIT = 800
ALT_TEXT_LIMIT = 500
LINK_LIMIT = 2048
CAROUSEL_MIN, CAROUSEL_MAX = 2, 5
IMAGE_MAX_BYTES = 20 * MB
BASE64_MIMES = frozenset({"image/jpeg", "image/png"})
VIDEO_MAX_BYTES = 2 * 1024 * MB
VIDEO_MIN_SECONDS, VIDEO_MAX_SECONDS = 4, 15 * 60
DEFAULT_COVER_SECONDS = 1
LOOKUP_PAGE = 100
CLOCK_SKEW = timedelta(minutes=5)
MEDIA_WORDS = ("image", "video", "media", "photo", "picture", "cover", "file", "fetch", "url", "upload")


def public_url(item: base.MediaItem) -> str:
    """An absolute http(s) URL Pinterest can fetch ``item`` from, or ""."""
    url = item.url or ""
    if url and not url.startswith(("http://", "https://")):
        prefix = (settings.PUBLIC_MEDIA_BASE_URL or "").rstrip("/")
        url = f"{prefix}/{url.lstrip('/')}" if prefix else ""
    return url


def _options(request: base.PublishRequest) -> dict[str, Any]:
    """The account's Pinterest options overlaid with the post's (the planner passes all platforms' options)."""
    post = request.options or {}
    if isinstance(post.get(Platform.PINTEREST), dict):
        post = post[Platform.PINTEREST]
    return {**(request.account.options or {}), **post}


def _board_id(account: base.AccountSnapshot) -> str:
    return str((account.options or {}).get("board_id") or "").strip()


def _normalised(text: str | None) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def _read(item: base.MediaItem) -> tuple[str, bytes]:
    if not item.path:
        raise base.MediaRejected("The media item has no local file to upload and no public URL.")
    try:
        with open(item.path, "rb") as handle:
            return os.path.basename(item.path), handle.read()
    except OSError as exc:
        raise base.MediaRejected(f"The media file cannot be read: {exc.strerror} ({os.path.basename(item.path)}).") from None


class _FormFile:
    """A multipart/form-data body — the fields, then the file — read from disk while it is sent.

    Videos may be 2 GB: requests would build such a body in memory. This one has a
    length (S3 wants Content-Length, not chunked encoding) and is read in blocks.
    """

    def __init__(self, fields: dict[str, str], path: str, mime: str) -> None:
        boundary = uuid.uuid4().hex
        name = os.path.basename(path).replace('"', "")
        head = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items())
        head += f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\nContent-Type: {mime}\r\n\r\n'
        self.content_type = f"multipart/form-data; boundary={boundary}"
        self._head, self._tail = head.encode(), f"\r\n--{boundary}--\r\n".encode()
        self._file = open(path, "rb")  # closed by close(), once the request is sent
        self._length = len(self._head) + os.fstat(self._file.fileno()).st_size + len(self._tail)
        self._parts = [io.BytesIO(self._head), self._file, io.BytesIO(self._tail)]

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        chunks = []
        while self._parts and (size < 0 or size > 0):
            data = self._parts[0].read(size)
            if not data:
                self._parts.pop(0)
                continue
            chunks.append(data)
            size -= len(data) if size > 0 else 0
        return b"".join(chunks)

    def close(self) -> None:
        self._file.close()


def _pin_media_kind(media_type: str) -> str:
    return {"photo": "image", "carousel": "multiple_images"}.get(media_type, "video")


class _Api(OAuthClient):
    """One account's Pinterest API v5 client."""

    name = "Pinterest"
    base_url_setting = "PINTEREST_API_BASE_URL"
    default_lifetime = 30 * 86400
    missing_credentials = "The account has no Pinterest access token: connect it (OAuth) and save access_token and refresh_token."

    def send(self, method: str, url: str, what: str, *, sends: bool = False, **kwargs) -> Response:
        """One request with the exception chain cut; a lost answer to a Pin creation is DeliveryUnknown."""
        try:
            return self.session.request(method, url, **kwargs)
        except base.PlatformError as error:
            if sends and may_have_arrived(error.__cause__):
                raise base.DeliveryUnknown(
                    f"Pinterest did not answer {what} ({type(error.__cause__).__name__}); the Pin may exist: checking the board."
                ) from None
            raise error from None
        except requests.RequestException as exc:
            if sends and may_have_arrived(exc):
                raise base.DeliveryUnknown(
                    f"Pinterest's answer to {what} was cut off; the Pin may exist: checking the board."
                ) from None
            raise base.Transient(f"Pinterest {what} failed: {type(exc).__name__}") from None

    # --- tokens -------------------------------------------------------------------------------

    def request_token(self, credentials: dict) -> Response:
        """The refresh_token grant with HTTP Basic client authentication."""
        if not (credentials.get("refresh_token") and credentials.get("client_id") and credentials.get("client_secret")):
            raise base.AuthRequired(
                "Pinterest rejected the access token and the account cannot renew it (credentials need refresh_token, "
                "client_id and client_secret): connect the account again."
            )
        form = {"grant_type": "refresh_token", "refresh_token": credentials["refresh_token"]}
        if credentials.get("continuous_refresh"):
            form["continuous_refresh"] = "true"
        auth = (str(credentials["client_id"]), str(credentials["client_secret"]))
        return self.send("POST", f"{self.base_url}/oauth/token", "token refresh", data=form, auth=auth)

    def refused(self, body: dict, status: int) -> base.AuthRequired:
        reason = body.get("message") or body.get("error") or f"HTTP {status}"
        return base.AuthRequired(
            f"Pinterest refused to renew the access token ({reason}): connect the account again (OAuth).",
            raw={"token_refresh": self.scrub({"http_status": status, "error": reason})},
        )

    # --- calls --------------------------------------------------------------------------------

    def call(self, method: str, path: str, what: str, *, body: dict | None = None, sends: bool = False, **params) -> dict:
        """An API call; its JSON body, or the PlatformError the answer maps to. A 401 renews the token once."""
        while True:
            token = self.token()
            response = self.send(
                method,
                f"{self.base_url}{path}",
                what,
                sends=sends,
                params=params or None,
                data=json.dumps(body).encode() if body is not None else None,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            if response.status_code == 401 and not self.renewed:
                self.renew(token)
                continue
            if response.status_code < 300:
                return _json(response)
            raise self.error(response, what)

    def error(self, response: Response, what: str) -> base.PlatformError:
        status = response.status_code
        body = _json(response)
        message = str(body.get("message") or "")
        raw = self.scrub({"call": what, "http_status": status, "code": body.get("code"), "message": message})
        text = self.scrub(f"Pinterest {what}: HTTP {status}" + (f" ({message})" if message else ""))
        if status == 401:
            return base.AuthRequired(f"{text}. Pinterest rejected the access token: connect the account again.", raw=raw)
        if status == 429:
            return base.RateLimited(text, retry_after=_retry_after(response), raw=raw)
        if status == 403:
            return base.PermissionDenied(
                f"{text}. The token may not do this: check the board is the account's and the pins:write scope.", raw=raw
            )
        if status == 404:
            return base.PermissionDenied(f"{text}. Check options.board_id: the board is not there or not the account's.", raw=raw)
        if status >= 500:
            return base.Transient(text, raw=raw)
        if any(word in message.lower() for word in MEDIA_WORDS):
            return base.MediaRejected(text, raw=raw)
        return base.ContentRejected(text, raw=raw)


def _json(response: Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _retry_after(response: Response) -> float:
    """Seconds to wait: ``Retry-After``, or ``X-RateLimit-Reset`` (seconds left, or an epoch time)."""
    if response.headers.get("Retry-After"):
        return retry_after_seconds(response.headers["Retry-After"], 60.0)
    try:
        number = float(response.headers.get("X-RateLimit-Reset", ""))
    except ValueError:
        return 60.0
    return max(number - time.time() if number > 1e9 else number, 1.0)


def _image_source(items: Iterable[base.MediaItem]) -> dict:
    """media_source for one image (``image_url`` / ``image_base64``) or several (``multiple_image_*``)."""
    items = list(items)
    urls = [public_url(item) for item in items]
    if all(urls):
        if len(items) == 1:
            return {"source_type": "image_url", "url": urls[0]}
        return {"source_type": "multiple_image_urls", "items": [{"url": url} for url in urls]}
    inline = []
    for item in items:
        if item.mime not in BASE64_MIMES:
            raise base.MediaRejected(f"Pinterest takes inline images as JPEG or PNG, not {item.mime or 'this type'}.")
        inline.append({"content_type": item.mime, "data": base64.b64encode(_read(item)[1]).decode()})
    if len(inline) == 1:
        return {"source_type": "image_base64", **inline[0]}
    return {"source_type": "multiple_image_base64", "items": inline}


class PinterestAdapter(base.Adapter):
    platform = Platform.PINTEREST
    media_types = frozenset({"photo", "carousel", "video", "reel"})
    mixed_carousels = False  # a multi-image Pin is images only
    can_lookup = True
    lookup_uses_recorded_ids = True
    # GET /media/{id} polling after a video upload (tests set the interval to 0); bounded well inside
    # the publish task's time limit — a video still processing is uploaded again on the retry.
    media_poll_interval = 3.0
    media_poll_attempts = 30

    # --- validate -------------------------------------------------------------------------------

    def validate(self, request: base.PublishRequest) -> list[base.Problem]:
        if not self.supports(request.media_type):
            return [
                base.Problem(
                    "media_type", f"Pinterest cannot publish a {request.media_type}: choose photo, carousel, video or reel."
                )
            ]
        problems = []
        account = request.account
        credentials = account.credentials or {}
        if not credentials.get("access_token") and not credentials.get("refresh_token"):
            problems.append(
                base.Problem("access_token", "The account has no Pinterest access token: connect it and save access_token.")
            )
        board_id = _board_id(account)
        if not board_id:
            problems.append(base.Problem("board_id", "Set options.board_id to the board to pin to (a number)."))
        elif not board_id.isdigit():
            problems.append(
                base.Problem("board_id", f"{board_id!r} is not a board id: use the board's number, e.g. 549755885175.")
            )
        options = _options(request)
        caption = request.caption or ""
        if len(caption) > DESCRIPTION_LIMIT:
            problems.append(
                base.Problem(
                    "caption_too_long",
                    f"The caption has {len(caption)} characters; a Pin description allows {DESCRIPTION_LIMIT}.",
                )
            )
        for name, limit in (("title", TITLE_LIMIT), ("alt_text", ALT_TEXT_LIMIT), ("link", LINK_LIMIT)):
            if len(str(options.get(name) or "")) > limit:
                problems.append(base.Problem(f"{name}_too_long", f"A Pin's {name} has at most {limit} characters."))
        media = request.media
        if request.media_type in ("video", "reel"):
            if len(media) != 1 or media[0].kind != "video":
                problems.append(base.Problem("media_count", "A video Pin takes exactly one video."))
                return problems
            return problems + self._video_problems(media[0])
        low, high = (CAROUSEL_MIN, CAROUSEL_MAX) if request.media_type == "carousel" else (1, 1)
        if not low <= len(media) <= high or any(item.kind != "image" for item in media):
            count = f"{low} to {high} images" if high > 1 else "exactly one image"
            problems.append(base.Problem("media_count", f"A Pinterest {request.media_type} takes {count}."))
            return problems
        for index, item in enumerate(media, start=1):
            label = f"Image {index}" if len(media) > 1 else "The image"
            if item.size > IMAGE_MAX_BYTES:
                problems.append(
                    base.Problem("image_too_big", f"{label} is {item.size / MB:.1f} MB; Pinterest takes images up to 20 MB.")
                )
            if not public_url(item):
                if not item.path:
                    problems.append(base.Problem("media_missing", f"{label} has neither a file nor a public URL."))
                elif item.mime not in BASE64_MIMES:
                    problems.append(
                        base.Problem(
                            "image_format",
                            f"{label} is {item.mime or 'of unknown type'}: without a public URL Pinterest takes JPEG or PNG.",
                        )
                    )
        return problems

    @staticmethod
    def _video_problems(item: base.MediaItem) -> list[base.Problem]:
        problems = []
        if not item.path:
            problems.append(base.Problem("media_missing", "The video has no local file to upload to Pinterest."))
        if item.size > VIDEO_MAX_BYTES:
            problems.append(base.Problem("video_too_big", f"The video is {item.size / MB:.0f} MB; Pinterest takes up to 2 GB."))
        if item.duration and not VIDEO_MIN_SECONDS <= item.duration <= VIDEO_MAX_SECONDS:
            problems.append(
                base.Problem(
                    "video_duration", f"The video lasts {item.duration:.1f} s; Pinterest takes videos of 4 s to 15 minutes."
                )
            )
        return problems

    # --- publish --------------------------------------------------------------------------------

    def publish(self, request: base.PublishRequest) -> base.PublishResult:
        board_id = _board_id(request.account)
        if not board_id:
            raise base.ContentRejected("The account has no board: set options.board_id.")
        if not self.supports(request.media_type) or not request.media:
            raise base.ContentRejected(f"Pinterest cannot publish a {request.media_type} without media.")
        options = _options(request)
        api = _Api(request.account)
        extra: dict[str, Any] = {}
        if request.media_type in ("video", "reel"):
            media_id = self._upload_video(api, request.media[0])
            source: dict[str, Any] = {"source_type": "video_id", "media_id": media_id}
            if options.get("cover_image_url"):
                source["cover_image_url"] = str(options["cover_image_url"])
            else:
                source["cover_image_key_frame_time"] = int(options.get("cover_image_key_frame_time", DEFAULT_COVER_SECONDS))
            extra["media_id"] = media_id
        else:
            source = _image_source(request.media)
        pin: dict[str, Any] = {"board_id": board_id, "description": request.caption or "", "media_source": source}
        section = (request.account.options or {}).get("board_section_id")
        if section:
            pin["board_section_id"] = str(section)
        for name in ("title", "link", "alt_text"):
            if options.get(name):
                pin[name] = str(options[name])
        created = api.call("POST", "/pins", "pins/create", body=pin, sends=True)
        pin_id = str(created.get("id") or "")
        if not pin_id:
            raise base.DeliveryUnknown("Pinterest answered pins/create without a Pin id: checking the board.")
        return base.PublishResult(
            remote_id=pin_id,
            url=f"https://www.pinterest.com/pin/{pin_id}/",
            raw=api.scrub(
                {
                    "pin_id": pin_id,
                    "board_id": created.get("board_id") or board_id,
                    "created_at": created.get("created_at"),
                    "source_type": source["source_type"],
                    **extra,
                }
            ),
        )

    def _upload_video(self, api: _Api, item: base.MediaItem) -> str:
        """Register, upload (S3 form POST) and wait until Pinterest processed the video; its media_id."""
        if not item.path:
            raise base.MediaRejected("The video has no local file to upload to Pinterest.")
        registered = api.call("POST", "/media", "media/create", body={"media_type": "video"})
        media_id = str(registered.get("media_id") or "")
        upload_url = str(registered.get("upload_url") or "")
        if not media_id or not upload_url:
            raise base.Transient("Pinterest registered no video upload (no media_id / upload_url).")
        fields = {str(k): str(v) for k, v in (registered.get("upload_parameters") or {}).items()}
        try:
            body = _FormFile(fields, item.path, item.mime or "video/mp4")
        except OSError as exc:
            raise base.MediaRejected(f"The video file cannot be read: {exc.strerror} ({os.path.basename(item.path)}).") from None
        try:
            # Not through api.call: the Pinterest token must not go to the storage host.
            response = api.send("POST", upload_url, "video upload", data=body, headers={"Content-Type": body.content_type})
        finally:
            body.close()
        if response.status_code >= 500:
            raise base.Transient(f"Pinterest's media storage answered HTTP {response.status_code}.")
        if response.status_code >= 300:
            raise base.MediaRejected(
                f"Pinterest's media storage refused the video: HTTP {response.status_code}.",
                raw={"media_id": media_id, "http_status": response.status_code},
            )
        for attempt in range(max(self.media_poll_attempts, 1)):
            if attempt:
                time.sleep(self.media_poll_interval)
            status = api.call("GET", f"/media/{media_id}", "media/get").get("status")
            if status == "succeeded":
                return media_id
            if status == "failed":
                raise base.MediaRejected(
                    f"Pinterest could not process the video (media {media_id} failed).", raw={"media_id": media_id}
                )
        raise base.Transient(f"Pinterest is still processing the video (media {media_id}): the Pin is created on a retry.")

    # --- check / lookup -------------------------------------------------------------------------

    def check(self, account: base.AccountSnapshot) -> base.Health:
        """GET /user_account (the token) and GET /boards/{board_id} (the board is there and visible)."""
        board_id = _board_id(account)
        try:
            api = _Api(account)
            user = api.call("GET", "/user_account", "user_account/get")
            who = f"@{user.get('username') or user.get('id') or 'user'}"
            raw: dict[str, Any] = {"user": {k: user.get(k) for k in ("id", "username", "account_type")}}
            if not board_id:
                return base.Health(ok=False, detail=f"Pinterest {who} works, but options.board_id is not set.", raw=raw)
            board = api.call("GET", f"/boards/{board_id}", "boards/get")
        except base.PlatformError as error:
            return base.Health(ok=False, detail=error.message, account_status=error.account_status, raw=error.raw)
        raw["board"] = {k: board.get(k) for k in ("id", "name", "privacy")}
        owner = (board.get("owner") or {}).get("username")
        detail = f"Pinterest {who} can pin to the board {board.get('name') or board_id}"
        if owner and owner != user.get("username"):
            detail += f" (owned by @{owner})"
        return base.Health(ok=True, detail=detail + ".", raw=raw)

    def lookup(self, execution: base.LookupRequest) -> base.PublishResult | None:
        """Find the Pin an unconfirmed execution may have created, on the account's board.

        Nothing invisible can be attached to a Pin, so it is recognised by what was
        sent: among the board's newest 100 Pins, one created no earlier than the
        execution (minus clock skew), with the execution's caption as description
        (whitespace-normalised) and the post's kind of media, not already recorded
        by another execution of the account. One match → it; none → None (a retry
        is safe); several → LookupUnsupported, an operator decides.
        """
        board_id = _board_id(execution.account)
        if not board_id:
            raise base.LookupUnsupported("The account has no board (options.board_id): nothing to look at.")
        api = _Api(execution.account)
        page = api.call("GET", f"/boards/{board_id}/pins", "boards/list_pins", page_size=LOOKUP_PAGE)
        since = execution.created_at - CLOCK_SKEW
        kind = _pin_media_kind(execution.media_type)
        text = _normalised(execution.caption)
        recorded = execution.recorded_remote_ids
        found = []
        for pin in page.get("items") or []:
            try:
                created = datetime.fromisoformat(str(pin.get("created_at") or "").replace("Z", "+00:00"))
            except ValueError:
                continue
            if timezone.is_naive(created):
                created = created.replace(tzinfo=UTC)
            media_kind = (pin.get("media") or {}).get("media_type")
            if (
                created >= since
                and _normalised(pin.get("description")) == text
                and (media_kind is None or media_kind == kind)
                and str(pin.get("id")) not in recorded
            ):
                found.append(pin)
        if not found:
            return None
        if len(found) > 1:
            ids = ", ".join(str(p.get("id")) for p in found)
            raise base.LookupUnsupported(f"Several Pins match this execution ({ids}): mark the right one as published.")
        pin_id = str(found[0]["id"])
        return base.PublishResult(
            remote_id=pin_id,
            url=f"https://www.pinterest.com/pin/{pin_id}/",
            raw={"found_by": "lookup", "pin_id": pin_id, "created_at": found[0].get("created_at")},
        )

    # --- statistics ------------------------------------------------------------------------------

    def metrics(self, request: base.MetricsRequest) -> base.Metrics:
        """``GET /pins/{id}/analytics`` (scope ``pins:read``) from the day it was published (at most
        90 days back, Pinterest's limit) to today: the period's IMPRESSION → views and SAVE → saves,
        the lifetime TOTAL_REACTIONS → likes and TOTAL_COMMENTS → comments, and for video Pins
        VIDEO_V50_WATCH_TIME (total play time, ms) → watch time. Pinterest reports no shares. A
        metric missing from the answer (analytics can lag a day) is an error for this reading."""
        api = _Api(request.account)
        video = request.media_type in ("video", "reel")
        today = timezone.now().date()
        start = max((request.published_at or timezone.now()).date(), today - timedelta(days=90))
        types = [*PIN_METRICS, *(VIDEO_PIN_METRICS if video else ())]
        try:
            answer = api.call(
                "GET",
                f"/pins/{request.remote_id}/analytics",
                "pins/analytics",
                start_date=start.isoformat(),
                end_date=today.isoformat(),
                metric_types=",".join(types),
            )
        except base.PermissionDenied as error:
            if error.raw.get("http_status") == 404:
                raise base.ContentRejected(f"Pin {request.remote_id} is gone.", raw=error.raw) from None
            raise
        report = next((value for value in answer.values() if isinstance(value, dict)), {})
        summary, lifetime = report.get("summary_metrics") or {}, report.get("lifetime_metrics") or {}
        result = base.Metrics(
            unavailable={"shares": "Pinterest's analytics report no shares."},
            raw=api.scrub({"pin_id": request.remote_id, "summary_metrics": summary, "lifetime_metrics": lifetime}),
        )
        if not video:
            result.unavailable["watch_time_s"] = "Pinterest reports watch time for video Pins only."
        wanted = {"views": ("IMPRESSION", summary), "saves": ("SAVE", summary)}
        wanted |= {"likes": ("TOTAL_REACTIONS", lifetime), "comments": ("TOTAL_COMMENTS", lifetime)}
        if video:
            wanted["watch_time_s"] = ("VIDEO_V50_WATCH_TIME", summary)
        for metric, (name, source) in wanted.items():
            value = source.get(name)
            if not isinstance(value, (int, float)):
                result.errors[metric] = f"Pinterest gave no {name} (analytics can lag by a day)."
            else:
                result.values[metric] = value / 1000 if metric == "watch_time_s" else value
        return result


PIN_METRICS = ("IMPRESSION", "SAVE", "PIN_CLICK", "OUTBOUND_CLICK", "TOTAL_COMMENTS", "TOTAL_REACTIONS")
VIDEO_PIN_METRICS = ("VIDEO_MRC_VIEW", "VIDEO_V50_WATCH_TIME")
