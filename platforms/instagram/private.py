"""Instagram's private mobile API through instagrapi 3.2, for accounts that log in
with a username and password.

Account: ``handle`` is the username, ``credentials["password"]`` the password;
``session`` keeps instagrapi's settings (cookies, authorization, device ids),
encrypted at rest. Post options (``post.options["instagram"]``):
``share_to_feed`` (reels, default true).

Every call builds one client from the account alone:

* device — instagrapi's uuids are derived from ``device_id`` (uuid5, so every
  worker and every relogin present the same phone); the hardware comes from
  the account's ``user_agent``. The app profile must be one instagrapi speaks
  (its login flow is tied to the app's Bloks version): when the stored user
  agent names another app version, the user agent sent is rebuilt from the
  account's hardware and instagrapi's current app — still the same one on
  every call (see :func:`device_identity`);
* proxy — ``set_proxy(proxy_url_for(account))`` on every session instagrapi keeps;
* session — loaded with ``set_settings`` and saved back encrypted
  (``account_save_session``) after a login and after every call;
* never interactive — errors reach us unresolved (``handle_exception`` re-raises,
  ``with_challenge_flow`` is off) and the challenge-code and new-password
  handlers raise instead of calling ``input()``: a worker never waits for a human.

Logging in happens only when no session is stored; a stored session is used as
it is. When Instagram says the session is gone (403 ``login_required``, 401,
``user_has_logged_out``) the client logs in once more with the same device and
proxy and repeats the call; a second refusal is :class:`AuthRequired`. How each
instagrapi exception maps to a :class:`PlatformError` is in :meth:`_Connection.translate`.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import uuid
import zoneinfo
from collections.abc import Callable
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path
from typing import Any

import requests
from django.conf import settings
from instagrapi import Client, config
from instagrapi import exceptions as ig
from instagrapi.utils.video import read_video_metadata

from .. import base
from ..http import http_session, proxy_url_for, retry_after_seconds
from ..redact import RedactSecretsFilter, redact
from ..registry import NotConfigured, provided
from .common import (
    LOOKUP_RECENT,
    PublishOutcomeUnknown,
    first_media_kind,
    is_our_post,
    is_our_story,
    may_have_arrived,
    mime_problems,
)

IMAGE_MIMES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WebP"}
VIDEO_MIMES = {"video/mp4": "MP4"}
SUFFIXES = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "video/mp4": ".mp4"}

# How long an account rests after each kind of refusal (seconds).
FEEDBACK_COOLDOWN = 24 * 3600  # "action blocked": Instagram freezes the action for hours to days
RATE_LIMIT_COOLDOWN = 3600
PLEASE_WAIT_COOLDOWN = 15 * 60
THROTTLED_COOLDOWN = 5 * 60

# instagrapi logs whole response bodies at DEBUG, and login answers carry the session
# token: its logger is held at INFO whatever the root level, and redacted as well.
library_logger = logging.getLogger(f"{__name__}.instagrapi")
library_logger.setLevel(logging.INFO)
library_logger.addFilter(RedactSecretsFilter())

# Test seam: called with every new client and its account once the client is configured.
# tests/emulators/instagram_private.py appends one that sends Instagram's hosts to a
# loopback emulator (instagrapi has no base-URL setting). Production leaves it empty.
client_hooks: list[Callable[[Client, base.AccountSnapshot], None]] = []

_UUID_NAMESPACE = uuid.UUID("0b5f3c1e-6f0e-4d8e-9d6a-2c7f0a1e9b42")
_SESSION_UUIDS = ("phone_id", "uuid", "client_session_id", "advertising_id", "request_id", "tray_session_id")
_ANDROID_ID = re.compile(r"android-[0-9a-f]{16}")
_USER_AGENT = re.compile(
    r"Instagram (?P<app_version>[\d.]+) Android \((?P<android_version>\d+)/(?P<android_release>[^;]+); "
    r"(?P<dpi>[^;]+); (?P<resolution>[^;]+); (?P<manufacturer>[^;]+); (?P<model>[^;]+); (?P<device>[^;]+); "
    r"(?P<cpu>[^;]+); (?P<locale>[^;]+); (?P<version_code>[^)]+)\)"
)
_HARDWARE = ("android_release", "dpi", "resolution", "manufacturer", "model", "device", "cpu")
# Settings that configure this process's client, not the account's session: never stored.
_PROCESS_SETTINGS = {
    "request_timeout",
    "public_request_retries_count",
    "public_request_retries_timeout",
    "session_retry_total",
    "session_retry_backoff_factor",
    "session_retry_statuses",
    "public_transport",
    "public_user_agent",
    "public_graphql_user_agent",
    "private_transport",
    "public_transport_impersonate",
    "tls_verify",
}
# The requests after which a post may exist on Instagram.
_PUBLISHING_CALL = re.compile(r"/media/configure")
_SESSION_GONE = ("login_required", "user_has_logged_out")
_NEEDS_HUMAN = ("checkpoint", "consent_required", "geoblock")


def device_identity(account: base.AccountSnapshot) -> dict[str, Any]:
    """The account's phone as instagrapi settings: uuids, device and user agent.

    A function of ``device_id`` and ``user_agent`` only, so it never changes for an
    account. The user agent is the stored one when it names an app version
    instagrapi supports; otherwise instagrapi's current app on the account's hardware.
    """
    seed = account.device_id or f"account-{account.id}"
    uuids = {key: str(uuid.uuid5(_UUID_NAMESPACE, f"{seed}/{key}")) for key in _SESSION_UUIDS}
    uuids["android_device_id"] = seed if _ANDROID_ID.fullmatch(seed) else f"android-{sha256(seed.encode()).hexdigest()[:16]}"
    device = dict(config.DEVICE_SETTINGS)
    match = _USER_AGENT.fullmatch(account.user_agent or "")
    locale = "en_US"
    app = None
    if match:
        device.update({key: match[key] for key in _HARDWARE}, android_version=int(match["android_version"]))
        locale = match["locale"]
        app = config.APP_SETTINGS.get(match["app_version"])
    device.update(app or config.APP_SETTINGS[config.DEFAULT_APP_VERSION])
    user_agent = account.user_agent if app else config.USER_AGENT_BASE.format(**device, locale=locale)
    return {"uuids": uuids, "device_settings": device, "user_agent": user_agent, "locale": locale}


def _settings(account: base.AccountSnapshot) -> dict[str, Any]:
    stored = {k: v for k, v in (account.session or {}).items() if k not in _PROCESS_SETTINGS}
    zone = zoneinfo.ZoneInfo(account.timezone or "UTC")
    offset = datetime.now(zone).utcoffset()
    extra: dict[str, Any] = {"timezone_offset": int(offset.total_seconds()) if offset else 0, "timezone_name": zone.key}
    if account.proxy_url and account.proxy_country:
        extra["country"] = account.proxy_country
    return {**stored, **device_identity(account), **extra}


def _storable(session: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in session.items() if k not in _PROCESS_SETTINGS}


def _reraise(client: Client, exc: Exception) -> None:
    raise exc


def _refuse_prompt(*args: Any) -> str:
    raise ig.ChallengeRequired("Instagram asked for a code or a new password; a worker never waits for one.")


class CrosspostClient(Client):
    """instagrapi's client with the video thumbnails we extracted (album videos
    would otherwise need MoviePy) and the last URL it requested."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.thumbnails: dict[str, Path] = {}
        self.last_url = ""
        super().__init__(*args, **kwargs)

    def video_rupload(self, path: Path, thumbnail: Path | None = None, *args: Any, **kwargs: Any) -> tuple:
        return super().video_rupload(path, thumbnail or self.thumbnails.get(str(path)), *args, **kwargs)


