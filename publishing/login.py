"""Logging an account in on its platform (Instagram's private API keeps a session).

``account_login`` asks the platform adapter to log in — or, with a stored
session, to prove the session still works — and applies the outcome:

* success: ``last_login_at`` is stamped and a ``login_required`` account
  becomes ``active`` again;
* failure: the account moves to the state the failure implies (``login_required``
  for a refused password, a challenge or two-factor; ``banned``, ``proxy_error``
  or ``cooldown`` when that is what the platform said), never out of ``banned``
  or ``disabled``; a failure that implies nothing (timeout, 5xx) changes nothing.

Every attempt is an ActivityLog row. Credentials are decrypted by the adapter at
the moment of use and never reach a log, an event or an answer.

``cleanup_old_sessions`` (the periodic task of the same name) retires Instagram
private-API sessions older than ``INSTAGRAM_SESSION_LIFETIME_DAYS``: see
:func:`account_retire_session`.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts.models import AccountStatus, Platform, SocialAccount
from accounts.services import account_set_status, uses_device_fingerprint
from crosspost.activity import log_activity
from crosspost.logging import redact
from crosspost.models import LogStatus
from platforms.base import Health, PlatformError
from platforms.registry import UnknownPlatform, get_adapter

from .adapters import account_snapshot
from .health import FAILURE_FROM, UNTOUCHABLE
from .models import Execution, ExecutionStatus

DEFAULT_LOGIN_COOLDOWN = timedelta(hours=1)


class LoginUnsupported(Exception):
    """The account's platform has no separate login step (tokens, bots)."""


def account_login(*, account: SocialAccount, actor=None) -> Health:
    """Log ``account`` in on its platform now; record it and apply the status it implies."""
    try:
        adapter = get_adapter(account.platform)
    except UnknownPlatform as exc:
        raise LoginUnsupported(str(exc)) from None
    if not adapter.has_sessions:
        raise LoginUnsupported(
            f"{account.get_platform_display()} accounts have no separate login step: "
            "their token or bot credentials are used directly."
        )
    account.refresh_from_db()
    started = time.monotonic()
    error: PlatformError | None = None
    try:
        health = adapter.login(account_snapshot(account))
    except PlatformError as exc:
        error = exc
        health = Health(ok=False, detail=f"{exc.code}: {exc.message}", account_status=exc.account_status)
    account.refresh_from_db()
    detail = redact(health.detail)
    if account.status not in UNTOUCHABLE:
        _apply(account, health, error, detail, actor=actor)
    log_activity(
        action="account.login",
        account=account,
        actor=actor,
        status=LogStatus.SUCCESS if health.ok else LogStatus.FAILED,
        message=detail,
        details={"ok": health.ok, "implies": health.account_status, "status": account.status},
        duration_ms=int((time.monotonic() - started) * 1000),
    )
    return Health(ok=health.ok, detail=detail, account_status=health.account_status)


def _apply(account: SocialAccount, health: Health, error: PlatformError | None, detail: str, *, actor=None) -> None:
    now = timezone.now()
    if health.ok:
        SocialAccount.objects.filter(pk=account.pk).update(last_login_at=now, updated_at=now)
        account.last_login_at = now
        account_set_status(
            account=account,
            status=AccountStatus.ACTIVE,
            reason=f"logged in: {detail}",
            actor=actor,
            from_statuses=(AccountStatus.LOGIN_REQUIRED,),
        )
        return
    target = health.account_status
    if target not in FAILURE_FROM:
        return
    until = None
    if target == AccountStatus.COOLDOWN:
        until = (error.cooldown_until(now) if error is not None else None) or now + DEFAULT_LOGIN_COOLDOWN
    account_set_status(
        account=account,
        status=target,
        reason=f"login failed: {detail}",
        until=until,
        actor=actor,
        from_statuses=(*FAILURE_FROM[target], target),  # the same state again: the reason is refreshed
    )


# --- old sessions ------------------------------------------------------------------------------------

