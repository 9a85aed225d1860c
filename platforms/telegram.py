"""Telegram: a bot posts to a channel, group or chat through the Bot API.

Account: ``credentials["bot_token"]`` (from @BotFather) and ``options["chat_id"]``,
a numeric chat id (channels and supergroups are ``-100…``) or ``"@channelusername"``.
Post options (``post.options["telegram"]``): ``disable_notification`` and
``protect_content`` (booleans).

text → sendMessage, photo → sendPhoto, video → sendVideo, carousel →
sendMediaGroup (2–10 items, the caption on the first item only). Files are
uploaded as multipart parts; an item with no local file is sent by its URL and
Telegram fetches it. Reels and stories are not something a bot can publish.

Plain HTTP through :func:`http_session`: ``POST {TELEGRAM_API_BASE_URL}/bot<token>/<method>``.
The token is part of every URL, so no URL leaves this module: errors are rebuilt
from the response envelope, exception chains that carry the URL are cut, and
urllib3's debug request lines are redacted.
"""

from __future__ import annotations

import json
import os
import re
from contextlib import ExitStack
from typing import Any

import requests
from django.conf import settings

from . import base
from .http import http_session, may_have_arrived
from .names import AccountStatus, Platform

MB = 1024 * 1024
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
ALBUM_MIN, ALBUM_MAX = 2, 10
# (uploaded as a file, sent by URL) — Bot API "Sending files".
PHOTO_MAX_BYTES = (10 * MB, 5 * MB)
FILE_MAX_BYTES = (50 * MB, 20 * MB)
PHOTO_MAX_SIDES_SUM = 10000
PHOTO_MAX_RATIO = 20

CHAT_ID = re.compile(r"-?\d+|@[A-Za-z][A-Za-z0-9_]{3,31}")

# 400 descriptions are free text "subject to change": match on stable fragments. Each means the bot
# lost (or never had) the right to post in the chat — what check() verifies with getChatMember.
PERMISSION_MARKERS = (
    "not enough rights",
    "have no rights",
    "need administrator rights",
    "chat_write_forbidden",
    "chat_admin_required",
    "chat_restricted",
)
MEDIA_MARKERS = (
    "wrong file",
    "failed to get http url content",
    "wrong type of the web page content",
    "image_process_failed",
    "photo_invalid",
    "photo_ext_invalid",
    "video_",
    "webpage_curl_failed",
    "webpage_media_empty",
    "too big",
    "caption is too long",
    "media_caption_too_long",
    "there is no photo in the request",
    "there is no video in the request",
    "can't parse inputmedia",
    "file must be non-empty",
)


# Failures that say nothing about the account itself: check() raises them.
NOT_A_VERDICT = (base.RateLimited, base.QuotaExceeded, base.ProxyFailed, base.Transient)


