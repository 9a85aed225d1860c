"""An RSS or Atom feed: any version feedparser reads (RSS 0.9x/1.0/2.0, Atom 0.3/1.0).

The fetch is a conditional GET: the cursor keeps the ETag and Last-Modified the feed last sent, so
an unchanged feed answers 304 and costs nothing. An entry's remote id is its ``id``/``guid``, else
its link; the cursor also keeps the ids of the entries seen, so an entry is new once however the
feed reorders or trims itself. Photos and videos come from enclosures, ``media:content`` and
(when there is nothing else) ``media:thumbnail``.
"""

from __future__ import annotations

import hashlib
import html
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import feedparser
import requests
from django.utils.translation import gettext as _

from ..base import ContentRejected, PermissionDenied, RateLimited, Transient
from ..http import http_session, retry_after_seconds
from . import FetchedItem, Fetcher, FetchRequest, FetchResult, register

MAX_FEED_BYTES = 10 * 1024 * 1024  # a feed is text: anything bigger is not one
MAX_SEEN_IDS = 500  # the ids remembered: more than any feed keeps at once
OPTIONS = {"url"}

_TAG = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"<\s*(br|/p|/div|/li|/h[1-6])\s*/?\s*>", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\r\f\v]+")


def plain_text(markup: str) -> str:
    """The text of an entry's HTML (feedparser has sanitized it): tags gone, entities decoded, breaks kept."""
    text = html.unescape(_TAG.sub("", _BREAK.sub("\n", markup or "")))
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _when(entry: Any) -> datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return datetime(*parsed[:6], tzinfo=UTC) if parsed else None


def _remote_id(entry: Any) -> str:
    found = str(entry.get("id") or entry.get("link") or "").strip()
    if found:
        return found
    # Neither guid nor link: the title and date are all that tell the entry apart.
    basis = f"{entry.get('title', '')}|{entry.get('published', '') or entry.get('updated', '')}"
    return "sha256:" + hashlib.sha256(basis.encode()).hexdigest()


def _is_media(kind: str, url: str) -> bool:
    kind = (kind or "").lower()
    if kind.startswith(("image/", "video/")) or kind in ("image", "video"):
        return True
    return not kind and bool(re.search(r"\.(jpe?g|png|gif|webp|mp4|mov|webm)$", urlsplit(url).path, re.IGNORECASE))


def _media_urls(entry: Any) -> tuple[str, ...]:
    urls: list[str] = []
    for link in entry.get("enclosures") or []:
        if link.get("href") and _is_media(link.get("type", ""), link["href"]):
            urls.append(link["href"])
    for content in entry.get("media_content") or []:
        if content.get("url") and _is_media(content.get("type") or content.get("medium", ""), content["url"]):
            urls.append(content["url"])
    if not urls:
        urls += [thumb["url"] for thumb in entry.get("media_thumbnail") or [] if thumb.get("url")]
    return tuple(dict.fromkeys(urls))  # in order, each once (enclosure and media:content often repeat)


def _text(entry: Any) -> str:
    title = plain_text(entry.get("title", ""))
    body = ""
    for content in entry.get("content") or []:
        if content.get("value"):
            body = plain_text(content["value"])
            break
    body = body or plain_text(entry.get("summary", ""))
    if not body or body == title or body.startswith(title + "\n") or not title:
        return body or title
    return f"{title}\n\n{body}"


