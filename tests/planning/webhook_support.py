"""Fixtures shared by the webhook tests: a loopback receiver, an endpoint pointed at it, and
tasks run the way a worker would (eagerly, after commit)."""

import pytest

from crosspost.celery import app as celery_app
from crosspost.webhooks import endpoint_save
from tests.emulators.webhook_receiver import WebhookReceiver


@pytest.fixture(autouse=True)
def _loopback_webhooks(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True  # the receiver listens on 127.0.0.1
    settings.WEBHOOK_TIMEOUT_SECONDS = 1.0


@pytest.fixture
def receiver():
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
