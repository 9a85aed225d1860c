"""Dispatcher + publisher with the sandbox adapter on 2 worker processes (Redis + PostgreSQL):
throughput, CPU per execution, and p95 lateness against scheduled_for."""

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from common import ROOT, report, scratch_database, unpaced_policy

CELERY = [sys.executable, "-m", "celery", "-A", "crosspost"]


def start(args, env, log):
    return subprocess.Popen([*CELERY, *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc):
    import signal

    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=60)


def wait_done(post, timeout):
    from publishing.models import Execution, ExecutionStatus

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not Execution.objects.filter(post=post).exclude(status=ExecutionStatus.SUCCESS).exists():
            return
        time.sleep(0.1)
    raise SystemExit("bench: executions did not finish in time")


def main() -> None:
    broker = os.environ["BENCH_REDIS_URL"]
    with scratch_database() as name:
        import redis
        from django.conf import settings
        from django.db import connection
        from django.utils import timezone

        from accounts.models import AccountGroup, SocialAccount, Workspace
        from posts.models import Post
        from publishing.models import Execution
        from publishing.planner import post_publish

        redis.Redis.from_url(broker).flushdb()
        s = connection.settings_dict
        var = Path(tempfile.mkdtemp(prefix="crosspost-bench-"))
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{name}",
            "CELERY_BROKER_URL": broker,
            "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
            "SECRET_KEY": settings.SECRET_KEY,
            "CROSSPOST_VAR_DIR": str(var),
            "DISPATCH_INTERVAL_SECONDS": "1",
            "HEARTBEAT_INTERVAL_SECONDS": "5",
            "MAX_CONCURRENT_PUBLISHES": "200",
            "LOG_LEVEL": "WARNING",
        }
        subprocess.run([sys.executable, "manage.py", "setup_periodic_tasks"], cwd=ROOT, env=env, check=True, capture_output=True)
        workspace = Workspace.objects.create(name="Bench", slug="bench")
        unpaced_policy(workspace, "sandbox")

        def make_post(count, tag):
            group = AccountGroup.objects.create(workspace=workspace, name=tag)
            SocialAccount.objects.bulk_create(
                [SocialAccount(workspace=workspace, platform="sandbox", handle=f"{tag}-{i}", group=group) for i in range(count)]
            )
            post = Post.objects.create(workspace=workspace, caption="Bench", media_type="text")
            post.target_groups.set([group])
            return post

        log = open(var / "stack.log", "ab")
        worker = start(
            ["worker", "-Q", "high,normal,low,media", "-c", "2", "--without-gossip", "--without-mingle", "--loglevel", "WARNING"],
            env,
            log,
        )
        beat = start(["beat", "--loglevel", "WARNING", "-s", str(var / "beat-schedule")], env, log)
        try:
            time.sleep(4)  # workers up
            # Throughput: 1,000 executions all due now.
            post = make_post(1000, "throughput")
            post_publish(post=post)
            started = time.perf_counter()
            wait_done(post, timeout=600)
            elapsed = time.perf_counter() - started
            report("engine_throughput_2_workers", 1000 / elapsed, "executions/s")

            # Lateness: 300 executions spread over 30 s in the future.
            post = make_post(300, "lateness")
            post_publish(post=post)
            base = timezone.now() + timedelta(seconds=5)
            for index, pk in enumerate(Execution.objects.filter(post=post).order_by("pk").values_list("pk", flat=True)):
                Execution.objects.filter(pk=pk).update(scheduled_for=base + timedelta(milliseconds=100 * index))
            wait_done(post, timeout=300)
            lateness = sorted(
                (started_at - scheduled).total_seconds()
                for started_at, scheduled in Execution.objects.filter(post=post).values_list("started_at", "scheduled_for")
            )
            report("engine_lateness_p95", statistics.quantiles(lateness, n=20)[18], "s")
            report("engine_lateness_max", lateness[-1], "s")
            report("engine_early_executions", sum(1 for x in lateness if x < 0), "count")
        finally:
            stop(beat)
            stop(worker)
            log.close()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_ms = (usage.ru_utime + usage.ru_stime) * 1000
        report("engine_cpu_per_execution", cpu_ms / 1300, "ms", note="worker+beat CPU incl. startup, 1300 executions")


if __name__ == "__main__":
    main()
