"""The publishing engine on Redis + PostgreSQL, against a bare Celery baseline in the same run.

1. In process: the statements one publish runs (by kind), its CPU time, and a profile breakdown
   (where a publish's time goes, cProfile of 150 publishes).
2. Bare baseline: ``bare_task.bare_publish`` — claim UPDATE, one HTTP POST to the loopback Telegram
   emulator, record UPDATE — on 2 worker processes. ``engine_vs_bare_ratio`` = engine / bare.
3. Engine: dispatcher (beat) + publisher on 2 and 4 worker processes, sandbox platform; and on 2
   through the Telegram adapter and the loopback emulator (a real HTTP round trip per publish).
   Throughput is the sustained rate (executions / first start → last finish); CPU per execution is
   split into worker (publishing and dispatching), beat, and the PostgreSQL server, read from /proc
   over the run only (start-up excluded).
4. Lateness of 300 executions spread over 30 s, against ``scheduled_for``.

``BENCH_ENGINE_IN_PROCESS_ONLY=1`` stops after part 1.
``BENCH_ENGINE_EXECUTIONS`` sets the executions per throughput run (default 1,000).
"""

import cProfile
import os
import pstats
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from common import ROOT, report, scratch_database, unpaced_policy

CELERY = [sys.executable, "-m", "celery", "-A", "crosspost"]
BENCH_DIR = Path(__file__).resolve().parent
EXECUTIONS = int(os.environ.get("BENCH_ENGINE_EXECUTIONS", "1000"))
RUNS = ("2_workers", "4_workers", "2_workers_telegram")
# BENCH_ENGINE_RUNS: a comma-separated subset of RUNS (the bare baseline always runs).
SELECTED = [run for run in os.environ.get("BENCH_ENGINE_RUNS", ",".join(RUNS)).split(",") if run in RUNS]
BOT_TOKEN = "777:BENCH"
TICKS = os.sysconf("SC_CLK_TCK")

# What each statement of a publish is for, by its SQL as Django passes it to the cursor (parameters
# as %s; first match wins).
STATEMENT_KINDS = (
    ("claim", re.compile(r'^UPDATE "publishing_execution" SET "status" = %s, "started_at"')),
    ("load", re.compile(r'^SELECT .* FROM "publishing_execution" INNER JOIN')),
    ("media", re.compile(r'FROM "posts_postmedia"')),
    ("platform", re.compile(r'"publishing_sandboxpost"')),
    ("outcome", re.compile(r'^UPDATE "publishing_execution" SET "status" = %s, "finished_at"')),
    ("account", re.compile(r'^UPDATE "accounts_socialaccount"')),
    ("activity", re.compile(r'^INSERT INTO "publishing_activitylog"')),
    ("daily_limit", re.compile(r'^SELECT "publishing_execution"."id", "publishing_execution"."finished_at" FROM')),
    ("post_lock", re.compile(r'^SELECT .* FROM "posts_post" .*FOR UPDATE')),
    ("post_open", re.compile(r'^SELECT "publishing_execution"."id" FROM "publishing_execution" WHERE')),
    ("post_count", re.compile(r"^SELECT COUNT\(")),
    ("transaction", re.compile(r"^(BEGIN|COMMIT|SAVEPOINT|RELEASE SAVEPOINT)")),
)


def statement_kind(sql: str) -> str:
    return next((kind for kind, pattern in STATEMENT_KINDS if pattern.search(sql)), "other")


def proc_cpu(match) -> float:
    """CPU seconds (user + system) of the live processes ``match(pid, pgrp, comm)`` accepts."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        if match(int(entry), int(fields[2]), comm):
            total += int(fields[11]) + int(fields[12])
    return total / TICKS


def group_cpu(pgid: int) -> float:
    return proc_cpu(lambda pid, pgrp, comm: pgrp == pgid)


def server_ns_of(pid: int) -> int:
    """CPU time of process ``pid`` in nanoseconds (the first field of /proc/<pid>/schedstat)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def postgres_cpu() -> float:
    return proc_cpu(lambda pid, pgrp, comm: comm.startswith("postgres"))