def new_client(account: base.AccountSnapshot) -> CrosspostClient:
    """A client for ``account``: its device, session, proxy; timeouts; never a prompt."""
    client = CrosspostClient(
        logger=library_logger,
        with_challenge_flow=False,
        request_timeout=settings.INSTAGRAM_PRIVATE_REQUEST_DELAY_SECONDS,
    )
    client.handle_exception = _reraise
    client.challenge_code_handler = _refuse_prompt
    client.change_password_handler = _refuse_prompt
    client.set_settings(_settings(account))
    client.set_proxy(proxy_url_for(account))
    for session in (client.private, client.public):
        _instrument(client, session)
    for hook in client_hooks:
        hook(client, account)
    return client


def _instrument(client: CrosspostClient, session: requests.Session) -> None:
    """A timeout on every request (instagrapi sets none) and the URL it went to."""
    send = session.request

    def request(method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", settings.HTTP_TIMEOUT_SECONDS)
        client.last_url = url
        return send(method, url, *args, **kwargs)

    session.request = request  # type: ignore[method-assign]


def _text(exc: BaseException) -> str:
    parts = [str(getattr(exc, "message", "") or ""), str(getattr(exc, "error_type", "") or ""), str(exc)]
    return " ".join(parts).lower()


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None) or getattr(exc, "status_code", None)


