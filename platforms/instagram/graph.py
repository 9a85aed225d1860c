"""Instagram Graph API content publishing, for business and creator accounts.

Account: ``credentials["access_token"]`` (a long-lived token with
``instagram_content_publish``) and ``options["ig_user_id"]`` (the IG user id,
not the username). Plain HTTP through :func:`http_session` to
``INSTAGRAM_GRAPH_BASE_URL`` (default ``https://graph.facebook.com/v21.0``).

Meta fetches the media itself ("we cURL media used in publishing attempts"), so
every item needs an absolute public URL: a presigned S3 URL, or
``PUBLIC_MEDIA_BASE_URL`` + the local media URL. ``validate`` says so when
neither is there.

Flow: read ``content_publishing_limit`` (at the limit → QuotaExceeded until the
oldest post leaves the 24 h window) → create a container (``POST /{ig}/media``;
a carousel first creates one ``is_carousel_item`` container per item, then the
``CAROUSEL`` container of their ids) → poll ``status_code`` until FINISHED
(bounded by ``POLL_DELAYS``; ERROR → MediaRejected, EXPIRED → Transient) →
``POST /{ig}/media_publish`` → ``GET /{media}?fields=permalink``.

Single videos are published as reels (Meta shares every API feed video as a reel
since July 2023); post option ``share_to_feed`` (default true) keeps them in the feed.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta
from typing import Any

import requests
from django.conf import settings
from django.utils import timezone

from .. import base
from ..http import http_session
from .common import (
    LOOKUP_RECENT,
    PublishOutcomeUnknown,
    first_media_kind,
    is_our_post,
    is_our_story,
    may_have_arrived,
    mime_problems,
)

IMAGE_MIMES = {"image/jpeg": "JPEG"}
VIDEO_MIMES = {"video/mp4": "MP4", "video/quicktime": "MOV"}
MB = 1024 * 1024
IMAGE_MAX_BYTES = 8 * MB
REEL_MAX_BYTES, REEL_SECONDS = 300 * MB, (3, 15 * 60)
STORY_VIDEO_MAX_BYTES, STORY_VIDEO_SECONDS = 100 * MB, (3, 60)

# Seconds between container status polls; the container is given up (Transient) after
# the last one. Meta asks for polls no more often than needed; tests set zeros.
POLL_DELAYS: tuple[float, ...] = (3, 5, 10, 15, 30, 30, 30, 30)
# media_publish answering "not ready" (9007 / 2207027) is retried this often, after a poll.
PUBLISH_NOT_READY_RETRIES = 3
THROTTLE_COOLDOWN = 15 * 60
POLICY_BLOCK_COOLDOWN = 24 * 3600
QUOTA_RECHECK = timedelta(hours=1)


class _NotReady(Exception):
    """media_publish came before the container was FINISHED."""


def public_media_url(item: base.MediaItem) -> str:
    """The absolute URL Meta can fetch ``item`` from, or "" when there is none."""
    if item.url.startswith(("http://", "https://")):
        return item.url
    base_url = settings.PUBLIC_MEDIA_BASE_URL.rstrip("/")
    if item.url and base_url:
        return f"{base_url}/{item.url.lstrip('/')}"
    return ""


def _usage_retry_after(response: requests.Response | None) -> int:
    """``estimated_time_to_regain_access`` (minutes) from Meta's usage headers, in seconds."""
    if response is None:
        return THROTTLE_COOLDOWN
    minutes = 0
    for header in ("X-Business-Use-Case-Usage", "X-App-Usage"):
        try:
            usage = json.loads(response.headers.get(header) or "{}")
        except ValueError:
            continue
        entries = [e for v in usage.values() if isinstance(v, list) for e in v] if isinstance(usage, dict) else []
        minutes = max([minutes, *(int(e.get("estimated_time_to_regain_access") or 0) for e in entries if isinstance(e, dict))])
    return minutes * 60 or THROTTLE_COOLDOWN


