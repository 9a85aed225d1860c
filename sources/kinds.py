"""Per-kind options of a source: what each kind needs in ``Source.options``, checked on save.

Telegram is checked here; a watched kind (RSS, VK wall, YouTube, Instagram) by its fetcher in
``platforms.feeds``, which knows what it reads."""

import re

from django.utils.translation import gettext as _

from platforms.feeds import get_fetcher, has_fetcher

CHAT_ID = re.compile(r"-?\d{1,20}")


def _telegram(options: dict) -> dict[str, str]:
    errors = {}
    chat_id = str(options.get("chat_id", "")).strip()
    if not CHAT_ID.fullmatch(chat_id):
        errors["options"] = _("Give options.chat_id: the channel's numeric id, like -1001234567890.")
    unknown = set(options) - {"chat_id"}
    if unknown:
        errors["options"] = _("Unknown options for a Telegram source: %(keys)s.") % {"keys": ", ".join(sorted(unknown))}
    return errors


VALIDATORS = {"telegram": _telegram}


def options_errors(kind: str, options) -> dict[str, str]:
    if not isinstance(options, dict):
        return {"options": _("Options must be a JSON object.")}
    validator = VALIDATORS.get(kind)
    if validator is not None:
        return validator(options)
    if has_fetcher(kind):
        return dict(get_fetcher(kind).options_errors(options))
    return {"kind": _("Unknown source kind: %(kind)s.") % {"kind": kind}}


def needs_account(kind: str) -> str | None:
    """The platform of the account ``kind`` is read through (None: read without one)."""
    return get_fetcher(kind).needs_account if kind not in VALIDATORS and has_fetcher(kind) else None


def account_errors(kind: str, account, workspace_id: int | None) -> dict[str, str]:
    """A kind read through an account needs one of its platform, in the source's workspace."""
    platform = needs_account(kind)
    if platform is None:
        return {"account": _("This kind of source is read without an account: leave it empty.")} if account else {}
    if account is None:
        return {"account": _("Choose the %(platform)s account to read this source through.") % {"platform": platform}}
    if account.platform != platform:
        return {"account": _("%(account)s is not a %(platform)s account.") % {"account": account, "platform": platform}}
    if account.workspace_id != workspace_id:
        return {"account": _("%(account)s belongs to another workspace.") % {"account": account}}
    return {}
