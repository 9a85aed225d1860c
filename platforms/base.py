"""The one interface every platform adapter implements, and the one error hierarchy.

An adapter turns a :class:`PublishRequest` into a post on its platform and
reports failures as a :class:`PlatformError` subclass. Each error class says
whether it is permanent (retrying cannot help), how long to wait before a
retry, and which state the *account* is in because of it — the publisher
applies all three without knowing anything about the platform.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, Protocol

from django.utils import timezone

from .names import AccountStatus

# --- requests and results --------------------------------------------------------------------


@dataclass(frozen=True)
class AccountSnapshot:
    """What an adapter knows of an account: plain data, secrets decrypted, built by the caller.

    Adapters never write to an account; what they must keep goes back through the callbacks:
    ``update_credentials(renew)`` calls ``renew(current)`` with the stored credentials read
    under a row lock and stores what it returns (a dict of updates; None: nothing to store),
    then returns the credentials now stored; ``save_session(session, logged_in)`` stores a
    platform session (and stamps the login when ``logged_in``).
    """

    id: Any
    platform: str
    handle: str = ""
    external_id: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    credentials: Mapping[str, Any] = field(default_factory=dict, repr=False)
    session: Mapping[str, Any] = field(default_factory=dict, repr=False)
    proxy_url: str = ""  # the account's proxy as stored (scheme://user:password@host:port), or ""
    proxy_country: str = ""
    user_agent: str = ""
    device_id: str = ""
    language: str = ""
    timezone: str = ""  # the account's, else its workspace's
    update_credentials: Callable[[Callable[[dict], dict | None]], dict] | None = field(default=None, repr=False, compare=False)
    save_session: Callable[[dict, bool], None] | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class MediaItem:
    """One file to publish: a rendition (or the original) with what adapters check."""

    path: str  # local filesystem path, or "" when only a URL is available
    url: str  # public URL where the platform can fetch it, or ""
    kind: str  # "image" | "video"
    mime: str
    size: int
    width: int | None = None
    height: int | None = None
    duration: float | None = None


@dataclass(frozen=True)
class PublishRequest:
    account: AccountSnapshot
    caption: str
    media_type: str  # a post media type: photo, video, carousel, reel, story, text
    media: tuple[MediaItem, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    # A unique marker for this execution; adapters that can search their
    # platform use it to find a post after a crash (see ``lookup``).
    marker: str = ""
    # Keeps what an adapter must be able to read back in ``lookup`` (TikTok's publish_id):
    # ``record(action, message, details)``; the caller stores it with the execution.
    record: Callable[[str, str, dict[str, Any]], None] | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class LookupRequest:
    """What ``lookup`` knows of an execution that may have published: plain data, built by the caller."""

    account: AccountSnapshot
    execution_id: int
    caption: str
    media_type: str  # the post's media type
    created_at: datetime
    started_at: datetime | None = None
    media_kinds: tuple[str, ...] = ()  # the post's media ("image" | "video"), in order
    # Remote ids other executions of the account recorded: a post found there is not this one's.
    recorded_remote_ids: frozenset[str] = frozenset()
    # What ``PublishRequest.record`` kept for this execution, the latest details per action
    # (only the actions the adapter names in ``lookup_records``).
    records: Mapping[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def marker(self) -> str:
        return execution_marker(self.execution_id)


@dataclass(frozen=True)
class PublishResult:
    """A published post. ``warnings``: what went wrong *after* the post was up (a YouTube video not
    added to its playlist) — the post stays published and is never repeated for them; the
    publisher keeps them in the execution's ``raw_response["warnings"]`` and its activity log."""

    remote_id: str
    url: str = ""
    raw: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Problem:
    """A preflight problem: why this request would be refused, in an operator's words."""

    code: str
    message: str


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str = ""
    account_status: str | None = None  # the state a failed check implies
    raw: dict[str, Any] = field(default_factory=dict)


# --- statistics --------------------------------------------------------------------------------

# One vocabulary for every platform's statistics (watch time in seconds).
METRICS = ("views", "likes", "comments", "shares", "saves", "watch_time_s")


@dataclass(frozen=True)
class MetricsRequest:
    """What ``Adapter.metrics`` needs of one published execution: plain data, built by the caller."""

    account: AccountSnapshot
    remote_id: str
    url: str = ""
    media_type: str = ""
    published_at: datetime | None = None