def graph_error(payload: dict, response: requests.Response | None) -> Exception:
    """The PlatformError a Graph API error envelope means (Meta's codes and subcodes)."""
    error = payload.get("error") if isinstance(payload.get("error"), dict) else {}
    code = int(error.get("code") or 0)
    subcode = int(error.get("error_subcode") or 0)
    text = error.get("error_user_msg") or error.get("message") or "unknown error"
    message = f"{text} (code {code}{f', subcode {subcode}' if subcode else ''})"
    raw = {"code": code, "subcode": subcode, "type": error.get("type", ""), "message": str(text)[:500]}
    status = response.status_code if response is not None else None
    if code == 9007 or subcode == 2207027:
        return _NotReady(message)
    if code == 190 or code == 102:
        return base.AuthRequired(f"The access token no longer works: {message}", raw=raw)
    if code in (4, 17, 32, 613) or 80001 <= code <= 80009:
        return base.RateLimited(f"Graph API throttling: {message}", retry_after=_usage_retry_after(response), raw=raw)
    if code == 9 or subcode == 2207042:
        return base.QuotaExceeded(f"Instagram's publishing limit is reached: {message}", raw=raw)
    if code == 368 or subcode == 2207051:
        return base.QuotaExceeded(f"Instagram blocked the action: {message}", retry_after=POLICY_BLOCK_COOLDOWN, raw=raw)
    if code == 10 or 200 <= code <= 299 or subcode == 2207050:
        return base.PermissionDenied(f"The token may not publish for this account: {message}", raw=raw)
    if code in (352, 9004) or 36000 <= code <= 36004 or 2207000 <= subcode <= 2207999:
        return base.MediaRejected(f"Instagram refused the media: {message}", raw=raw)
    if code in (1, 2) or (status is not None and status >= 500):
        return base.Transient(f"The Graph API failed: {message}", raw=raw)
    return base.ContentRejected(f"The Graph API refused the request: {message}", raw=raw)


class _Api:
    """One account's Graph API client."""

    def __init__(self, account: base.AccountSnapshot) -> None:
        self.token = str((account.credentials or {}).get("access_token") or "")
        self.ig_user_id = str((account.options or {}).get("ig_user_id") or "")
        if not self.token or not self.ig_user_id:
            raise base.AuthRequired("The account needs credentials 'access_token' and options 'ig_user_id'.")
        self.session = http_session(account)
        self.base_url = settings.INSTAGRAM_GRAPH_BASE_URL.rstrip("/")

    def get(self, path: str, **params: Any) -> dict:
        return self._call("GET", path, params=params)

    def post(self, path: str, *, sends: bool = False, **fields: Any) -> dict:
        return self._call("POST", path, data=fields, sends=sends)

    def _call(self, method: str, path: str, *, params=None, data=None, sends: bool = False) -> dict:
        """``sends``: the call publishes, so a lost answer means the post may exist."""
        url = f"{self.base_url}/{path}"
        if method == "GET":
            params = {**(params or {}), "access_token": self.token}
        else:
            data = {**(data or {}), "access_token": self.token}  # in the body, never in a URL
        try:
            response = self.session.request(method, url, params=params, data=data)
        except base.PlatformError as error:
            # The chained requests exception quotes the URL (with the token on GETs): cut it.
            if sends and isinstance(error, base.Transient) and may_have_arrived(error.__cause__):
                raise PublishOutcomeUnknown(f"The Graph API did not answer media_publish ({error.message}).") from None
            raise error from None
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        if response.status_code >= 400 or "error" in payload:
            error = graph_error(payload, response)
            if sends and isinstance(error, base.Transient):
                raise PublishOutcomeUnknown(f"media_publish failed without a usable answer ({error.message}).") from None
            raise error
        if not isinstance(payload, dict):
            raise base.Transient(f"The Graph API answered {method} {path.split('?')[0]} with no JSON object.")
        return payload


