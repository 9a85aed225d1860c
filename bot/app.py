"""Building and running the bot: ``manage.py runbot`` (long polling, or a webhook with a secret token).

Every update is handled as its own task (aiogram's default), updates of one member one after another
(the storage's event isolation), so one member's flood or slow action never holds up another's."""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.memory import SimpleEventIsolation
from django.conf import settings

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


async def background(bot: Bot) -> list[asyncio.Task]:
    """What runs beside the updates: the progress messages' editor."""
    from .progress import progress_loop

    return [asyncio.create_task(progress_loop(bot), name="bot-progress")]


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


async def run_webhook(bot: Bot | None = None, dispatcher: Dispatcher | None = None) -> None:
    """Serve Telegram's webhook POSTs on BOT_WEBHOOK_LISTEN; a request without the secret token is 401."""
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
    tasks = await background(bot)
    runner = web.AppRunner(application)
    await runner.setup()
    site = web.TCPSite(runner, host or "127.0.0.1", int(port))
    await site.start()
    logger.info("Bot webhook listening on %s%s", settings.BOT_WEBHOOK_LISTEN, path)
    try:
        await asyncio.Event().wait()
    finally:
        for task in tasks:
            task.cancel()
        await runner.cleanup()
        await bot.session.close()
