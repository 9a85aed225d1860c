"""The dashboard's "Telegram" page: a member links their own Telegram account to the bot (a one-time
code, shown once, as a t.me deep link) or unlinks it. Every member acts on themselves only: no view
takes a user id."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from .models import TelegramLink
from .services import bot_username, deep_link, link_code_create, unlink


def _page(request, **extra):
    username = bot_username()
    context = {
        "link": TelegramLink.objects.filter(user=request.user).first(),
        "configured": bool(settings.TELEGRAM_BOT_TOKEN),
        "bot_username": username,
        "code_minutes": settings.BOT_LINK_CODE_MINUTES,
        **extra,
    }
    return render(request, "dashboard/telegram.html", context)


@login_required
@require_GET
def telegram(request):
    return _page(request)


@never_cache  # the code is shown once: no cache may keep the page that carries it
@login_required
@require_POST
def telegram_code(request):
    if not settings.TELEGRAM_BOT_TOKEN:
        messages.error(request, _("The Telegram bot is not configured yet, so a link code would be of no use."))
        return redirect("bot:telegram")
    code, row = link_code_create(user=request.user)
    username = bot_username()
    return _page(request, code=code, expires_at=row.expires_at, link_url=deep_link(code, username) if username else "")


@login_required
@require_POST
def telegram_unlink(request):
    link = TelegramLink.objects.filter(user=request.user).first()
    if link is None:
        messages.info(request, _("No Telegram account is linked."))
    else:
        unlink(link=link, actor=request.user)
        messages.success(request, _("Telegram account unlinked: the bot no longer acts for you."))
    return redirect("bot:telegram")
