"""Executions due at once go to the workers in batches (dispatcher.dispatch → tasks.publish_executions):
every one is still published exactly once, a repeated message publishes nothing, and a batch that
runs past its budget hands the rest to a new message."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from celery import signals

from publishing.dispatcher import claim_due, dispatch
from publishing.models import Execution, ExecutionStatus, SandboxPost
from publishing.planner import post_publish
from publishing.tasks import publish_executions

from .factories import PostFactory, SocialAccountFactory

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def ran():
    """The tasks that ran, with their arguments, in order."""
    seen = []

    def record(sender=None, args=None, **kwargs):
        seen.append((sender.name.rsplit(".", 1)[-1], args))

    signals.task_prerun.connect(record, weak=False)
    yield seen
    signals.task_prerun.disconnect(record)


def due_post(workspace, count):
    accounts = SocialAccountFactory.create_batch(count, workspace=workspace, platform="sandbox")
    workspace.policies.create(platform="sandbox", min_interval_s=1, stagger_min_s=0, stagger_max_s=0, daily_limit=1000)
    post = PostFactory(workspace=workspace, media_type="text")
    post.target_accounts.set(accounts)
    post_publish(post=post)
    Execution.objects.filter(post=post).update(scheduled_for=post.created_at)
    return post


def test_due_executions_go_ten_to_a_message_and_each_is_published_once(workspace, settings, celery_eager, ran):
    settings.PUBLISH_BATCH_SIZE = 10
    post = due_post(workspace, 21)
    assert dispatch() == 21
    publishes = [(name, args) for name, args in ran if name.startswith("publish_execution")]
    assert [(name, len(args[0]) if name == "publish_executions" else 1) for name, args in publishes] == [
        ("publish_executions", 10),
        ("publish_executions", 10),
        ("publish_execution", 1),
    ]
    assert set(Execution.objects.filter(post=post).values_list("status", flat=True)) == {ExecutionStatus.SUCCESS}
    markers = list(SandboxPost.objects.values_list("marker", flat=True))
    assert len(markers) == len(set(markers)) == 21


def test_a_repeated_batch_message_publishes_nothing_again(workspace, settings):
    post = due_post(workspace, 4)
    settings.MAX_CONCURRENT_PUBLISHES = 100
    batch = [[claim.execution_id, claim.token] for claim in claim_due()]
    assert publish_executions.apply(args=[batch]).get() == {"success": 4}
    assert publish_executions.apply(args=[batch]).get() == {"stale": 4}  # redelivered after a lost ack
    assert SandboxPost.objects.count() == 4
    assert Execution.objects.filter(post=post, status=ExecutionStatus.SUCCESS, attempts=1).count() == 4


def test_a_batch_past_its_budget_hands_the_rest_to_a_new_message(workspace, settings, celery_eager, ran):
    settings.PUBLISH_BATCH_BUDGET_SECONDS = 0  # every publish after the first goes to a message of its own
    post = due_post(workspace, 3)
    batch = [[claim.execution_id, claim.token] for claim in claim_due()]
    assert publish_executions.apply(args=[batch]).get() == {"success": 1, "handed_over": 2}
    assert [len(args[0]) for name, args in ran if name == "publish_executions"] == [3, 2, 1]
    assert Execution.objects.filter(post=post, status=ExecutionStatus.SUCCESS, attempts=1).count() == 3
    assert SandboxPost.objects.count() == 3


def settings_of(tmp_path, **env) -> subprocess.CompletedProcess:
    """PUBLISH_BATCH_BUDGET_SECONDS and the soft limit a process started with ``env`` gets."""
    probe = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.PUBLISH_BATCH_BUDGET_SECONDS, s.PUBLISH_SOFT_TIME_LIMIT_SECONDS)"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISH_")}
    base.update({"DJANGO_SETTINGS_MODULE": "crosspost.settings", "CROSSPOST_VAR_DIR": str(tmp_path), **env})
    return subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=base, capture_output=True, text=True, timeout=60)


def test_the_batch_budget_stays_within_half_the_soft_time_limit(tmp_path):
    assert settings_of(tmp_path).stdout.split() == ["20.0", "240"]
    # A short publish limit (the crash tests use 14 s) shortens the default budget with it.
    assert settings_of(tmp_path, PUBLISH_TIME_LIMIT_SECONDS="14", PUBLISH_LEASE_SECONDS="15").stdout.split() == ["3.5", "7"]
    refused = settings_of(tmp_path, PUBLISH_BATCH_BUDGET_SECONDS="200")
    assert refused.returncode != 0
    assert "PUBLISH_BATCH_BUDGET_SECONDS (200.0) must be between 0 and half" in refused.stderr
