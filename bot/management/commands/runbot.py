import asyncio

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Run the operators' Telegram bot: long polling, or the webhook when BOT_WEBHOOK_URL is set."

    def add_arguments(self, parser):
        parser.add_argument("--webhook", action="store_true", help="Serve the webhook (needs BOT_WEBHOOK_URL).")

    def handle(self, *args, webhook: bool = False, **options):
        if not settings.TELEGRAM_BOT_TOKEN:
            raise CommandError("Set TELEGRAM_BOT_TOKEN (make the bot with @BotFather, see README “Telegram bot”).")
        from bot.app import run_polling, run_webhook

        webhook = webhook or bool(settings.BOT_WEBHOOK_URL)
        if webhook and not (settings.BOT_WEBHOOK_URL.startswith("https://") and settings.BOT_WEBHOOK_SECRET):
            raise CommandError("Webhook mode needs BOT_WEBHOOK_URL (https://…) and BOT_WEBHOOK_SECRET.")
        self.stdout.write(f"Telegram bot: {'webhook ' + settings.BOT_WEBHOOK_URL if webhook else 'long polling'}")
        asyncio.run(run_webhook() if webhook else run_polling())
