"""The one HTTP client factory for platform calls: the account's proxy, timeouts
and user agent are applied here and nowhere else.

Every call made here says honestly what it is (:data:`DEFAULT_USER_AGENT`). An
account's Instagram app user agent and device id belong to the Instagram private
API alone, which instagrapi speaks with its own client (see ``instagram.private``).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

import requests
import urllib3
from django.conf import settings
from requests.adapters import HTTPAdapter

from .base import AuthRequired, ProxyFailed, Transient

if TYPE_CHECKING:
    from .base import AccountSnapshot

DEFAULT_USER_AGENT = "Crosspost/1.0 (+https://github.com/crosspost)"


def retry_after_seconds(value: object, default: float) -> float:
    """Seconds a ``Retry-After`` header asks for: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).

    Anything else (missing, garbled, a date in the past) gives ``default``; never less than 1 s.
    """
    text = str(value or "").strip()
    if not text:
        return default
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return default
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
        if seconds <= 0:
            return default
    return max(seconds, 1.0) if math.isfinite(seconds) else default


def proxy_url_for(account: AccountSnapshot) -> str | None:
    if not account.proxy_url:
        return None
    return requests_proxy_url(account.proxy_url)


def requests_proxy_url(url: str) -> str:
    """The URL requests needs: socks5h so host names resolve through the proxy (no DNS leak)."""
    return "socks5h://" + url.split("://", 1)[1] if url.startswith("socks5://") else url


def http_session(account: AccountSnapshot | None = None, *, user_agent: str | None = None) -> requests.Session:
    """A requests session for one account: its proxy for every scheme, Crosspost's own user agent
    (or ``user_agent``, for a caller that must say something else)."""
    session = requests.Session()
    session.trust_env = False  # never pick up a machine-wide proxy by accident
    session.mount("http://", HTTPAdapter(max_retries=0))
    session.mount("https://", HTTPAdapter(max_retries=0))
    proxy = proxy_url_for(account) if account is not None else None
    if proxy:
        session.proxies = {"http": proxy, "https": proxy}
    session.headers["User-Agent"] = user_agent or DEFAULT_USER_AGENT
    session.request = _with_timeout(session.request)  # type: ignore[method-assign]
    return session


def may_have_arrived(cause: BaseException | None) -> bool:
    """True when a request failed after it may have reached the platform (read timeout, dropped connection)."""
    if isinstance(cause, requests.exceptions.ConnectTimeout):
        return False
    if isinstance(cause, (requests.exceptions.ReadTimeout, requests.exceptions.ChunkedEncodingError)):
        return True
    if isinstance(cause, requests.exceptions.ConnectionError):
        # Refused/unreachable arrives wrapped in MaxRetryError; a connection dropped
        # mid-request is a bare ProtocolError ("Connection aborted").
        return bool(cause.args) and isinstance(cause.args[0], urllib3.exceptions.ProtocolError)
    return False


def _with_timeout(request):
    def wrapped(method, url, **kwargs):
        kwargs.setdefault("timeout", settings.HTTP_TIMEOUT_SECONDS)
        try:
            response = request(method, url, **kwargs)
        except (UnicodeEncodeError, requests.exceptions.InvalidHeader) as exc:
            # Nothing was sent: a stored token or cookie that no HTTP header can carry (a pasted
            # character outside Latin-1, a line break) is the operator's to replace.
            raise AuthRequired(
                "The stored credentials contain characters an HTTP header cannot carry: enter them again."
            ) from exc
        except requests.exceptions.ProxyError as exc:
            raise ProxyFailed(f"The account's proxy failed: {exc.__class__.__name__}") from exc
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            if "SOCKS" in str(exc) or "proxy" in str(exc).lower():
                raise ProxyFailed(f"The account's proxy failed: {exc.__class__.__name__}") from exc
            raise Transient(f"Network error talking to the platform: {exc.__class__.__name__}") from exc
        if response.status_code == 407:
            # A plain-http target gets the proxy's own 407 back as a response.
            raise ProxyFailed("The account's proxy refused its credentials (407 Proxy Authentication Required).")
        return response

    return wrapped
