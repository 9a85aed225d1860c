"""Lateness on the embedded defaults of ``make run``: SQLite + the kombu filesystem broker.

``make run`` (scripts/run.sh) needs no services: a SQLite file, the filesystem Celery broker,
a worker (2 processes, every queue) and beat with django-celery-beat's DatabaseScheduler. This
bench starts the same worker and beat command lines on a scratch var dir of its own (its own
SQLite file and broker folder — never the shared PostgreSQL that scripts/bench.sh exports) and
measures how late executions start against ``scheduled_for`` (``started_at − scheduled_for``):

- ``embedded_lateness_p50`` / ``_p95`` / ``_max`` (s) and ``embedded_early_executions`` (count):
  BENCH_EMBEDDED_LATENESS_N (250) sandbox executions spread evenly over
  BENCH_EMBEDDED_SPREAD_SECONDS (30) starting BENCH_EMBEDDED_LEAD_SECONDS (8) from now (about
  8 a second);
- ``embedded_lateness_busy_p50`` / ``_p95`` / ``_max``, ``embedded_early_executions_busy``: the same
  with BENCH_EMBEDDED_BUSY_N (360, about 12 a second; 0 skips it) — a rate above what the
  dispatcher's concurrency cap let through per run before issue 19 (50 per 5 s);
- ``embedded_throughput`` (executions/s), a side figure: BENCH_EMBEDDED_THROUGHPUT_N (300)
  executions all due now, from their commit to the last one's success.

Beside each figure: the CPU seconds the worker (with its pool) and beat used meanwhile, read from
/proc, as the machine is shared and wall times are noisy. Beat and worker settings are make run's
defaults; BENCH_EMBEDDED_ENV="NAME=value,…" overrides some for experiments (e.g.
DISPATCH_INTERVAL_SECONDS=1), and the figures then say so in ``env``.
"""

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from common import ROOT, report, unpaced_policy

# scripts/run.sh's worker and beat, word for word (run.sh also wraps them in scripts/supervise.sh).
# BENCH_EMBEDDED_CONCURRENCY overrides the worker's 2 processes (an experiment; the figures say so in ``env``).
CONCURRENCY = os.environ.get("BENCH_EMBEDDED_CONCURRENCY", "2")
WORKER = [
    "worker",
    "-Q",
    "high,normal,low,media,ingest,enrich,captionize,publish",
    "--concurrency",
    CONCURRENCY,
    "--loglevel",
    "INFO",
]
CELERY = [sys.executable, "-m", "celery", "-A", "crosspost"]
CLK_TCK = os.sysconf("SC_CLK_TCK")


def embedded_env(var: Path) -> dict:
    """make run's environment, on a scratch var dir: SQLite there, the filesystem broker there."""
    dropped = {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "TEST_DATABASE_NAME"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{var / 'crosspost.sqlite3'}",
            "CELERY_BROKER_URL": "filesystem://",
            "REDIS_URL": "",
            "CROSSPOST_VAR_DIR": str(var),
            "DEMO_PASSWORD": "crosspost-demo",
            "LOG_LEVEL": "WARNING",
        }
    )
    for pair in filter(None, os.environ.get("BENCH_EMBEDDED_ENV", "").split(",")):
        name, _, value = pair.partition("=")
        env[name.strip()] = value.strip()
    return env