class Stack:
    """A worker (``concurrency`` processes) and beat, each in a process group of its own."""

    def __init__(self, env: dict, log, *, concurrency: int, beat: bool = True, include: str = ""):
        args = ["worker", "-Q", "high,normal,low,media", "-c", str(concurrency), "--without-gossip", "--without-mingle"]
        args += ["--loglevel", "WARNING", *(["--include", include] if include else [])]
        self.worker = subprocess.Popen(
            [*CELERY, *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.beat = None
        if beat:
            schedule = Path(env["CROSSPOST_VAR_DIR"]) / f"beat-{uuid.uuid4().hex}"
            self.beat = subprocess.Popen(
                [*CELERY, "beat", "--loglevel", "WARNING", "-s", str(schedule)],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        time.sleep(6)  # up, connected, children forked

    def cpu(self) -> dict[str, float]:
        return {
            "worker": group_cpu(self.worker.pid),
            "beat": group_cpu(self.beat.pid) if self.beat else 0.0,
            "database": postgres_cpu(),
        }

    def stop(self) -> None:
        for proc in (self.beat, self.worker):
            if proc is not None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in (self.beat, self.worker):
            if proc is not None:
                proc.wait(timeout=60)


@contextmanager
def stack(env, log, **options):
    running = Stack(env, log, **options)
    try:
        yield running
    finally:
        running.stop()


def wait_until(done, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return
        time.sleep(0.1)
    raise SystemExit(f"bench: {what} did not finish in {timeout:.0f} s")


def cpu_split(before: dict, after: dict, count: int) -> dict[str, float]:
    return {key: round((after[key] - before[key]) * 1000 / count, 3) for key in before}


def in_process(workspace, make_post) -> float:
    """Statements and CPU of one publish, without Celery: returns the CPU ms per publish."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext, override_settings

    from publishing.dispatcher import claim_due
    from publishing.planner import post_publish
    from publishing.publisher import execution_publish

    post = make_post(650, "in-process", "sandbox")
    post_publish(post=post)
    with override_settings(MAX_CONCURRENT_PUBLISHES=1000):
        claims = claim_due(limit=1000)
    counted, timed, profiled = claims[:100], claims[100:500], claims[500:]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    kinds, server_ns = Counter(), Counter()

    def by_kind(execute, sql, params, many, context):
        """Each statement's kind, and the server's CPU time while it ran (ns, /proc/<pid>/schedstat)."""
        kind = statement_kind(sql)
        before = server_ns_of(backend)
        try:
            return execute(sql, params, many, context)
        finally:
            kinds[kind] += 1
            server_ns[kind] += server_ns_of(backend) - before

    whole_before = server_ns_of(backend)
    with CaptureQueriesContext(connection) as ctx, connection.execute_wrapper(by_kind):
        for claim in counted:
            execution_publish(claim.execution_id, claim.token)
    whole = server_ns_of(backend) - whole_before
    report(
        "engine_queries_per_execution",
        len(ctx.captured_queries) / len(counted),
        "queries",
        breakdown={kind: n / len(counted) for kind, n in sorted(kinds.items())},
    )
    per_kind = {kind: round(ns / len(counted) / 1e6, 3) for kind, ns in sorted(server_ns.items())}
    per_kind["commit_and_between"] = round((whole - sum(server_ns.values())) / len(counted) / 1e6, 3)
    report(
        "engine_database_cpu_by_statement",
        whole / len(counted) / 1e6,
        "ms",
        note="the PostgreSQL server's CPU per publish, by statement (schedstat)",
        breakdown=per_kind,
    )
    server_before, started = server_ns_of(backend), time.process_time()
    for claim in timed:
        execution_publish(claim.execution_id, claim.token)
    cpu_ms = (time.process_time() - started) * 1000 / len(timed)
    server_ms = (server_ns_of(backend) - server_before) / 1e6 / len(timed)
    report("engine_publish_cpu_in_process", cpu_ms, "ms", note="one publish without Celery (sandbox), per execution")
    report(
        "engine_publish_database_cpu_in_process",
        server_ms,
        "ms",
        note="the PostgreSQL server process of that connection, per execution (schedstat)",
    )
    profiler = cProfile.Profile(time.process_time) if os.environ.get("BENCH_ENGINE_PROFILE_CPU") else cProfile.Profile()
    profiler.enable()
    for claim in profiled:
        execution_publish(claim.execution_id, claim.token)
    profiler.disable()
    if os.environ.get("BENCH_ENGINE_PROFILE_TOP"):  # the profile's top functions, on stderr
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(int(os.environ["BENCH_ENGINE_PROFILE_TOP"]))
    stats = pstats.Stats(profiler).stats
    parts = {
        "execution_publish": ("publisher.py", "execution_publish"),
        "prepare": ("publisher.py", "_prepare"),
        "platform_publish": ("sandbox.py", "publish"),
        "record_success": ("publisher.py", "_record_success"),
        "refresh_post_status": ("publisher.py", "refresh_post_status"),
        "log_activity": ("activity.py", "log_activity"),
        "daily_limit": ("publisher.py", "_cooldown_at_daily_limit"),
        "sql_execute": ("utils.py", "_execute"),
        "orm_compile": ("compiler.py", "as_sql"),
    }
    breakdown = {}
    for label, (filename, function) in parts.items():
        cumulative = sum(entry[3] for (path, _, name), entry in stats.items() if name == function and path.endswith(filename))
        breakdown[label] = round(cumulative * 1000 / len(profiled), 3)
    report(
        "engine_profile",
        breakdown["execution_publish"],
        "ms",
        note="cProfile, per publish (inflated by profiling)",
        breakdown=breakdown,
    )
    return cpu_ms


def bare_run(env, log, emulator, chat_id: str) -> tuple[float, dict]:
    from bare_task import CREATE, TABLE
    from django.db import connection

    from crosspost.celery import app

    token = uuid.uuid4().hex
    with connection.cursor() as cursor:
        cursor.execute(CREATE)
        cursor.execute(
            f"INSERT INTO {TABLE} (id, status, token) SELECT i, 'queued', %s FROM generate_series(1, %s) AS i",  # noqa: S608
            [token, EXECUTIONS],
        )
    url = f"{emulator.url}/bot{BOT_TOKEN}/sendMessage"

    def done() -> bool:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {TABLE} WHERE status <> 'success'")  # noqa: S608
            return cursor.fetchone()[0] == 0

    with stack(env, log, concurrency=2, beat=False, include="bare_task") as running:
        before = running.cpu()
        for row_id in range(1, EXECUTIONS + 1):
            app.send_task("bench.bare_publish", args=[row_id, token, url, chat_id], queue="normal")
        wait_until(done, 600, "the bare tasks")
        after = running.cpu()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT extract(epoch FROM max(finished_at) - min(started_at)) FROM {TABLE}")  # noqa: S608
        elapsed = float(cursor.fetchone()[0])
    return EXECUTIONS / elapsed, cpu_split(before, after, EXECUTIONS)


def engine_run(post, running) -> tuple[float, dict]:
    from django.db.models import Max, Min

    from publishing.models import Execution, ExecutionStatus
    from publishing.planner import post_publish

    executions = Execution.objects.filter(post=post)
    before = running.cpu()
    post_publish(post=post)
    wait_until(lambda: not executions.exclude(status=ExecutionStatus.SUCCESS).exists(), 600, "the executions")
    after = running.cpu()
    span = executions.aggregate(first=Min("started_at"), last=Max("finished_at"))
    elapsed = (span["last"] - span["first"]).total_seconds()
    return executions.count() / elapsed, cpu_split(before, after, executions.count())


def main() -> None:
    broker = os.environ["BENCH_REDIS_URL"]
    os.environ["CELERY_BROKER_URL"] = broker  # this process sends the bare tasks
    with scratch_database() as name:
        import redis
        from django.conf import settings
        from django.db import connection

        from accounts.models import AccountGroup, SocialAccount, Workspace
        from posts.models import Post
        from tests.emulators.telegram import TelegramEmulator

        redis.Redis.from_url(broker).flushdb()
        s = connection.settings_dict
        var = Path(tempfile.mkdtemp(prefix="crosspost-bench-"))
        emulator = TelegramEmulator().__enter__()
        emulator.add_bot(BOT_TOKEN, username="bench_bot")
        chat = emulator.add_chat(username="bench", admins=[BOT_TOKEN])
        settings.TELEGRAM_API_BASE_URL = emulator.url
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{name}",
            "CELERY_BROKER_URL": broker,
            "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
            "SECRET_KEY": settings.SECRET_KEY,
            "CROSSPOST_VAR_DIR": str(var),
            "HEARTBEAT_INTERVAL_SECONDS": "5",
            "LOG_LEVEL": "WARNING",
            "TELEGRAM_API_BASE_URL": emulator.url,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(BENCH_DIR), os.environ.get("PYTHONPATH", "")])),
        }
        subprocess.run([sys.executable, "manage.py", "setup_periodic_tasks"], cwd=ROOT, env=env, check=True, capture_output=True)
        workspace = Workspace.objects.create(name="Bench", slug="bench")
        for platform in ("sandbox", "telegram"):
            unpaced_policy(workspace, platform)

        def make_post(count, tag, platform):
            group = AccountGroup.objects.create(workspace=workspace, name=tag)
            extra = {"credentials": {"bot_token": BOT_TOKEN}, "options": {"chat_id": "@bench"}} if platform == "telegram" else {}
            SocialAccount.objects.bulk_create(
                [
                    SocialAccount(workspace=workspace, platform=platform, handle=f"{tag}-{i}", group=group, **extra)
                    for i in range(count)
                ]
            )
            post = Post.objects.create(workspace=workspace, caption="Bench", media_type="text")
            post.target_groups.set([group])
            return post

        in_process_ms = in_process(workspace, make_post)
        if os.environ.get("BENCH_ENGINE_IN_PROCESS_ONLY"):  # the statements, CPU and profile alone
            emulator.__exit__(None, None, None)
            return
        log = open(var / "stack.log", "ab")
        try:
            bare_rate, bare_cpu = bare_run(env, log, emulator, str(chat["id"]))
            report("engine_bare_throughput_2_workers", bare_rate, "executions/s", note="claim UPDATE + HTTP POST + UPDATE")
            report("engine_bare_cpu_per_execution", sum(bare_cpu.values()), "ms", split=bare_cpu)

            rates = {}
            for label in SELECTED:
                platform = "telegram" if label.endswith("_telegram") else "sandbox"
                concurrency = int(label.split("_")[0])
                post = make_post(EXECUTIONS, label, platform)
                with stack(env, log, concurrency=concurrency) as running:
                    rate, cpu = engine_run(post, running)
                    rates[label] = rate
                    report(f"engine_throughput_{label}", rate, "executions/s", platform=platform)
                    report(f"engine_cpu_per_execution_{label}", cpu["worker"] + cpu["beat"], "ms", split=cpu)
                    if label == "2_workers":
                        overhead = cpu["worker"] - in_process_ms
                        report(
                            "engine_celery_overhead_per_execution", overhead, "ms", note="worker CPU minus the in-process publish"
                        )
                        lateness_run(make_post)
            if "2_workers_telegram" in rates:
                note = "engine through the Telegram emulator / bare"
                report("engine_vs_bare_ratio", rates["2_workers_telegram"] / bare_rate, "ratio", note=note)
            if "2_workers" in rates:
                report("engine_vs_bare_ratio_sandbox", rates["2_workers"] / bare_rate, "ratio")
        finally:
            log.close()
            emulator.__exit__(None, None, None)


def lateness_run(make_post) -> None:
    """300 executions spread over 30 s from 5 s ahead: how late each starts."""
    from django.db import transaction
    from django.utils import timezone

    from publishing.models import Execution
    from publishing.planner import post_publish

    post = make_post(300, "lateness", "sandbox")
    post_publish(post=post, scheduled_at=timezone.now() + timedelta(hours=1))  # nothing due while they are spread
    base = timezone.now() + timedelta(seconds=5)
    with transaction.atomic():
        for index, pk in enumerate(Execution.objects.filter(post=post).order_by("pk").values_list("pk", flat=True)):
            Execution.objects.filter(pk=pk).update(scheduled_for=base + timedelta(milliseconds=100 * index))
    executions = Execution.objects.filter(post=post)
    wait_until(lambda: not executions.exclude(status="success").exists(), 300, "the lateness run")
    lateness = sorted(
        (started - scheduled).total_seconds() for started, scheduled in executions.values_list("started_at", "scheduled_for")
    )
    report("engine_lateness_p95", statistics.quantiles(lateness, n=20)[18], "s")
    report("engine_lateness_max", lateness[-1], "s")
    report("engine_early_executions", sum(1 for x in lateness if x < 0), "count", earliest_s=round(lateness[0], 4))


if __name__ == "__main__":
    main()
