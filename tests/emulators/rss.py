"""A feed server on loopback: RSS 2.0 and Atom 1.0 documents with ETag and Last-Modified (a
conditional GET of an unchanged feed gets 304, as from a real server), the entries' enclosures
served from the same server, and failures on demand: ``fail_next("500")``, ``"garbled"`` (XML that
is no feed), ``"slow"`` (answers after ``slow_seconds``); ``fail_files(n)`` makes the next n file downloads fail with 500."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

from .base import Emulator, Recorded, Reply


@dataclass
class Entry:
    guid: str
    title: str
    body: str = ""
    link: str = ""
    published: datetime = field(default_factory=lambda: datetime.now(UTC))
    media: list[str] = field(default_factory=list)  # paths of files on this server


class FeedEmulator(Emulator):
    def __init__(self, *, atom: bool = False) -> None:
        super().__init__()
        self.atom = atom
        self.entries: list[Entry] = []  # oldest first; served newest first, as feeds do
        self.files: dict[str, tuple[bytes, str]] = {}
        self.changed_at = datetime(2026, 1, 1, tzinfo=UTC)
        self.slow_seconds = 3.0
        self.max_entries = 20
        self._file_failures = 0

    @property
    def feed_url(self) -> str:
        return f"{self.url}/feed.xml"

    def add_file(self, name: str, data: bytes, content_type: str) -> str:
        self.files[f"/files/{name}"] = (data, content_type)
        return f"/files/{name}"

    def publish(self, title: str, body: str = "", *, media: list[str] | None = None, guid: str = "") -> Entry:
        with self.lock:
            number = len(self.entries) + 1
            self.changed_at = max(self.changed_at + timedelta(seconds=1), datetime.now(UTC).replace(microsecond=0))
            entry = Entry(
                guid=guid or f"tag:feeds.test,2026:{number}",
                title=title,
                body=body,
                link=f"{self.url}/posts/{number}",
                published=self.changed_at,
                media=list(media or []),
            )
            self.entries.append(entry)
        return entry

    def fail_files(self, times: int = 1) -> None:
        with self.lock:
            self._file_failures += times

    def feed_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == "/feed.xml"]

    # --- serving ---------------------------------------------------------------------------------

    def handle(self, request: Recorded) -> Reply:
        if request.path in self.files:
            with self.lock:
                failing, self._file_failures = self._file_failures > 0, max(self._file_failures - 1, 0)
            if failing:
                return Reply(500, "Internal Server Error")
            data, content_type = self.files[request.path]
            return Reply(200, data, {"Content-Type": content_type})
        if request.path != "/feed.xml":
            return Reply(404, "Not Found")
        failure = self.take_failure()
        if failure == "500":
            return Reply(500, "Internal Server Error")
        if failure == "garbled":
            return Reply(200, b"<html><body><p>Maintenance<p></body", {"Content-Type": "text/html"})
        if failure == "slow":
            time.sleep(self.slow_seconds)
        with self.lock:
            document = self._atom() if self.atom else self._rss()
            modified = format_datetime(self.changed_at, usegmt=True)
        etag = '"' + hashlib.sha256(document).hexdigest()[:16] + '"'
        headers = {"ETag": etag, "Last-Modified": modified}
        # RFC 9110 §13.1.2: If-None-Match wins over If-Modified-Since when both are sent.
        if request.headers.get("If-None-Match"):
            if request.headers["If-None-Match"] == etag:
                return Reply(304, b"", headers)
        elif request.headers.get("If-Modified-Since") == modified:
            return Reply(304, b"", headers)
        content_type = "application/atom+xml" if self.atom else "application/rss+xml"
        return Reply(200, document, {**headers, "Content-Type": f"{content_type}; charset=utf-8"})

    def _served(self) -> list[Entry]:
        return list(reversed(self.entries))[: self.max_entries]

    def _rss(self) -> bytes:
        items = []
        for entry in self._served():
            enclosures = "".join(
                f'<enclosure url="{escape(self.url + path)}" length="{len(self.files[path][0])}" type="{self.files[path][1]}"/>'
                for path in entry.media
            )
            items.append(
                f"<item><title>{escape(entry.title)}</title><link>{escape(entry.link)}</link>"
                f'<guid isPermaLink="false">{escape(entry.guid)}</guid>'
                f"<pubDate>{format_datetime(entry.published, usegmt=True)}</pubDate>"
                f"<description>{escape(entry.body)}</description>{enclosures}</item>"
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Test feed</title>'
            f"<link>{self.url}/</link><description>Loopback</description>{''.join(items)}</channel></rss>"
        ).encode()

    def _atom(self) -> bytes:
        entries = []
        for entry in self._served():
            links = "".join(
                f'<link rel="enclosure" href="{escape(self.url + path)}" type="{self.files[path][1]}"/>' for path in entry.media
            )
            entries.append(
                f"<entry><id>{escape(entry.guid)}</id><title>{escape(entry.title)}</title>"
                f'<link rel="alternate" href="{escape(entry.link)}"/>{links}'
                f"<updated>{entry.published.isoformat()}</updated>"
                f'<content type="html">{escape(entry.body)}</content></entry>'
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<id>{self.url}/</id><title>Test feed</title><updated>{self.changed_at.isoformat()}</updated>"
            f"{''.join(entries)}</feed>"
        ).encode()
