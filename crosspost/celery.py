"""The Celery application: configuration comes from Django settings (CELERY_*)."""

import os

from celery import Celery, signals
from kombu import Queue
from kombu.transport import TRANSPORT_ALIASES

from .liveness import ConsumerWatchdog, ProbeConsumer

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crosspost.settings")

# The embedded broker writes each message whole before a consumer can see it (crosspost/broker.py).
TRANSPORT_ALIASES["filesystem"] = "crosspost.broker:Transport"

app = Celery("crosspost")
app.config_from_object("django.conf:settings", namespace="CELERY")
# One queue per priority (retries are sent to "low" by the publisher), one for media work, so a
# long render never holds up publishing when it has its own worker, and one per stage of a source
# post's pipeline (publishing/pipeline.py): a slow marketplace or LLM never holds up the others.
PIPELINE_QUEUES = ("ingest", "enrich", "captionize", "publish")
app.conf.task_queues = [Queue("high"), Queue("normal"), Queue("low"), Queue("media"), *map(Queue, PIPELINE_QUEUES)]
app.conf.task_routes = {
    "media.tasks.*": {"queue": "media"},
    "sources.tasks.*": {"queue": "ingest"},
    "publishing.pipeline_tasks.enrich": {"queue": "enrich"},
    "publishing.pipeline_tasks.captionize": {"queue": "captionize"},
    "publishing.pipeline_tasks.transcode": {"queue": "media"},
    "publishing.pipeline_tasks.preflight": {"queue": "publish"},
    "publishing.pipeline_tasks.publish": {"queue": "publish"},
    "publishing.pipeline_tasks.finalize": {"queue": "publish"},
    "studio.tasks.recording_step": {"queue": "media"},
    "studio.tasks.sync_source": {"queue": "ingest"},
    "studio.tasks.sync_due_sources": {"queue": "ingest"},
    "studio.tasks.fail_stalled_jobs": {"queue": "low"},
    # A slow webhook receiver never holds up publishing.
    "crosspost.tasks.deliver_webhook": {"queue": "low"},
}
app.autodiscover_tasks()


@signals.task_prerun.connect
def _database_connections_checked(task=None, **kwargs) -> None:
    """Before each task, as Django before each request: drop a connection that broke (a database
    restart) or outlived CONN_MAX_AGE. Celery's own per-task close is off (CELERY_DB_REUSE_MAX)."""
    if task is not None and not getattr(task.request, "is_eager", False):
        from django.db import close_old_connections

        close_old_connections()


# A worker that stops consuming exits so that its supervisor restarts it (crosspost/liveness.py).
app.steps["worker"].add(ConsumerWatchdog)
app.steps["consumer"].add(ProbeConsumer)
