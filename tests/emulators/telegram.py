"""A loopback Telegram Bot API: ``/bot<token>/<method>`` with the ok/result and
ok/error_code/description/parameters envelopes, bots, chats and the bots'
membership in them, multipart uploads with ``attach://`` parts, and failures on
demand.

    with TelegramEmulator() as tg:
        tg.add_bot("123:ABC", username="crosspost_bot")
        tg.add_chat(username="news", admins=["123:ABC"])
        tg.fail_next("flood")                 # a named failure (see FAILURES)
        tg.fail_next(tg.error(400, "Bad Request: chat not found", method="sendPhoto"))
        tg.fail_next({"stall": 1.0, "after": True, "method": "sendMessage"})  # post, then answer late

Ingest (what a bot receives): ``channel_post`` puts a channel post in the bot's update queue,
``add_file`` stores a file for ``getFile`` and the download route ``/file/bot<token>/<file_path>``
(which can fail or stall on demand).
``getUpdates`` follows the documented offset rules (an update is confirmed once getUpdates is
called with an offset higher than its update_id; a negative offset counts from the end; ``limit``
1–100; ``timeout`` waits for an update); it answers 409 while a webhook is set. ``getFile``
refuses files over 20 MB as the public Bot API does ("file is too big").

A person talking to a bot (the operators' bot): ``add_user`` makes a user and their private chat
(its id is the user's id, as in Telegram); ``user_message`` / ``user_album`` put what they send in
the bot's queue; ``press`` is a tap on an inline button of a bot message (a ``callback_query``,
which the bot must answer with ``answerCallbackQuery`` — ``callback_answers`` records them).
``editMessageText`` / ``editMessageReplyMarkup`` change a message in place (``edits`` records each,
with its time) and refuse what the Bot API refuses: an unknown message, or one not modified.
``edit_flood_seconds`` makes an edit of the same message sooner than that a 429 with
``retry_after``, as Telegram does to a bot that edits too often.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import threading
import time
from typing import Any

from .base import Emulator, Recorded, Reply

MB = 1024 * 1024
TOKEN_PATH = re.compile(r"/bot(?P<token>[^/]+)/(?P<method>\w+)")
FILE_PATH = re.compile(r"/file/bot(?P<token>[^/]+)/(?P<path>.+)")
DOWNLOAD_LIMIT = 20 * MB
LOCAL_DOWNLOAD_LIMIT = 2000 * MB

# name -> (HTTP status = error_code, description, parameters)
FAILURES: dict[str, tuple[int, str, dict]] = {
    "flood": (429, "Too Many Requests: retry after 3", {"retry_after": 3}),
    "unauthorized": (401, "Unauthorized", {}),
    "kicked": (403, "Forbidden: bot was kicked from the channel chat", {}),
    "blocked": (403, "Forbidden: bot was blocked by the user", {}),
    "not_enough_rights": (400, "Bad Request: not enough rights to send photos to the chat", {}),
    "chat_not_found": (400, "Bad Request: chat not found", {}),
    "image_process_failed": (400, "Bad Request: IMAGE_PROCESS_FAILED", {}),
    "wrong_file": (400, "Bad Request: wrong file identifier/HTTP URL specified", {}),
    "url_content": (400, "Bad Request: failed to get HTTP URL content", {}),
    "caption_too_long": (400, "Bad Request: message caption is too long", {}),
    "too_large": (413, "Request Entity Too Large", {}),
    "server_error": (500, "Internal Server Error", {}),
}


class TelegramEmulator(Emulator):
    def __init__(self, local_dir: str | None = None) -> None:
        super().__init__()
        # A local Bot API server (--local --dir=local_dir): files live on its disk, getFile gives their
        # absolute path and no 20 MB limit applies (its limit is 2000 MB).
        self.local_dir = local_dir
        self.bots: dict[str, dict] = {}  # token -> User
        self.chats: dict[int, dict] = {}  # chat id -> Chat (+ "members": {user id: ChatMember})
        self.messages: list[dict] = []  # every Message sent, in order
        self._message_ids: dict[int, itertools.count] = {}
        self._ids = itertools.count(1001)
        self.updates: dict[str, list[dict]] = {}  # token -> unconfirmed updates, oldest first
        self._update_ids = itertools.count(500000001)
        self._new_update = threading.Condition(self.lock)
        self.files: dict[str, dict] = {}  # file_id -> {"path", "content", "size", "fail_downloads"}
        self.webhooks: dict[str, dict] = {}  # token -> {"url", "secret_token"}
        self.users: dict[int, dict] = {}  # user id -> User
        self.callbacks: dict[str, dict] = {}  # callback query id -> {"answered": bool, ...}
        self.callback_answers: list[dict] = []  # every answerCallbackQuery: {"id", "text", "show_alert"}
        self.edits: list[dict] = []  # every accepted edit: {"chat_id", "message_id", "text", "at"}
        self.edit_flood_seconds: float | None = None
        self.commands: dict[str, list] = {}  # token -> setMyCommands

    # --- setup --------------------------------------------------------------------------------

    def add_bot(self, token: str, *, username: str = "crosspost_bot", first_name: str = "Crosspost") -> dict:
        bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else next(self._ids)
        self.bots[token] = {
            "id": bot_id,
            "is_bot": True,
            "first_name": first_name,
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        return self.bots[token]

    def add_chat(
        self,
        *,
        chat_type: str = "channel",
        username: str | None = None,
        title: str = "Crosspost News",
        chat_id: int | None = None,
        admins: tuple | list = (),
        members: tuple | list = (),
    ) -> dict:
        """A chat; the bots (by token) in ``admins`` are administrators allowed to post, those in ``members`` members."""
        chat_id = chat_id or -(1000000000000 + next(self._ids))
        chat = {"id": chat_id, "type": chat_type, "members": {}}
        if chat_type == "private":
            chat["first_name"] = title
        else:
            chat["title"] = title
        if username:
            chat["username"] = username
        self.chats[chat_id] = chat
        for token in admins:
            self.set_member(chat, token, "administrator", can_post_messages=True)
        for token in members:
            self.set_member(chat, token, "member")
        return chat

    def set_member(self, chat: dict, token: str, status: str, **rights: Any) -> dict:
        """Put the bot ``token`` in ``chat`` with ``status`` (administrator, member, left, kicked, …)."""
        user = self.bots[token]
        member: dict[str, Any] = {"status": status, "user": user}
        if status == "administrator":
            member.update(
                {
                    "can_be_edited": False,
                    "is_anonymous": False,
                    "can_manage_chat": True,
                    "can_delete_messages": False,
                    "can_manage_video_chats": False,
                    "can_restrict_members": False,
                    "can_promote_members": False,
                    "can_change_info": False,
                    "can_invite_users": False,
                    "can_post_stories": False,
                    "can_edit_stories": False,
                    "can_delete_stories": False,
                }
            )
            if chat["type"] == "channel":
                member.update({"can_post_messages": False, "can_edit_messages": False})
        elif status == "kicked":
            member["until_date"] = 0
        member.update(rights)
        chat["members"][user["id"]] = member
        return member

    @staticmethod
    def error(status: int, description: str, *, retry_after: int | None = None, method: str | None = None, **parameters) -> dict:
        """A failure for ``fail_next``: answer ``status`` with this description (only to ``method``, if given)."""
        if retry_after is not None:
            parameters["retry_after"] = retry_after
        return {"status": status, "description": description, "parameters": parameters, "method": method}

    # --- a person talking to the bot ------------------------------------------------------------------

    def add_user(self, user_id: int, *, first_name: str = "Olga", username: str | None = None, language_code: str = "ru") -> dict:
        user = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": language_code}
        if username:
            user["username"] = username
        self.users[user_id] = user
        self.chats[user_id] = {"id": user_id, "type": "private", "first_name": first_name, "members": {}}
        if username:
            self.chats[user_id]["username"] = username
        return user

    def _from_user(self, user: dict, **content: Any) -> dict:
        chat = self.chats[user["id"]]
        ids = self._message_ids.setdefault(chat["id"], itertools.count(1))
        with self.lock:
            message = {
                "message_id": next(ids),
                "date": int(time.time()),
                "chat": self._chat_object(chat),
                "from": user,
                **content,
            }
            self.messages.append(message)
        return message

    def user_message(self, token: str, user: dict, text: str | None = None, **content: Any) -> dict:
        """``user`` sends the bot a message (``text``, or content such as ``photo_content(file_id)``);
        a text starting with ``/`` carries its bot_command entity. Returns the update."""
        if text is not None:
            content["text"] = text
            if text.startswith("/"):
                content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return self.push_update(token, {"message": self._from_user(user, **content)})

    def user_album(self, token: str, user: dict, contents: list[dict], caption: str = "") -> list[dict]:
        """``user`` sends an album: one message per item sharing a media_group_id, the caption on the first."""
        group = str(13848120013500000 + next(self._ids))
        updates = []
        for index, content in enumerate(contents):
            extra = {"caption": caption} if caption and index == 0 else {}
            message = self._from_user(user, media_group_id=group, **content, **extra)
            updates.append(self.push_update(token, {"message": message}))
        return updates

    def press(self, token: str, user: dict, message: dict, data: str) -> dict:
        """``user`` taps the inline button with callback ``data`` under the bot's ``message``."""
        buttons = [b for row in (message.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]
        if not any(b.get("callback_data") == data for b in buttons):
            raise AssertionError(f"no button {data!r} under message {message.get('message_id')}: {buttons}")
        query_id = str(next(self._ids)) + "7700"
        self.callbacks[query_id] = {"answered": False, "data": data}
        query = {
            "id": query_id,
            "from": user,
            "message": json.loads(json.dumps(message)),
            "chat_instance": f"-{user['id']}0042",
            "data": data,
        }
        return self.push_update(token, {"callback_query": query})

    def chat_messages(self, chat_id: int, *, from_bot: bool = True) -> list[dict]:
        """The messages in a chat as they are now (edits applied), oldest first."""
        with self.lock:
            return [
                m for m in self.messages if m["chat"]["id"] == chat_id and (m.get("from", {}).get("is_bot", False) == from_bot)
            ]

    # --- protocol -----------------------------------------------------------------------------

    def _take_failure_for(self, method: str) -> dict | None:
        """The first queued failure for ``method`` (or for any method), removed from the queue."""
        with self.lock:
            for index, failure in enumerate(self._failures):
                if isinstance(failure, str):
                    status, description, parameters = FAILURES[failure]
                    failure = {"status": status, "description": description, "parameters": parameters}
                if failure.get("method") in (None, method):
                    del self._failures[index]
                    return failure
        return None

    @staticmethod
    def _fail(status: int, description: str, parameters: dict | None = None) -> Reply:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        return Reply(status, body)

    # --- ingest setup -------------------------------------------------------------------------------

    def add_file(
        self, content: bytes, *, size: int | None = None, suffix: str = "jpg", fail_downloads: int = 0, stall: float = 0
    ) -> str:
        """Store a file; returns its file_id. ``size`` overrides the reported size (a "big" file without
        the bytes); ``fail_downloads``: that many downloads answer 500 first; ``stall``: the first
        download answers only after that many seconds (a download in progress, to kill a process in)."""
        number = next(self._ids)
        file_id = f"FILE{number}"
        folder = "videos" if suffix in ("mp4", "mov") else "photos"
        path = f"{folder}/file_{number}.{suffix}"
        if self.local_dir:
            local = os.path.join(self.local_dir, folder, f"file_{number}.{suffix}")
            os.makedirs(os.path.dirname(local), exist_ok=True)
            with open(local, "wb") as file:
                file.write(content)
            path = local
        self.files[file_id] = {
            "path": path,
            "content": content,
            "size": len(content) if size is None else size,
            "unique": f"U{number}",
            "fail_downloads": fail_downloads,
            "stall": stall,
        }
        return file_id

    def photo_content(self, file_id: str) -> dict:
        info = self.files[file_id]
        return {
            "photo": [
                {"file_id": file_id + "s", "file_unique_id": info["unique"] + "s", "width": 90, "height": 68, "file_size": 10},
                {"file_id": file_id, "file_unique_id": info["unique"], "width": 640, "height": 480, "file_size": info["size"]},
            ]
        }

    def video_content(self, file_id: str) -> dict:
        info = self.files[file_id]
        video = {"file_id": file_id, "file_unique_id": info["unique"], "width": 64, "height": 64, "duration": 1}
        return {"video": {**video, "mime_type": "video/mp4", "file_size": info["size"]}}

    def channel_post(self, token: str, chat: dict, *, edit_of: dict | None = None, **content: Any) -> dict:
        """A post appears in ``chat`` (or ``edit_of`` is edited) and the bot gets the update; returns the update."""
        if edit_of is not None:
            message = {**edit_of, **content, "edit_date": int(time.time())}
            kind = "edited_channel_post"
        else:
            ids = self._message_ids.setdefault(chat["id"], itertools.count(1))
            message = {
                "message_id": next(ids),
                "date": int(time.time()),
                "chat": self._chat_object(chat),
                "sender_chat": self._chat_object(chat),
                **content,
            }
            kind = "channel_post"
        return self.push_update(token, {kind: message})

    def push_update(self, token: str, body: dict) -> dict:
        with self._new_update:
            update = {"update_id": next(self._update_ids), **body}
            self.updates.setdefault(token, []).append(update)
            self._new_update.notify_all()
        return update

    def handle(self, request: Recorded) -> Reply:
        download = FILE_PATH.fullmatch(request.path)
        if download:
            return self._download(download["token"], download["path"])
        match = TOKEN_PATH.fullmatch(request.path)
        if not match:
            return self._fail(404, "Not Found")
        bot = self.bots.get(match["token"])
        if bot is None:
            return self._fail(401, "Unauthorized")
        method = match["method"]
        failure = self._take_failure_for(method)
        if failure and not failure.get("after"):
            if failure.get("stall"):
                time.sleep(failure["stall"])
            return self._fail(failure["status"], failure["description"], failure.get("parameters"))
        handler = getattr(self, f"_method_{method.lower()}", None)  # method names are case-insensitive
        reply = handler(bot, request) if handler else self._fail(404, "Not Found: method not found")
        if failure:  # "after": the call took effect, the answer comes late (or not at all, for the client)
            time.sleep(failure.get("stall", 0))
            if failure.get("status"):
                return self._fail(failure["status"], failure["description"], failure.get("parameters"))
        return reply

    def _chat(self, request: Recorded) -> dict | Reply:
        raw = request.param("chat_id")
        if not raw:
            return self._fail(400, "Bad Request: chat_id is empty")
        if raw.startswith("@"):
            chat = next((c for c in self.chats.values() if c.get("username", "").lower() == raw[1:].lower()), None)
        else:
            chat = self.chats.get(int(raw)) if re.fullmatch(r"-?\d+", raw) else None
        return chat if chat is not None else self._fail(400, "Bad Request: chat not found")

    @staticmethod
    def _chat_object(chat: dict) -> dict:
        return {k: v for k, v in chat.items() if k in ("id", "type", "title", "username", "first_name")}

    def _may_post(self, bot: dict, chat: dict) -> Reply | None:
        if chat["type"] == "private":
            return None
        member = chat["members"].get(bot["id"], {"status": "left"})
        status = member["status"]
        kind = "channel" if chat["type"] == "channel" else "group"
        if status == "kicked":
            return self._kicked(bot, chat)
        if status == "left":
            return self._fail(403, f"Forbidden: bot is not a member of the {kind} chat")
        if chat["type"] == "channel" and not (
            status == "creator" or (status == "administrator" and member.get("can_post_messages"))
        ):
            return self._fail(400, "Bad Request: need administrator rights in the channel chat")
        return None

    def _message(self, bot: dict, chat: dict, **content: Any) -> dict:
        ids = self._message_ids.setdefault(chat["id"], itertools.count(1))
        message = {"message_id": next(ids), "date": int(time.time()), "chat": self._chat_object(chat), **content}
        if chat["type"] == "channel":
            message["sender_chat"] = self._chat_object(chat)
        else:
            message["from"] = {k: bot[k] for k in ("id", "is_bot", "first_name", "username")}
        self.messages.append(message)
        return message

    def _media(self, kind: str, request: Recorded, value: str | None) -> dict | Reply:
        """The Message content for an uploaded part / URL / file_id ``value``."""
        if value is None:
            return self._fail(400, f"Bad Request: there is no {kind} in the request")
        if value.startswith("attach://"):
            part = request.files.get(value.removeprefix("attach://"))
            if part is None:
                return self._fail(400, "Bad Request: wrong file identifier/HTTP URL specified")
            size = len(part[2])
        else:
            size = None  # a URL or file_id: Telegram fetches it
        if kind == "photo" and size is not None and size > 10 * MB:
            return self._fail(400, "Bad Request: file is too big")
        if size is not None and size > 50 * MB:
            return self._fail(413, "Request Entity Too Large")
        unique = f"AQAD{next(self._ids)}"
        if kind == "photo":
            return {
                "photo": [
                    {"file_id": f"AgAC{unique}s", "file_unique_id": f"{unique}s", "width": 90, "height": 68, "file_size": 1200},
                    {"file_id": f"AgAC{unique}", "file_unique_id": unique, "width": 640, "height": 480, "file_size": size or 0},
                ]
            }
        return {
            "video": {
                "file_id": f"BAAC{unique}",
                "file_unique_id": unique,
                "width": 1080,
                "height": 1920,
                "duration": 3,
                "mime_type": "video/mp4",
                "file_size": size or 0,
            }
        }

    def _send_one(self, kind: str, bot: dict, request: Recorded) -> Reply:
        chat = self._chat(request)
        if isinstance(chat, Reply):
            return chat
        refused = self._may_post(bot, chat)
        if refused:
            return refused
        caption = request.param("caption") or ""
        if len(caption) > 1024:
            return self._fail(400, "Bad Request: message caption is too long")
        value = "attach://" + kind if kind in request.files else request.param(kind)
        content = self._media(kind, request, value)
        if isinstance(content, Reply):
            return content
        if caption:
            content["caption"] = caption
        return Reply(200, {"ok": True, "result": self._message(bot, chat, **content)})

    # --- methods ------------------------------------------------------------------------------

    def _method_getme(self, bot: dict, request: Recorded) -> Reply:
        return Reply(200, {"ok": True, "result": bot})

    def _kicked(self, bot: dict, chat: dict) -> Reply | None:
        """What the Bot API answers a bot about a chat it was banned from: 403, whatever the method."""
        if chat["members"].get(bot["id"], {}).get("status") == "kicked":
            kind = "channel" if chat["type"] == "channel" else "group" if chat["type"] == "group" else "supergroup"
            return self._fail(403, f"Forbidden: bot was kicked from the {kind} chat")
        return None

    def _method_getchat(self, bot: dict, request: Recorded) -> Reply:
        chat = self._chat(request)
        if isinstance(chat, Reply):
            return chat
        kicked = self._kicked(bot, chat)
        if kicked:
            return kicked
        outside = chat["members"].get(bot["id"], {}).get("status") in (None, "left", "kicked")
        if chat["type"] != "private" and outside and not chat.get("username"):
            return self._fail(400, "Bad Request: chat not found")  # a private chat the bot is not in is invisible to it
        full = {
            **self._chat_object(chat),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }
        return Reply(200, {"ok": True, "result": full})

    def _method_getchatmember(self, bot: dict, request: Recorded) -> Reply:
        chat = self._chat(request)
        if isinstance(chat, Reply):
            return chat
        kicked = self._kicked(bot, chat)
        if kicked:
            return kicked
        user_id = int(request.param("user_id") or 0)
        user = next((b for b in self.bots.values() if b["id"] == user_id), None)
        if user is None:
            return self._fail(400, "Bad Request: user not found")
        return Reply(200, {"ok": True, "result": chat["members"].get(user_id, {"status": "left", "user": user})})

    def _method_sendmessage(self, bot: dict, request: Recorded) -> Reply:
        chat = self._chat(request)
        if isinstance(chat, Reply):
            return chat
        refused = self._may_post(bot, chat)
        if refused:
            return refused
        text = request.param("text") or ""
        if not text.strip():
            return self._fail(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return self._fail(400, "Bad Request: message is too long")
        content: dict[str, Any] = {"text": text}
        markup = self._markup(request)
        if isinstance(markup, Reply):
            return markup
        if markup:
            content["reply_markup"] = markup
        return Reply(200, {"ok": True, "result": self._message(bot, chat, **content)})

    def _markup(self, request: Recorded) -> dict | Reply | None:
        raw = request.param("reply_markup")
        if not raw:
            return None
        try:
            markup = json.loads(raw)
        except ValueError:
            return self._fail(400, "Bad Request: can't parse reply keyboard markup JSON object")
        for row in markup.get("inline_keyboard", []):
            for button in row:
                if len((button.get("callback_data") or "").encode()) > 64:
                    return self._fail(400, "Bad Request: BUTTON_DATA_INVALID")
        return markup if markup.get("inline_keyboard") else None

    def _bot_message(self, bot: dict, request: Recorded) -> dict | Reply:
        chat = self._chat(request)
        if isinstance(chat, Reply):
            return chat
        try:
            message_id = int(request.param("message_id") or 0)
        except ValueError:
            return self._fail(400, "Bad Request: message to edit not found")
        message = next(
            (
                m
                for m in self.messages
                if m["chat"]["id"] == chat["id"] and m["message_id"] == message_id and m.get("from", {}).get("id") == bot["id"]
            ),
            None,
        )
        return message if message is not None else self._fail(400, "Bad Request: message to edit not found")

    def _edit(self, bot: dict, request: Recorded, **changes: Any) -> Reply:
        message = self._bot_message(bot, request)
        if isinstance(message, Reply):
            return message
        markup = self._markup(request)
        if isinstance(markup, Reply):
            return markup
        with self.lock:
            now = time.monotonic()
            if self.edit_flood_seconds:
                last = next(
                    (
                        e["at"]
                        for e in reversed(self.edits)
                        if e["message_id"] == message["message_id"] and e["chat_id"] == message["chat"]["id"]
                    ),
                    None,
                )
                if last is not None and now - last < self.edit_flood_seconds:
                    wait = max(1, int(self.edit_flood_seconds - (now - last) + 0.999))
                    return self._fail(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
            after = {**message, **changes}
            if markup is not None:
                after["reply_markup"] = markup
            else:
                after.pop("reply_markup", None)
            same = all(after.get(k) == message.get(k) for k in ("text", "reply_markup"))
            if same:
                return self._fail(
                    400,
                    "Bad Request: message is not modified: specified new message content and reply markup are exactly "
                    "the same as a current content and reply markup of the message",
                )
            message.clear()
            message.update(after, edit_date=int(time.time()))
            self.edits.append(
                {"chat_id": message["chat"]["id"], "message_id": message["message_id"], "text": message.get("text"), "at": now}
            )
        return Reply(200, {"ok": True, "result": message})

    def _method_editmessagetext(self, bot: dict, request: Recorded) -> Reply:
        text = request.param("text") or ""
        if not text.strip():
            return self._fail(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return self._fail(400, "Bad Request: MESSAGE_TOO_LONG")
        return self._edit(bot, request, text=text)

    def _method_editmessagereplymarkup(self, bot: dict, request: Recorded) -> Reply:
        return self._edit(bot, request)

    def _method_deletemessage(self, bot: dict, request: Recorded) -> Reply:
        message = self._bot_message(bot, request)
        if isinstance(message, Reply):
            return self._fail(400, "Bad Request: message to delete not found")
        with self.lock:
            self.messages.remove(message)
        return Reply(200, {"ok": True, "result": True})

    def _method_answercallbackquery(self, bot: dict, request: Recorded) -> Reply:
        query_id = request.param("callback_query_id") or ""
        query = self.callbacks.get(query_id)
        if query is None or query["answered"]:
            return self._fail(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        query["answered"] = True
        text = request.param("text") or ""
        if len(text) > 200:
            return self._fail(400, "Bad Request: MESSAGE_TOO_LONG")
        self.callback_answers.append({"id": query_id, "text": text, "show_alert": request.param("show_alert") == "true"})
        return Reply(200, {"ok": True, "result": True})

    def _method_setmycommands(self, bot: dict, request: Recorded) -> Reply:
        try:
            self.commands[self._token_of(bot)] = json.loads(request.param("commands") or "[]")
        except ValueError:
            return self._fail(400, "Bad Request: can't parse commands JSON object")
        return Reply(200, {"ok": True, "result": True})

    def _method_sendchataction(self, bot: dict, request: Recorded) -> Reply:
        chat = self._chat(request)
        return chat if isinstance(chat, Reply) else Reply(200, {"ok": True, "result": True})

    def _method_sendphoto(self, bot: dict, request: Recorded) -> Reply:
        return self._send_one("photo", bot, request)

    def _method_sendvideo(self, bot: dict, request: Recorded) -> Reply:
        return self._send_one("video", bot, request)

    def _method_sendmediagroup(self, bot: dict, request: Recorded) -> Reply:
        chat = self._chat(request)
        if isinstance(chat, Reply):
            return chat
        refused = self._may_post(bot, chat)
        if refused:
            return refused
        try:
            media = json.loads(request.param("media") or "")
        except ValueError:
            return self._fail(400, "Bad Request: can't parse media JSON object")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            return self._fail(400, "Bad Request: media must include 2-10 items")
        contents = []
        for item in media:
            if item.get("type") not in ("photo", "video"):
                return self._fail(400, "Bad Request: can't parse InputMedia: unsupported type")
            if len(item.get("caption") or "") > 1024:
                return self._fail(400, "Bad Request: message caption is too long")
            content = self._media(item["type"], request, item.get("media"))
            if isinstance(content, Reply):
                return content
            if item.get("caption"):
                content["caption"] = item["caption"]
            contents.append(content)
        group = str(13848120013500000 + next(self._ids))
        messages = [self._message(bot, chat, media_group_id=group, **content) for content in contents]
        return Reply(200, {"ok": True, "result": messages})

    # --- ingest methods ---------------------------------------------------------------------------

    def _token_of(self, bot: dict) -> str:
        return next(token for token, user in self.bots.items() if user is bot)

    def _method_getupdates(self, bot: dict, request: Recorded) -> Reply:
        token = self._token_of(bot)
        if self.webhooks.get(token, {}).get("url"):
            return self._fail(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
            )
        try:
            offset = int(request.param("offset") or 0)
            limit = int(request.param("limit") or 100)
            timeout = float(request.param("timeout") or 0)
        except ValueError:
            return self._fail(400, "Bad Request: wrong parameter value")
        limit = min(max(limit, 1), 100)
        deadline = time.monotonic() + min(timeout, 5)
        with self._new_update:
            queue = self.updates.setdefault(token, [])
            if offset > 0:  # confirms every update below it: they are gone for good
                queue[:] = [u for u in queue if u["update_id"] >= offset]
            elif offset < 0:
                queue[:] = queue[offset:]
            while not queue and time.monotonic() < deadline:
                self._new_update.wait(deadline - time.monotonic())
            result = [json.loads(json.dumps(u)) for u in queue[:limit]]
        return Reply(200, {"ok": True, "result": result})

    def _method_getfile(self, bot: dict, request: Recorded) -> Reply:
        info = self.files.get(request.param("file_id") or "")
        if info is None:
            return self._fail(400, "Bad Request: invalid file_id")
        if info["size"] > (LOCAL_DOWNLOAD_LIMIT if self.local_dir else DOWNLOAD_LIMIT):
            return self._fail(400, "Bad Request: file is too big")
        file = {
            "file_id": request.param("file_id"),
            "file_unique_id": info["unique"],
            "file_size": info["size"],
            "file_path": info["path"],
        }
        return Reply(200, {"ok": True, "result": file})

    def _download(self, token: str, path: str) -> Reply:
        if token not in self.bots:
            return Reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        info = next((f for f in self.files.values() if f["path"] == path), None)
        if info is None:
            return Reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        with self.lock:
            stall, info["stall"] = info["stall"], 0
        time.sleep(stall)
        with self.lock:
            if info["fail_downloads"]:
                info["fail_downloads"] -= 1
                return Reply(500, {"ok": False, "error_code": 500, "description": "Internal Server Error"})
        return Reply(200, info["content"])

    def _method_setwebhook(self, bot: dict, request: Recorded) -> Reply:
        url = request.param("url") or ""
        secret = request.param("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            return self._fail(400, "Bad Request: secret token contains unallowed characters")
        self.webhooks[self._token_of(bot)] = {"url": url, "secret_token": secret}
        return Reply(200, {"ok": True, "result": True, "description": "Webhook was set" if url else "Webhook was deleted"})

    def _method_deletewebhook(self, bot: dict, request: Recorded) -> Reply:
        self.webhooks.pop(self._token_of(bot), None)
        return Reply(200, {"ok": True, "result": True, "description": "Webhook was deleted"})

    def _method_getwebhookinfo(self, bot: dict, request: Recorded) -> Reply:
        token = self._token_of(bot)
        url = self.webhooks.get(token, {}).get("url", "")
        pending = len(self.updates.get(token, []))
        return Reply(200, {"ok": True, "result": {"url": url, "has_custom_certificate": False, "pending_update_count": pending}})
