"""The fault run (`make faults`, scripts/faults.sh): 500 executions through the real engine —
planner, dispatcher on beat, publisher on 2 supervised workers × 2 pool processes — to a loopback
Telegram Bot API that fails ~10 % of the sends (500/502, 429 with retry_after, a timeout before the
message is posted, a timeout after it is), while workers are SIGKILLed three times, Redis restarts
(losing every queued message) and PostgreSQL restarts.

Guarantees checked, each printed as a JSON line {name, value, unit} like the benchmarks:

* no duplicate: no chat received more than one message (one account, one chat, one execution);
* nothing lost: every execution ends published, failed, or ``unconfirmed`` — the documented
  waiting state of a Telegram publish whose answer was lost (the Bot API cannot look a message
  up, so an operator decides) — and a published execution's message really is in its chat;
* every failed or unconfirmed execution says why (``error_message``);
* within 30 s of Redis coming back, a task sent then has been executed and every worker consumes.

Exits 1 when one is broken. Needs DATABASE_URL (a PostgreSQL server it creates a scratch database
on, and may restart through scripts/services.sh) and FAULTS_REDIS_URL (likewise).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections import Counter
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

from tests.bench.common import ROOT, report, scratch_database, unpaced_policy
from tests.emulators.telegram import TelegramEmulator

EXECUTIONS = 500
WORKERS, CONCURRENCY = 2, 2
WINDOW = 90.0  # the executions are due evenly over this many seconds, while the faults happen
FAULT_RATE = 0.10
HTTP_TIMEOUT = 2.0  # the workers' HTTP_TIMEOUT_SECONDS; a stalled answer takes longer
STALL = 3.5
# A publish here takes seconds, so its hard time limit is short, and with it the lease the settings
# accept (longer than that limit): an execution whose worker is killed mid-publish stays "posting"
# this long before it is reconciled.
PUBLISH_TIME_LIMIT = 20
PUBLISH_LEASE = 30
FAULTS = [(10, "kill"), (25, "redis"), (45, "kill"), (60, "postgres"), (75, "kill")]  # seconds after the first due execution
RECOVERY_LIMIT = 30.0
SEND_METHODS = {"sendmessage", "sendphoto", "sendvideo", "sendmediagroup"}


def log(message: str) -> None:
    print(f"[faults] {message}", file=sys.stderr, flush=True)


class FaultyTelegram(TelegramEmulator):
    """The Telegram emulator failing a seeded ``rate`` of the sends, each with one of FAILURES."""

    FAILURES = ("server_error", "bad_gateway", "flood", "timeout_before", "timeout_after")

    def __init__(self, rate: float, seed: int = 20261205) -> None:
        super().__init__()
        self.rate = rate
        self.random = random.Random(seed)
        self.injected: Counter = Counter()

    def _take_failure_for(self, method: str) -> dict | None:
        queued = super()._take_failure_for(method)
        if queued or method.lower() not in SEND_METHODS:
            return queued
        with self.lock:
            if self.random.random() >= self.rate:
                return None
            kind = self.random.choice(self.FAILURES)
            self.injected[kind] += 1
        return {
            "server_error": {"status": 500, "description": "Internal Server Error"},
            "bad_gateway": {"status": 502, "description": "Bad Gateway"},
            "flood": {"status": 429, "description": "Too Many Requests: retry after 2", "parameters": {"retry_after": 2}},
            # The client gives up before either answer: the first message was not posted, the second was.
            "timeout_before": {"status": 504, "description": "Gateway Timeout", "stall": STALL},
            "timeout_after": {"stall": STALL, "after": True},
        }[kind]


def services(command: str) -> None:
    subprocess.run([str(ROOT / "scripts" / "services.sh"), command], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def main() -> int:
    broker = os.environ["FAULTS_REDIS_URL"]
    with scratch_database():
        return run(broker)


def run(broker: str) -> int:
    from celery.utils.nodenames import host_format
    from django.conf import settings
    from django.db import InterfaceError, OperationalError, connection
    from django.utils import timezone

    from accounts.models import AccountGroup, Platform, SocialAccount, Workspace
    from crosspost.liveness import probe_path
    from crosspost.models import Heartbeat
    from crosspost.tasks import heartbeat
    from posts.models import Post
    from publishing.models import Execution, ExecutionStatus
    from publishing.planner import post_publish
    from tests.support.stack import beat, flush_redis, kill_supervised, manage, stack_env, tasks_sent_to, worker

    moving = (ExecutionStatus.PENDING, ExecutionStatus.QUEUED, ExecutionStatus.POSTING, ExecutionStatus.RETRY_WAIT)

    def safely(query, default=None):
        """``query()``, or ``default`` while PostgreSQL restarts under this process too."""
        try:
            return query()
        except (OperationalError, InterfaceError):
            connection.close()
            return default

    def wait(predicate, timeout: float, interval: float = 0.2) -> float | None:
        """Seconds until ``predicate()`` held, or None after ``timeout``."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if safely(predicate, False):
                return time.monotonic() - started
            time.sleep(interval)
        return None

    flush_redis(broker)
    var = Path(settings.VAR_DIR)
    figures: dict[str, tuple[float, dict]] = {}  # name → (seconds, extra fields of its JSON line)

    def measured(name: str, seconds: float | None, timeout: float) -> None:
        figures[name] = (timeout, {"timed_out": True}) if seconds is None else (seconds, {})

    with FaultyTelegram(FAULT_RATE) as tg, ExitStack() as stack:
        settings.TELEGRAM_API_BASE_URL = tg.url  # the planner validates with what the workers get
        workspace = Workspace.objects.create(name="Faults", slug="faults")
        unpaced_policy(workspace, Platform.TELEGRAM)
        group = AccountGroup.objects.create(workspace=workspace, name="Channels")
        chat_of: dict[str, int] = {}  # account handle → its chat id
        accounts = []
        for index in range(EXECUTIONS):
            token, handle = f"{800000 + index}:faults-token-{index}", f"faults{index}"
            tg.add_bot(token, username=f"faults_bot{index}")
            chat_of[handle] = tg.add_chat(username=handle, admins=[token])["id"]
            accounts.append(
                SocialAccount(
                    workspace=workspace,
                    platform=Platform.TELEGRAM,
                    handle=handle,
                    group=group,
                    credentials={"bot_token": token},
                    options={"chat_id": f"@{handle}"},
                    warmup_started_at=timezone.now() - timedelta(days=60),
                )
            )
        SocialAccount.objects.bulk_create(accounts)
        post = Post.objects.create(
            workspace=workspace, title="Fault run", caption="Exactly once, whatever happens #faults", media_type="text"
        )
        post.target_groups.set([group])
        plan = post_publish(post=post)
        if plan.created != EXECUTIONS:
            raise SystemExit(f"faults: the plan created {plan.created} executions, not {EXECUTIONS}: {plan.as_dict()}")
        first_due = timezone.now() + timedelta(seconds=20)  # the workers and beat are up by then
        executions = list(Execution.objects.filter(post=post).order_by("pk"))
        for index, execution in enumerate(executions):
            execution.scheduled_for = first_due + timedelta(seconds=WINDOW * index / EXECUTIONS)
        Execution.objects.bulk_update(executions, ["scheduled_for"])

        env = stack_env(
            broker,
            var,
            TELEGRAM_API_BASE_URL=tg.url,
            HTTP_TIMEOUT_SECONDS=HTTP_TIMEOUT,
            DISPATCH_INTERVAL_SECONDS=1,
            LEASE_SWEEP_INTERVAL_SECONDS=2,
            HEARTBEAT_INTERVAL_SECONDS=1,
            PUBLISH_TIME_LIMIT_SECONDS=PUBLISH_TIME_LIMIT,
            PUBLISH_LEASE_SECONDS=PUBLISH_LEASE,
            QUEUED_LEASE_SECONDS=20,  # messages lost with Redis or a killed worker are re-dispatched after this
            WORKER_PROBE_INTERVAL_SECONDS=2,
            WORKER_STALE_SECONDS=20,
        )
        manage(env, "setup_periodic_tasks")
        stack.enter_context(tasks_sent_to(broker))
        nodes = [host_format(f"faults{index}@%h") for index in range(WORKERS)]
        supervisors = [
            stack.enter_context(
                worker(
                    env,
                    concurrency=CONCURRENCY,
                    log=var / f"worker{index}.log",
                    name=node,
                    include=["tests.faults.seams"],
                    supervised=True,
                )
            )
            for index, node in enumerate(nodes)
        ]
        stack.enter_context(beat(env, log=var / "beat.log", supervised=True))
        log(f"{EXECUTIONS} executions due over {WINDOW:.0f} s from {first_due:%H:%M:%S}; workers {', '.join(nodes)}")

        kills = 0
        wall_start = time.time()
        for at, fault in FAULTS:
            time.sleep(max(0.0, (first_due + timedelta(seconds=at) - timezone.now()).total_seconds()))
            if fault == "kill":
                victim = supervisors[kills % WORKERS]
                killed = kill_supervised(victim)
                kills += 1
                log(f"SIGKILL worker {nodes[(kills - 1) % WORKERS]} ({killed} processes)")
            elif fault == "redis":
                log("restarting Redis (its data is lost)")
                services("restart-redis")
                up_wall = time.time()
                sent = timezone.now()
                heartbeat.apply_async(retry_policy={"max_retries": 20, "interval_start": 0.5, "interval_step": 0.5})
                first = wait(lambda sent=sent: Heartbeat.objects.filter(name="worker", seen_at__gt=sent).exists(), 60)
                every = wait(
                    lambda up_wall=up_wall: all(
                        probe_path(node).exists() and probe_path(node).stat().st_mtime > up_wall for node in nodes
                    ),
                    60,
                )
                measured("redis_first_task_after_restart", first, 60)
                measured("redis_every_worker_consuming_after_restart", every, 60)
                log(f"Redis is back: a task sent then ran after {first} s, every worker consumed after {every} s")
            elif fault == "postgres":
                log("restarting PostgreSQL")
                services("restart-postgres")
                up = timezone.now()
                published = wait(
                    lambda up=up: Execution.objects.filter(post=post, status=ExecutionStatus.SUCCESS, started_at__gt=up).exists(),
                    120,
                )
                measured("postgres_first_publish_after_restart", published, 120)
                log(f"after PostgreSQL came back: first publish in {published} s")

        # Executions a killed worker was publishing stay "posting" until their lease runs out.
        deadline = PUBLISH_LEASE + 60
        log(f"faults done; waiting up to {deadline} s for every execution to settle")
        settled = wait(lambda: not Execution.objects.filter(post=post, status__in=moving).exists(), deadline, interval=1)
        measured("settled_after_last_fault", settled, deadline)
        measured("faults_and_settling", time.time() - wall_start, 0)
        stack.close()  # stop beat and the workers (gracefully), then read what happened

        statuses = Counter(Execution.objects.filter(post=post).values_list("status", flat=True))
        handle_status = dict(Execution.objects.filter(post=post).values_list("account__handle", "status"))
        delivered = Counter(message["chat"]["id"] for message in tg.messages)
        sends = sum(1 for r in tg.requests if r.path.rsplit("/", 1)[-1].lower() in SEND_METHODS)

        def delivered_to(status: str) -> list[int]:
            return [delivered[chat_of[h]] for h, s in handle_status.items() if s == status]

        logs = "".join(p.read_text(errors="replace") for p in var.glob("worker*.log"))
        why_unconfirmed = Counter(
            "answer_lost"
            if reason.startswith("Telegram")
            else "worker_died"
            if reason.startswith("The worker stopped")
            else "other"
            for reason in Execution.objects.filter(post=post, status=ExecutionStatus.UNCONFIRMED).values_list(
                "error_message", flat=True
            )
        )
        outcome = {
            "executions": (len(handle_status), "count"),
            "published": (statuses[ExecutionStatus.SUCCESS], "count"),
            "failed": (statuses[ExecutionStatus.FAILED], "count"),
            "unconfirmed": (statuses[ExecutionStatus.UNCONFIRMED], "count"),
            "unconfirmed_posted": (sum(1 for n in delivered_to(ExecutionStatus.UNCONFIRMED) if n), "count"),
            **{f"unconfirmed_{why}": (why_unconfirmed[why], "count") for why in ("answer_lost", "worker_died", "other")},
            "lost": (sum(statuses[s] for s in moving), "count"),
            "duplicates": (sum(1 for n in delivered.values() if n > 1), "count"),
            "published_but_not_posted": (sum(1 for n in delivered_to(ExecutionStatus.SUCCESS) if n == 0), "count"),
            "failed_but_posted": (sum(1 for n in delivered_to(ExecutionStatus.FAILED) if n), "count"),
            "without_reason": (
                Execution.objects.filter(
                    post=post, status__in=(ExecutionStatus.FAILED, ExecutionStatus.UNCONFIRMED), error_message=""
                ).count(),
                "count",
            ),
            "attempts": (sum(Execution.objects.filter(post=post).values_list("attempts", flat=True)), "count"),
            "platform_sends": (sends, "count"),
            "injected_faults": (sum(tg.injected.values()), "count"),
            **{f"injected_{kind}": (tg.injected[kind], "count") for kind in FaultyTelegram.FAILURES},
            "injected_fault_rate": (sum(tg.injected.values()) / max(sends, 1), "ratio"),
            "worker_kills": (kills, "count"),
            "worker_restarts": (logs.count("supervise: worker exited"), "count"),
            "worker_unrecoverable_errors": (logs.count("Unrecoverable error"), "count"),
            "worker_watchdog_exits": (logs.count("it no longer consumes"), "count"),
            "beat_restarts": ((var / "beat.log").read_text(errors="replace").count("supervise: beat exited"), "count"),
        }
        for name, (value, unit) in outcome.items():
            report(name, value, unit)
        for name, (seconds, extra) in figures.items():
            report(name, seconds, "s", **extra)

    guarantees = {
        "duplicates": outcome["duplicates"][0] == 0,
        "lost": outcome["lost"][0] == 0,
        "published_but_not_posted": outcome["published_but_not_posted"][0] == 0,
        "failed_but_posted": outcome["failed_but_posted"][0] == 0,
        "without_reason": outcome["without_reason"][0] == 0,
        "redis_first_task_after_restart": figures["redis_first_task_after_restart"][0] <= RECOVERY_LIMIT,
        "redis_every_worker_consuming_after_restart": figures["redis_every_worker_consuming_after_restart"][0] <= RECOVERY_LIMIT,
        "executions": outcome["executions"][0] == EXECUTIONS,
    }
    problems = [name for name, ok in guarantees.items() if not ok]
    if problems:
        log(f"BROKEN: {', '.join(problems)} (logs in {var})")
        return 1
    log("every guarantee held")
    return 0


if __name__ == "__main__":
    sys.exit(main())
