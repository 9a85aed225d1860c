"""Log redaction: secrets never reach a log line, whatever a library prints."""

import logging
import re

# Telegram bot tokens in URLs, bearer tokens, access_token= query parameters,
# and user:password@ credentials in proxy URLs.
_PATTERNS = [
    (re.compile(r"(/bot)\d+:[A-Za-z0-9_-]+"), r"\1<redacted>"),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1<redacted>"),
    (
        re.compile(r"(?i)((?:access_token|refresh_token|token|password|client_secret|auth_key)=)[^&\s]+"),
        r"\1<redacted>",
    ),
    (re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@"), r"\1<redacted>@"),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class RequestLogFilter(logging.Filter):
    """``django.request`` without the lines the access log already has.

    Gunicorn's access log (and runserver's ``django.server``) writes one line per request, so
    Django's own "Not Found: /x" (4xx) records are lowered to DEBUG, and so is the 503 of /health/:
    an orchestrator (or `make run` waiting for the first heartbeat) polls it until the worker and
    beat are up, and its body says which check failed. Errors (5xx) keep their level and traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        request = getattr(record, "request", None)
        path = getattr(request, "path", "")
        if status is None or not (400 <= status < 500 or (status == 503 and path == "/health/")):
            return True
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
