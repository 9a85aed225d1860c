"""The Celery task that delivers admin notifications (registered through CELERY_IMPORTS).

Delivery is asynchronous because notifications are raised inside transactions
— a publish failure, a proxy check — and a slow or unreachable Telegram must
never hold a row lock or a publish worker. Failed deliveries are logged and
dropped: an admin notification is worth neither a retry storm nor a duplicate.
"""

from celery import shared_task

from . import notifications


@shared_task(ignore_result=True, queue="low")
def send_notification(kind: str, object_id, status: str = "", reason: str = "") -> bool:
    return notifications.deliver(kind, object_id, status=status, reason=reason)
