"""The one HTTP client factory for platform calls: the account's proxy, timeouts
and user agent are applied here and nowhere else."""

from __future__ import annotations

from typing import TYPE_CHECKING

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter

from .base import ProxyFailed, Transient

if TYPE_CHECKING:
    from accounts.models import SocialAccount

DEFAULT_USER_AGENT = "Crosspost/1.0 (+https://github.com/crosspost)"


def proxy_url_for(account: SocialAccount) -> str | None:
    if not account.proxy_id:
        return None
    url = account.proxy.url
    # socks5h: resolve host names through the proxy too, so DNS does not leak the real location.
    return "socks5h://" + url.split("://", 1)[1] if url.startswith("socks5://") else url


def http_session(account: SocialAccount | None = None, *, user_agent: str | None = None) -> requests.Session:
    """A requests session for one account: its proxy for every scheme, its user agent."""
    session = requests.Session()
    session.trust_env = False  # never pick up a machine-wide proxy by accident
    session.mount("http://", HTTPAdapter(max_retries=0))
    session.mount("https://", HTTPAdapter(max_retries=0))
    proxy = proxy_url_for(account) if account is not None else None
    if proxy:
        session.proxies = {"http": proxy, "https": proxy}
    session.headers["User-Agent"] = user_agent or (account.user_agent if account and account.user_agent else DEFAULT_USER_AGENT)
    session.request = _with_timeout(session.request)  # type: ignore[method-assign]
    return session


def _with_timeout(request):
    def wrapped(method, url, **kwargs):
        kwargs.setdefault("timeout", settings.HTTP_TIMEOUT_SECONDS)
        try:
            return request(method, url, **kwargs)
        except requests.exceptions.ProxyError as exc:
            raise ProxyFailed(f"The account's proxy failed: {exc.__class__.__name__}") from exc
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            if "SOCKS" in str(exc) or "proxy" in str(exc).lower():
                raise ProxyFailed(f"The account's proxy failed: {exc.__class__.__name__}") from exc
            raise Transient(f"Network error talking to the platform: {exc.__class__.__name__}") from exc

    return wrapped
