"""Driving the operators' bot in tests: the real dispatcher, polling a loopback Telegram emulator from
a thread of its own, and a person who types and taps.

    with TelegramEmulator() as tg, running_bot(tg) as bot:
        olga = Person(tg, bot.token, tg.add_user(42))
        olga.say("/start " + code)
        reply = olga.wait_reply()            # the next message the bot sends Olga
        olga.tap(reply, "menu:new")          # a button by its callback data…
        olga.tap_label(reply, "New post")    # …or by (part of) its label
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from .stack import wait_for

BOT_TOKEN = "7045678901:AAHoperatorsBot-pocket-panel"


@dataclass
class RunningBot:
    token: str
    thread: threading.Thread
    loop: asyncio.AbstractEventLoop
    dispatcher: object
    errors: list = field(default_factory=list)

    def stop(self) -> None:
        """Stop polling and end the thread (what a restart of the process does to its memory)."""
        if self.thread.is_alive():
            future = asyncio.run_coroutine_threadsafe(self.dispatcher.stop_polling(), self.loop)
            try:
                future.result(timeout=10)
            except Exception as exc:
                self.errors.append(exc)
            self.thread.join(timeout=15)
        assert not self.thread.is_alive(), "the bot did not stop"


def start_bot(telegram, token: str = BOT_TOKEN, *, rate_limit=None, username: str = "crosspost_ops_bot") -> RunningBot:
    """A fresh bot process's worth of objects (dispatcher, middlewares, storage) polling ``telegram``."""
    from bot.app import build_bot, build_dispatcher, run_polling

    if token not in telegram.bots:
        telegram.add_bot(token, username=username)
    ready = threading.Event()
    holder: dict = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        holder["loop"] = loop
        dispatcher = build_dispatcher(rate_limit=rate_limit)
        holder["dispatcher"] = dispatcher
        bot = build_bot(token, telegram.url)
        ready.set()
        try:
            loop.run_until_complete(run_polling(bot, dispatcher, handle_signals=False, polling_timeout=1))
        except Exception as exc:
            holder.setdefault("errors", []).append(exc)
        finally:
            from django.db import connections

            connections.close_all()
            loop.close()

    thread = threading.Thread(target=run, name="bot", daemon=True)
    thread.start()
    assert ready.wait(10), "the bot did not start"
    running = RunningBot(token, thread, holder["loop"], holder["dispatcher"])
    running.errors = holder.setdefault("errors", [])
    return running


@contextmanager
def running_bot(telegram, token: str = BOT_TOKEN, **options) -> Iterator[RunningBot]:
    running = start_bot(telegram, token, **options)
    try:
        yield running
    finally:
        running.stop()


class Person:
    """A Telegram user talking to the bot through the emulator."""

    def __init__(self, telegram, token: str, user: dict) -> None:
        self.telegram, self.token, self.user = telegram, token, user
        self.chat_id = user["id"]
        self.seen = len(self.bot_messages())
        self.answers_seen = 0

    def bot_messages(self) -> list[dict]:
        return self.telegram.chat_messages(self.chat_id, from_bot=True)

    def say(self, text: str | None = None, **content) -> None:
        self.telegram.user_message(self.token, self.user, text, **content)

    def send_album(self, contents: list[dict], caption: str = "") -> None:
        self.telegram.user_album(self.token, self.user, contents, caption)

    def wait_reply(self, timeout: float = 15, contains: str | None = None) -> dict:
        """The next new message from the bot (with ``contains`` in its text, skipping others)."""

        def found() -> dict | None:
            messages = self.bot_messages()
            for index in range(self.seen, len(messages)):
                if contains is None or contains in (messages[index].get("text") or ""):
                    self.seen = index + 1
                    return messages[index]
            return None

        return wait_for(found, timeout, message=f"a bot reply{' with ' + repr(contains) if contains else ''}")

    def wait_edit(self, message: dict, predicate: Callable[[str], bool], timeout: float = 15) -> dict:
        """``message`` (by id) once its current text satisfies ``predicate``."""

        def current() -> dict | None:
            for m in self.bot_messages():
                if m["message_id"] == message["message_id"] and predicate(m.get("text") or ""):
                    return m
            return None

        return wait_for(current, timeout, message=f"an edit of message {message['message_id']}")

    def current(self, message: dict) -> dict:
        return next(m for m in self.bot_messages() if m["message_id"] == message["message_id"])

    def buttons(self, message: dict) -> list[dict]:
        message = self.current(message)
        return [b for row in (message.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]

    def tap(self, message: dict, data: str) -> None:
        self.telegram.press(self.token, self.user, self.current(message), data)

    def tap_label(self, message: dict, label: str) -> None:
        matches = [b for b in self.buttons(message) if label in b["text"]]
        assert matches, f"no button labelled {label!r}: {[b['text'] for b in self.buttons(message)]}"
        self.tap(message, matches[0]["callback_data"])

    def wait_answer(self, timeout: float = 15) -> dict:
        """The next answerCallbackQuery the bot made (to any of this person's taps)."""

        def found():
            answers = self.telegram.callback_answers
            if len(answers) > self.answers_seen:
                self.answers_seen += 1
                return answers[self.answers_seen - 1]
            return None

        return wait_for(found, timeout, message="an answer to a button tap")

    def quiet(self, seconds: float = 1.0) -> list[dict]:
        """Wait ``seconds`` and return what the bot sent meanwhile (for "no reply" checks)."""
        time.sleep(seconds)
        messages = self.bot_messages()
        new, self.seen = messages[self.seen :], len(messages)
        return new
