"""Every state change of accounts, groups and proxies goes through here."""

import secrets
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from crosspost.activity import log_activity
from crosspost.models import LogStatus, WebhookEvent
from crosspost.webhooks import emit

from .models import (
    NEEDS_ACTION_STATUSES,
    PLATFORM_SECRET_KEY,
    AccountEvent,
    AccountGroup,
    AccountStatus,
    Platform,
    Proxy,
    ProxyStatus,
    SocialAccount,
    Workspace,
    parse_proxy_url,
)
from .signals import account_status_changed

# Instagram Android app user agents look like this; each account keeps the one
# it was created with so the platform sees one stable device per account.
_ANDROID_DEVICES = [
    ("28/9.0", "420dpi", "1080x2220", "samsung", "SM-G965F", "star2qltecs", "samsungexynos9810"),
    ("29/10", "480dpi", "1080x2340", "Xiaomi", "M2007J20CG", "surya", "qcom"),
    ("30/11", "440dpi", "1080x2400", "OnePlus", "IN2013", "OnePlus8", "qcom"),
    ("31/12", "420dpi", "1080x2400", "Google", "Pixel 6", "oriole", "gs101"),
]
# The app version instagrapi 3.x logs in as; its version code ends the user agent.
_IG_APP_VERSION, _IG_VERSION_CODE = "449.0.0.52.84", "1079242191"


def generate_device() -> tuple[str, str]:
    """A stable random device id and matching mobile user agent for a new account."""
    android, dpi, res, maker, model, device, cpu = secrets.choice(_ANDROID_DEVICES)
    device_id = f"android-{secrets.token_hex(8)}"
    hardware = f"{android}; {dpi}; {res}; {maker}; {model}; {device}; {cpu}"
    user_agent = f"Instagram {_IG_APP_VERSION} Android ({hardware}; en_US; {_IG_VERSION_CODE})"
    return device_id, user_agent


def uses_device_fingerprint(platform: str, credentials: dict | None, options: dict | None) -> bool:
    """True for Instagram accounts on the private API: only they pose as the Instagram Android app.

    Instagram accounts whose credentials hold an ``access_token`` and whose options hold the
    ``ig_user_id`` use the official Graph API instead (the rule of
    ``platforms.instagram.uses_graph_api``); every other platform is called with Crosspost's
    own user agent, so a device id and app user agent there would only be a false fingerprint.
    """
    if platform != Platform.INSTAGRAM:
        return False
    return not ((credentials or {}).get("access_token") and (options or {}).get("ig_user_id"))


def secret_to_credentials(platform: str, secret: str) -> dict:
    """Map one secret string (CSV import, quick add) to the platform's credential key."""
    return {PLATFORM_SECRET_KEY[Platform(platform)]: secret} if secret else {}


# The sandbox never opens a connection: its accounts never need a proxy. Every other
# platform's calls go through the account's proxy (platforms.http.http_session).
PROXIED_PLATFORMS = frozenset(Platform.values) - {Platform.SANDBOX}

# Where a language is mostly spoken when its code is not also a country code (de → DE).
_LANGUAGE_COUNTRIES = {
    "en": ("US", "GB"),
    "pt": ("BR", "PT"),
    "zh": ("CN", "TW"),
    "uk": ("UA",),
    "be": ("BY",),
    "kk": ("KZ",),
    "ja": ("JP",),
    "ko": ("KR",),
    "sv": ("SE",),
    "da": ("DK",),
    "cs": ("CZ",),
    "el": ("GR",),
    "et": ("EE",),
    "nb": ("NO",),
    "sl": ("SI",),
    "hi": ("IN",),
    "vi": ("VN",),
    "he": ("IL",),
    "ar": ("SA", "AE", "EG"),
}


def language_countries(language: str) -> list[str]:
    """Countries an account in ``language`` most likely posts from, best first (a loose guess).

    The language's region when it names one (pt-BR → BR), then where the language is spoken
    (de → DE, en → US, GB).
    """
    parts = (language or "").replace("_", "-").split("-")
    base, region = parts[0].lower(), next((p.upper() for p in parts[1:] if len(p) == 2 and p.isalpha()), "")
    countries = [region] if region else []
    for country in _LANGUAGE_COUNTRIES.get(base, (base.upper(),) if len(base) == 2 else ()):
        if country not in countries:
            countries.append(country)
    return countries


