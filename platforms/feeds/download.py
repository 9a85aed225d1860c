"""A watched item's photo or video, downloaded through the source's account proxy (if any) with a
size cap: streamed into a spooled file, never more than ``max_bytes`` read."""

from __future__ import annotations

import posixpath
import tempfile
from urllib.parse import unquote, urlsplit

import requests
from django.utils.translation import gettext as _

from ..base import AccountSnapshot, MediaRejected, RateLimited, Transient
from ..http import http_session, retry_after_seconds

CHUNK = 256 * 1024


def file_name(url: str, index: int) -> str:
    name = posixpath.basename(unquote(urlsplit(url).path)) or ""
    return name[-100:] if "." in name else f"media-{index}"


def download(url: str, *, max_bytes: int, account: AccountSnapshot | None = None) -> tempfile.SpooledTemporaryFile:
    """The file at ``url``; ``MediaRejected`` when it is gone or too big (retrying cannot help),
    ``Transient``/``RateLimited`` when the server fails for now."""
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    limit_mb = max_bytes // 1048576
    try:
        with http_session(account).get(url, stream=True) as response:
            status = response.status_code
            if status == 429:
                raise RateLimited(
                    _("The media server asks to slow down (HTTP 429)."),
                    retry_after=retry_after_seconds(response.headers.get("Retry-After"), 300),
                )
            if status >= 500:
                raise Transient(_("The media server failed (HTTP %(status)s) for %(url)s.") % {"status": status, "url": url})
            if status >= 400:
                raise MediaRejected(_("The media server answered HTTP %(status)s for %(url)s.") % {"status": status, "url": url})
            declared = int(response.headers.get("Content-Length") or 0)
            if declared > max_bytes:
                raise MediaRejected(
                    _("%(url)s is %(size).1f MB; Crosspost stores files of up to %(limit)s MB (MAX_UPLOAD_SIZE_MB).")
                    % {"url": url, "size": declared / 1048576, "limit": limit_mb}
                )
            size = 0
            for chunk in response.iter_content(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise MediaRejected(
                        _("%(url)s is over %(limit)s MB; Crosspost stores files of up to %(limit)s MB (MAX_UPLOAD_SIZE_MB).")
                        % {"url": url, "limit": limit_mb}
                    )
                spool.write(chunk)
    except requests.RequestException as exc:
        spool.close()
        raise Transient(_("Downloading %(url)s broke off: %(error)s") % {"url": url, "error": type(exc).__name__}) from exc
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool
