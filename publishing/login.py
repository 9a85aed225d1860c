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
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.utils import timezone

from accounts.models import AccountStatus, SocialAccount
from accounts.services import account_set_status
from crosspost.activity import log_activity
from crosspost.logging import redact
from crosspost.models import LogStatus
from platforms.base import Health, PlatformError
from platforms.registry import UnknownPlatform, get_adapter

from .adapters import account_snapshot
from .health import FAILURE_FROM, UNTOUCHABLE

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
