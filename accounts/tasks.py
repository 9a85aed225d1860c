"""Background work on accounts."""

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from .models import AccountStatus, SocialAccount
from .services import account_set_status


@shared_task
def lift_expired_cooldowns() -> int:
    """Move accounts whose cooldown has passed back to active; returns how many were lifted.

    Each account is re-read under a row lock and must still be in an expired
    cooldown: an account an operator banned or disabled meanwhile stays as it
    is, and of two overlapping runs only one lifts (and logs) a given account.
    """
    now = timezone.now()
    due = SocialAccount.objects.filter(status=AccountStatus.COOLDOWN, cooldown_until__lte=now)
    lifted = 0
    for pk in due.values_list("pk", flat=True):
        with transaction.atomic():
            account = due.select_for_update(skip_locked=True).filter(pk=pk).first()
            if account is not None:
                lifted += account_set_status(account=account, status=AccountStatus.ACTIVE, reason="cooldown expired")
    return lifted