def session_cpu(sid: int) -> float:
    """CPU seconds (user + system, reaped children included) of every live process in session ``sid``."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After "pid (comm)": state ppid pgrp session … utime(12) stime(13) cutime(14) cstime(15)
        if int(fields[3]) == sid:
            total += sum(int(x) for x in fields[11:15])
    return total / CLK_TCK


def wait_done(post, timeout: float) -> None:
    from publishing.models import Execution, ExecutionStatus

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not Execution.objects.filter(post=post).exclude(status=ExecutionStatus.SUCCESS).exists():
            return
        time.sleep(0.1)
    left = dict(Execution.objects.filter(post=post).exclude(status=ExecutionStatus.SUCCESS).values_list("pk", "status")[:5])
    raise SystemExit(f"bench: executions did not finish in {timeout:.0f} s (some left: {left})")


def main() -> None:
    var = Path(tempfile.mkdtemp(prefix="crosspost-bench-embedded-"))
    env = embedded_env(var)
    # This process uses the same SQLite file: its settings must be the embedded ones before Django starts.
    os.environ.clear()
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "crosspost.settings"
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True, capture_output=True)
    # BENCH_EMBEDDED_SETUP_ENV="NAME=value,…": settings for setup_periodic_tasks only (experiments
    # with the beat's intervals apart from the worker's settings).
    setup_pairs = filter(None, os.environ.get("BENCH_EMBEDDED_SETUP_ENV", "").split(","))
    setup_env = {**env, **dict(pair.split("=", 1) for pair in setup_pairs)}
    subprocess.run([*manage, "setup_periodic_tasks"], cwd=ROOT, env=setup_env, check=True, capture_output=True)

    import django

    django.setup()
    from django.conf import settings
    from django.db import transaction
    from django.db.models import Case, When
    from django.utils import timezone

    from accounts.models import AccountGroup, SocialAccount, Workspace
    from posts.models import Post
    from publishing.models import Execution
    from publishing.planner import post_publish

    assert settings.DATABASES["default"]["ENGINE"].endswith("sqlite3") and settings.CELERY_BROKER_URL.startswith("filesystem")
    concurrency = f"concurrency={CONCURRENCY}" if CONCURRENCY != "2" else ""
    overrides = ",".join(
        filter(None, (os.environ.get("BENCH_EMBEDDED_ENV", ""), os.environ.get("BENCH_EMBEDDED_SETUP_ENV", ""), concurrency))
    )
    extra = {"env": overrides} if overrides else {}
    workspace = Workspace.objects.create(name="Bench", slug="bench")
    unpaced_policy(workspace, "sandbox")

    def make_post(count: int, tag: str) -> Post:
        group = AccountGroup.objects.create(workspace=workspace, name=tag)
        SocialAccount.objects.bulk_create(
            [SocialAccount(workspace=workspace, platform="sandbox", handle=f"{tag}-{i}", group=group) for i in range(count)]
        )
        post = Post.objects.create(workspace=workspace, caption="Bench", media_type="text")
        post.target_groups.set([group])
        return post

    log_dir = var / "log"
    log_dir.mkdir(exist_ok=True)
    procs = []
    for name, args in (("worker", WORKER), ("beat", ["beat", "--loglevel", "INFO", "-s", str(var / "celerybeat-schedule")])):
        with open(log_dir / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(
                [*CELERY, *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            procs.append(proc)
    try:
        time.sleep(float(os.environ.get("BENCH_EMBEDDED_WARMUP_SECONDS", "8")))  # worker and beat up, first dispatch run

        def lateness_run(name: str, count: int) -> None:
            """``count`` executions spread evenly over the spread, created in one transaction (an
            IMMEDIATE one on SQLite: the dispatcher sees them only with their final scheduled_for)."""
            if not count:
                return
            spread = float(os.environ.get("BENCH_EMBEDDED_SPREAD_SECONDS", "30"))
            lead = float(os.environ.get("BENCH_EMBEDDED_LEAD_SECONDS", "8"))
            post = make_post(count, name)
            with transaction.atomic():
                post_publish(post=post)
                base = timezone.now() + timedelta(seconds=lead)
                pks = list(Execution.objects.filter(post=post).order_by("pk").values_list("pk", flat=True))
                Execution.objects.filter(pk__in=pks).update(
                    scheduled_for=Case(
                        *(When(pk=pk, then=base + timedelta(seconds=spread * i / count)) for i, pk in enumerate(pks))
                    )
                )
            cpu0 = [session_cpu(p.pid) for p in procs]
            wait_done(post, timeout=lead + spread + 180)
            cpu1 = [session_cpu(p.pid) for p in procs]
            lateness = sorted(
                (started_at - scheduled).total_seconds()
                for started_at, scheduled in Execution.objects.filter(post=post).values_list("started_at", "scheduled_for")
            )
            cpu = {
                "executions": count,
                "per_second": round(count / spread, 1),
                "worker_cpu_s": round(cpu1[0] - cpu0[0], 2),
                "beat_cpu_s": round(cpu1[1] - cpu0[1], 2),
                **extra,
            }
            report(f"{name}_p50", statistics.median(lateness), "s", **cpu)
            report(f"{name}_p95", statistics.quantiles(lateness, n=20)[18], "s", **cpu)
            report(f"{name}_max", lateness[-1], "s", **cpu)
            report(f"{name.replace('lateness', 'early_executions')}", sum(1 for x in lateness if x < 0), "count", **extra)

        # The goal's figure: about 8 executions a second, and a busier half minute at about 12 a second.
        lateness_run("embedded_lateness", int(os.environ.get("BENCH_EMBEDDED_LATENESS_N", "250")))
        lateness_run("embedded_lateness_busy", int(os.environ.get("BENCH_EMBEDDED_BUSY_N", "360")))

        # Throughput (a side figure): executions all due now, on make run's concurrency cap.
        count = int(os.environ.get("BENCH_EMBEDDED_THROUGHPUT_N", "300"))
        post = make_post(count, "throughput")
        cpu0 = [session_cpu(p.pid) for p in procs]
        started = time.perf_counter()
        post_publish(post=post)
        wait_done(post, timeout=600)
        elapsed = time.perf_counter() - started
        cpu1 = [session_cpu(p.pid) for p in procs]
        report(
            "embedded_throughput",
            count / elapsed,
            "executions/s",
            wall_s=round(elapsed, 2),
            worker_cpu_ms_per_execution=round((cpu1[0] - cpu0[0]) * 1000 / count, 1),
            beat_cpu_ms_per_execution=round((cpu1[1] - cpu0[1]) * 1000 / count, 1),
            **extra,
        )
    finally:
        for proc in reversed(procs):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        if os.environ.get("BENCH_EMBEDDED_KEEP") != "1":
            import shutil

            shutil.rmtree(var, ignore_errors=True)
        else:
            print(f"bench: kept {var}", file=sys.stderr)


if __name__ == "__main__":
    main()
