"""How often the dispatcher runs against how far ahead it claims (DISPATCH_EVERY_SECONDS,
DISPATCH_INTERVAL_SECONDS): on the embedded filesystem broker of ``make run`` the runs overlap so
executions are enqueued with their ETA before they are due (tests/bench/bench_embedded_lateness.py
measures the lateness; no wall-clock asserts here)."""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from crosspost.periodic import PERIODIC_TASKS
from publishing.dispatcher import claim_due
from publishing.models import ExecutionStatus
from tests.factories import ExecutionFactory

ROOT = Path(__file__).resolve().parents[1]
PROBE = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.DISPATCH_EVERY_SECONDS, settings.DISPATCH_INTERVAL_SECONDS)"
)


def settings_with(tmp_path, **env) -> subprocess.CompletedProcess:
    """The settings a process started with ``env`` gets (a fresh interpreter: settings are read once)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DISPATCH_", "CELERY_BROKER_URL", "REDIS_URL"))}
    base.update(
        {
            "DJANGO_SETTINGS_MODULE": "crosspost.settings",
            "CROSSPOST_VAR_DIR": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "REDIS_URL": "",
        }
    )
    base.update(env)
    return subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=base, capture_output=True, text=True, timeout=60)


def values(result: subprocess.CompletedProcess) -> tuple[float, float]:
    assert result.returncode == 0, result.stderr
    every, interval = result.stdout.split()
    return float(every), float(interval)


def test_the_embedded_broker_runs_the_dispatcher_every_second_claiming_five_seconds_ahead(tmp_path):
    assert values(settings_with(tmp_path)) == (1.0, 5.0)
    assert values(settings_with(tmp_path, CELERY_BROKER_URL="filesystem://")) == (1.0, 5.0)


def test_redis_runs_the_dispatcher_every_second_too(tmp_path):
    # Once per 5 s, the in-flight cap would hold the engine to MAX_CONCURRENT_PUBLISHES / 5 a second.
    assert values(settings_with(tmp_path, CELERY_BROKER_URL="redis://127.0.0.1:6379/0")) == (1.0, 5.0)


def test_a_shorter_interval_than_a_second_is_kept_on_the_embedded_broker(tmp_path):
    assert values(settings_with(tmp_path, DISPATCH_INTERVAL_SECONDS="0.5")) == (0.5, 0.5)
    assert values(settings_with(tmp_path, DISPATCH_INTERVAL_SECONDS="2", DISPATCH_EVERY_SECONDS="2")) == (2.0, 2.0)


@pytest.mark.parametrize("every", ["6", "0"])
def test_runs_further_apart_than_each_claims_ahead_are_refused(tmp_path, every):
    result = settings_with(tmp_path, DISPATCH_EVERY_SECONDS=every)

    assert result.returncode != 0
    assert "DISPATCH_EVERY_SECONDS" in result.stderr and "at most DISPATCH_INTERVAL_SECONDS (5.0)" in result.stderr


def test_beat_runs_the_dispatcher_every_dispatch_every_seconds():
    dispatch = next(p for p in PERIODIC_TASKS if p.task == "publishing.tasks.dispatch_due")

    assert dispatch.every_seconds == settings.DISPATCH_EVERY_SECONDS
    assert 0 < dispatch.every_seconds <= settings.DISPATCH_INTERVAL_SECONDS


@pytest.mark.django_db
def test_one_run_claims_past_the_next_run_so_the_runs_overlap():
    """A run claims up to DISPATCH_INTERVAL_SECONDS ahead: an execution due after the next run
    (DISPATCH_EVERY_SECONDS later, 1 s in the test settings) is claimed by this one, with its ETA."""
    now = timezone.now()
    after_next_run = ExecutionFactory(scheduled_for=now + timedelta(seconds=settings.DISPATCH_EVERY_SECONDS + 1.5))
    beyond = ExecutionFactory(scheduled_for=now + timedelta(seconds=settings.DISPATCH_INTERVAL_SECONDS + 1))

    claims = claim_due(now=now)

    assert [(c.execution_id, c.eta) for c in claims] == [(after_next_run.pk, after_next_run.scheduled_for)]
    after_next_run.refresh_from_db()
    beyond.refresh_from_db()
    assert (after_next_run.status, beyond.status) == (ExecutionStatus.QUEUED, ExecutionStatus.PENDING)
