"""Telegram ingest: what a bot receives from a channel it administers, through the Bot API.

Plain data in and out (no Django models): ``getUpdates`` (long polling), ``getFile`` and the
file download, ``setWebhook`` / ``deleteWebhook`` / ``getWebhookInfo``. Errors are the
``PlatformError`` family, built as the publishing adapter builds them (the token, part of
every URL, never leaves this module).

Facts from the Bot API documentation:

* an update is confirmed as soon as ``getUpdates`` is called with an ``offset`` higher than
  its ``update_id``; ``limit`` is 1–100, ``timeout`` the long-polling wait in seconds;
* ``getUpdates`` does not work while a webhook is set (409 Conflict);
* ``setWebhook``'s ``secret_token`` (1–256 characters ``A-Z a-z 0-9 _ -``) comes back in the
  ``X-Telegram-Bot-Api-Secret-Token`` header of every webhook request;
* bots download files of up to 20 MB through the public Bot API
  (``{base}/file/bot<token>/<file_path>``); a local Bot API server (``telegram-bot-api --local``)
  lifts the limit, and its ``getFile`` answers an absolute path on its own disk instead — read
  here from TELEGRAM_LOCAL_FILES_DIR, the server's ``--dir`` mounted at the same path.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any

import requests
from django.conf import settings

from . import base
from .http import http_session
from .telegram import MB, _Bot

PUBLIC_API = "https://api.telegram.org"
PUBLIC_DOWNLOAD_LIMIT = 20 * MB
UPDATE_TYPES = ("channel_post", "edited_channel_post")


class FileTooBig(base.MediaRejected):
    """The file is over the public Bot API's 20 MB download limit."""


def too_big_message(size: int | None = None) -> str:
    shown = f"The file is {size / MB:.1f} MB, but the" if size else "The"
    return (
        f"{shown} public Telegram Bot API lets bots download files of up to 20 MB only. "
        "Run a local Bot API server (telegram-bot-api --local) and point TELEGRAM_API_BASE_URL at it "
        "to ingest bigger files, or post a smaller file."
    )


@dataclass(frozen=True)
class Update:
    update_id: int
    kind: str  # "channel_post", "edited_channel_post", or another Update field
    message: dict = field(default_factory=dict)


@dataclass(frozen=True)
class FileInfo:
    file_id: str
    file_path: str
    file_size: int | None


@dataclass(frozen=True)
class WebhookInfo:
    url: str
    pending_update_count: int
    last_error_message: str = ""


def parse_update(raw: Any) -> Update | None:
    """An Update from its JSON, or None when it is not one."""
    if not isinstance(raw, dict) or not isinstance(raw.get("update_id"), int):
        return None
    for kind, value in raw.items():
        if kind != "update_id" and isinstance(value, dict):
            return Update(update_id=raw["update_id"], kind=kind, message=value)
    return Update(update_id=raw["update_id"], kind="", message={})


class IngestBot(_Bot):
    """A bot's Bot API client for ingest (its token only: no account, no proxy)."""

    def __init__(self, token: str) -> None:
        self.token = str(token or "")
        if not self.token:
            raise base.AuthRequired("The source has no bot token: add the token from @BotFather.")
        self.session = http_session()
        self.base_url = settings.TELEGRAM_API_BASE_URL.rstrip("/")

    def get_updates(self, *, offset: int | None = None, limit: int = 100, timeout: int = 0) -> list[Update]:
        fields: dict[str, Any] = {"limit": limit, "timeout": timeout, "allowed_updates": '["channel_post","edited_channel_post"]'}
        if offset:
            fields["offset"] = offset
        result = self.call("getUpdates", fields)
        return [update for update in map(parse_update, result or []) if update is not None]

    def get_file(self, file_id: str) -> FileInfo:
        try:
            result = self.call("getFile", {"file_id": file_id})
        except base.MediaRejected as error:
            if "too big" in error.message.lower():
                raise FileTooBig(too_big_message(), raw=error.raw) from None
            raise
        size = result.get("file_size")
        info = FileInfo(file_id=file_id, file_path=str(result.get("file_path") or ""), file_size=size)
        if not info.file_path:
            raise base.MediaRejected("Telegram gave no file_path for the file: it cannot be downloaded.")
        if size and size > PUBLIC_DOWNLOAD_LIMIT and self.base_url == PUBLIC_API:
            raise FileTooBig(too_big_message(size))
        return info

    def download(self, info: FileInfo) -> tempfile.SpooledTemporaryFile:
        """The file's bytes in a temporary file (rewound)."""
        if info.file_path.startswith("/"):
            return self._read_local(info.file_path)
        url = f"{self.base_url}/file/bot{self.token}/{info.file_path.lstrip('/')}"
        try:
            response = self.session.get(url, stream=True)
        except base.PlatformError as error:
            raise error from None
        except requests.RequestException as exc:
            raise base.Transient(f"Downloading a file from Telegram failed: {type(exc).__name__}") from None
        if response.status_code != 200:
            try:
                body = response.json()
            except ValueError:
                body = {}
            raise self.error("file download", response.status_code, body if isinstance(body, dict) else {})
        spool = tempfile.SpooledTemporaryFile(max_size=8 * MB)
        for chunk in response.iter_content(1024 * 1024):
            spool.write(chunk)
        spool.seek(0)
        return spool

    def _read_local(self, path: str) -> tempfile.SpooledTemporaryFile:
        """A local Bot API server's file, by the absolute path its getFile gave: only from inside
        TELEGRAM_LOCAL_FILES_DIR (its --dir, shared with Crosspost)."""
        root = str(getattr(settings, "TELEGRAM_LOCAL_FILES_DIR", "") or "")
        if not root:
            raise base.MediaRejected(
                "The local Bot API server keeps files on its own disk: mount its --dir into Crosspost at the same "
                "path and set TELEGRAM_LOCAL_FILES_DIR to it."
            )
        resolved, allowed = os.path.realpath(path), os.path.realpath(root)
        if os.path.commonpath([resolved, allowed]) != allowed:
            raise base.MediaRejected("The local Bot API server named a file outside TELEGRAM_LOCAL_FILES_DIR: it is not read.")
        spool = tempfile.SpooledTemporaryFile(max_size=8 * MB)
        try:
            with open(resolved, "rb") as file:
                shutil.copyfileobj(file, spool, 1024 * 1024)
        except FileNotFoundError:
            spool.close()
            raise base.MediaRejected(
                "The local Bot API server's file is not in TELEGRAM_LOCAL_FILES_DIR: is its --dir mounted at the same path?"
            ) from None
        except OSError as exc:
            spool.close()
            raise base.Transient(f"Reading the local Bot API server's file failed: {type(exc).__name__}") from None
        spool.seek(0)
        return spool

    def set_webhook(self, url: str, secret_token: str) -> None:
        self.call(
            "setWebhook",
            {"url": url, "secret_token": secret_token, "allowed_updates": '["channel_post","edited_channel_post"]'},
        )

    def delete_webhook(self) -> None:
        self.call("deleteWebhook", {})

    def get_webhook_info(self) -> WebhookInfo:
        result = self.call("getWebhookInfo") or {}
        return WebhookInfo(
            url=str(result.get("url") or ""),
            pending_update_count=int(result.get("pending_update_count") or 0),
            last_error_message=str(result.get("last_error_message") or ""),
        )
