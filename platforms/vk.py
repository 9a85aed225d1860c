"""VK: wall posts through VK API 5.199.

Account: ``credentials["access_token"]`` — a *user* access token with the wall,
photos and video rights (the 5.199 schema allows wall.post, the photo upload
methods and video.save with user tokens only; a community token gets error 27) —
and ``options["owner_id"]``: the wall, a user id, or minus the community id
(``-123456``). Community walls are posted to as the community (``from_group=1``);
the token's user must be an editor or administrator there.

text → wall.post(message). photo / carousel (up to 10 photos and videos) → for
photos photos.getWallUploadServer, one multipart POST per file (field ``photo``)
to the upload URL it returns, photos.saveWallPhoto → ``photo<owner>_<id>``; for
videos video.save → multipart POST (field ``video_file``) → ``video<owner>_<id>``;
then wall.post(attachments=…, message=…).

Post options (``post.options["vk"]``) for videos: ``album_id`` — the video album the
uploaded video goes to (video.save's ``album_id``: a number, of the wall's owner: the
user's album, or the community's when posting to a community); ``privacy_view`` —
who may watch it: one of VK's privacy categories (``all``, ``friends``,
``friends_of_friends``, ``friends_of_friends_only``, ``nobody``, ``only_me``; VK:
"privacy setting is available for videos uploaded to own profile by user", so only
on a user's own wall). See https://dev.vk.com/method/video.save and
https://dev.vk.com/reference/objects/privacy-setting. An album that does not exist
or is not the owner's: VK answers error 204 (Access denied, the error video.save
documents) → PermissionDenied, the publish fails before anything is posted.

Plain HTTP through :func:`http_session` (``POST {VK_API_BASE_URL}/<method>``, form
encoded, the token in the body, never in a URL). The vk_api library is not used:
its API URL is hard-coded to api.vk.com, and it sleeps and retries on its own
(error 6, captcha handlers), which would hide errors the publisher must classify.

Finding a post again (``lookup``): wall.post takes the execution marker as
``guid`` — VK's idempotency key, so a repeated wall.post with it does not create
a second post — but wall.get does not return guid. ``lookup`` therefore
recognises the post by what was sent; see :meth:`VkAdapter.lookup`.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import requests
from django.conf import settings
from django.utils import timezone

from . import base
from .http import http_session, may_have_arrived
from .names import AccountStatus, Platform

API_VERSION = "5.199"
MB = 1024 * 1024
MAX_MEDIA = 10
MESSAGE_LIMIT = 16384  # commonly cited; VK does not document it
PHOTO_MIMES = frozenset({"image/jpeg", "image/png", "image/gif"})
PHOTO_MAX_BYTES = 50 * MB
PHOTO_MAX_SIDES_SUM = 14000
PHOTO_MAX_RATIO = 20
VIDEO_NAME_LIMIT = 128
# VK's video upload form stops descriptions at 5000 characters; the API reference gives no number.
VIDEO_DESCRIPTION_LIMIT = 5000
# video.save's privacy_view: the categories of VK's privacy setting objects (lists and user ids are not offered).
PRIVACY_VIEW_VALUES = ("all", "friends", "friends_of_friends", "friends_of_friends_only", "nobody", "only_me")
ALBUM_ID_MAX = 2**31 - 1  # int32 in the 5.199 schema
EDITOR_LEVEL = 2  # groups admin_level: 1 moderator, 2 editor, 3 administrator
LOOKUP_COUNT = 100  # wall.get's maximum page
CLOCK_SKEW = timedelta(minutes=5)

AUTH_ERRORS = {5, 27, 28}  # invalid/expired token; community or app token where a user token is needed
CHALLENGE_ERRORS = {14, 17, 24, 25}  # captcha, validation, confirmation required
QUOTA_ERRORS = {9, 29, 214}  # flood control, daily method quota, adding posts refused
MEDIA_ERRORS = {22, 100, 114, 118, 121, 129}
PERMISSION_ERRORS = {7, 200, 204}  # the token's rights (scope), an album: check() cannot see them
ACCESS_ERRORS = {15, 203}  # access denied, access to the group denied: the user no longer edits the wall
TRANSIENT_ERRORS = {1, 10}


# Failures that say nothing about the account itself: check() raises them.
NOT_A_VERDICT = (base.RateLimited, base.QuotaExceeded, base.ProxyFailed, base.Transient)


def _owner_id(account: base.AccountSnapshot) -> int | None:
    value = (account.options or {}).get("owner_id")
    try:
        owner_id = int(value)
    except (TypeError, ValueError):
        return None
    return owner_id or None


class _Api:
    """One account's VK API client; paces its calls (user tokens: 3 requests/s)."""

    def __init__(self, account: base.AccountSnapshot, *, interval: float) -> None:
        self.token = str((account.credentials or {}).get("access_token") or "")
        if not self.token:
            raise base.AuthRequired("The account has no VK access token: add a user access token as credentials.access_token.")
        self.session = http_session(account)
        self.base_url = settings.VK_API_BASE_URL.rstrip("/")
        self.interval = interval
        self._last = 0.0

    def scrub(self, value: Any) -> Any:
        return json.loads(json.dumps(value).replace(self.token, "<redacted>"))

    def _post(self, what: str, url: str, *, sends: bool = False, **kwargs) -> requests.Response:
        try:
            return self.session.post(url, **kwargs)
        except base.PlatformError as error:
            if sends and may_have_arrived(error.__cause__):
                raise base.DeliveryUnknown(
                    f"VK did not answer {what} ({type(error.__cause__).__name__}); the post may exist: checking the wall."
                ) from None
            raise error from None
        except requests.RequestException as exc:
            if sends and may_have_arrived(exc):
                raise base.DeliveryUnknown(f"VK's answer to {what} was cut off; the post may exist: checking the wall.") from None
            raise base.Transient(f"VK {what} failed: {type(exc).__name__}") from None

    def call(self, method: str, params: dict | None = None, *, sends: bool = False) -> Any:
        """Call ``method``; return its ``response`` or raise the PlatformError it maps to."""
        wait = self._last + self.interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        data = {k: v for k, v in (params or {}).items() if v is not None}
        data.update(v=API_VERSION, access_token=self.token)
        try:
            response = self._post(method, f"{self.base_url}/{method}", data=data, sends=sends)
        finally:
            self._last = time.monotonic()
        if response.status_code >= 500:
            raise base.Transient(
                f"VK {method}: HTTP {response.status_code}", raw={"method": method, "http_status": response.status_code}
            )
        try:
            body = response.json()
        except ValueError:
            raise base.Transient(
                f"VK {method} answered HTTP {response.status_code} without JSON",
                raw={"method": method, "http_status": response.status_code},
            ) from None
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            raise self.error(method, body["error"])
        if not isinstance(body, dict) or "response" not in body:
            raise base.Transient(f"VK {method} answered without a response", raw={"method": method})
        return body["response"]

    def error(self, method: str, error: dict) -> base.PlatformError:
        code = int(error.get("error_code") or 0)
        params = [p for p in error.get("request_params") or [] if isinstance(p, dict) and p.get("key") != "access_token"]
        raw = self.scrub({"method": method, **error, "request_params": params})
        text = f"VK {method} error {code}: {raw.get('error_msg') or 'unknown error'}"
        if code in AUTH_ERRORS:
            return base.AuthRequired(
                f"{text}. Get a new user access token (rights: wall, photos, video) and update the account.", raw=raw
            )
        if code == 6:
            return base.RateLimited(text, retry_after=1, raw=raw)
        if code in QUOTA_ERRORS:
            return base.QuotaExceeded(
                f"{text}. VK refuses more of these for now.", until=timezone.now() + timedelta(hours=24), raw=raw
            )
        if code == 14:
            return base.ChallengeRequired(f"{text}. Log in to VK as this account in a browser and solve the captcha.", raw=raw)
        if code in CHALLENGE_ERRORS:
            return base.ChallengeRequired(f"{text}. Open VK as this account in a browser and confirm it.", raw=raw)
        if code == 18:
            return base.AccountBanned(text, raw=raw)
        if code in MEDIA_ERRORS:
            return base.MediaRejected(text, raw=raw)
        if code in ACCESS_ERRORS:
            return base.AccessLost(
                f"{text}. The token's user may no longer post on this wall: make them an editor or administrator again.",
                raw=raw,
            )
        if code == 204 and method == "video.save":
            return base.PermissionDenied(
                f"{text}. VK refused the video album: check options.album_id (an album of this wall's owner that "
                "the token's user may add videos to).",
                raw=raw,
            )
        if code in PERMISSION_ERRORS:
            return base.PermissionDenied(f"{text}. The token's user may not do this on this wall.", raw=raw)
        if code in TRANSIENT_ERRORS:
            return base.Transient(text, raw=raw)
        return base.ContentRejected(text, raw=raw)

    def upload(self, url: str, field: str, item: base.MediaItem) -> dict:
        """POST ``item`` as multipart ``field`` to an upload server; its JSON answer (not enveloped)."""
        name, content = _read(item)
        response = self._post(f"upload ({field})", url, files={field: (name, content, item.mime or "application/octet-stream")})
        if response.status_code >= 500:
            raise base.Transient(f"VK's upload server answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400 or not isinstance(body, dict) or body.get("error"):
            detail = (body or {}).get("error") if isinstance(body, dict) else f"HTTP {response.status_code}"
            raise base.MediaRejected(f"VK's upload server refused {name}: {detail}", raw={"upload": self.scrub(body or {})})
        return body


def _post_options(request: base.PublishRequest) -> dict[str, Any]:
    """The post's VK options (the publisher passes this platform's; a whole ``post.options`` works too)."""
    options = request.options or {}
    return options[Platform.VK] if isinstance(options.get(Platform.VK), dict) else options


def album_problem(album_id: Any) -> str | None:
    """Why ``album_id`` cannot be a VK video album id, or None (empty: no album, fine)."""
    if album_id in (None, ""):
        return None
    text = str(album_id)
    if isinstance(album_id, bool) or not (text.isascii() and text.isdigit()) or not 0 < int(text) <= ALBUM_ID_MAX:
        return (
            f"album_id {album_id!r} is not a VK video album id: use the number after the underscore in the album's "
            "address (vk.com/video/playlist/-123_45 → 45)."
        )
    return None


def privacy_view_problem(privacy_view: str, owner_id: int | None = None) -> str | None:
    """Why ``privacy_view`` cannot be sent with video.save to ``owner_id``'s wall, or None (empty: VK's default)."""
    if not privacy_view:
        return None
    if privacy_view not in PRIVACY_VIEW_VALUES:
        return f"privacy_view {privacy_view!r} must be one of {', '.join(PRIVACY_VIEW_VALUES)}."
    if owner_id is not None and owner_id < 0:
        return (
            "privacy_view applies only to videos on a user's own page; a community's videos are seen by whoever "
            "sees the community: remove privacy_view."
        )
    return None


def _read(item: base.MediaItem) -> tuple[str, bytes]:
    """The file's name and bytes: from disk, or fetched from its URL (remote storage)."""
    if item.path:
        try:
            with open(item.path, "rb") as handle:
                return os.path.basename(item.path), handle.read()
        except OSError as exc:
            raise base.MediaRejected(f"The media file cannot be read: {exc.strerror} ({os.path.basename(item.path)}).") from None
    if not item.url:
        raise base.MediaRejected("A media item has neither a file nor a URL.")
    try:
        response = http_session().get(item.url)  # our own storage, not the platform: no account proxy
    except requests.RequestException as exc:
        raise base.Transient(f"The media file could not be fetched from storage: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise base.MediaRejected(f"The media file could not be fetched from storage: HTTP {response.status_code}.")
    return os.path.basename(item.url.split("?", 1)[0]) or "media", response.content


def _normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def _attachment_kinds(post: dict) -> Counter:
    return Counter(a.get("type") for a in post.get("attachments") or [] if a.get("type") in ("photo", "video"))


def _item_problems(item: base.MediaItem, label: str) -> list[base.Problem]:
    if not item.path and not item.url:
        return [base.Problem("media_missing", f"{label} has neither a file nor a URL.")]
    if item.kind == "video":
        return []
    if item.kind != "image":
        return [base.Problem("media_kind", f"{label} is neither an image nor a video.")]
    problems = []
    if item.mime not in PHOTO_MIMES:
        problems.append(
            base.Problem("photo_format", f"{label} is {item.mime or 'of unknown type'}; VK takes JPG, PNG or GIF photos.")
        )
    if item.size > PHOTO_MAX_BYTES:
        problems.append(
            base.Problem(
                "photo_too_big", f"{label} is {item.size / MB:.1f} MB; VK takes photos up to {PHOTO_MAX_BYTES // MB} MB."
            )
        )
    if item.width and item.height:
        if item.width + item.height > PHOTO_MAX_SIDES_SUM:
            problems.append(
                base.Problem("photo_dimensions", f"{label}: width + height must be at most {PHOTO_MAX_SIDES_SUM} px.")
            )
        if max(item.width, item.height) > PHOTO_MAX_RATIO * min(item.width, item.height):
            problems.append(base.Problem("photo_dimensions", f"{label}: the sides' ratio must be at most {PHOTO_MAX_RATIO}:1."))
    return problems


class VkAdapter(base.Adapter):
    platform = Platform.VK
    media_types = frozenset({"text", "photo", "video", "carousel"})
    caption_limit = MESSAGE_LIMIT
    can_lookup = True
    lookup_uses_recorded_ids = True
    # Seconds between two API calls of one publish (user tokens: 3 requests per second).
    call_interval = 0.34

    def validate(self, request: base.PublishRequest) -> list[base.Problem]:
        if not self.supports(request.media_type):
            return [
                base.Problem(
                    "media_type", f"VK cannot publish a {request.media_type} to a wall: choose text, photo, video or carousel."
                )
            ]
        problems = super().validate(request)
        account = request.account
        if not (account.credentials or {}).get("access_token"):
            problems.append(
                base.Problem(
                    "access_token",
                    "The account has no VK access token: add a user access token (rights: wall, photos, video) "
                    "as credentials.access_token.",
                )
            )
        if _owner_id(account) is None:
            problems.append(
                base.Problem(
                    "owner_id", "Set options.owner_id to the wall to post to: a user id, or minus the community id (-123456)."
                )
            )
        options = _post_options(request)
        if problem := album_problem(options.get("album_id")):
            problems.append(base.Problem("album_id", problem))
        if problem := privacy_view_problem(str(options.get("privacy_view") or ""), _owner_id(account)):
            problems.append(base.Problem("privacy_view", problem))
        if request.media_type == "text":
            if not (request.caption or "").strip():
                problems.append(base.Problem("empty_text", "A text post needs text."))
            return problems
        return problems + base.media_shape_problems(request, platform="VK", album=(2, MAX_MEDIA), item_problems=_item_problems)

    def publish(self, request: base.PublishRequest) -> base.PublishResult:
        owner_id = _owner_id(request.account)
        if owner_id is None:
            raise base.ContentRejected("The account has no wall: set options.owner_id.")
        if request.media_type != "text" and not request.media:
            raise base.MediaRejected(f"The {request.media_type} post has no media.")
        group_id = -owner_id if owner_id < 0 else None
        api = _Api(request.account, interval=self.call_interval)
        options = _post_options(request)
        video_options = {
            "album_id": int(options["album_id"]) if str(options.get("album_id") or "").isdigit() else None,
            "privacy_view": str(options.get("privacy_view") or "") or None,
        }
        attachments = []
        upload_url = None
        for item in request.media if request.media_type != "text" else ():
            if item.kind == "image":
                if upload_url is None:
                    upload_url = api.call("photos.getWallUploadServer", {"group_id": group_id})["upload_url"]
                attachments.append(self._photo(api, upload_url, item, group_id))
            else:
                attachments.append(self._video(api, item, group_id, owner_id, request.caption, video_options))
        params = {
            "owner_id": owner_id,
            "from_group": 1 if group_id else None,
            "message": request.caption or None,
            "attachments": ",".join(attachments) or None,
            "guid": request.marker or None,
        }
        post_id = api.call("wall.post", params, sends=True)["post_id"]
        return base.PublishResult(
            remote_id=f"{owner_id}_{post_id}",
            url=f"https://vk.com/wall{owner_id}_{post_id}",
            raw={"post_id": post_id, "owner_id": owner_id, "attachments": attachments, "guid": request.marker},
        )

    def _photo(self, api: _Api, upload_url: str, item: base.MediaItem, group_id: int | None) -> str:
        uploaded = api.upload(upload_url, "photo", item)
        if not uploaded.get("photo") or uploaded.get("photo") == "[]":
            raise base.MediaRejected("VK's upload server did not accept the photo.", raw={"upload": api.scrub(uploaded)})
        saved = api.call(
            "photos.saveWallPhoto",
            {"photo": uploaded["photo"], "server": uploaded.get("server"), "hash": uploaded.get("hash"), "group_id": group_id},
        )
        photo = saved[0]
        return f"photo{photo['owner_id']}_{photo['id']}"

    def _video(self, api: _Api, item: base.MediaItem, group_id: int | None, owner_id: int, caption: str, options: dict) -> str:
        """video.save (into ``options["album_id"]``, seen by ``options["privacy_view"]``), then the upload."""
        name = (caption or "").strip().split("\n", 1)[0][:VIDEO_NAME_LIMIT] or "Video"
        saved = api.call("video.save", {"name": name, "wallpost": 0, "group_id": group_id, **options})
        uploaded = api.upload(saved["upload_url"], "video_file", item)
        if not uploaded.get("video_hash") and not uploaded.get("video_id"):
            raise base.MediaRejected("VK's upload server did not accept the video.", raw={"upload": api.scrub(uploaded)})
        return f"video{saved.get('owner_id') or owner_id}_{saved['video_id']}"

    def check(self, account: base.AccountSnapshot) -> base.Health:
        """users.get (the token is a valid user token), then the right to post on the wall:
        editor or administrator of the community, or the user's own / an open wall.

        A verdict on the account comes back as a Health; rate limits, quotas, proxy
        and network failures are raised, for the health service to rest, rotate or retry.
        """
        owner_id = _owner_id(account)
        if owner_id is None:
            return base.Health(ok=False, detail="Set options.owner_id to the wall to post to.")
        try:
            api = _Api(account, interval=self.call_interval)
            users = api.call("users.get")
            if not users:
                return base.Health(
                    ok=False,
                    detail="The token is not a user access token: VK lets only a user token post to walls.",
                    account_status=AccountStatus.LOGIN_REQUIRED,
                )
            user = users[0]
            who = f"{user.get('first_name', '')} {user.get('last_name', '')}".strip() + f" (id{user['id']})"
            raw: dict[str, Any] = {"user": {"id": user["id"], "name": who}}
            if owner_id < 0:
                answer = api.call("groups.getById", {"group_id": -owner_id})
                groups = answer.get("groups", []) if isinstance(answer, dict) else answer
                group = groups[0] if groups else {}
                level = group.get("admin_level", 0) if group.get("is_admin") else 0
                raw["group"] = {k: group.get(k) for k in ("id", "name", "screen_name", "is_admin", "admin_level")}
                where = f"{group.get('name') or owner_id} (vk.com/{group.get('screen_name') or f'club{-owner_id}'})"
                if level >= EDITOR_LEVEL:
                    return base.Health(ok=True, detail=f"{who} can post to {where} as the community.", raw=raw)
                return base.Health(
                    ok=False,
                    detail=f"{who} is not an editor or administrator of {where}: make them one.",
                    account_status=AccountStatus.NO_ACCESS,
                    raw=raw,
                )
            if owner_id == user["id"]:
                return base.Health(ok=True, detail=f"{who} can post to their own wall.", raw=raw)
            target = api.call("users.get", {"user_ids": owner_id, "fields": "can_post"})
            raw["wall"] = {"id": owner_id, "can_post": bool(target and target[0].get("can_post"))}
            if raw["wall"]["can_post"]:
                return base.Health(ok=True, detail=f"{who} can post to the wall of id{owner_id}.", raw=raw)
            return base.Health(
                ok=False,
                detail=f"{who} may not post to the wall of id{owner_id}.",
                account_status=AccountStatus.NO_ACCESS,
                raw=raw,
            )
        except NOT_A_VERDICT:
            raise
        except base.PlatformError as error:
            return base.Health(ok=False, detail=error.message, account_status=error.account_status, raw=error.raw)

    def lookup(self, execution: base.LookupRequest) -> base.PublishResult | None:
        """Find the wall post published for ``execution`` after a crash or a lost answer.

        wall.get does not return the ``guid`` the post was made with, so the post
        is recognised by what was sent: on the account's wall among the latest
        100 posts, posted no earlier than the execution was created, with the
        execution's caption as text (whitespace-normalised) and as many photo and
        video attachments as the post has media. Posts already recorded by
        another execution of the account are skipped.

        One match → it. None → None: the publisher retries, and because the
        retry sends the same ``guid``, VK does not create a duplicate if the post
        exists after all. Several matches (identical captions published in the
        same window and not yet recorded) → LookupUnsupported: an operator decides.
        """
        account = execution.account
        owner_id = _owner_id(account)
        if owner_id is None:
            raise base.LookupUnsupported("The account has no wall (options.owner_id): nothing to look at.")
        api = _Api(account, interval=self.call_interval)
        page = api.call("wall.get", {"owner_id": owner_id, "count": LOOKUP_COUNT})
        kinds = [] if execution.media_type == "text" else execution.media_kinds
        media = Counter("photo" if kind == "image" else "video" for kind in kinds)
        text = _normalised(execution.caption)
        since = (execution.created_at - CLOCK_SKEW).timestamp()
        recorded = execution.recorded_remote_ids
        found = [
            post
            for post in page.get("items", [])
            if post.get("date", 0) >= since
            and _normalised(post.get("text", "")) == text
            and _attachment_kinds(post) == media
            and f"{owner_id}_{post.get('id')}" not in recorded
        ]
        if not found:
            return None
        if len(found) > 1:
            ids = ", ".join(f"{owner_id}_{p['id']}" for p in found)
            raise base.LookupUnsupported(f"Several VK posts match this execution ({ids}): mark the right one as published.")
        post = found[0]
        return base.PublishResult(
            remote_id=f"{owner_id}_{post['id']}",
            url=f"https://vk.com/wall{owner_id}_{post['id']}",
            raw={"found_by": "lookup", "post_id": post["id"], "date": post.get("date")},
        )

    def metrics(self, request: base.MetricsRequest) -> base.Metrics:
        """wall.getById (``posts=<owner>_<post>``): views.count, likes.count, reposts.count → shares,
        comments.count. VK has no saves or watch time for wall posts; a post missing from the answer
        (deleted, or the wall closed to the token's user) raises ContentRejected (permanent).
        Reach (stats.getPostReach) needs the community's administrator and is not read."""
        api = _Api(request.account, interval=self.call_interval)
        answer = api.call("wall.getById", {"posts": request.remote_id})
        items = answer.get("items", []) if isinstance(answer, dict) else answer
        post = next((item for item in items or [] if f"{item.get('owner_id')}_{item.get('id')}" == request.remote_id), None)
        if post is None or post.get("is_deleted"):
            raise base.ContentRejected(f"VK post {request.remote_id} is gone or no longer visible to the account.")
        result = base.Metrics(
            unavailable={
                "saves": "VK wall posts have no saves count.",
                "watch_time_s": "VK reports no watch time for wall posts.",
            },
            raw={"post": {k: post.get(k) for k in ("id", "owner_id", "date", "views", "likes", "reposts", "comments")}},
        )
        for metric, key in (("views", "views"), ("likes", "likes"), ("shares", "reposts"), ("comments", "comments")):
            counter = post.get(key)
            if isinstance(counter, dict) and isinstance(counter.get("count"), int):
                result.values[metric] = counter["count"]
            elif key == "views":
                # VK leaves views out of posts made before it counted them and of some reposts.
                result.unavailable[metric] = "VK gives no view count for this post."
            else:
                result.errors[metric] = f"wall.getById answered without {key}.count."
        return result
