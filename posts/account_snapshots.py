"""An account as the platform adapters and fetchers see it (``platforms.base.AccountSnapshot``).

Here, on the lowest floor that knows both accounts and platforms, so that publishing (which
publishes through accounts) and sources (whose VK wall, YouTube and Instagram kinds are read
through one) build it the same way, and neither imports the other."""

from __future__ import annotations

from django.db import transaction

from accounts.models import SocialAccount
from accounts.services import account_save_session, account_update_credentials
from platforms.base import AccountSnapshot


def account_snapshot(account: SocialAccount) -> AccountSnapshot:
    """``account`` as the adapters see it; what they renew is stored back on ``account``, encrypted."""

    def update_credentials(renew) -> dict:
        # Under a row lock: when another worker renewed the token meanwhile, ``renew`` keeps it.
        with transaction.atomic():
            current = SocialAccount.objects.select_for_update().only("credentials").get(pk=account.pk).credentials or {}
            updates = renew(dict(current))
            if updates is None:
                account.credentials = current
            else:
                account_update_credentials(account=account, updates=updates)
        return dict(account.credentials or {})

    def save_session(session: dict, logged_in: bool = False) -> None:
        account_save_session(account=account, session=session, logged_in=logged_in)

    return snapshot_of(
        account,
        options=account.options or {},
        credentials=account.credentials or {},
        session=account.session or {},
        proxy=account.proxy if account.proxy_id else None,
        timezone=account.timezone or account.workspace.timezone,
        update_credentials=update_credentials,
        save_session=save_session,
    )


def snapshot_of(account, *, options, credentials, session, proxy, timezone: str, **callbacks) -> AccountSnapshot:
    """The snapshot of ``account`` — a SocialAccount, or a row with its field names (the planner's) —
    with the values that come from elsewhere for each: its options and secrets (decrypted, or sealed
    until read), its proxy, its time zone; ``callbacks``: how it stores what an adapter renews."""
    return AccountSnapshot(
        id=account.pk,
        platform=account.platform,
        handle=account.handle,
        external_id=account.external_id,
        options=options,
        credentials=credentials,
        session=session,
        proxy_url=proxy.url if proxy else "",
        proxy_country=(proxy.country or "") if proxy else "",
        user_agent=account.user_agent,
        device_id=account.device_id,
        language=account.language,
        timezone=timezone,
        **callbacks,
    )