def proxy_claim_free(
    *, workspace: Workspace, language: str = "", exclude: frozenset[int] = frozenset(), country: str = ""
) -> Proxy | None:
    """Lock and return the best healthy proxy of ``workspace`` (in ``country``, when given) with a
    free slot; None when there is none.

    Called inside a transaction. Best: a country the account's language points to
    (:func:`language_countries`), then the least loaded, then the fastest. Each candidate is
    locked (SKIP LOCKED: one another transaction is claiming is passed over rather than
    waited on) and its accounts re-counted, so two accounts created at once never overfill
    the last slot.
    """
    preferred = language_countries(language)
    rows = (
        Proxy.objects.filter(workspace=workspace, status=ProxyStatus.ACTIVE)
        .exclude(pk__in=exclude)
        .filter(**({"country": country} if country else {}))
        .annotate(used=Count("accounts"))
        .values("pk", "country", "used", "max_accounts", "latency_ms")
    )
    ranked = sorted(
        (row for row in rows if row["used"] < row["max_accounts"]),
        key=lambda row: (
            preferred.index(row["country"]) if row["country"] in preferred else len(preferred),
            row["used"],
            row["latency_ms"] is None,
            row["latency_ms"] or 0,
            row["pk"],
        ),
    )
    for row in ranked:
        proxy = Proxy.objects.select_for_update(skip_locked=True).filter(pk=row["pk"], status=ProxyStatus.ACTIVE).first()
        if proxy is not None and proxy.accounts.count() < proxy.max_accounts:
            return proxy
    return None


@transaction.atomic
def account_create(
    *,
    workspace: Workspace,
    platform: str,
    handle: str,
    language: str = "en",
    group: AccountGroup | None = None,
    proxy: Proxy | None = None,
    credentials: dict | None = None,
    options: dict | None = None,
    actor=None,
    assign_proxy: bool = True,
    keep_proxies_free: frozenset[int] = frozenset(),
    **fields,
) -> SocialAccount:
    """Create an account (validated, with its first AccountEvent).

    An account of a platform that uses proxies and is given none gets a free healthy proxy of
    its workspace (:func:`proxy_claim_free`; ``keep_proxies_free``: proxies not to take, e.g.
    those an import assigns to later rows), unless ``assign_proxy`` is False. The account is
    created either way; ``account.proxy_note`` says what happened, for the admin, API or
    import to show: "" when nothing was to be done, else an assignment or a warning
    (``account.proxy_missing`` is True for the warning).
    """
    proxy_note, proxy_missing = "", False
    if proxy is None and assign_proxy and platform in PROXIED_PLATFORMS:
        proxy = proxy_claim_free(workspace=workspace, language=language, exclude=keep_proxies_free)
        if proxy is not None:
            proxy_note = _("Proxy %(proxy)s was assigned automatically.") % {
                "proxy": f"{proxy.display_url} ({proxy.country})" if proxy.country else proxy.display_url
            }
        else:
            proxy_missing = True
            proxy_note = _(
                "No healthy proxy with a free slot is left in this workspace: the account was created without a proxy "
                "and connects directly. Add proxies or raise a proxy's max_accounts, then assign one."
            )
    device_id, user_agent = fields.pop("device_id", ""), fields.pop("user_agent", "")
    if not uses_device_fingerprint(platform, credentials, options):
        device_id, user_agent = "", ""
    elif not (device_id and user_agent):
        device_id, user_agent = generate_device()
    account = SocialAccount(
        workspace=workspace,
        platform=platform,
        handle=handle.strip(),
        language=language,
        group=group,
        proxy=proxy,
        credentials=credentials or {},
        options=options or {},
        device_id=device_id,
        user_agent=user_agent,
        warmup_started_at=fields.pop("warmup_started_at", None) or timezone.now(),
        **fields,
    )
    account_validate(account)
    account.save()
    AccountEvent.objects.create(account=account, workspace=workspace, to_status=account.status, reason="created", actor=actor)
    log_activity(
        action="account.create",
        account=account,
        actor=actor,
        status=LogStatus.SUCCESS,
        message=proxy_note,
        details={"platform": platform, "handle": account.handle, "proxy": proxy.display_url if proxy else None},
    )
    account.proxy_note, account.proxy_missing = proxy_note, proxy_missing
    return account


