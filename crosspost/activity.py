"""Writing the audit trail. Details are scrubbed: a secret never lands in ActivityLog."""

from typing import Any

from .logging import redact
from .models import ActivityLog, LogStatus

SECRET_KEYS = {
    "password",
    "token",
    "access_token",
    "refresh_token",
    "bot_token",
    "secret",
    "session",
    "credentials",
    "cookie",
    "cookies",
    "authorization",
    "client_secret",
    "api_key",
    "proxy_url",
    "url_with_credentials",
}


def scrub(value: Any) -> Any:
    """Drop secret-looking keys and redact secret-looking substrings, recursively."""
    if isinstance(value, dict):
        return {k: ("<redacted>" if str(k).lower() in SECRET_KEYS else scrub(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return redact(value)
    return value


def log_activity(
    *,
    action: str,
    status: str = LogStatus.INFO,
    workspace=None,
    actor=None,
    account=None,
    post=None,
    execution=None,
    message: str = "",
    details: dict | None = None,
    duration_ms: int | None = None,
) -> ActivityLog:
    if workspace is None:
        workspace = next((o.workspace for o in (account, post, execution) if o is not None), None)
    return ActivityLog.objects.create(
        workspace=workspace,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        account=account,
        post=post,
        execution=execution,
        action=action,
        status=status,
        message=redact(message),
        details=scrub(details or {}),
        duration_ms=duration_ms,
    )
