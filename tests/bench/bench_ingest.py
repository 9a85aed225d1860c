"""From a Telegram channel message to every platform (issue 13): ``ingest_to_published_seconds``.

Channel posts (a small photo each, every fifth an album of two) go into the loopback Bot API while a
real Celery worker and beat run against PostgreSQL — once with the embedded filesystem broker, once
with Redis (BENCH_REDIS_URL). The source polls (SOURCE_POLL_INTERVAL_SECONDS=1) and publishes
automatically to Telegram, VK and Instagram emulators under unpaced policies (TikTok photo posts
need a verified https media domain; YouTube takes videos only). Measured per
post: from its (last) update entering the Bot API to its last execution published. It includes the
poll interval and the album window (SOURCE_ALBUM_WINDOW_SECONDS, 3 s by default); there is no LLM or
translation in the path. Where the time went: ``ingest_stage_seconds`` per pipeline stage (the wait
before it and its run, p50 over the posts) and ``ingest_executions_seconds`` from the publish stage
to the post's last execution published (the accounts' pacing: 24 posts 0.5 s apart to the same
three accounts, one post a second each). BENCH_INGEST_POSTS, BENCH_INGEST_BROKERS
(filesystem,redis) and BENCH_LOG_LEVEL narrow a run by hand."""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

from common import ROOT, report, scratch_database, unpaced_policy

CELERY = [sys.executable, "-m", "celery", "-A", "crosspost"]
POSTS = int(os.environ.get("BENCH_INGEST_POSTS", "24"))
TARGETS = 3  # Telegram, VK, Instagram: photo posts (TikTok pulls photos from a verified https domain only)
ARRIVAL_INTERVAL = 0.5  # seconds between two channel posts
SOURCE_TOKEN, PUBLISH_TOKEN = "7100000001:AAHbenchSourceBot", "7100000002:AAHbenchPublishBot"
VK_USER, VK_TOKEN, VK_GROUP = 9001, "vk1.a.bench", 9002
IG_USER, IG_TOKEN = "17841400000009003", "EAAGbench"


