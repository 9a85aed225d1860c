"""The pipeline's stage tasks (registered through CELERY_IMPORTS), one per stage so that each is
routed to its own queue (crosspost/celery.py). They take a post id and leave everything else to
``publishing.pipeline.stage_run``: a duplicate message finds its stage already running or ended."""

from celery import shared_task

from posts.models import Stage

from . import pipeline

# Long enough for a slow marketplace, OpenAI or the dry-run plan of many accounts; the transcode
# stage never waits for renders inside a task (it looks again later).
STAGE_TASK = {"ignore_result": True, "acks_late": True}


@shared_task(name=pipeline.TASKS[Stage.ENRICH], **STAGE_TASK)
def enrich(post_id: int) -> str:
    return pipeline.stage_run(post_id, Stage.ENRICH)


@shared_task(name=pipeline.TASKS[Stage.CAPTIONIZE], **STAGE_TASK)
def captionize(post_id: int) -> str:
    return pipeline.stage_run(post_id, Stage.CAPTIONIZE)


@shared_task(name=pipeline.TASKS[Stage.TRANSCODE], **STAGE_TASK)
def transcode(post_id: int, check: int = 0) -> str:
    return pipeline.stage_run(post_id, Stage.TRANSCODE, check=check)


@shared_task(name=pipeline.TASKS[Stage.PREFLIGHT], **STAGE_TASK)
def preflight(post_id: int) -> str:
    return pipeline.stage_run(post_id, Stage.PREFLIGHT)


@shared_task(name=pipeline.TASKS[Stage.PUBLISH], **STAGE_TASK)
def publish(post_id: int) -> str:
    return pipeline.stage_run(post_id, Stage.PUBLISH)


@shared_task(name=pipeline.TASKS[Stage.FINALIZE], **STAGE_TASK)
def finalize(post_id: int) -> str:
    return pipeline.stage_run(post_id, Stage.FINALIZE)