def account_validate(account: SocialAccount) -> None:
    """full_clean plus the cross-row rules: group and proxy belong to the same workspace, proxy capacity."""
    account.full_clean(exclude=["credentials", "session"])
    errors = {}
    if account.group_id and account.group.workspace_id != account.workspace_id:
        errors["group"] = "This group belongs to another workspace."
    if account.proxy_id:
        if account.proxy.workspace_id != account.workspace_id:
            errors["proxy"] = "This proxy belongs to another workspace."
        else:
            used = account.proxy.accounts.exclude(pk=account.pk).count()
            if used >= account.proxy.max_accounts:
                errors["proxy"] = (
                    f"Proxy {account.proxy.display_url} already serves {used} account(s) (max_accounts="
                    f"{account.proxy.max_accounts}). Pick a free proxy or raise its max_accounts."
                )
    if errors:
        raise ValidationError(errors)


def account_set_status(
    *,
    account: SocialAccount,
    status: str,
    reason: str = "",
    until: datetime | None = None,
    actor=None,
    from_statuses: tuple[str, ...] | None = None,
) -> bool:
    """Move an account to ``status`` and record an AccountEvent; False if nothing changed.

    ``from_statuses`` restricts the transition (e.g. lift a cooldown only if the
    account is still in cooldown). The update is conditional on the status just
    read, so when another worker changed the account in between, the change is
    re-evaluated against the new status — an account banned meanwhile is never
    silently "un-banned" by a stale caller.
    """
    for _attempt in range(3):
        previous = account.status
        if from_statuses is not None and previous not in from_statuses:
            return False
        if previous == status and account.cooldown_until == until and account.status_reason == reason:
            return False
        now = timezone.now()
        updated = SocialAccount.objects.filter(pk=account.pk, status=previous).update(
            status=status, status_reason=reason, cooldown_until=until, updated_at=now
        )
        if updated:
            break
        account.refresh_from_db(fields=["status", "status_reason", "cooldown_until"])
    else:
        return False
    account.status, account.status_reason, account.cooldown_until = status, reason, until
    AccountEvent.objects.create(
        account=account,
        workspace_id=account.workspace_id,
        from_status=previous,
        to_status=status,
        reason=reason,
        until=until,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
    )
    if previous != status:
        # publishing notifies the admins of banned / login_required / proxy_error; its receiver never raises.
        account_status_changed.send(sender=SocialAccount, account=account, status=status, reason=reason)
        emit(
            WebhookEvent.ACCOUNT_STATUS_CHANGED,
            workspace_id=account.workspace_id,
            payload={
                "account": str(account.pk),
                "platform": account.platform,
                "handle": account.handle,
                "from": previous,
                "to": status,
                "reason": reason,
                "until": until.isoformat() if until else None,
            },
        )
    failed = status in NEEDS_ACTION_STATUSES
    log_activity(
        action="account.status",
        account=account,
        actor=actor,
        status=LogStatus.FAILED if failed else LogStatus.INFO,
        message=f"{previous} → {status}" + (f": {reason}" if reason else ""),
        details={"from": previous, "to": status, "until": until.isoformat() if until else None},
    )
    return True


@transaction.atomic
def accounts_set_enabled(*, accounts, enabled: bool, actor=None) -> int:
    """Bulk enable (→ active) or disable (→ disabled) accounts; returns how many changed."""
    target = AccountStatus.ACTIVE if enabled else AccountStatus.DISABLED
    reason = "enabled by operator" if enabled else "disabled by operator"
    changed = 0
    for account in accounts.select_for_update().exclude(status=target):
        changed += account_set_status(account=account, status=target, reason=reason, actor=actor)
    return changed


