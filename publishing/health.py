"""Account health checks: ask the platform whether an account still works and move its status accordingly.

Transitions (each one an AccountEvent, through ``account_set_status``):

* a failing check moves an account to what the failure implies — login_required
  (auth, challenge), banned, cooldown (rate limit, only from active), or, for a
  failed proxy, first a rotation to a reserve proxy and a second check through
  it, and proxy_error only when that is not possible or fails as well;
* a failing check that finds the account may no longer post where it posts (a bot
  kicked from its channel) moves it to no_access;
* a passing check recovers proxy_error → active (when its proxy is not failed),
  login_required → active (the check just proved the login works) and
  no_access → active (the right to post is back);
* cooldown ends only by expiry (``lift_expired_cooldowns``); banned and disabled
  accounts may be checked on demand but are never changed by a check;
* a check that fails without implying a state (timeout, 5xx) changes nothing.
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.utils import timezone

from accounts.models import AccountStatus, ProxyStatus, SocialAccount
from accounts.proxies import account_rotate_proxy
from accounts.services import account_set_status
from crosspost.activity import log_activity
from crosspost.logging import redact
from crosspost.models import LogStatus
from platforms.base import Health, PlatformError
from platforms.registry import UnknownPlatform, get_adapter

from .adapters import account_snapshot

# A platform that reports a rate limit from a check without saying for how long.
DEFAULT_CHECK_COOLDOWN = timedelta(hours=1)

# The states a failing check may move an account out of, per target state.
FAILURE_FROM = {
    AccountStatus.LOGIN_REQUIRED: (
        AccountStatus.ACTIVE,
        AccountStatus.COOLDOWN,
        AccountStatus.PROXY_ERROR,
        AccountStatus.NO_ACCESS,
    ),
    AccountStatus.BANNED: (
        AccountStatus.ACTIVE,
        AccountStatus.COOLDOWN,
        AccountStatus.PROXY_ERROR,
        AccountStatus.LOGIN_REQUIRED,
        AccountStatus.NO_ACCESS,
    ),
    AccountStatus.COOLDOWN: (AccountStatus.ACTIVE,),
    AccountStatus.PROXY_ERROR: (AccountStatus.ACTIVE,),
    # The credentials work (a check got that far) but the right to post is gone.
    AccountStatus.NO_ACCESS: (AccountStatus.ACTIVE, AccountStatus.COOLDOWN, AccountStatus.LOGIN_REQUIRED),
}
UNTOUCHABLE = (AccountStatus.BANNED, AccountStatus.DISABLED)


def account_check(*, account: SocialAccount, actor=None) -> Health:
    """Check one account on its platform now, record it and apply the transition it implies."""
    account.refresh_from_db()
    started = time.monotonic()
    health, error = _probe(account)
    if account.status not in UNTOUCHABLE:
        if health.account_status == AccountStatus.PROXY_ERROR:
            health, error = _rotate_and_recheck(account, health)
        _apply(account, health, error, actor=actor)
    now = timezone.now()
    SocialAccount.objects.filter(pk=account.pk).update(last_check_at=now)
    account.last_check_at = now
    log_activity(
        action="account.check",
        account=account,
        actor=actor,
        status=LogStatus.SUCCESS if health.ok else LogStatus.FAILED,
        message=redact(health.detail),
        details={"ok": health.ok, "implies": health.account_status, "status": account.status},
        duration_ms=int((time.monotonic() - started) * 1000),
    )
    return health


def _probe(account: SocialAccount) -> tuple[Health, PlatformError | None]:
    """The adapter's verdict as a Health; a raised PlatformError becomes one carrying its account state."""
    try:
        return get_adapter(account.platform).check(account_snapshot(account)), None
    except PlatformError as error:
        return Health(ok=False, detail=f"{error.code}: {error.message}", account_status=error.account_status), error
    except UnknownPlatform as exc:
        return Health(ok=False, detail=str(exc)), None


def _rotate_and_recheck(account: SocialAccount, health: Health) -> tuple[Health, PlatformError | None]:
    """The proxy failed: move to a reserve proxy and check once more through it.

    Without a free reserve, ``account_rotate_proxy`` has already moved the account
    to proxy_error; the verdict is returned as it is and ``_apply`` changes nothing more.
    """
    failed_proxy = account.proxy.display_url if account.proxy_id else None
    if account_rotate_proxy(account=account, reason=health.detail) is None:
        account.refresh_from_db(fields=["status", "status_reason", "cooldown_until"])
        return health, None
    second, error = _probe(account)
    if second.account_status == AccountStatus.PROXY_ERROR:
        # One rotation per check: failing again through a fresh proxy is reported, not chased.
        detail = f"{second.detail} (also through {account.proxy.display_url}, after {failed_proxy} failed)"
        return Health(ok=False, detail=detail, account_status=AccountStatus.PROXY_ERROR, raw=second.raw), error
    return second, error


# The states a passing check lifts back to active, with the reason it records.
RECOVERED_REASONS = {
    AccountStatus.PROXY_ERROR: "check passed",
    AccountStatus.LOGIN_REQUIRED: "check passed, the login works again",
    AccountStatus.NO_ACCESS: "check passed, the account may post again",
}


def _apply(account: SocialAccount, health: Health, error: PlatformError | None, *, actor=None) -> None:
    status = account.status
    reason = redact(health.detail)
    if health.ok:
        recovered = RECOVERED_REASONS.get(status)
        proxy_still_failed = (
            status == AccountStatus.PROXY_ERROR and account.proxy is not None and account.proxy.status == ProxyStatus.FAILED
        )
        if recovered is not None and not proxy_still_failed:
            account_set_status(
                account=account,
                status=AccountStatus.ACTIVE,
                reason=f"{recovered}: {reason}",
                actor=actor,
                from_statuses=(status,),
            )
        return
    target = health.account_status
    if target not in FAILURE_FROM or status == target:
        return  # a failure that implies no state (timeout, 5xx), or the account is there already
    until = None
    if target == AccountStatus.COOLDOWN:
        now = timezone.now()
        until = (error.cooldown_until(now) if error is not None else None) or now + DEFAULT_CHECK_COOLDOWN
    account_set_status(
        account=account, status=target, reason=reason, until=until, actor=actor, from_statuses=FAILURE_FROM[target]
    )