def start(args, env, log):
    return subprocess.Popen([*CELERY, *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc):
    import signal

    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def make_workspace(name: str, channel: dict):
    """A workspace with one account per platform and a source publishing the channel to all of them."""
    from accounts.models import SocialAccount, Workspace
    from sources.models import IngestMode, Source

    workspace = Workspace.objects.create(name=name, slug=name)
    accounts = [
        SocialAccount(
            workspace=workspace,
            platform="telegram",
            handle="@bench_shop",
            credentials={"bot_token": PUBLISH_TOKEN},
            options={"chat_id": "@bench_shop"},
        ),
        SocialAccount(
            workspace=workspace,
            platform="vk",
            handle="club",
            credentials={"access_token": VK_TOKEN},
            options={"owner_id": -VK_GROUP},
        ),
        SocialAccount(
            workspace=workspace,
            platform="instagram",
            handle="bench.shop",
            credentials={"access_token": IG_TOKEN},
            options={"ig_user_id": IG_USER},
        ),
    ]
    for account in accounts:
        account.save()  # one by one: credentials are encrypted on save
        unpaced_policy(workspace, account.platform)
    source = Source.objects.create(
        workspace=workspace,
        name=name,
        options={"chat_id": str(channel["id"])},
        secret={"bot_token": SOURCE_TOKEN},
        mode=IngestMode.PUBLISH,
    )
    source.target_accounts.set(accounts)
    return source


def send_posts(telegram, channel) -> dict[str, float]:
    """POSTS channel posts, ARRIVAL_INTERVAL apart; {ingest key: when its last update went in}."""
    from tests.factories import png_bytes

    arrived = {}
    for n in range(POSTS):
        photo = telegram.add_file(png_bytes(64, 48, (n * 9 % 256, 80, 160)))
        if n % 5 == 4:  # an album of two photos
            group = f"1399{n:013d}"
            second = telegram.add_file(png_bytes(48, 64, (80, n * 9 % 256, 160)))
            telegram.channel_post(
                SOURCE_TOKEN, channel, media_group_id=group, caption=f"Album {n}", **telegram.photo_content(photo)
            )
            telegram.channel_post(SOURCE_TOKEN, channel, media_group_id=group, **telegram.photo_content(second))
            arrived[f"group:{group}"] = time.time()
        else:
            update = telegram.channel_post(SOURCE_TOKEN, channel, caption=f"Drop {n}", **telegram.photo_content(photo))
            arrived[f"message:{update['channel_post']['message_id']}"] = time.time()
        time.sleep(ARRIVAL_INTERVAL)
    return arrived


def wait_published(source, arrived: dict[str, float], timeout: float) -> list[float]:
    """Seconds from arrival to the last execution's publish, per post, once all are published."""
    from publishing.models import Execution, ExecutionStatus
    from sources.models import IngestRecord

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records = {r.key: r.post_id for r in IngestRecord.objects.filter(source=source, post__isnull=False)}
        if len(records) == len(arrived):
            executions = Execution.objects.filter(post_id__in=records.values())
            if executions.count() == TARGETS * len(arrived) and not executions.exclude(status=ExecutionStatus.SUCCESS).exists():
                latest: dict[int, datetime] = {}
                for post_id, finished in executions.values_list("post_id", "finished_at"):
                    latest[post_id] = max(latest.get(post_id, finished), finished)
                return [latest[records[key]].timestamp() - at for key, at in arrived.items()]
            failed = executions.filter(status__in=(ExecutionStatus.FAILED, ExecutionStatus.BLOCKED)).first()
            if failed is not None:
                raise SystemExit(f"bench: {failed.account} did not publish: {failed.error_message}")
        time.sleep(0.2)
    states = dict(Counter(Execution.objects.filter(post__ingest_records__source=source).values_list("status", flat=True)))
    made = IngestRecord.objects.filter(source=source).count()
    raise SystemExit(f"bench: the posts were not all published in time ({made} of {len(arrived)} made; executions {states})")


def main() -> None:
    broker_redis = os.environ["BENCH_REDIS_URL"]
    with scratch_database() as name:
        import redis
        from django.conf import settings
        from django.db import connection

        from tests.emulators.instagram_graph import InstagramGraphEmulator, MediaHost
        from tests.emulators.telegram import TelegramEmulator
        from tests.emulators.vk import VkEmulator

        s = connection.settings_dict
        media_root = Path(tempfile.mkdtemp(prefix="crosspost-bench-media-"))
        with (
            TelegramEmulator() as telegram,
            VkEmulator() as vk,
            MediaHost(media_root) as host,
            InstagramGraphEmulator(processing_polls=0) as meta,
        ):
            telegram.add_bot(SOURCE_TOKEN, username="bench_reader_bot")
            telegram.add_bot(PUBLISH_TOKEN, username="bench_poster_bot")
            telegram.add_chat(title="Bench shop", username="bench_shop", admins=[PUBLISH_TOKEN])
            vk.add_user(VK_USER, VK_TOKEN)
            vk.add_group(VK_GROUP, "Bench", "bench", admins={VK_USER: 3})
            meta.add_account(IG_USER, IG_TOKEN, "bench.shop")
            for broker in os.environ.get("BENCH_INGEST_BROKERS", "filesystem,redis").split(","):
                var = Path(tempfile.mkdtemp(prefix="crosspost-bench-"))
                broker_url = "filesystem://localhost/"
                if broker == "redis":
                    broker_url = broker_redis
                    redis.Redis.from_url(broker_url).flushdb()
                env = {
                    **os.environ,
                    "DATABASE_URL": f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{name}",
                    "CELERY_BROKER_URL": broker_url,
                    "REDIS_URL": "",
                    "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
                    "SECRET_KEY": settings.SECRET_KEY,
                    "CROSSPOST_VAR_DIR": str(var),
                    "MEDIA_ROOT": str(media_root),
                    "PUBLIC_MEDIA_BASE_URL": host.url,
                    "TELEGRAM_API_BASE_URL": telegram.url,
                    "VK_API_BASE_URL": f"{vk.url}/method",
                    "INSTAGRAM_GRAPH_BASE_URL": meta.base_url,
                    "DISPATCH_INTERVAL_SECONDS": "1",
                    "SOURCE_POLL_INTERVAL_SECONDS": "1",
                    "HEARTBEAT_INTERVAL_SECONDS": "5",
                    "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
                }
                subprocess.run(
                    [sys.executable, "manage.py", "setup_periodic_tasks"], cwd=ROOT, env=env, check=True, capture_output=True
                )
                channel = telegram.add_chat(title=f"Drops {broker}", admins=[SOURCE_TOKEN])
                source = make_workspace(f"bench-{broker}", channel)
                log = open(var / "stack.log", "ab")
                worker = start(
                    [
                        "worker",
                        "-Q",
                        # make run's queues (scripts/run.sh): the pipeline's stages have queues of their own.
                        "high,normal,low,media,ingest,enrich,captionize,publish",
                        "-c",
                        "2",
                        "--without-gossip",
                        "--without-mingle",
                        "--loglevel",
                        env["LOG_LEVEL"],
                    ],
                    env,
                    log,
                )
                beat = start(["beat", "--loglevel", "WARNING", "-s", str(var / "beat-schedule")], env, log)
                try:
                    time.sleep(4)  # worker and beat up
                    arrived = send_posts(telegram, channel)
                    seconds = sorted(wait_published(source, arrived, timeout=300))
                finally:
                    stop(beat)
                    stop(worker)
                    log.close()
                # The source is done with: the next run's beat must not poll it.
                source.enabled = False
                source.save(update_fields=["enabled"])
                p50, p95 = statistics.median(seconds), statistics.quantiles(seconds, n=20)[18]
                report("ingest_to_published_seconds", p50, "s", stat="p50", broker=broker, posts=len(seconds))
                report("ingest_to_published_seconds", p95, "s", stat="p95", broker=broker, posts=len(seconds))
                report_stages(source, arrived, broker)


def report_stages(source, arrived: dict[str, float], broker: str) -> None:
    """Where a post's time went, per pipeline stage (p50 over the posts): ``wait`` from the end of the
    stage before (the arrival, for ingest) to the stage's start, ``run`` from its start to its end."""
    from posts.models import PipelineStage, Stage
    from publishing.models import Execution
    from sources.models import IngestRecord

    arrival = {r.post_id: arrived[r.key] for r in IngestRecord.objects.filter(source=source, post__isnull=False)}
    rows = list(PipelineStage.objects.filter(post_id__in=arrival))  # put in stage order per post below
    waits: dict[str, list[float]] = {}
    runs: dict[str, list[float]] = {}
    order = {stage: i for i, stage in enumerate(Stage.values)}
    by_post: dict[int, list] = {}
    for row in rows:
        by_post.setdefault(row.post_id, []).append(row)
    for post_id, stages in by_post.items():
        before = arrival[post_id]
        for row in sorted(stages, key=lambda r: order[r.stage]):
            if row.started_at is None or row.finished_at is None:
                continue
            waits.setdefault(row.stage, []).append(row.started_at.timestamp() - before)
            runs.setdefault(row.stage, []).append(row.finished_at.timestamp() - row.started_at.timestamp())
            before = row.finished_at.timestamp()
    # Between the publish stage and finalize: the post's executions, from the plan to the last publish.
    publish_end = {r.post_id: r.finished_at.timestamp() for r in rows if r.stage == Stage.PUBLISH and r.finished_at}
    spans: dict[int, list] = {}
    for post_id, scheduled, started, finished in Execution.objects.filter(post_id__in=arrival).values_list(
        "post_id", "scheduled_for", "started_at", "finished_at"
    ):
        spans.setdefault(post_id, []).append((scheduled.timestamp(), started.timestamp(), finished.timestamp()))
    planned_ahead = [max(s for s, _, _ in spans[p]) - publish_end[p] for p in spans if p in publish_end]
    late = [max(b - s for s, b, _ in spans[p]) for p in spans]
    report(
        "ingest_executions_seconds",
        statistics.median(max(f for _, _, f in spans[p]) - publish_end[p] for p in spans if p in publish_end),
        "s",
        broker=broker,
        scheduled_after_plan_p50=round(statistics.median(planned_ahead), 3),
        started_after_scheduled_p50=round(statistics.median(late), 3),
        note="publish stage end → the post's last execution published",
    )
    for stage in sorted(runs, key=order.get):
        report(
            "ingest_stage_seconds",
            statistics.median(waits[stage]) + statistics.median(runs[stage]),
            "s",
            stage=stage,
            broker=broker,
            wait_p50=round(statistics.median(waits[stage]), 3),
            run_p50=round(statistics.median(runs[stage]), 3),
            run_max=round(max(runs[stage]), 3),
        )


if __name__ == "__main__":
    main()