def _describe(exc: BaseException) -> str:
    message = str(getattr(exc, "message", "") or "") or str(exc) or type(exc).__name__
    return redact(" ".join(message.split()))[:500]


def _session_gone(exc: BaseException) -> bool:
    if isinstance(exc, (ig.LoginRequired, ig.ClientUnauthorizedError, ig.ClientLoginRequired)):
        return True
    return (
        isinstance(exc, ig.ClientError)
        and not isinstance(exc, ig.ChallengeError)
        and any(marker in _text(exc) for marker in _SESSION_GONE)
    )


def _retry_after(exc: BaseException, default: int) -> int:
    response = getattr(exc, "response", None)
    value = getattr(response, "headers", {}).get("Retry-After", "") if response is not None else ""
    return round(retry_after_seconds(value, default))


class _Connection:
    """One account's client for one call: login when needed, one relogin, the session saved back."""

    def __init__(self, account: base.AccountSnapshot) -> None:
        self.account = account
        self.client = new_client(account)
        self.relogged = False

    @property
    def logged_in(self) -> bool:
        return bool(self.client.user_id)

    def save(self, *, logged_in: bool = False) -> None:
        if self.account.save_session is not None:
            self.account.save_session(_storable(self.client.get_settings()), logged_in)

    def ensure_login(self) -> None:
        if not self.logged_in:
            self.login()

    def login(self, *, relogin: bool = False) -> None:
        password = str((self.account.credentials or {}).get("password") or "")
        if not password:
            raise base.AuthRequired("The account has no password: add it to the credentials as 'password'.")
        try:
            accepted = self.client.login(self.account.handle, password, relogin=relogin)
        except Exception as exc:
            raise self.translate(exc) from None
        if not accepted:
            raise base.AuthRequired("Instagram did not accept the login.")
        self.save(logged_in=True)

    def call(self, action: Callable[[CrosspostClient], Any], *, publishes: bool = False) -> Any:
        """Run ``action``; when Instagram says the session is gone, log in once more and run it again."""
        try:
            return action(self.client)
        except Exception as exc:
            if self.relogged or not _session_gone(exc):
                raise self.translate(exc, publishes=publishes) from None
        self.relogged = True
        self.login(relogin=True)
        return self.call(action, publishes=publishes)

    def translate(self, exc: Exception, *, publishes: bool = False) -> Exception:
        """The PlatformError an instagrapi (or network) failure means.

        ``publishes``: the call publishes, so a lost or garbled answer to the
        configure request means the post may exist (:class:`PublishOutcomeUnknown`).
        """
        message = _describe(exc)
        status = _status(exc)
        raw = {"exception": type(exc).__name__, "message": message, "status_code": status}
        if getattr(exc, "error_type", None):
            raw["error_type"] = str(exc.error_type)[:100]
        ambiguous = publishes and bool(_PUBLISHING_CALL.search(self.client.last_url))
        text = _text(exc)

        if isinstance(exc, requests.RequestException) or isinstance(
            exc, (ig.ClientConnectionError, ig.ClientIncompleteReadError, ig.ClientRequestTimeout)
        ):
            if isinstance(exc, requests.exceptions.ProxyError) or "proxy" in text or "socks" in text:
                return base.ProxyFailed(f"The account's proxy failed: {message}", raw=raw)
            if ambiguous and may_have_arrived(exc if isinstance(exc, requests.RequestException) else exc.__context__):
                return PublishOutcomeUnknown(f"Instagram did not answer the publishing request ({message}).")
            return base.Transient(f"Network error talking to Instagram: {message}", raw=raw)
        if isinstance(exc, ig.AccountSuspended):
            return base.AccountBanned(f"Instagram suspended the account: {message}", raw=raw)
        if isinstance(exc, ig.TwoFactorRequired):
            return base.ChallengeRequired(
                "Instagram asks for a two-factor code: log in once from the app on this proxy, or turn two-factor "
                "off, then use 'Log in'.",
                raw=raw,
            )
        if isinstance(exc, (ig.ChallengeError, ig.CaptchaChallengeRequired)) or any(m in text for m in _NEEDS_HUMAN):
            return base.ChallengeRequired(f"Instagram wants a human to confirm this account: {message}", raw=raw)
        if isinstance(exc, ig.BadPassword):
            return base.AuthRequired(f"Instagram refused the login: {message}", raw=raw)
        if isinstance(exc, (ig.BadCredentials, ig.ReloginAttemptExceeded)) or _session_gone(exc):
            again = " again right after a new login" if self.relogged else ""
            return base.AuthRequired(f"Instagram ended the session{again}: {message}", raw=raw)
        if isinstance(exc, (ig.ProxyAddressIsBlocked, ig.SentryBlock)):
            return base.ProxyFailed(f"Instagram blocks the proxy's IP address: {message}", raw=raw)
        if isinstance(exc, ig.FeedbackRequired):
            return base.QuotaExceeded(f"Instagram blocked the action: {message}", retry_after=FEEDBACK_COOLDOWN, raw=raw)
        if isinstance(exc, ig.PleaseWaitFewMinutes):
            return base.RateLimited(f"Instagram asks to wait: {message}", retry_after=PLEASE_WAIT_COOLDOWN, raw=raw)
        if isinstance(exc, ig.RateLimitError):
            return base.RateLimited(f"Instagram rate limit: {message}", retry_after=RATE_LIMIT_COOLDOWN, raw=raw)
        if isinstance(exc, ig.ClientThrottledError) or status == 429:
            return base.RateLimited(
                "Instagram throttles the account (HTTP 429).", retry_after=_retry_after(exc, THROTTLED_COOLDOWN), raw=raw
            )
        if isinstance(exc, ig.ClientJSONDecodeError) or (status is not None and status >= 500):
            if ambiguous:
                return PublishOutcomeUnknown(f"Instagram's answer to the publishing request was unusable ({message}).")
            return base.Transient(f"Instagram failed (HTTP {status}): {message}", raw=raw)
        if "without media payload" in text:
            # Instagram said "ok" to configure but showed no post: it may well exist.
            return PublishOutcomeUnknown(f"Instagram accepted the post but did not show it ({message}).")
        media_errors = (
            ig.PhotoNotUpload,
            ig.VideoNotUpload,
            ig.ClipNotUpload,
            ig.IGTVNotUpload,
            ig.AlbumConfigureError,
            ig.AlbumUnknownFormat,
            ig.VideoTooLongException,
        )
        if isinstance(exc, media_errors) or "media_needs_reupload" in text:
            return base.MediaRejected(f"Instagram refused the media: {message}", raw=raw)
        if isinstance(exc, ig.ClientError) and status is not None and 400 <= status < 500:
            return base.ContentRejected(f"Instagram refused the post: {message}", raw=raw)
        if isinstance(exc, ig.ClientError):
            return base.Transient(f"Instagram failed: {message}", raw=raw)
        # Not instagrapi's: while publishing, let the publisher reconcile; elsewhere, retry later.
        return exc if publishes else base.Transient(f"Unexpected error talking to Instagram: {message}", raw=raw)


