"""Proxy health, rotation and bulk import.

A check is split into a network half (``publishing.proxy_checks.proxy_probe``, no
database, safe in threads) and a recording half (:func:`proxy_record_check`, here),
so the periodic task can probe many proxies in parallel and write the results one by one.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from crosspost.activity import log_activity
from crosspost.logging import redact
from crosspost.models import LogStatus

from .models import AccountStatus, Proxy, ProxyStatus, SocialAccount, Workspace, parse_proxy_url
from .services import account_set_status, proxy_claim_free
from .signals import proxy_went_down

MAX_ERROR_LENGTH = 500


# --- helpers ----------------------------------------------------------------------------------


def safe_error(text: str, proxy_url: str) -> str:
    """An error message fit for last_error, logs and notifications: no credentials, bounded length."""
    try:
        parts = urlsplit(proxy_url)
        secrets = (parts.password, parts.username)
    except ValueError:  # not even a URL: the generic patterns below still apply
        secrets = ()
    text = redact(text)
    for secret in secrets:
        # A one- or two-letter user name would mangle ordinary words; such values are no secret anyway.
        if secret and len(secret) >= 3:
            text = text.replace(secret, "<redacted>")
    return text[:MAX_ERROR_LENGTH]


# What follows host and port on a line that is not a URL (host:port:user:password, host port user password).
_AFTER_HOST_AND_PORT = re.compile(r"^([^\s:]+[\s:]+[^\s:]+[\s:]+).+$")


def redact_proxy_line(line: str) -> str:
    """A pasted proxy line fit to show back, even one that could not be parsed: whatever stands
    where credentials would (a URL's ``user:password@``, anything after ``host:port``) is masked."""
    if "@" in line:
        head, _, endpoint = line.rpartition("@")
        scheme, separator, _ = head.rpartition("://")
        return f"{scheme}{separator}<redacted>@{endpoint}"
    if "://" not in line:
        line = _AFTER_HOST_AND_PORT.sub(r"\1<redacted>", line)
    return line


def ewma(rate: float, ok: bool, alpha: float | None = None) -> float:
    """The new success rate after one observation: alpha·outcome + (1 − alpha)·rate, kept in [0, 1]."""
    alpha = settings.PROXY_EWMA_ALPHA if alpha is None else alpha
    return min(1.0, max(0.0, alpha * (1.0 if ok else 0.0) + (1 - alpha) * rate))


# --- checking -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProbeOutcome:
    ok: bool
    exit_ip: str | None = None
    latency_ms: int | None = None
    error: str = ""


@dataclass(frozen=True)
class ProxyCheckResult:
    ok: bool
    status: str
    exit_ip: str | None
    latency_ms: int | None
    success_rate: float
    error: str = ""
    # Accounts in proxy_error on this proxy made due for an immediate account check.
    accounts_to_recheck: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def proxy_record_check(*, proxy: Proxy, outcome: ProbeOutcome, actor=None) -> ProxyCheckResult:
    """Write a probe's outcome; notify when the proxy goes down, re-queue its accounts when it recovers.

    The status is read and written under the row lock, so of two overlapping
    checks only one sees the transition (one "down" notification). The lock is
    released before the proxy's accounts are touched.
    """
    with transaction.atomic():
        locked = Proxy.objects.select_for_update().get(pk=proxy.pk)
        previous = locked.status
        locked.status = ProxyStatus.ACTIVE if outcome.ok else ProxyStatus.FAILED
        locked.success_rate = ewma(locked.success_rate, outcome.ok)
        locked.last_check_at = timezone.now()
        locked.latency_ms = outcome.latency_ms
        locked.last_error = outcome.error
        if outcome.exit_ip:
            locked.exit_ip = outcome.exit_ip
        locked.save(update_fields=["status", "success_rate", "last_check_at", "latency_ms", "last_error", "exit_ip"])
    for name in ("status", "success_rate", "last_check_at", "latency_ms", "last_error", "exit_ip"):
        setattr(proxy, name, getattr(locked, name))

    recheck: list[str] = []
    if not outcome.ok and previous != ProxyStatus.FAILED:
        _proxy_went_down(locked, outcome.error, actor=actor)
    elif outcome.ok and previous == ProxyStatus.FAILED:
        # Its proxy_error accounts are re-checked by the next check_accounts run (never
        # flipped to active here: only a passing platform check proves the account works).
        waiting = SocialAccount.objects.filter(proxy=locked, status=AccountStatus.PROXY_ERROR)
        recheck = [str(pk) for pk in waiting.values_list("pk", flat=True)]
        waiting.update(last_check_at=None)
        log_activity(
            action="proxy.recovered",
            workspace=locked.workspace,
            actor=actor,
            status=LogStatus.SUCCESS,
            message=f"Proxy {locked.display_url} works again (exit IP {outcome.exit_ip}, {outcome.latency_ms} ms).",
            details={"proxy": locked.display_url, "accounts_to_recheck": len(recheck)},
        )
    elif actor is not None:
        log_activity(
            action="proxy.check",
            workspace=locked.workspace,
            actor=actor,
            status=LogStatus.SUCCESS if outcome.ok else LogStatus.FAILED,
            message=f"Proxy {locked.display_url}: " + (f"exit IP {outcome.exit_ip}" if outcome.ok else outcome.error),
            details={"proxy": locked.display_url, "latency_ms": outcome.latency_ms},
            duration_ms=outcome.latency_ms,
        )
    return ProxyCheckResult(
        ok=outcome.ok,
        status=locked.status,
        exit_ip=locked.exit_ip,
        latency_ms=locked.latency_ms,
        success_rate=locked.success_rate,
        error=outcome.error,
        accounts_to_recheck=recheck,
    )


def _proxy_went_down(proxy: Proxy, error: str, *, actor=None) -> None:
    """The proxy was just saved as failed by the caller that saw it fail first: log and notify."""
    log_activity(
        action="proxy.down",
        workspace=proxy.workspace,
        actor=actor,
        status=LogStatus.FAILED,
        message=f"Proxy {proxy.display_url} is down: {error}",
        details={"proxy": proxy.display_url, "accounts": proxy.accounts.count()},
    )
    proxy_went_down.send(sender=Proxy, proxy=proxy)  # publishing notifies the admins; never raises


# --- rotation -------------------------------------------------------------------------------------


@transaction.atomic
def account_rotate_proxy(*, account: SocialAccount, reason: str) -> Proxy | None:
    """Move an account whose proxy just failed to a healthy reserve proxy; None when none is free.

    The reserve is an active proxy of the same workspace (and of the same country
    when the failed one has a country) with fewer accounts than max_accounts:
    least loaded first, then lowest latency. The candidate row is locked and its
    load re-counted before assigning, so two accounts rotating at once never
    overfill the last slot. The failed proxy is marked failed. When nothing is
    free, the account goes to proxy_error (from active, or from an expired
    cooldown: a live cooldown or a worse state is kept).
    """
    # Lock order: the failed proxy, then the account (as accounts_assign_proxy does); reserves
    # are only ever tried with SKIP LOCKED. No two paths can then wait on each other.
    current = SocialAccount.objects.filter(pk=account.pk).values_list("proxy_id", flat=True).get()
    if current is not None and current != account.proxy_id:
        # Another worker rotated this account meanwhile: its new proxy is the answer.
        account.proxy = Proxy.objects.get(pk=current)
        return account.proxy
    old = Proxy.objects.select_for_update().filter(pk=current).first() if current is not None else None
    locked = SocialAccount.objects.select_for_update(of=("self",)).select_related("workspace").get(pk=account.pk)
    if locked.proxy_id != current:  # moved between the two reads: nothing of ours to rotate
        account.proxy = locked.proxy
        return locked.proxy
    reason = safe_error(reason, old.url) if old is not None else redact(reason)
    if old is not None:
        _proxy_mark_failed(old, reason)

    replacement = (
        proxy_claim_free(workspace=locked.workspace, exclude=frozenset({old.pk}), country=old.country)
        if old is not None
        else None
    )
    if replacement is None:
        where = f" in {old.country}" if old is not None and old.country else ""
        what = f"Proxy {old.display_url} failed" if old is not None else "The account has no proxy"
        # A live cooldown (the platform's rate limit) is kept: proxy_error would be lifted sooner.
        cooldown_over = locked.cooldown_until is None or locked.cooldown_until <= timezone.now()
        allowed = (AccountStatus.ACTIVE, AccountStatus.COOLDOWN) if cooldown_over else (AccountStatus.ACTIVE,)
        account_set_status(
            account=locked,
            status=AccountStatus.PROXY_ERROR,
            reason=f"{what} ({reason}) and no healthy proxy with a free slot is left{where}: add proxies or raise max_accounts.",
            from_statuses=allowed,
        )
        account.status, account.status_reason, account.cooldown_until = locked.status, locked.status_reason, locked.cooldown_until
        return None

    SocialAccount.objects.filter(pk=locked.pk).update(proxy=replacement, updated_at=timezone.now())
    account.proxy = replacement
    log_activity(
        action="proxy.rotate",
        account=locked,
        status=LogStatus.INFO,
        message=f"proxy rotated from {old.display_url} to {replacement.display_url}",
        details={"from": old.display_url, "to": replacement.display_url, "reason": reason},
    )
    return replacement


def _proxy_mark_failed(proxy: Proxy, error: str) -> None:
    """A failure seen in use (a publish or an account check) counts like a failed check."""
    locked = Proxy.objects.select_for_update().get(pk=proxy.pk)
    previous = locked.status
    locked.status = ProxyStatus.FAILED
    locked.success_rate = ewma(locked.success_rate, False)
    locked.last_error = error
    locked.save(update_fields=["status", "success_rate", "last_error"])
    proxy.status, proxy.success_rate, proxy.last_error = locked.status, locked.success_rate, locked.last_error
    if previous != ProxyStatus.FAILED:
        _proxy_went_down(locked, error)


# --- import ------------------------------------------------------------------------------------------


@dataclass
class ImportLineError:
    line: int
    text: str  # the line with any credentials redacted
    message: str


@dataclass
class ProxyImportReport:
    created: list[Proxy] = field(default_factory=list)
    errors: list[ImportLineError] = field(default_factory=list)
    lines: int = 0  # proxy lines read (blank lines and comments not counted)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        return {
            "lines": self.lines,
            "created": len(self.created),
            "proxies": [{"id": p.pk, "display_url": p.display_url} for p in self.created],
            "errors": [asdict(e) for e in self.errors],
        }


