"""Fixtures shared by the webhook tests (``pytest_plugins = ["tests.planning.webhook_support"]``):
a loopback receiver, an endpoint pointed at it, and tasks run the way a worker would (eagerly,
after commit)."""

import pytest

from crosspost.celery import app as celery_app
from crosspost.webhooks import endpoint_save
from tests.emulators.webhook_receiver import WebhookReceiver


@pytest.fixture
def receiver(settings):
    """The receiver on 127.0.0.1 (so private addresses are allowed) with a short timeout."""
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 1.0
    with WebhookReceiver() as emulator:
        yield emulator


@pytest.fixture
def endpoint(workspace, receiver):
    """An endpoint of ``workspace`` subscribed to every event; ``endpoint.plain_secret`` is its secret."""
    made, secret = endpoint_save(
        workspace=workspace,
        url=receiver.hook_url,
        events=["post.completed", "post.failed", "execution.failed", "account.status_changed", "source.item_created"],
    )
    made.plain_secret = secret
    return made


@pytest.fixture
def eager():
    previous, celery_app.conf.task_always_eager = celery_app.conf.task_always_eager, True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def run(django_capture_on_commit_callbacks, eager):
    """Run ``work`` and everything it enqueues after commit (tasks run eagerly, as a worker would)."""

    def go(work):
        with django_capture_on_commit_callbacks(execute=True):
            return work()

    return go