class _Files:
    """Local files instagrapi can read: the right suffix, downloaded when only a URL
    exists, and a thumbnail for every video (instagrapi would need MoviePy for it)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="crosspost-ig-"))
        self.paths: list[Path] = []
        self.thumbnails: dict[str, Path] = {}

    def __enter__(self) -> _Files:
        return self

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def prepare(self, media: tuple[base.MediaItem, ...]) -> None:
        for position, item in enumerate(media, start=1):
            path = self._local(position, item)
            if item.kind == "video":
                try:
                    read_video_metadata(path)
                except (ValueError, OSError) as exc:
                    raise base.MediaRejected(f"Video {position} is not an MP4 Instagram can take: {exc}") from None
                self.thumbnails[str(path)] = self._thumbnail(position, path)
            self.paths.append(path)

    def _local(self, position: int, item: base.MediaItem) -> Path:
        suffix = SUFFIXES.get(item.mime)
        if suffix is None:
            raise base.MediaRejected(f"Media {position} is {item.mime}; the private API takes JPEG, PNG, WebP and MP4.")
        target = self.dir / f"{position}{suffix}"
        if item.path and os.path.isfile(item.path):
            if Path(item.path).suffix.lower() in (suffix, ".jpeg" if suffix == ".jpg" else suffix):
                return Path(item.path)
            os.symlink(os.path.abspath(item.path), target)  # instagrapi picks the format by the suffix
            return target
        if not item.url.startswith(("http://", "https://")):
            raise base.MediaRejected(f"Media {position} has no local file and no absolute URL to fetch it from.")
        try:
            with http_session().get(item.url, stream=True) as response:
                response.raise_for_status()
                with open(target, "wb") as handle:
                    for chunk in response.iter_content(1024 * 1024):
                        handle.write(chunk)
        except (base.PlatformError, requests.RequestException) as exc:
            raise base.Transient(f"Could not fetch media {position} from storage: {type(exc).__name__}") from None
        return target

    def _thumbnail(self, position: int, video: Path) -> Path:
        target = self.dir / f"{position}.thumbnail.jpg"
        if provided.extract_frame is None:
            raise NotConfigured("No frame extractor: the caller gives one to platforms.registry.configure().")
        try:
            provided.extract_frame(str(video), str(target))
        except base.FrameUnavailable as exc:
            raise base.Transient(f"No thumbnail for video {position}: {exc}") from None
        except base.FrameFailed as exc:
            raise base.MediaRejected(f"No thumbnail could be taken from video {position}: {exc}") from None
        return target


def _upload(client: CrosspostClient, request: base.PublishRequest, paths: list[Path]) -> Any:
    caption = request.caption
    first = paths[0]
    thumbnail = client.thumbnails.get(str(first))
    match request.media_type:
        case "photo":
            return client.photo_upload(first, caption)
        case "video":
            return client.video_upload(first, caption, thumbnail=thumbnail)
        case "reel":
            share = bool(request.options.get("share_to_feed", True))
            return client.clip_upload(first, caption, thumbnail=thumbnail, show_preview_in_feed=share)
        case "carousel":
            return client.album_upload(paths, caption)
        case "story" if request.media[0].kind == "video":
            return client.video_upload_to_story(first, caption, thumbnail=thumbnail)
        case "story":
            return client.photo_upload_to_story(first, caption)
    raise base.ContentRejected(f"Instagram cannot publish a {request.media_type} post.")


def _post_url(media_type: str, *, code: str, pk: str, username: str) -> str:
    if media_type == "story":
        return f"https://www.instagram.com/stories/{username}/{pk}/"
    return f"https://www.instagram.com/{'reel' if media_type == 'reel' else 'p'}/{code}/"


class PrivateBackend:
    name = "private API"

    def validate(self, request: base.PublishRequest) -> list[base.Problem]:
        problems = mime_problems(request.media, images=IMAGE_MIMES, videos=VIDEO_MIMES, backend=self.name)
        account = request.account
        if not (account.credentials or {}).get("password") and not account.session:
            problems.append(
                base.Problem(
                    "credentials",
                    "The account has no password (credentials 'password') and no session; or give it an "
                    "access_token and options 'ig_user_id' to publish through the Graph API.",
                )
            )
        return problems

    def publish(self, request: base.PublishRequest) -> base.PublishResult:
        with _Files() as files:
            files.prepare(request.media)
            connection = _Connection(request.account)
            connection.client.thumbnails = files.thumbnails
            try:
                connection.ensure_login()
                media = connection.call(lambda client: _upload(client, request, files.paths), publishes=True)
            finally:
                connection.save()
        pk, code = str(media.pk), str(getattr(media, "code", "") or "")
        return base.PublishResult(
            remote_id=pk,
            url=_post_url(request.media_type, code=code, pk=pk, username=request.account.handle),
            raw={
                "backend": "private",
                "pk": pk,
                "id": str(media.id),
                "code": code,
                "media_type": media.media_type,
                "product_type": media.product_type or "",
                "taken_at": media.taken_at.isoformat(),
            },
        )

    def check(self, account: base.AccountSnapshot) -> base.Health:
        connection = _Connection(account)
        if not connection.logged_in:
            return base.Health(ok=False, detail="Not logged in yet: use 'Log in' (the first publish logs in too).")
        try:
            user = connection.call(lambda client: client.account_info())
        finally:
            connection.save()
        return base.Health(ok=True, detail=f"The session of @{user.username} works.", raw={"user_id": str(user.pk)})

    def login(self, account: base.AccountSnapshot) -> base.Health:
        """Log in (or, with a stored session, prove it still works) and store the session."""
        connection = _Connection(account)
        try:
            if connection.logged_in:
                user = connection.call(lambda client: client.account_info())
            else:
                connection.login()
                user = connection.call(lambda client: client.account_info())
        except base.PlatformError as error:
            return base.Health(ok=False, detail=f"{error.code}: {error.message}", account_status=error.account_status)
        finally:
            connection.save(logged_in=connection.logged_in)
        return base.Health(ok=True, detail=f"Logged in as @{user.username}.", raw={"user_id": str(user.pk)})

    def lookup(self, execution: base.LookupRequest) -> base.PublishResult | None:
        connection = _Connection(execution.account)
        story = execution.media_type == "story"
        try:
            connection.ensure_login()
            user_id = connection.client.user_id
            if story:
                payload = connection.call(lambda client: client.private_request(f"feed/user/{user_id}/story/"))
                items = (payload.get("reel") or {}).get("items") or []
            else:
                payload = connection.call(
                    lambda client: client.private_request(
                        f"feed/user/{user_id}/",
                        params={"count": LOOKUP_RECENT, "rank_token": client.rank_token, "ranked_content": "true"},
                    )
                )
                items = (payload.get("items") or [])[:LOOKUP_RECENT]
        finally:
            connection.save()
        expected_video = story and first_media_kind(execution) == "video"
        for item in items:
            taken_at = datetime.fromtimestamp(int(item["taken_at"]), UTC) if item.get("taken_at") else None
            if story:
                found = is_our_story(
                    is_video=item.get("media_type") == 2,
                    taken_at=taken_at,
                    expected_video=expected_video,
                    started_at=execution.started_at,
                )
            else:
                found = is_our_post(
                    caption=(item.get("caption") or {}).get("text"),
                    taken_at=taken_at,
                    expected_caption=execution.caption,
                    started_at=execution.started_at,
                )
            if found:
                pk, code = str(item.get("pk")), str(item.get("code") or "")
                media_type = execution.media_type
                return base.PublishResult(
                    remote_id=pk,
                    url=_post_url(media_type, code=code, pk=pk, username=execution.account.handle),
                    raw={"backend": "private", "pk": pk, "code": code, "found_by": "lookup"},
                )
        return None

    # --- statistics ----------------------------------------------------------------------------

    def metrics(self, request: base.MetricsRequest) -> base.Metrics:
        """What the app shows on the post, read as instagrapi's ``media_info`` does (``GET
        media/{pk}/info/`` of the private API): like_count, comment_count, and play_count (reels)
        or view_count (videos). Only with a stored session: reading statistics never logs in (a
        background login is what gets accounts challenged). Instagram gives private accounts no
        shares, saves or watch time; a hidden like count comes as an error for this reading."""
        connection = _Connection(request.account)
        if not connection.logged_in:
            raise base.AuthRequired("Not logged in: use 'Log in' before statistics can be read.")
        pk = request.remote_id.split("_", 1)[0]
        try:
            payload = connection.call(lambda client: client.private_request(f"media/{pk}/info/"))
        finally:
            connection.save()
        items = payload.get("items") or []
        if not items:
            raise base.ContentRejected(f"Instagram media {pk} is gone.")
        item = items[0]
        result = base.Metrics(
            unavailable={
                "shares": "Instagram's app API gives no shares count.",
                "saves": "Instagram gives saves to the Graph API (business accounts) only.",
                "watch_time_s": "Instagram gives watch time to the Graph API (business accounts) only.",
            },
            raw={
                k: item.get(k)
                for k in ("pk", "media_type", "product_type", "like_count", "comment_count", "play_count", "view_count")
            },
        )
        if item.get("like_and_view_counts_disabled") or not isinstance(item.get("like_count"), int):
            result.errors["likes"] = "The post hides its like count."
        else:
            result.values["likes"] = item["like_count"]
        if isinstance(item.get("comment_count"), int):
            result.values["comments"] = item["comment_count"]
        else:
            result.errors["comments"] = "Instagram gave no comment_count (comments may be turned off)."
        views = item.get("play_count") if item.get("play_count") is not None else item.get("view_count")
        if item.get("media_type") != 2:
            result.unavailable["views"] = "Instagram counts views of videos and reels only in its app API."
        elif isinstance(views, int):
            result.values["views"] = views
        else:
            result.errors["views"] = "Instagram gave no play_count or view_count."
        return result
