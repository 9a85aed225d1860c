"""Celery tasks of the publishing engine. They take ids, are idempotent, and
leave every decision to the dispatcher and publisher modules."""

from celery import shared_task
from django.conf import settings

from . import dispatcher, publisher


@shared_task(ignore_result=True)
def dispatch_due() -> int:
    return dispatcher.dispatch()


# The hard limit is what PUBLISH_LEASE_SECONDS must outlast (settings refuse anything else).
@shared_task(
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=settings.PUBLISH_TIME_LIMIT_SECONDS,
    soft_time_limit=settings.PUBLISH_SOFT_TIME_LIMIT_SECONDS,
)
def publish_execution(execution_id: int, token: str) -> str:
    return publisher.execution_publish(execution_id, token)


@shared_task(ignore_result=True)
def sweep_leases() -> dict:
    swept = publisher.sweep_expired_leases()
    swept.update(publisher.reconcile_unconfirmed())
    return swept
