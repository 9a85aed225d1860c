"""Workers that stop consuming come back by themselves: real worker processes under the same
supervisor loop as ``make run`` (scripts/supervise.sh), each test with its own throw-away Redis."""

import os
import signal
import time
from pathlib import Path

import pytest
from celery.utils.nodenames import host_format
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from crosspost.liveness import EXIT_STALE, probe_age, probe_path
from crosspost.models import Heartbeat
from crosspost.tasks import heartbeat
from publishing.tasks import publish_execution

from .support.stack import RedisServer, child_pids, stack_env, tasks_sent_to, wait_for, worker

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def redis_server(tmp_path):
    with RedisServer(tmp_path / "redis") as server, tasks_sent_to(server.url):
        yield server


def consumes_a_new_task(within: float, log: Path) -> None:
    """Send a task now and wait until a worker has executed it."""
    sent = timezone.now()
    heartbeat.delay()
    try:
        wait_for(lambda: Heartbeat.objects.filter(name="worker", seen_at__gt=sent).exists(), timeout=within, message="a new task")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the worker's log:\n{log.read_text()[-6000:]}") from None


def test_it_consumes_again_within_30_s_after_a_redis_restart_while_holding_eta_tasks(redis_server, tmp_path):
    log = tmp_path / "worker.log"
    env = stack_env(redis_server.url, tmp_path)
    with worker(env, concurrency=2, log=log, supervised=True):
        consumes_a_new_task(within=60, log=log)
        # The dispatcher's tasks carry an ETA: the worker holds them, unacknowledged, until then.
        for _ in range(3):
            publish_execution.apply_async(args=[0, "no-such-lease"], countdown=600, queue="normal")
        wait_for(lambda: redis_server.client().hlen("unacked") == 3, timeout=30, message="the worker to hold 3 ETA tasks")

        redis_server.stop()
        redis_server.start()

        # Celery 5.7.0's consumer dies of it ("Unrecoverable error: AttributeError(… 'hostname')") and
        # the worker exits with status 1: the supervisor starts a fresh one.
        consumes_a_new_task(within=30, log=log)


def test_it_restarts_a_worker_whose_consumer_is_stuck(redis_server, tmp_path, settings):
    settings.VAR_DIR = tmp_path
    node = f"stuck{time.monotonic_ns()}@%h"
    log = tmp_path / "worker.log"
    env = stack_env(redis_server.url, tmp_path, WORKER_PROBE_INTERVAL_SECONDS=1, WORKER_STALE_SECONDS=5)
    include = ["tests.support.stall_seam"]
    with worker(env, concurrency=1, log=log, name=node, include=include, supervised=True) as supervisor:
        wait_for(lambda: probe_age(host_format(node)) is not None, timeout=60, message="the worker to consume")
        [main] = child_pids(supervisor.pid)
        os.kill(main, signal.SIGUSR2)  # its main thread blocks: alive, consuming nothing

        wait_for(lambda: f"worker exited with status {EXIT_STALE}" in log.read_text(), timeout=30, message="the watchdog")
        assert "it no longer consumes" in log.read_text()
        consumes_a_new_task(within=30, log=log)


def test_it_tells_a_healthcheck_whether_the_worker_consumes(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    node = host_format("w1@%h")
    with pytest.raises(CommandError, match="has consumed no probe yet"):
        call_command("worker_alive", "--node", "w1@%h")

    path = probe_path(node)
    path.parent.mkdir(parents=True)
    path.touch()
    call_command("worker_alive", "--node", "w1@%h")

    os.utime(path, (time.time() - 61, time.time() - 61))
    with pytest.raises(CommandError, match="it does not consume"):
        call_command("worker_alive", "--node", "w1@%h", "--max-age", "60")