@dataclass
class Metrics:
    """One reading of a publication's statistics.

    ``values``: what came, by the names in METRICS; ``unavailable``: metric → why this platform
    (or this kind of post) never reports it ("the Bot API gives no view counts") — shown as "not
    available", never as 0; ``errors``: metric → why it failed this time (deprecated, refused,
    rate limited) while the others were still read; ``raw``: the platform's own answer, redacted.
    """

    values: dict[str, float] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)


# --- errors ------------------------------------------------------------------------------------


class PlatformError(Exception):
    """A platform refused or failed a call.

    ``permanent``: retrying the same request cannot succeed.
    ``account_status``: the account state this error implies (None: unchanged).
    ``retry_after``: seconds the platform asked us to wait, when it said so.
    """

    code: ClassVar[str] = "platform_error"
    permanent: ClassVar[bool] = False
    account_status: ClassVar[str | None] = None

    def __init__(self, message: str, *, retry_after: float | None = None, raw: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.raw = raw or {}

    def cooldown_until(self, now: datetime | None = None) -> datetime | None:
        """Until when the account should rest, for errors that imply a cooldown."""
        return None


class RateLimited(PlatformError):
    """Too many requests: wait ``retry_after`` seconds (the account rests as long)."""

    code = "rate_limited"
    account_status = AccountStatus.COOLDOWN

    def cooldown_until(self, now: datetime | None = None) -> datetime | None:
        return (now or timezone.now()) + timedelta(seconds=self.retry_after or 60)


class QuotaExceeded(PlatformError):
    """A daily/periodic cap is reached: nothing more until ``until``."""

    code = "quota_exceeded"
    account_status = AccountStatus.COOLDOWN

    def __init__(self, message: str, *, until: datetime | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.until = until

    def cooldown_until(self, now: datetime | None = None) -> datetime | None:
        now = now or timezone.now()
        if self.until:
            return self.until
        return now + timedelta(seconds=self.retry_after or 24 * 3600)


class AuthRequired(PlatformError):
    """Credentials or session are invalid or expired: an operator must log in again."""

    code = "auth_required"
    permanent = True
    account_status = AccountStatus.LOGIN_REQUIRED


class ChallengeRequired(PlatformError):
    """The platform wants a human (captcha, challenge, 2FA)."""

    code = "challenge_required"
    permanent = True
    account_status = AccountStatus.LOGIN_REQUIRED


class AccountBanned(PlatformError):
    code = "account_banned"
    permanent = True
    account_status = AccountStatus.BANNED


class ProxyFailed(PlatformError):
    """The account's proxy failed: retry once the account has a working proxy."""

    code = "proxy_failed"
    account_status = AccountStatus.PROXY_ERROR


class MediaRejected(PlatformError):
    code = "media_rejected"
    permanent = True


class ContentRejected(PlatformError):
    code = "content_rejected"
    permanent = True


class PermissionDenied(PlatformError):
    """The token works but may not post there (bot not admin, missing scope)."""

    code = "permission_denied"
    permanent = True


class AccessLost(PermissionDenied):
    """The account lost the right to post where it posts (a bot kicked from its channel or no longer
    an administrator, a user no longer an editor of the community): nothing is planned for it
    until a check finds the right back. Only adapters whose ``check`` verifies that right raise it,
    so the account cannot flap between a failing publish and a passing check."""

    code = "access_lost"
    account_status = AccountStatus.NO_ACCESS


class Transient(PlatformError):
    """A temporary failure (5xx, timeout, connection reset): retry with backoff."""

    code = "transient"


class DeliveryUnknown(Exception):
    """A publishing request went out but no answer came back: the post may exist.

    Deliberately not a :class:`PlatformError`: the publisher marks the execution
    ``unconfirmed`` and reconciles it with ``lookup()`` (or leaves it to an
    operator where the platform cannot look up) — a blind retry could post twice.
    """


class LookupUnsupported(Exception):
    """The platform offers no way to find a post we may have published."""


# --- the adapter interface ----------------------------------------------------------------------


class Adapter:
    """Base class of platform adapters; one instance serves every account."""

    platform: ClassVar[str]
    media_types: ClassVar[frozenset[str]] = frozenset()
    # False where a carousel takes photos only: an album mixing photos and videos goes there as its
    # first video (publishing.adapters.platform_media).
    mixed_carousels: ClassVar[bool] = True
    caption_limit: ClassVar[int | None] = None
    # True when ``lookup`` can tell whether an execution's post exists.
    can_lookup: ClassVar[bool] = False
    # Platforms whose sessions need a separate login step (instagrapi).
    has_sessions: ClassVar[bool] = False
    # The ``PublishRequest.record`` actions ``lookup`` reads back (``LookupRequest.records``).
    lookup_records: ClassVar[tuple[str, ...]] = ()
    # True when ``lookup`` reads ``LookupRequest.recorded_remote_ids`` (the caller queries them only then).
    lookup_uses_recorded_ids: ClassVar[bool] = False
    # False when ``validate`` reads nothing of ``request.account``: its answer is then the same for
    # every account, and a caller checking one post for many accounts (the planner) asks it once per
    # caption. Leave it True unless ``validate`` really never looks at the account (a test checks it).
    validate_reads_account: ClassVar[bool] = True

    def supports(self, media_type: str) -> bool:
        return media_type in self.media_types

    def validate(self, request: PublishRequest) -> list[Problem]:
        """Cheap, offline checks of a request against the platform's limits."""
        problems = []
        if not self.supports(request.media_type):
            problems.append(Problem("media_type", f"{self.platform} cannot publish a {request.media_type} post."))
        if self.caption_limit is not None and len(request.caption) > self.caption_limit:
            problems.append(
                Problem(
                    "caption_too_long",
                    f"The caption has {len(request.caption)} characters; {self.platform} allows {self.caption_limit}.",
                )
            )
        return problems

    def publish(self, request: PublishRequest) -> PublishResult:
        raise NotImplementedError

    def check(self, account: AccountSnapshot) -> Health:
        raise NotImplementedError

    def lookup(self, execution: LookupRequest) -> PublishResult | None:
        """Find the post an execution may have published; None if it is not there.

        Raises LookupUnsupported when the platform cannot answer.
        """
        raise LookupUnsupported(f"{self.platform} offers no way to look a post up.")

    def login(self, account: AccountSnapshot) -> Health:
        raise NotImplementedError(f"{self.platform} accounts have no separate login step.")

    def metrics(self, request: MetricsRequest) -> Metrics:
        """The publication's statistics, normalised to METRICS. A metric the platform refuses or
        dropped goes to ``errors`` and never fails the others; raise a PlatformError only when
        nothing at all could be read (rate limit, lost token, post gone)."""
        return Metrics(unavailable=dict.fromkeys(METRICS, f"{self.platform} reports no statistics to Crosspost yet."))


def media_shape_problems(
    request: PublishRequest,
    *,
    platform: str,
    album: tuple[int, int],
    item_problems: Callable[[MediaItem, str], list[Problem]],
) -> list[Problem]:
    """How many media of which kind a photo, video or carousel post carries, and each item's own checks.

    ``album`` is the (min, max) size of a carousel; a photo or video post takes exactly one item of its kind.
    """
    media, problems = request.media, []
    if request.media_type == "carousel":
        low, high = album
        if not low <= len(media) <= high:
            problems.append(
                Problem("carousel_size", f"A {platform} album takes {low} to {high} photos or videos; this one has {len(media)}.")
            )
        for index, item in enumerate(media[:high], start=1):
            problems += item_problems(item, f"Media {index}")
        return problems
    kind = "image" if request.media_type == "photo" else "video"
    if len(media) != 1 or media[0].kind != kind:
        problems.append(
            Problem("media_count", f"A {request.media_type} post takes exactly one {kind}; use a carousel for several items.")
        )
    else:
        problems += item_problems(media[0], f"The {request.media_type}")
    return problems


class SandboxStore(Protocol):
    """Where the sandbox platform keeps its posts (the caller provides it: ``registry.configure``)."""

    def create(self, *, account_id: Any, marker: str, caption: str, media_type: str, media: list[dict]) -> dict[str, Any]:
        """Store a post; returns its ``id``, ``marker`` and ``created_at`` (a datetime)."""

    def find(self, *, account_id: Any, marker: str) -> Any | None:
        """The id of the account's post with ``marker``, or None."""

    def attempts(self, *, account_id: Any) -> int:
        """How many publishing attempts the account's executions have made so far."""


class FrameUnavailable(Exception):
    """A video frame could not be taken on this machine (no ffmpeg): another worker may succeed."""


class FrameFailed(Exception):
    """The video has no frame to take."""


def execution_marker(execution_id: int) -> str:
    """The marker adapters embed (where the platform allows) to find a post again."""
    return f"cp-{execution_id}"