# An execution in these states may be using the account's session right now (queued: its
# task is on the way and will read the session; posting: it is publishing with it).
SESSION_IN_USE = (ExecutionStatus.QUEUED, ExecutionStatus.POSTING)
# A run stops starting new logins after this long; what is left is taken by the next run.
SESSION_RUN_BUDGET_SECONDS = 180


def cleanup_old_sessions(*, now: datetime | None = None) -> dict[str, int]:
    """Retire every Instagram private-API session older than INSTAGRAM_SESSION_LIFETIME_DAYS.

    A session's age is the account's ``last_login_at`` (stamped by every login); an
    account with a session but no recorded login is left alone, as its age is unknown.
    Returns how many sessions were refreshed, cleared, found in use (left for the next
    run) or failed to log in again.
    """
    now = now or timezone.now()
    deadline = time.monotonic() + SESSION_RUN_BUDGET_SECONDS
    cutoff = now - timedelta(days=settings.INSTAGRAM_SESSION_LIFETIME_DAYS)
    due = SocialAccount.objects.filter(platform=Platform.INSTAGRAM, last_login_at__lt=cutoff).order_by("last_login_at", "pk")
    counts = {"refreshed": 0, "cleared": 0, "in_use": 0, "failed": 0}
    for account in due.select_related("proxy", "workspace").iterator():
        if time.monotonic() > deadline:
            break
        if not account.session or not uses_device_fingerprint(account.platform, account.credentials, account.options):
            continue  # nothing to retire, or a Graph API account (a token, no session)
        counts[account_retire_session(account=account)] += 1
    return counts


def account_retire_session(*, account: SocialAccount) -> str:
    """Replace ``account``'s old session by a fresh login, or clear it; never while it publishes.

    The session is emptied with one conditional update: only if no execution of the
    account is queued or posting, and only if no login happened since ``account`` was
    read (``last_login_at`` unchanged) — otherwise nothing changes ("in_use"). Then:

    * with a stored password and the account active, it logs in again at once through
      :func:`account_login` ("refreshed"; "failed" when Instagram refused, with the
      state that implies — login_required for a refused password or a challenge);
    * with a password but the account resting (cooldown, proxy error, …), the session is
      only cleared: the next publish or check logs in by itself ("cleared");
    * without a password nothing can log in again: the account moves to login_required
      ("cleared").

    Every outcome but "in_use" is an ActivityLog line (``account.session_expired``).
    """
    age = (timezone.now() - account.last_login_at).days if account.last_login_at else None
    busy = Execution.objects.filter(account_id=OuterRef("pk"), status__in=SESSION_IN_USE)
    cleared = (
        SocialAccount.objects.filter(pk=account.pk, last_login_at=account.last_login_at)
        .exclude(Exists(busy))
        .update(session={}, updated_at=timezone.now())
    )
    if not cleared:
        return "in_use"
    account.session = {}
    lifetime = settings.INSTAGRAM_SESSION_LIFETIME_DAYS
    what = f"The Instagram session was {age} days old (INSTAGRAM_SESSION_LIFETIME_DAYS={lifetime})"
    has_password = bool((account.credentials or {}).get("password"))
    if not has_password:
        account_set_status(
            account=account,
            status=AccountStatus.LOGIN_REQUIRED,
            reason=f"{what} and was cleared; no password is stored to log in again: add it or log the account in.",
            from_statuses=(AccountStatus.ACTIVE, AccountStatus.COOLDOWN, AccountStatus.PROXY_ERROR),
        )
        outcome, message = "cleared", f"{what}: cleared; no password to log in again."
    elif account.status != AccountStatus.ACTIVE:
        outcome, message = "cleared", f"{what}: cleared; the next publish or check logs in again."
    else:
        health = account_login(account=account)
        outcome = "refreshed" if health.ok else "failed"
        message = f"{what}: replaced by a new login." if health.ok else f"{what}: cleared; the new login failed: {health.detail}"
    log_activity(
        action="account.session_expired",
        account=account,
        status=LogStatus.FAILED if outcome == "failed" else LogStatus.INFO,
        message=message,
        details={"outcome": outcome, "age_days": age},
    )
    return outcome
