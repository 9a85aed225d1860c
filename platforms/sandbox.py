"""The sandbox platform: a built-in local target that really publishes, into the
feed shown at /sandbox/, so the whole flow runs with no external account. Where its
posts are kept is the caller's: a :class:`base.SandboxStore` given to ``registry.configure``.

Failure injection for demos and tests, from the account's ``options``:

``fail``        an error code to raise: rate_limited, quota_exceeded, auth_required,
                challenge_required, account_banned, proxy_failed, media_rejected,
                content_rejected, transient
``fail_times``  raise it only for the first N publishes of the account (default: always)
``fail_rate``   raise it with this probability (0–1) instead
``retry_after`` seconds to report with rate_limited (default 60)
``delay_ms``    sleep this long before publishing (to watch states move, or to crash mid-publish)
``delay_after_ms`` sleep this long after the post exists (to crash between publishing and recording it)
``metrics_fail``  an error code (as ``fail``) to raise when statistics are read
``metrics_refuse`` a metric name (or a list of them) the sandbox refuses this time, as a platform
                refuses a deprecated metric: it goes to ``errors`` while the others are read

Statistics: views, likes, comments, shares and saves grow with the post's age along a curve
that depends only on its id and age, so demos show charts and tests can predict them;
watch time is "not available".
"""

from __future__ import annotations

import math
import random
import time
import zlib

from django.utils import timezone

from . import base
from .names import Platform
from .registry import NotConfigured, provided

ERRORS: dict[str, type[base.PlatformError]] = {
    cls.code: cls
    for cls in (
        base.RateLimited,
        base.QuotaExceeded,
        base.AuthRequired,
        base.ChallengeRequired,
        base.AccountBanned,
        base.ProxyFailed,
        base.MediaRejected,
        base.ContentRejected,
        base.PermissionDenied,
        base.Transient,
    )
}


class SandboxAdapter(base.Adapter):
    platform = Platform.SANDBOX
    media_types = frozenset({"photo", "video", "carousel", "reel", "story", "text"})
    caption_limit = 5000
    can_lookup = True
    validate_reads_account = False  # its checks are the post's: caption length, media count

    def validate(self, request: base.PublishRequest) -> list[base.Problem]:
        problems = super().validate(request)
        if request.media_type != "text" and not request.media:
            problems.append(base.Problem("no_media", "The post has no media: add a photo or video, or choose 'text'."))
        if request.media_type == "carousel" and not 2 <= len(request.media) <= 10:
            problems.append(base.Problem("carousel_size", "A carousel needs 2 to 10 media items."))
        return problems

    def publish(self, request: base.PublishRequest) -> base.PublishResult:
        options = request.account.options or {}
        if options.get("delay_ms"):
            time.sleep(float(options["delay_ms"]) / 1000)
        self._maybe_fail(request.account, options)
        post = _store().create(
            account_id=request.account.id,
            marker=request.marker,
            caption=request.caption,
            media_type=request.media_type,
            media=[{"url": m.url, "mime": m.mime, "width": m.width, "height": m.height} for m in request.media],
        )
        if options.get("delay_after_ms"):
            time.sleep(float(options["delay_after_ms"]) / 1000)
        return base.PublishResult(
            remote_id=str(post["id"]),
            url=f"/sandbox/?post={post['id']}#post-{post['id']}",
            raw={"id": post["id"], "marker": post["marker"], "created_at": post["created_at"].isoformat()},
        )

    def _maybe_fail(self, account: base.AccountSnapshot, options: dict) -> None:
        code = options.get("fail")
        if not code:
            return
        error = ERRORS.get(code)
        if error is None:
            raise base.ContentRejected(f"Sandbox: unknown failure {code!r} in the account's options.")
        if "fail_times" in options:
            if _store().attempts(account_id=account.id) > int(options["fail_times"]):
                return
        elif "fail_rate" in options and random.random() >= float(options["fail_rate"]):
            return
        kwargs = {"retry_after": float(options.get("retry_after", 60))} if code == "rate_limited" else {}
        raise error(f"Sandbox: injected {code}.", raw={"injected": code}, **kwargs)

    def check(self, account: base.AccountSnapshot) -> base.Health:
        # The same injected failure as a publish would meet (fail_rate, retry_after and all),
        # raised as the platform error it stands for, so a check honours its retry_after.
        self._maybe_fail(account, account.options or {})
        return base.Health(ok=True, detail="Sandbox account is reachable.")

    def lookup(self, execution: base.LookupRequest) -> base.PublishResult | None:
        post_id = _store().find(account_id=execution.account.id, marker=execution.marker)
        if post_id is None:
            return None
        return base.PublishResult(
            remote_id=str(post_id), url=f"/sandbox/?post={post_id}#post-{post_id}", raw={"id": post_id, "found_by": "lookup"}
        )

    def metrics(self, request: base.MetricsRequest) -> base.Metrics:
        options = request.account.options or {}
        code = options.get("metrics_fail")
        if code:
            error = ERRORS.get(code, base.ContentRejected)
            kwargs = {"retry_after": float(options.get("retry_after", 60))} if code == "rate_limited" else {}
            raise error(f"Sandbox: injected {code} while reading statistics.", raw={"injected": code}, **kwargs)
        return sandbox_metrics(request.remote_id, request.published_at, refuse=options.get("metrics_refuse") or ())


def sandbox_metrics(remote_id: str, published_at, *, refuse=(), now=None) -> base.Metrics:
    """The sandbox's reading of post ``remote_id``: deterministic in its id and age."""
    refuse = [refuse] if isinstance(refuse, str) else list(refuse)
    hours = max(((now or timezone.now()) - published_at).total_seconds() / 3600, 0.0) if published_at else 0.0
    seed = zlib.crc32(str(remote_id).encode())
    reach = 200 + seed % 800  # the views the post ends up with
    views = int(reach * (1 - math.exp(-hours / 24)))
    counts = {
        "views": views,
        "likes": views * (3 + seed % 5) // 100,
        "comments": views * (1 + seed % 3) // 200,
        "shares": views // 100,
        "saves": views * (1 + seed % 4) // 100,
    }
    result = base.Metrics(
        unavailable={"watch_time_s": "The sandbox reports no watch time."},
        raw={"id": str(remote_id), "age_hours": round(hours, 2)},
    )
    for name, value in counts.items():
        if name in refuse:
            result.errors[name] = f"Sandbox: the {name} metric is refused (injected)."
        else:
            result.values[name] = value
    return result


def _store() -> base.SandboxStore:
    if provided.sandbox_store is None:
        raise NotConfigured("No sandbox store: the caller gives one to platforms.registry.configure().")
    return provided.sandbox_store
