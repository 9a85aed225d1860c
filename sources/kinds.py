"""Per-kind options of a source: what each kind needs in ``Source.options``, checked on save."""

import re

from django.utils.translation import gettext as _

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
    if validator is None:
        return {"kind": _("Unknown source kind: %(kind)s.") % {"kind": kind}}
    return validator(options)