class _Bot:
    """One account's Bot API client."""

    def __init__(self, account: base.AccountSnapshot) -> None:
        self.token = str((account.credentials or {}).get("bot_token") or "")
        if not self.token:
            raise base.AuthRequired("The account has no bot token: add the token from @BotFather as credentials.bot_token.")
        self.session = http_session(account)
        self.base_url = settings.TELEGRAM_API_BASE_URL.rstrip("/")

    def scrub(self, value: Any) -> Any:
        """``value`` with the token replaced wherever it appears (it never should)."""
        return json.loads(json.dumps(value).replace(self.token, "<redacted>"))

    def call(self, method: str, fields: dict | None = None, files: dict | None = None, *, sends: bool = False) -> Any:
        """Call ``method``; return its ``result`` or raise the PlatformError it maps to.

        ``sends``: the call creates a message, so a lost answer is DeliveryUnknown, not Transient.
        """
        url = f"{self.base_url}/bot{self.token}/{method}"
        try:
            response = self.session.post(url, data=fields or {}, files=files or None)
        except base.PlatformError as error:
            # The chained requests exception quotes the URL, token included: cut the chain.
            if sends and may_have_arrived(error.__cause__):
                raise base.DeliveryUnknown(
                    f"Telegram did not answer {method} ({type(error.__cause__).__name__}); the message may have been "
                    "posted. Check the chat, then mark the execution published or retry it."
                ) from None
            raise error from None
        except requests.RequestException as exc:
            if sends and may_have_arrived(exc):
                raise base.DeliveryUnknown(
                    f"Telegram's answer to {method} was cut off ({type(exc).__name__}); the message may have been posted."
                ) from None
            raise base.Transient(f"Telegram {method} failed: {type(exc).__name__}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("ok") is True:
            return body.get("result")
        raise self.error(method, response.status_code, body if isinstance(body, dict) else {})

    def error(self, method: str, status: int, body: dict) -> base.PlatformError:
        """The PlatformError for a failed call (``body``: the envelope, or {} when there was none)."""
        code = int(body.get("error_code") or status)
        description = str(body.get("description") or f"HTTP {status}")
        parameters = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
        raw = self.scrub(
            {"method": method, "http_status": status, "error_code": code, "description": description, "parameters": parameters}
        )
        description = raw["description"]
        text = f"Telegram {method}: {description}"
        if not body and status < 400:
            return base.Transient(f"Telegram {method} answered HTTP {status} without a Bot API envelope.", raw=raw)
        lowered = description.lower()
        if code == 429:
            retry_after = parameters.get("retry_after")
            return base.RateLimited(text, retry_after=float(retry_after) if retry_after else None, raw=raw)
        if code in (401, 404):
            # 401: revoked token; 404: a token Telegram does not recognise at all.
            return base.AuthRequired(
                f"{text}. Telegram rejected the bot token: issue a new one with @BotFather and update the account.", raw=raw
            )
        if code == 403:
            # Kicked, not a member, blocked by the user: the bot is out of the chat until someone adds it back.
            return base.AccessLost(
                f"{text}. Add the bot to the chat (for a channel: as an administrator allowed to post).", raw=raw
            )
        if code == 413:
            return base.MediaRejected(f"{text}. The file is too large for the Bot API.", raw=raw)
        if code >= 500:
            return base.Transient(text, raw=raw)
        if parameters.get("migrate_to_chat_id"):
            return base.ContentRejected(
                f"{text}. The group became a supergroup: set the account's chat_id to {parameters['migrate_to_chat_id']}.",
                raw=raw,
            )
        if any(marker in lowered for marker in PERMISSION_MARKERS):
            return base.AccessLost(f"{text}. Give the bot the rights to post in this chat.", raw=raw)
        if any(marker in lowered for marker in MEDIA_MARKERS):
            return base.MediaRejected(text, raw=raw)
        return base.ContentRejected(text, raw=raw)


def _chat_id(account: base.AccountSnapshot) -> str:
    return str((account.options or {}).get("chat_id") or "").strip()


def _input_file(item: base.MediaItem, name: str, stack: ExitStack, files: dict) -> str | None:
    """Register ``item`` as multipart part ``name`` and return None, or return its URL."""
    if item.path:
        try:
            handle = stack.enter_context(open(item.path, "rb"))
        except OSError as exc:
            raise base.MediaRejected(f"The media file cannot be read: {exc.strerror} ({os.path.basename(item.path)}).") from None
        files[name] = (os.path.basename(item.path), handle, item.mime or "application/octet-stream")
        return None
    if item.url:
        return item.url
    raise base.MediaRejected("A media item has neither a file nor a URL.")


def _video_fields(item: base.MediaItem) -> dict[str, int]:
    fields = {}
    if item.duration:
        fields["duration"] = round(item.duration)
    if item.width and item.height:
        fields["width"], fields["height"] = item.width, item.height
    return fields


def _message_link(chat_id: str, chat: dict, message_id: int) -> str:
    """t.me link of a message: public chats by username; private channels and
    supergroups by their internal id (opens for their members); else none."""
    username = chat.get("username") or (chat_id[1:] if chat_id.startswith("@") else "")
    if username:
        return f"https://t.me/{username}/{message_id}"
    numeric = str(chat.get("id") or chat_id)
    if numeric.startswith("-100"):
        return f"https://t.me/c/{numeric[4:]}/{message_id}"
    return ""


def _item_problems(item: base.MediaItem, label: str) -> list[base.Problem]:
    if not item.path and not item.url:
        return [base.Problem("media_missing", f"{label} has neither a file nor a URL.")]
    by_url = not item.path
    how = "by URL" if by_url else "uploaded"
    if item.kind == "image":
        limit = PHOTO_MAX_BYTES[by_url]
        problems = []
        if item.size > limit:
            problems.append(
                base.Problem(
                    "photo_too_big", f"{label} is {item.size / MB:.1f} MB; Telegram takes photos up to {limit // MB} MB {how}."
                )
            )
        if item.width and item.height:
            if item.width + item.height > PHOTO_MAX_SIDES_SUM:
                problems.append(
                    base.Problem("photo_dimensions", f"{label}: width + height must be at most {PHOTO_MAX_SIDES_SUM} px.")
                )
            if max(item.width, item.height) > PHOTO_MAX_RATIO * min(item.width, item.height):
                problems.append(
                    base.Problem("photo_dimensions", f"{label}: the sides' ratio must be at most {PHOTO_MAX_RATIO}:1.")
                )
        return problems
    if item.kind == "video":
        limit = FILE_MAX_BYTES[by_url]
        if item.size > limit:
            return [
                base.Problem(
                    "file_too_big", f"{label} is {item.size / MB:.1f} MB; Telegram takes videos up to {limit // MB} MB {how}."
                )
            ]
        return []
    return [base.Problem("media_kind", f"{label} is neither an image nor a video.")]


class TelegramAdapter(base.Adapter):
    platform = Platform.TELEGRAM
    media_types = frozenset({"text", "photo", "video", "carousel"})
    can_lookup = False

    def validate(self, request: base.PublishRequest) -> list[base.Problem]:
        if not self.supports(request.media_type):
            return [
                base.Problem(
                    "media_type",
                    f"A Telegram bot cannot publish a {request.media_type}: choose text, photo, video or carousel.",
                )
            ]
        problems = []
        account = request.account
        if not (account.credentials or {}).get("bot_token"):
            problems.append(
                base.Problem("bot_token", "The account has no bot token: add the token from @BotFather as credentials.bot_token.")
            )
        chat_id = _chat_id(account)
        if not chat_id:
            problems.append(
                base.Problem("chat_id", "The account has no target chat: set options.chat_id to @channelusername or a chat id.")
            )
        elif not CHAT_ID.fullmatch(chat_id):
            problems.append(
                base.Problem("chat_id", f"{chat_id!r} is not a chat: use @channelusername or a numeric id like -1001234567890.")
            )
        caption = request.caption or ""
        if request.media_type == "text":
            if not caption.strip():
                problems.append(base.Problem("empty_text", "A text post needs text."))
            elif len(caption) > TEXT_LIMIT:
                problems.append(
                    base.Problem("text_too_long", f"The text has {len(caption)} characters; Telegram allows {TEXT_LIMIT}.")
                )
            return problems
        if len(caption) > CAPTION_LIMIT:
            problems.append(
                base.Problem(
                    "caption_too_long",
                    f"The caption has {len(caption)} characters; Telegram allows {CAPTION_LIMIT} under a photo, video or album.",
                )
            )
        return problems + base.media_shape_problems(
            request, platform="Telegram", album=(ALBUM_MIN, ALBUM_MAX), item_problems=_item_problems
        )

    def publish(self, request: base.PublishRequest) -> base.PublishResult:
        chat_id = _chat_id(request.account)
        if not chat_id:
            raise base.ContentRejected("The account has no target chat: set options.chat_id.")
        if request.media_type != "text" and not request.media:
            raise base.MediaRejected(f"The {request.media_type} post has no media.")
        bot = _Bot(request.account)
        fields: dict[str, Any] = {"chat_id": chat_id}
        for option in ("disable_notification", "protect_content"):
            if (request.options or {}).get(option):
                fields[option] = "true"
        caption = request.caption or ""
        files: dict[str, tuple] = {}
        with ExitStack() as stack:
            if request.media_type == "text":
                method = "sendMessage"
                fields["text"] = caption
            elif request.media_type in ("photo", "video"):
                item = request.media[0]
                method, field = ("sendPhoto", "photo") if request.media_type == "photo" else ("sendVideo", "video")
                url = _input_file(item, field, stack, files)
                if url:
                    fields[field] = url
                if request.media_type == "video":
                    fields.update(_video_fields(item), supports_streaming="true")
                if caption:
                    fields["caption"] = caption
            elif request.media_type == "carousel":
                method = "sendMediaGroup"
                media = []
                for index, item in enumerate(request.media):
                    name = f"file{index}"
                    entry: dict[str, Any] = {
                        "type": "photo" if item.kind == "image" else "video",
                        "media": _input_file(item, name, stack, files) or f"attach://{name}",
                    }
                    if item.kind == "video":
                        entry.update(_video_fields(item), supports_streaming=True)
                    if index == 0 and caption:
                        entry["caption"] = caption  # an album shows the caption of one item: the first
                    media.append(entry)
                fields["media"] = json.dumps(media)
            else:
                raise base.ContentRejected(f"A Telegram bot cannot publish a {request.media_type}.")
            result = bot.call(method, fields, files, sends=True)
        messages = result if isinstance(result, list) else [result]
        first = messages[0]
        ids = [m["message_id"] for m in messages]
        return base.PublishResult(
            remote_id=str(first["message_id"]),
            url=_message_link(chat_id, first.get("chat") or {}, first["message_id"]),
            raw=bot.scrub({"method": method, "message_ids": ids, "result": result}),
        )

    def check(self, account: base.AccountSnapshot) -> base.Health:
        """getMe (the token), getChat (the bot sees the chat) and getChatMember (it may post there).

        A verdict on the account comes back as a Health; rate limits, proxy and
        network failures are raised, for the health service to rest, rotate or retry.
        """
        try:
            bot = _Bot(account)
            me = bot.call("getMe")
        except NOT_A_VERDICT:
            raise
        except base.PlatformError as error:
            return base.Health(ok=False, detail=error.message, account_status=error.account_status, raw=error.raw)
        name = f"@{me.get('username') or me.get('id')}"
        raw: dict[str, Any] = {"bot": {"id": me.get("id"), "username": me.get("username")}}
        chat_id = _chat_id(account)
        if not chat_id:
            return base.Health(ok=False, detail=f"The bot {name} works, but options.chat_id is not set.", raw=raw)
        try:
            chat = bot.call("getChat", {"chat_id": chat_id})
            raw["chat"] = {k: chat.get(k) for k in ("id", "type", "title", "username")}
            member = None
            if chat.get("type") != "private":
                member = bot.call("getChatMember", {"chat_id": chat_id, "user_id": me["id"]})
                raw["member"] = {k: member.get(k) for k in ("status", "can_post_messages", "can_send_messages") if k in member}
        except NOT_A_VERDICT:
            raise
        except base.PlatformError as error:
            return base.Health(
                ok=False,
                detail=f"The bot {name} cannot reach {chat_id}: {error.message}",
                account_status=error.account_status,
                raw={**raw, "error": error.raw},
            )
        ok, detail = _can_post(name, chat, member)
        return base.Health(ok=ok, detail=detail, account_status=None if ok else AccountStatus.NO_ACCESS, raw=raw)

    def lookup(self, execution: base.LookupRequest) -> base.PublishResult | None:
        """Not possible with the Bot API: always raises LookupUnsupported.

        A bot cannot read or search a chat's history — there is no method for
        it. It only sees *updates* (new posts as they happen, through getUpdates
        or a webhook), and only while someone consumes them; the send call's
        answer is the one place a message id comes from. So when a worker dies
        mid-publish, or Telegram's answer is lost, Crosspost cannot tell whether
        the message exists: the execution stays ``unconfirmed`` and an operator
        checks the chat, then marks it published or retries it. It is never
        re-sent automatically.
        """
        raise base.LookupUnsupported(
            "The Telegram Bot API cannot search a chat's history: check the chat, then mark the execution published or retry it."
        )

    def metrics(self, request: base.MetricsRequest) -> base.Metrics:
        """Nothing, and no call: the Bot API gives a bot no views, reactions or forwards of channel
        posts (those come only to MTProto user clients), so every metric is "not available"."""
        why = "Telegram's Bot API gives no statistics of channel posts (views come only to user clients, not bots)."
        return base.Metrics(unavailable=dict.fromkeys(base.METRICS, why))


def _can_post(name: str, chat: dict, member: dict | None) -> tuple[bool, str]:
    kind = chat.get("type")
    where = f"{kind} {chat.get('title') or chat.get('username') or chat.get('id')!s}".strip()
    if chat.get("username"):
        where += f" (@{chat['username']})"
    if kind == "private" or member is None:
        return True, f"The bot {name} can message {where}."
    status = member.get("status")
    if kind == "channel":
        if status == "creator" or (status == "administrator" and member.get("can_post_messages")):
            return True, f"The bot {name} can post to {where}."
        if status == "administrator":
            return False, f"The bot {name} is an administrator of {where} but may not post: enable 'Post messages' for it."
        return False, f"The bot {name} is not an administrator of {where}: add it as one with the right to post messages."
    if status in ("creator", "administrator", "member"):
        return True, f"The bot {name} can post to {where}."
    if status == "restricted" and member.get("is_member") and member.get("can_send_messages"):
        return True, f"The bot {name} can post to {where} (restricted member)."
    if status == "kicked":
        return False, f"The bot {name} was removed from {where}: add it back."
    return False, f"The bot {name} cannot post to {where} (status: {status}): add it to the chat."