def _timestamp(value: str | None) -> datetime | None:
    try:
        return datetime.strptime(value or "", "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None


class GraphBackend:
    name = "Graph API"

    def validate(self, request: base.PublishRequest) -> list[base.Problem]:
        problems = mime_problems(request.media, images=IMAGE_MIMES, videos=VIDEO_MIMES, backend=self.name)
        for position, item in enumerate(request.media, start=1):
            if not public_media_url(item):
                problems.append(
                    base.Problem(
                        "media_url",
                        f"Media {position} has no public URL Meta can fetch ({item.url or 'no URL'}): set "
                        "PUBLIC_MEDIA_BASE_URL to where /files/ is served publicly, or use S3 storage.",
                    )
                )
                break
        problems += self._size_problems(request)
        return problems

    def _size_problems(self, request: base.PublishRequest) -> list[base.Problem]:
        for position, item in enumerate(request.media, start=1):
            if item.kind == "image":
                if item.size > IMAGE_MAX_BYTES:
                    return [base.Problem("media_size", f"Image {position} is over 8 MB, the Graph API's limit.")]
                continue
            story = request.media_type == "story"
            max_bytes, (low, high) = (STORY_VIDEO_MAX_BYTES, STORY_VIDEO_SECONDS) if story else (REEL_MAX_BYTES, REEL_SECONDS)
            what = "A story video" if story else "A reel"
            if item.size > max_bytes:
                return [base.Problem("media_size", f"{what} may be {max_bytes // MB} MB at most; video {position} is larger.")]
            if item.duration is not None and not low <= item.duration <= high:
                return [
                    base.Problem(
                        "media_duration",
                        f"{what} must last {low} s to {high // 60 if high >= 60 else high}"
                        f"{' min' if high >= 60 else ' s'}; video {position} lasts {item.duration:.1f} s.",
                    )
                ]
        return []

    # --- publishing

    def publish(self, request: base.PublishRequest) -> base.PublishResult:
        api = _Api(request.account)
        self._check_quota(api)
        container, children = self._create(api, request)
        media_id = self._publish(api, container)
        try:
            permalink = str(api.get(media_id, fields="permalink").get("permalink") or "")
        except base.PlatformError:
            permalink = ""  # the post exists: a missing link must not make the engine post it again
        return base.PublishResult(
            remote_id=media_id,
            url=permalink,
            raw={"backend": "graph", "id": media_id, "container_id": container, "children": children, "permalink": permalink},
        )

    def _check_quota(self, api: _Api) -> dict:
        limit = api.get(f"{api.ig_user_id}/content_publishing_limit", fields="quota_usage,config")
        data = (limit.get("data") or [{}])[0]
        usage = int(data.get("quota_usage") or 0)
        config = data.get("config") or {}
        total = int(config.get("quota_total") or 0)
        duration = int(config.get("quota_duration") or 86400)
        if total and usage >= total:
            raise base.QuotaExceeded(
                f"{usage} of {total} posts allowed through the API in 24 h are used.",
                until=self._window_frees(api, total, duration),
                raw={"quota_usage": usage, "quota_total": total},
            )
        return {"usage": usage, "total": total}

    def _window_frees(self, api: _Api, total: int, duration: int) -> datetime:
        """When the oldest post of the rolling window leaves it (a later check re-reads the limit)."""
        now = timezone.now()
        window = timedelta(seconds=duration)
        media = api.get(f"{api.ig_user_id}/media", fields="timestamp", limit=total).get("data") or []
        times = [t for t in (_timestamp(m.get("timestamp")) for m in media) if t and t > now - window]
        return min(times) + window if times else now + QUOTA_RECHECK

    def _container(self, api: _Api, item: base.MediaItem, **fields: Any) -> str:
        key = "image_url" if item.kind == "image" else "video_url"
        return str(api.post(f"{api.ig_user_id}/media", **{key: public_media_url(item)}, **fields)["id"])

    def _create(self, api: _Api, request: base.PublishRequest) -> tuple[str, list[str]]:
        caption = request.caption
        item = request.media[0]
        share = "true" if request.options.get("share_to_feed", True) else "false"
        match request.media_type:
            case "photo":
                container = self._container(api, item, caption=caption)
            case "video" | "reel":
                container = self._container(api, item, media_type="REELS", caption=caption, share_to_feed=share)
            case "story":
                container = self._container(api, item, media_type="STORIES")
            case "carousel":
                video = {"media_type": "VIDEO"}
                children = [
                    self._container(api, child, is_carousel_item="true", **(video if child.kind == "video" else {}))
                    for child in request.media
                ]
                self._wait(api, *children)
                container = self._container_of(api, children, caption)
                self._wait(api, container)
                return container, children
            case _:
                raise base.ContentRejected(f"Instagram cannot publish a {request.media_type} post.")
        self._wait(api, container)
        return container, []

    def _container_of(self, api: _Api, children: list[str], caption: str) -> str:
        created = api.post(f"{api.ig_user_id}/media", media_type="CAROUSEL", children=",".join(children), caption=caption)
        return str(created["id"])

    def _wait(self, api: _Api, *containers: str) -> None:
        """Poll the containers (together) until all are FINISHED; ERROR → MediaRejected,
        EXPIRED or still processing after ``POLL_DELAYS`` → Transient."""
        pending = list(containers)
        for delay in (0, *POLL_DELAYS):
            if delay:
                time.sleep(delay)
            for container in list(pending):
                state = api.get(container, fields="status_code,status")
                code = state.get("status_code")
                if code in ("FINISHED", "PUBLISHED"):
                    pending.remove(container)
                elif code == "ERROR":
                    raise base.MediaRejected(
                        f"Instagram could not process the media: {state.get('status') or 'ERROR'}", raw={"container": state}
                    )
                elif code == "EXPIRED":
                    raise base.Transient("The media container expired before it was published.", raw={"container": state})
            if not pending:
                return
        raise base.Transient(
            f"Instagram was still processing the media after {sum(POLL_DELAYS):.0f} s; trying again later.",
            raw={"containers": pending},
        )

    def _publish(self, api: _Api, container: str) -> str:
        for attempt in range(PUBLISH_NOT_READY_RETRIES + 1):
            try:
                return str(api.post(f"{api.ig_user_id}/media_publish", sends=True, creation_id=container)["id"])
            except _NotReady:
                if attempt == PUBLISH_NOT_READY_RETRIES:
                    raise base.Transient("Instagram kept saying the media is not ready to publish.") from None
                time.sleep(POLL_DELAYS[0])
                self._wait(api, container)
            except base.QuotaExceeded as error:
                if error.until is None and error.retry_after is None:
                    error.until = timezone.now() + QUOTA_RECHECK
                raise
        raise AssertionError("unreachable")

    # --- checks and lookups

    def check(self, account: base.AccountSnapshot) -> base.Health:
        api = _Api(account)
        user = api.get(api.ig_user_id, fields="username")
        quota = self._quota_state(api)
        return base.Health(
            ok=True,
            detail=f"The token works for @{user.get('username', '?')}{quota}.",
            raw={"ig_user_id": api.ig_user_id, "username": user.get("username", "")},
        )

    def _quota_state(self, api: _Api) -> str:
        try:
            state = self._check_quota(api)
        except base.QuotaExceeded as error:
            return f"; {error.message}"
        return f"; {state['usage']} of {state['total']} API posts used in 24 h" if state["total"] else ""

    def login(self, account: base.AccountSnapshot) -> base.Health:
        """Graph accounts log in with their token: proving it works is the login."""
        try:
            return self.check(account)
        except base.PlatformError as error:
            return base.Health(ok=False, detail=f"{error.code}: {error.message}", account_status=error.account_status)

    def lookup(self, execution: base.LookupRequest) -> base.PublishResult | None:
        api = _Api(execution.account)
        story = execution.media_type == "story"
        edge = "stories" if story else "media"
        items = api.get(f"{api.ig_user_id}/{edge}", fields="id,caption,media_type,timestamp,permalink", limit=LOOKUP_RECENT)
        expected_video = story and first_media_kind(execution) == "video"
        for item in (items.get("data") or [])[:LOOKUP_RECENT]:
            taken_at = _timestamp(item.get("timestamp"))
            if story:
                found = is_our_story(
                    is_video=item.get("media_type") == "VIDEO",
                    taken_at=taken_at,
                    expected_video=expected_video,
                    started_at=execution.started_at,
                )
            else:
                found = is_our_post(
                    caption=item.get("caption"),
                    taken_at=taken_at,
                    expected_caption=execution.caption,
                    started_at=execution.started_at,
                )
            if found:
                return base.PublishResult(
                    remote_id=str(item["id"]),
                    url=str(item.get("permalink") or ""),
                    raw={"backend": "graph", "id": str(item["id"]), "found_by": "lookup"},
                )
        return None

    # --- statistics ----------------------------------------------------------------------------

    def metrics(self, request: base.MetricsRequest) -> base.Metrics:
        """``GET /{media}/insights?metric=…`` (needs ``instagram_manage_insights``).

        The metrics asked depend on the media product type (Meta's matrix as of v22): every type
        has views (which replaced impressions, deprecated for media since July 2024), reach,
        shares and total_interactions; feed posts and reels add likes, comments and saved; reels
        add ig_reels_video_view_total_time (ms → watch time). Meta refuses the whole call when one
        metric is not supported for the media or is deprecated (error 100 naming it): that metric
        goes to ``errors`` and the call is repeated without it, so the others are still stored.
        "Not enough viewers" (error 10) is an error for every metric this time, not a failure.
        Reach and total interactions are kept in ``raw``; they have no place in the vocabulary."""
        api = _Api(request.account)
        product = _product(request.media_type)
        asked = list(INSIGHTS[product])
        result = base.Metrics(unavailable=dict(INSIGHTS_UNAVAILABLE[product]))
        answer: dict = {}
        while asked:
            try:
                answer = api.get(f"{request.remote_id}/insights", metric=",".join(asked))
                break
            except base.PlatformError as error:
                code, text = error.raw.get("code"), str(error.raw.get("message") or "")
                refused = [name for name in asked if code == 100 and re.search(rf"\b{name}\b", text)]
                if code == 10 and "viewers" in text.lower():
                    result.errors.update({INSIGHT_NAMES[name]: text for name in asked if name in INSIGHT_NAMES})
                    result.raw = {"media_id": request.remote_id, "error": error.raw}
                    return result
                if not refused:
                    raise
                for name in refused:
                    asked.remove(name)
                    result.errors[INSIGHT_NAMES.get(name, name)] = f"Instagram refused {name}: {text}"
        data = {item.get("name"): item for item in answer.get("data") or [] if isinstance(item, dict)}
        for name in asked:
            values = (data.get(name) or {}).get("values") or []
            value = values[0].get("value") if values and isinstance(values[0], dict) else None
            metric = INSIGHT_NAMES.get(name)
            if metric is None:
                continue
            if not isinstance(value, (int, float)):
                # Meta answers an empty set, not 0, for data it has not computed (up to 48 h late).
                result.errors[metric] = f"Instagram gave no {name} value yet."
            else:
                result.values[metric] = value / 1000 if name == REELS_WATCH_TIME else value
        result.raw = {
            "media_id": request.remote_id,
            "product": product,
            "insights": {name: ((item.get("values") or [{}])[0]).get("value") for name, item in data.items()},
        }
        return result


def _product(media_type: str) -> str:
    if media_type == "story":
        return "STORY"
    return "REELS" if media_type in ("video", "reel") else "FEED"


REELS_WATCH_TIME = "ig_reels_video_view_total_time"
# Graph insight → the vocabulary (None: kept in raw only).
INSIGHT_NAMES: dict[str, str | None] = {
    "views": "views",
    "likes": "likes",
    "comments": "comments",
    "shares": "shares",
    "saved": "saves",
    REELS_WATCH_TIME: "watch_time_s",
    "reach": None,
    "total_interactions": None,
}
INSIGHTS: dict[str, tuple[str, ...]] = {
    "FEED": ("views", "reach", "likes", "comments", "saved", "shares", "total_interactions"),
    "REELS": ("views", "reach", "likes", "comments", "saved", "shares", "total_interactions", REELS_WATCH_TIME),
    "STORY": ("views", "reach", "shares", "total_interactions"),
}
INSIGHTS_UNAVAILABLE: dict[str, dict[str, str]] = {
    "FEED": {"watch_time_s": "Instagram reports watch time for reels only."},
    "REELS": {},
    "STORY": {
        "likes": "Instagram story insights have no likes.",
        "comments": "Instagram stories have replies, not comments.",
        "saves": "Instagram story insights have no saves.",
        "watch_time_s": "Instagram reports watch time for reels only.",
    },
}
