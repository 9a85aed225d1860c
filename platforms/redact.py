"""Log redaction for what the adapters' client libraries print: secrets never reach a log line.

The same patterns as ``crosspost.logging`` (the project's log filter); the adapters
are a library that imports nothing of the project, so they keep their own copy.
"""

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