class RssFetcher(Fetcher):
    kind = "rss"
    needs_account = None

    def options_errors(self, options: dict) -> dict[str, str]:
        url = str(options.get("url", "")).strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return {"options": _("Give options.url: the feed's address, like https://example.com/feed.xml.")}
        unknown = set(options) - OPTIONS
        if unknown:
            return {"options": _("Unknown options for an RSS/Atom source: %(keys)s.") % {"keys": ", ".join(sorted(unknown))}}
        return {}

    def fetch_new(self, request: FetchRequest) -> FetchResult:
        url = str(request.options["url"]).strip()
        cursor = dict(request.cursor or {})
        headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.1"}
        if cursor.get("etag"):
            headers["If-None-Match"] = cursor["etag"]
        if cursor.get("modified"):
            headers["If-Modified-Since"] = cursor["modified"]
        session = http_session(request.account)
        with session.get(url, headers=headers, stream=True, allow_redirects=True) as response:
            if response.status_code == 304:
                return FetchResult(items=[], cursor=cursor)
            _raise_for(response, url)
            body = _read_capped(response, url)
        parsed = feedparser.parse(
            body,
            response_headers={
                "content-location": response.url,
                "content-type": response.headers.get("Content-Type", "application/xml"),
            },
        )
        if parsed.bozo and not parsed.entries and not parsed.get("version"):
            reason = type(parsed.get("bozo_exception")).__name__ if parsed.get("bozo_exception") else "unknown"
            raise ContentRejected(
                _("%(url)s is not an RSS or Atom feed (%(reason)s): check options.url, or the feed is broken for now.")
                % {"url": url, "reason": reason},
                raw={"status": response.status_code, "body": body[:500].decode("utf-8", "replace")},
            )
        seen = list(cursor.get("seen") or [])
        known = set(seen)
        entries = [(_remote_id(entry), entry) for entry in parsed.entries]
        fresh = [(remote_id, entry) for remote_id, entry in entries if remote_id not in known]
        # Feeds list newest first; the date orders them when it is there, the document's order otherwise.
        fresh.reverse()
        fresh.sort(key=lambda pair: _when(pair[1]) or datetime.min.replace(tzinfo=UTC))
        fresh = fresh[-request.limit :] if request.limit else fresh
        items = [
            FetchedItem(
                remote_id=remote_id,
                text=_text(entry),
                media_urls=_media_urls(entry),
                link=str(entry.get("link") or ""),
                published_at=_when(entry),
                raw={"title": entry.get("title", ""), "id": entry.get("id", "")},
            )
            for remote_id, entry in fresh
        ]
        current = [remote_id for remote_id, _entry in entries]
        seen = (current + [remote_id for remote_id in seen if remote_id not in set(current)])[:MAX_SEEN_IDS]
        latest = max((_when(entry) for _id, entry in entries if _when(entry)), default=None)
        new_cursor = {
            "etag": response.headers.get("ETag", ""),
            "modified": response.headers.get("Last-Modified", ""),
            "seen": seen,
            "latest": latest.isoformat() if latest else cursor.get("latest", ""),
        }
        return FetchResult(items=items, cursor=new_cursor)


def _raise_for(response: requests.Response, url: str) -> None:
    status = response.status_code
    if status < 400:
        return
    raw = {"status": status, "url": url}
    if status == 429:
        raise RateLimited(
            _("The feed's server asks to slow down (HTTP 429)."),
            retry_after=retry_after_seconds(response.headers.get("Retry-After"), 600),
            raw=raw,
        )
    if status >= 500:
        raise Transient(_("The feed's server failed (HTTP %(status)s); it is tried again later.") % {"status": status}, raw=raw)
    if status in (401, 403):
        raise PermissionDenied(
            _("The feed's server refuses to serve %(url)s (HTTP %(status)s).") % {"url": url, "status": status}, raw=raw
        )
    raise ContentRejected(
        _("The feed's server answered HTTP %(status)s for %(url)s: check options.url.") % {"status": status, "url": url}, raw=raw
    )


def _read_capped(response: requests.Response, url: str) -> bytes:
    chunks, size = [], 0
    try:
        for chunk in response.iter_content(64 * 1024):
            size += len(chunk)
            if size > MAX_FEED_BYTES:
                raise ContentRejected(
                    _("The feed at %(url)s is over %(limit)s MB: that is not a feed.")
                    % {"url": url, "limit": MAX_FEED_BYTES // 1048576}
                )
            chunks.append(chunk)
    except requests.RequestException as exc:
        raise Transient(_("The feed's answer broke off: %(error)s") % {"error": type(exc).__name__}) from exc
    return b"".join(chunks)


register(RssFetcher())
