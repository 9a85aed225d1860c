"""Celery tasks of the publishing engine. They take ids, are idempotent, and
leave every decision to the dispatcher and publisher modules."""

from celery import shared_task

from . import dispatcher, publisher


@shared_task(ignore_result=True)
def dispatch_due() -> int:
    return dispatcher.dispatch()


@shared_task(ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def publish_execution(execution_id: int, token: str) -> str:
    return publisher.execution_publish(execution_id, token)


@shared_task(ignore_result=True)
def sweep_leases() -> dict:
    swept = publisher.sweep_expired_leases()
    swept.update(publisher.reconcile_unconfirmed())
    return swept
