"""One recording fetched from an http(s) URL an operator pasted.

The server fetches whatever address it is given, so the address is checked first: http or https
only, and a host that resolves to a loopback, private, link-local or otherwise internal address is
refused (the server must not become a way into its own network). Redirects are followed by hand,
each hop checked the same way. ``settings.DEBUG`` or ``STUDIO_URL_ALLOW_PRIVATE`` lift the address
check (development, tests against loopback servers).

The body is streamed to the file and capped at ``STUDIO_URL_MAX_BYTES``: the Content-Length is
checked first, then the bytes are counted (a server may not say, or may lie). A web page instead of
a file (``text/html``) is refused with a message asking for a direct link."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
from django.conf import settings
from django.utils.translation import gettext as _

from crosspost.netsafety import internal_address

from .base import (
    InputClient,
    InputError,
    ProgressCallback,
    RemoteFile,
    StopCallback,
    http_session,
    network_error,
    stream_to_file,
    timeout,
)

MAX_REDIRECTS = 5


def normalise(url: str) -> str:
    """``url`` checked (scheme, host) and normalised: lower-case scheme and host, default port and fragment dropped.

    Raises InputError with a message saying what is wrong."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InputError(_("%(url)s is not a valid address.") % {"url": url}) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InputError(_("Only http:// and https:// addresses can be fetched; give a direct link to the video file."))
    host = (parts.hostname or "").lower()
    if not host:
        raise InputError(_("The address has no host name: give a full link such as https://example.com/video.mp4."))
    if parts.username or parts.password:
        raise InputError(_("Addresses with a user name or password are not accepted: give a public link to the file."))
    default = {"http": 80, "https": 443}[scheme]
    shown_host = f"[{host}]" if ":" in host else host
    netloc = shown_host if port in (None, default) else f"{shown_host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def check_host(url: str) -> None:
    """Refuse a host that resolves to an internal address (unless DEBUG or STUDIO_URL_ALLOW_PRIVATE)."""
    if settings.DEBUG or getattr(settings, "STUDIO_URL_ALLOW_PRIVATE", False):
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        address = internal_address(host, parts.port or (443 if parts.scheme == "https" else 80))
    except (socket.gaierror, UnicodeError):
        raise InputError(_("The host %(host)s could not be found: check the address.") % {"host": host}, retryable=True) from None
    if address is not None:
        raise InputError(
            _("%(host)s is an internal address (%(address)s); only files on the public internet can be fetched.")
            % {"host": host, "address": address}
        )


class UrlClient(InputClient):
    """Downloads ``remote["url"]``; lists nothing (a URL is imported one at a time, studio.sync.import_url)."""

    def __init__(self) -> None:
        self.session = http_session()

    def list(self) -> Iterator[RemoteFile]:
        return iter(())

    def download(self, remote: dict, dest: Path, *, on_progress: ProgressCallback, should_stop: StopCallback) -> int:
        url = normalise(str(remote.get("url") or ""))
        limit = settings.STUDIO_URL_MAX_BYTES
        for _hop in range(MAX_REDIRECTS + 1):
            check_host(url)
            try:
                response = self.session.get(url, stream=True, allow_redirects=False, timeout=timeout())
            except requests.RequestException as exc:
                raise network_error(urlsplit(url).hostname or url, exc) from exc
            if response.is_redirect and response.headers.get("Location"):
                next_url = urljoin(url, response.headers["Location"])
                response.close()
                url = normalise(next_url)
                continue
            break
        else:
            raise InputError(
                _("The address redirected more than %(count)s times: give the file's final link.") % {"count": MAX_REDIRECTS}
            )
        status = response.status_code
        if not 200 <= status < 300:
            response.close()
            raise InputError(
                _("The address answered HTTP %(status)s %(reason)s instead of the file: check the link (is it public?).")
                % {"status": status, "reason": response.reason or ""},
                retryable=status == 429 or status >= 500,
            )
        if response.headers.get("Content-Type", "").split(";")[0].strip().lower() in ("text/html", "application/xhtml+xml"):
            response.close()
            raise InputError(
                _(
                    "The address answered with a web page, not a video file: "
                    "give a direct link to the file (one that downloads it)."
                )
            )
        length = response.headers.get("Content-Length", "")
        total = int(length) if length.isdigit() else None

        def too_big() -> InputError:
            return InputError(
                _("The file is larger than the %(limit)s allowed (STUDIO_URL_MAX_BYTES).") % {"limit": _size(limit)}
            )

        if total is not None and total > limit:
            response.close()
            raise too_big()
        return stream_to_file(
            response, dest, total=total, on_progress=on_progress, should_stop=should_stop, max_bytes=limit, too_big=too_big
        )


def _size(count: int) -> str:
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if count >= scale:
            return f"{count / scale:.3g} {unit}"
    return f"{count} bytes"
