"""What every update passes before a handler: the rate limiter, then the member check.

Both are outer middlewares on the update, so a refused or flooded update costs no handler, no
storage read and no database write beyond the member lookup."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update, User
from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from dashboard.selectors import access_for

from .models import BotLanguage
from .services import link_for

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]
WINDOW_SECONDS = 60.0


def language_of(user: User | None) -> str:
    """The language for someone not linked yet: their Telegram client's, when the bot speaks it."""
    code = (user.language_code or "")[:2] if user else ""
    return code if code in BotLanguage.values else BotLanguage.RU


async def reply(update: Update, text: str) -> None:
    """Answer whatever the update was: a message gets a message, a button press a toast and a message."""
    if update.message is not None:
        await update.message.answer(text)
    elif update.callback_query is not None:
        await update.callback_query.answer(text[:200], show_alert=True)


class RateLimit(BaseMiddleware):
    """At most ``per_minute`` actions per Telegram user in any 60 s; the first action over the limit
    gets one warning, the rest of the flood is dropped silently. The messages of one album count as
    one action. In memory: one bot process serves every update (polling or webhook)."""

    def __init__(self, per_minute: int | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute if per_minute is not None else settings.BOT_RATE_LIMIT_PER_MINUTE
        self.clock = clock
        self.actions: dict[int, deque[float]] = {}
        self.warned_until: dict[int, float] = {}
        self.albums: dict[int, str] = {}

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None or self.per_minute <= 0:
            return await handler(event, data)
        now = self.clock()
        message = event.message if isinstance(event, Update) else None
        group = message.media_group_id if message is not None else None
        if group is not None and self.albums.get(user.id) == group:
            return await handler(event, data)  # the rest of an album already counted
        seen = self.actions.setdefault(user.id, deque())
        while seen and seen[0] <= now - WINDOW_SECONDS:
            seen.popleft()
        if len(seen) >= self.per_minute:
            if self.warned_until.get(user.id, 0) <= now:
                self.warned_until[user.id] = seen[0] + WINDOW_SECONDS
                wait = max(1, int(seen[0] + WINDOW_SECONDS - now + 0.999))
                with translation.override(language_of(user)):
                    text = _("Too many actions: at most %(limit)d a minute. Try again in %(seconds)d s.") % {
                        "limit": self.per_minute,
                        "seconds": wait,
                    }
                await reply(event, text)
            return None
        seen.append(now)
        if group is not None:
            self.albums[user.id] = group
        return await handler(event, data)


class Member(BaseMiddleware):
    """Puts ``link`` (the member's TelegramLink, with ``user``) and ``access`` in the handler's data and
    speaks the member's language. An unlinked sender only reaches ``/start <code>``; anything else
    gets a polite refusal."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None:
            return None
        link = await sync_to_async(link_for)(user.id)
        if link is None:
            message = event.message if isinstance(event, Update) else None
            if message is not None and (message.text or "").startswith("/start "):
                data["link"], data["access"] = None, None
                with translation.override(language_of(user)):
                    return await handler(event, data)
            with translation.override(language_of(user)):
                await reply(
                    event,
                    _(
                        "Sorry, this bot serves Crosspost members only. Ask your workspace admin for access, then "
                        "open “Telegram” on the dashboard and follow its link to connect this account."
                    ),
                )
            return None
        data["link"] = link
        data["access"] = await sync_to_async(access_for)(link.user)
        with translation.override(link.language):
            return await handler(event, data)
