"""``manage.py runbot``: the operators' Telegram bot, by long polling, or as a webhook when
BOT_WEBHOOK_URL is set. ``--check`` only says whether (and how) it would run: `make run` asks it
before starting the bot beside web, worker and beat."""

import asyncio
import re
import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

NOT_CONFIGURED = 3  # --check's exit status when no TELEGRAM_BOT_TOKEN is set (not an error: no bot wanted)
SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what Telegram accepts as a webhook's secret_token


class Command(BaseCommand):
    help = "Run the operators' Telegram bot: long polling, or the webhook when BOT_WEBHOOK_URL is set."

    def add_arguments(self, parser):
        parser.add_argument("--webhook", action="store_true", help="Serve the webhook (needs BOT_WEBHOOK_URL).")
        parser.add_argument(
            "--check",
            action="store_true",
            help=f"Only say how the bot would run; exit status {NOT_CONFIGURED} when TELEGRAM_BOT_TOKEN is not set.",
        )

    def handle(self, *args, webhook: bool = False, check: bool = False, **options):
        if not settings.TELEGRAM_BOT_TOKEN:
            if check:
                self.stdout.write("Telegram bot: not started (TELEGRAM_BOT_TOKEN is not set; see README “Telegram bot”)")
                raise SystemExit(NOT_CONFIGURED)
            raise CommandError("Set TELEGRAM_BOT_TOKEN (make the bot with @BotFather, see README “Telegram bot”).")
        webhook = webhook or bool(settings.BOT_WEBHOOK_URL)
        if webhook:
            self.check_webhook()
        mode = f"webhook {settings.BOT_WEBHOOK_URL} (listening on {settings.BOT_WEBHOOK_LISTEN})" if webhook else "long polling"
        self.stdout.write(f"Telegram bot: {mode}")
        if check:
            return
        from bot.app import run_polling

        asyncio.run(serve_webhook() if webhook else run_polling())

    @staticmethod
    def check_webhook() -> None:
        problems = []
        if not settings.BOT_WEBHOOK_URL.startswith("https://"):
            problems.append("BOT_WEBHOOK_URL must be a public https:// URL (Telegram posts only over TLS)")
        if not SECRET.fullmatch(settings.BOT_WEBHOOK_SECRET or ""):
            problems.append("BOT_WEBHOOK_SECRET must be set: 1–256 characters of A–Z, a–z, 0–9, _ and -")
        port = settings.BOT_WEBHOOK_LISTEN.rpartition(":")[2]
        if not port.isdigit():
            problems.append("BOT_WEBHOOK_LISTEN must be host:port, e.g. 127.0.0.1:8081")
        if problems:
            raise CommandError("Webhook mode: " + "; ".join(problems) + ".")


async def serve_webhook() -> None:
    """The webhook until SIGTERM or SIGINT (docker stop, supervise.sh, Ctrl-C), then a clean stop:
    the listener closed, the background tasks ended, the HTTP session closed. (Polling handles
    the signals itself.)"""
    from bot.app import run_webhook

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop.set)
    await run_webhook(stop=stop)
