"""Building and running the bot: ``manage.py runbot`` (long polling, or a webhook with a secret token).

Every update is handled as its own task (aiogram's default), updates of one member one after another
(the storage's event isolation), so one member's flood or slow action never holds up another's."""

from __future__ import annotations

import asyncio
import logging
import socket

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.types import BotCommand
from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from crosspost.tasks import beat

from .middlewares import Member, RateLimit
from .storage import DatabaseStorage

logger = logging.getLogger(__name__)


def build_bot(token: str | None = None, base_url: str | None = None) -> Bot:
    base = (base_url or settings.TELEGRAM_API_BASE_URL).rstrip("/")
    session = AiohttpSession(api=TelegramAPIServer.from_base(base))
    return Bot(
        token=token or settings.TELEGRAM_BOT_TOKEN,
        session=session,
        default=DefaultBotProperties(link_preview_is_disabled=True),
    )


def build_dispatcher(*, rate_limit: RateLimit | None = None) -> Dispatcher:
    from .handlers import routers

    dispatcher = Dispatcher(storage=DatabaseStorage(), events_isolation=SimpleEventIsolation())
    dispatcher.update.outer_middleware(rate_limit or RateLimit())
    dispatcher.update.outer_middleware(Member())
    for router in routers():
        dispatcher.include_router(router)
    return dispatcher


# The commands Telegram offers in its "/" menu, in menu order (the help texts are gettext'd per language).
COMMANDS = (
    "start",
    "menu",
    "new",
    "posts",
    "review",
    "campaign",
    "campaigns",
    "studio",
    "accounts",
    "settings",
    "admin",
    "help",
    "cancel",
)
HEARTBEAT_NAME = "bot"  # crosspost.models.Heartbeat: /health/ and the overview judge the bot alive by it


def command_descriptions() -> dict[str, str]:
    """What each command does, in the active language (Telegram allows 1–256 characters)."""
    return {
        "start": _("Link this Telegram account, or show the menu"),
        "menu": _("The main menu"),
        "new": _("Compose a new post"),
        "posts": _("The latest posts and their progress"),
        "review": _("Drafts waiting for review"),
        "campaign": _("Build a new Yandex Direct ad campaign"),
        "campaigns": _("Your ad campaigns: progress and history"),
        "studio": _("Recordings of the video studio and their progress"),
        "accounts": _("Accounts that need attention"),
        "settings": _("Language, notifications, default groups"),
        "admin": _("Overview, queues and health (admins)"),
        "help": _("What this bot can do"),
        "cancel": _("Stop the current conversation"),
    }


async def set_commands(bot: Bot) -> None:
    """setMyCommands in English (the default for every client language) and in Russian (clients set to
    Russian). A failure is logged, never fatal: the commands still work when typed."""
    for language in ("en", "ru"):
        with translation.override(language):
            descriptions = command_descriptions()
            commands = [BotCommand(command=name, description=descriptions[name]) for name in COMMANDS]
        try:
            await bot.set_my_commands(commands, language_code=None if language == "en" else language)
        except Exception:
            logger.exception("setMyCommands (%s) failed", language)


async def heartbeat_loop(mode: str, interval: float | None = None) -> None:
    """A Heartbeat row named "bot" every BOT_HEARTBEAT_SECONDS, first at once: /health/ (when the bot
    is configured) and the dashboard's overview show a bot that stopped beating as down."""
    interval = interval or settings.BOT_HEARTBEAT_SECONDS
    host = socket.gethostname()
    while True:
        try:
            await sync_to_async(beat)(HEARTBEAT_NAME, host=host, mode=mode)
        except Exception:  # the database away for a moment: the next beat tries again
            logger.exception("The bot's heartbeat could not be written")
        await asyncio.sleep(interval)


async def background(bot: Bot, mode: str = "polling") -> list[asyncio.Task]:
    """What runs beside the updates: the commands menu (once), the heartbeat and the progress
    messages' editors (posts, campaign runs)."""
    from .campaign_progress import campaign_progress_loop
    from .progress import progress_loop

    await set_commands(bot)
    return [
        asyncio.create_task(heartbeat_loop(mode), name="bot-heartbeat"),
        asyncio.create_task(progress_loop(bot), name="bot-progress"),
        asyncio.create_task(campaign_progress_loop(bot), name="bot-campaign-progress"),
    ]


async def run_polling(bot: Bot | None = None, dispatcher: Dispatcher | None = None, **polling) -> None:
    bot = bot or build_bot()
    dispatcher = dispatcher or build_dispatcher()
    tasks = await background(bot)
    try:
        await bot.delete_webhook(drop_pending_updates=False)
        await dispatcher.start_polling(bot, handle_signals=polling.pop("handle_signals", True), **polling)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await bot.session.close()


async def run_webhook(bot: Bot | None = None, dispatcher: Dispatcher | None = None, stop: asyncio.Event | None = None) -> None:
    """Serve Telegram's webhook POSTs on BOT_WEBHOOK_LISTEN; a request without the secret token is 401.
    Runs until cancelled (the process's signal) or until ``stop`` is set."""
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
    from aiohttp import web

    bot = bot or build_bot()
    dispatcher = dispatcher or build_dispatcher()
    path = "/telegram/bot/"
    application = web.Application()
    SimpleRequestHandler(dispatcher=dispatcher, bot=bot, secret_token=settings.BOT_WEBHOOK_SECRET).register(
        application, path=path
    )
    setup_application(application, dispatcher, bot=bot)
    host, _, port = settings.BOT_WEBHOOK_LISTEN.rpartition(":")
    await bot.set_webhook(
        settings.BOT_WEBHOOK_URL,
        secret_token=settings.BOT_WEBHOOK_SECRET or None,
        allowed_updates=dispatcher.resolve_used_update_types(),
    )
    tasks = await background(bot, mode="webhook")
    runner = web.AppRunner(application)
    await runner.setup()
    site = web.TCPSite(runner, host or "127.0.0.1", int(port))
    await site.start()
    logger.info("Bot webhook listening on %s%s", settings.BOT_WEBHOOK_LISTEN, path)
    try:
        await (stop or asyncio.Event()).wait()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await runner.cleanup()
        await bot.session.close()
