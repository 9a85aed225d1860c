"""The Celery application: configuration comes from Django settings (CELERY_*)."""

import os

from celery import Celery
from kombu import Queue

from .liveness import ConsumerWatchdog, ProbeConsumer

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crosspost.settings")

app = Celery("crosspost")
app.config_from_object("django.conf:settings", namespace="CELERY")
# One queue per priority (retries are sent to "low" by the publisher), and one for
# media work, so a long render never holds up publishing when it has its own worker.
app.conf.task_queues = [Queue("high"), Queue("normal"), Queue("low"), Queue("media")]
app.conf.task_routes = {"media.tasks.*": {"queue": "media"}}
app.autodiscover_tasks()
# A worker that stops consuming exits so that its supervisor restarts it (crosspost/liveness.py).
app.steps["worker"].add(ConsumerWatchdog)
app.steps["consumer"].add(ProbeConsumer)