@transaction.atomic
def accounts_assign_group(*, accounts, group: AccountGroup | None, actor=None) -> int:
    if group is not None and accounts.exclude(workspace_id=group.workspace_id).exists():
        raise ValidationError({"group": "The group and every selected account must be in the same workspace."})
    count = accounts.update(group=group, updated_at=timezone.now())
    log_activity(
        action="accounts.assign_group",
        actor=actor,
        workspace=group.workspace if group else None,
        status=LogStatus.SUCCESS,
        details={"group": group.name if group else None, "accounts": count},
    )
    return count


@transaction.atomic
def accounts_assign_proxy(*, accounts, proxy: Proxy | None, actor=None) -> int:
    """Assign one proxy to the selected accounts, never beyond its max_accounts."""
    if proxy is not None:
        proxy = Proxy.objects.select_for_update().get(pk=proxy.pk)
        if accounts.exclude(workspace_id=proxy.workspace_id).exists():
            raise ValidationError({"proxy": "The proxy and every selected account must be in the same workspace."})
        incoming = accounts.exclude(proxy=proxy).count()
        used = proxy.accounts.count()
        if used + incoming > proxy.max_accounts:
            raise ValidationError(
                {
                    "proxy": (
                        f"Proxy {proxy.display_url} allows {proxy.max_accounts} account(s) and serves {used}; "
                        f"assigning {incoming} more would exceed it. Raise max_accounts or pick fewer accounts."
                    )
                }
            )
    count = accounts.update(proxy=proxy, updated_at=timezone.now())
    log_activity(
        action="accounts.assign_proxy",
        actor=actor,
        workspace=proxy.workspace if proxy else None,
        status=LogStatus.SUCCESS,
        details={"proxy": proxy.display_url if proxy else None, "accounts": count},
    )
    return count


def proxy_fields_from_url(url: str) -> dict:
    """Validated clear-text fields for a proxy URL (raises ValidationError on {'url': …})."""
    try:
        return parse_proxy_url(url)
    except ValidationError as exc:
        raise ValidationError({"url": exc.messages}) from exc


@transaction.atomic
def proxy_create(*, workspace: Workspace, url: str, country: str = "", max_accounts: int = 1, actor=None) -> Proxy:
    proxy = Proxy(workspace=workspace, country=country.upper(), max_accounts=max_accounts, **proxy_fields_from_url(url))
    proxy.full_clean()
    proxy.save()
    log_activity(
        action="proxy.create",
        workspace=workspace,
        actor=actor,
        status=LogStatus.SUCCESS,
        details={"proxy": proxy.display_url},
    )
    return proxy


def proxy_update_url(*, proxy: Proxy, url: str) -> None:
    for key, value in proxy_fields_from_url(url).items():
        setattr(proxy, key, value)


def account_update_credentials(*, account: SocialAccount, updates: dict, remove: tuple[str, ...] = ()) -> None:
    """Merge refreshed secrets (e.g. a new OAuth access token) into the encrypted credentials.

    Reads the current value under a row lock so two workers refreshing at once
    do not drop each other's keys.
    """
    with transaction.atomic():
        current = SocialAccount.objects.select_for_update().only("credentials").get(pk=account.pk).credentials or {}
        merged = {k: v for k, v in {**current, **updates}.items() if k not in remove}
        SocialAccount.objects.filter(pk=account.pk).update(credentials=merged, updated_at=timezone.now())
    account.credentials = merged


def account_save_session(*, account: SocialAccount, session: dict, logged_in: bool = False) -> None:
    """Persist a platform session (instagrapi settings, cookies), encrypted; optionally stamp last_login_at."""
    now = timezone.now()
    fields = {"session": session, "updated_at": now}
    if logged_in:
        fields["last_login_at"] = now
    SocialAccount.objects.filter(pk=account.pk).update(**fields)
    account.session = session
    if logged_in:
        account.last_login_at = now
