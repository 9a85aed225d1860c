"""Checking proxies over the network: the probe half of a proxy check (no database, safe
in threads), through the same proxy URL form as the platform HTTP factory; the recording
half is ``accounts.proxies.proxy_record_check``."""

from __future__ import annotations

import ipaddress
import time

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter

from accounts.models import Proxy
from accounts.proxies import ProbeOutcome, ProxyCheckResult, proxy_record_check, safe_error
from platforms.http import requests_proxy_url

# Phrases of the low-level error that tell an operator what went wrong, most specific first.
_FAILURE_PHRASES = (
    ("Connection refused", "the proxy refused the connection (nothing listens on that port?)"),
    ("timed out", "the proxy did not answer in time"),
    ("Name or service not known", "the proxy's host name does not resolve"),
    ("407", "the proxy refused its credentials"),
    ("SOCKS", "the SOCKS handshake failed"),
    ("certificate", "a TLS certificate was refused"),
)


def describe_failure(exc: requests.RequestException) -> str:
    """A short, operator-readable reason for a failed check (the full text stays out of the UI)."""
    text = str(exc)
    for needle, reason in _FAILURE_PHRASES:
        if needle.lower() in text.lower():
            return f"{type(exc).__name__}: {reason}."
    return f"{type(exc).__name__}: {text}"


def proxy_probe(proxy_url: str, *, check_url: str | None = None, timeout: float | None = None) -> ProbeOutcome:
    """GET the check URL through the proxy and read the exit IP. Network only: no database access."""
    check_url = check_url or settings.PROXY_CHECK_URL
    session = requests.Session()
    session.trust_env = False  # only this proxy, never a machine-wide one
    session.mount("http://", HTTPAdapter(max_retries=0))
    session.mount("https://", HTTPAdapter(max_retries=0))
    routed = requests_proxy_url(proxy_url)
    session.proxies = {"http": routed, "https": routed}
    started = time.monotonic()
    try:
        with session:
            response = session.get(check_url, timeout=timeout or settings.PROXY_CHECK_TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        return ProbeOutcome(ok=False, error=safe_error(describe_failure(exc), proxy_url))
    latency_ms = int((time.monotonic() - started) * 1000)
    if response.status_code == 407:
        return ProbeOutcome(ok=False, latency_ms=latency_ms, error="The proxy refused its credentials (HTTP 407).")
    if response.status_code != 200:
        return ProbeOutcome(ok=False, latency_ms=latency_ms, error=f"The check URL answered HTTP {response.status_code}.")
    exit_ip = _exit_ip(response)
    if exit_ip is None:
        return ProbeOutcome(
            ok=False, latency_ms=latency_ms, error=safe_error(f"The check URL answered no IP: {response.text[:100]!r}", proxy_url)
        )
    return ProbeOutcome(ok=True, exit_ip=exit_ip, latency_ms=latency_ms)


def _exit_ip(response: requests.Response) -> str | None:
    text = response.text.strip()
    try:
        payload = response.json()
    except ValueError:
        candidate = text
    else:
        candidate = str(payload.get("ip", "")) if isinstance(payload, dict) else ""
    try:
        return str(ipaddress.ip_address(candidate.strip()))
    except ValueError:
        return None


def proxy_check(*, proxy: Proxy, actor=None) -> ProxyCheckResult:
    """Check one proxy now and record the outcome (status, exit IP, latency, success rate)."""
    return proxy_record_check(proxy=proxy, outcome=proxy_probe(proxy.url), actor=actor)
