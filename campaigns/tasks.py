from celery import shared_task

from . import runner


@shared_task(ignore_result=True, queue="low", acks_late=True)
def campaign_stage(campaign_id: int, job_id: int, stage: str) -> None:
    """One stage of a campaign run; it enqueues the next after its output is committed."""
    runner.run_stage(campaign_id, job_id, stage)