@transaction.atomic
def proxies_import(
    *,
    workspace: Workspace,
    text: str,
    country: str = "",
    max_accounts: int = 1,
    skip_invalid: bool = False,
    actor=None,
) -> ProxyImportReport:
    """Import one proxy per line — a URL, or ``host:port:user:password`` (an HTTP proxy);
    blank lines and ``#`` comments are ignored. A bad line is reported with its credentials masked.

    Every line is validated first (syntax, duplicates within the text, proxies
    already in the workspace). Any bad line imports nothing, unless
    ``skip_invalid`` — then the good lines are imported and the bad ones reported.
    """
    country = country.strip().upper()
    if country and not (len(country) == 2 and country.isalpha()):
        raise ValidationError({"country": "Use a two-letter ISO 3166-1 country code such as DE."})
    if max_accounts < 1:
        raise ValidationError({"max_accounts": "A proxy serves at least one account."})
    report = ProxyImportReport()
    existing = set(Proxy.objects.filter(workspace=workspace).values_list("scheme", "host", "port"))
    seen: dict[tuple[str, str, int], int] = {}
    valid: list[Proxy] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        report.lines += 1
        try:
            try:
                fields = parse_proxy_url(line)
            except ValueError:  # urlsplit refuses e.g. an unclosed [IPv6 bracket
                raise ValidationError("This is not a URL: expected scheme://[user:pass@]host:port.") from None
            endpoint = (fields["scheme"], fields["host"], fields["port"])
            shown = f"{endpoint[0]}://{endpoint[1]}:{endpoint[2]}"
            if endpoint in seen:
                raise ValidationError(f"{shown} is listed twice (first on line {seen[endpoint]}).")
            if endpoint in existing:
                raise ValidationError(f"{shown} is already a proxy in this workspace.")
            seen[endpoint] = number
            proxy = Proxy(workspace=workspace, country=country, max_accounts=max_accounts, **fields)
            proxy.full_clean(validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            report.errors.append(
                ImportLineError(line=number, text=safe_error(redact_proxy_line(line), line), message=" ".join(exc.messages))
            )
            continue
        valid.append(proxy)
    if not report.lines:
        raise ValidationError({"text": "No proxy URL in the text: put one URL per line."})
    if report.errors and not skip_invalid:
        return report
    report.created = Proxy.objects.bulk_create(valid)
    if report.created:
        log_activity(
            action="proxy.import",
            workspace=workspace,
            actor=actor,
            status=LogStatus.SUCCESS,
            message=f"Imported {len(report.created)} prox{'y' if len(report.created) == 1 else 'ies'}"
            + (f", skipped {len(report.errors)} bad line(s)" if report.errors else ""),
            details={"created": len(report.created), "skipped_lines": [e.line for e in report.errors]},
        )
    return report
