"""Calendar: render time (p50, p95) and query count of the dashboard's month view with 10,000
posts in one month of one workspace, each targeting one to three of 60 accounts on six
platforms (some through a group), in every status. Goal: p95 ≤ 300 ms.

BENCH_CALENDAR_RUNS sets the number of timed renders (default 20). Besides wall-clock p50/p95 it
reports the CPU time p95 of the render (with SQLite, the database's work included)."""

import os
import statistics
import time
from datetime import UTC, datetime, timedelta

from common import report, scratch_database

POSTS = 10_000
ACCOUNTS = 60
RUNS = int(os.environ.get("BENCH_CALENDAR_RUNS", "20"))
MONTH = datetime(2026, 3, 1, tzinfo=UTC)  # a month with a daylight-saving change in Berlin


def percentile(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1] if len(samples) > 1 else samples[0]


def main() -> None:
    with scratch_database():
        from django.contrib.auth import get_user_model
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        from accounts.models import AccountGroup, Membership, SocialAccount, Workspace
        from planning.models import QueueSlot
        from posts.models import Post

        workspace = Workspace.objects.create(name="Bench", slug="bench", timezone="Europe/Berlin")
        user = get_user_model().objects.create_user("bench", password="bench-pw-123", is_staff=True)
        Membership.objects.create(user=user, workspace=workspace, role="editor")
        groups = [AccountGroup.objects.create(workspace=workspace, name=f"Group {i}") for i in range(6)]
        platforms = ["instagram", "vk", "telegram", "tiktok", "youtube", "pinterest"]
        accounts = SocialAccount.objects.bulk_create(
            [
                SocialAccount(
                    workspace=workspace,
                    platform=platforms[i % len(platforms)],
                    handle=f"bench_{i:03d}",
                    group=groups[i % len(groups)],
                    language="en",
                    credentials={"token": "bench"},
                )
                for i in range(ACCOUNTS)
            ]
        )
        QueueSlot.objects.bulk_create(
            [QueueSlot(workspace=workspace, weekday=d, time=t) for d in range(7) for t in ("09:00", "13:00", "18:00")]
        )
        statuses = ["scheduled"] * 4 + ["completed"] * 3 + ["publishing", "partial", "failed", "cancelled", "draft"]
        span = 31 * 24 * 3600
        posts = Post.objects.bulk_create(
            [
                Post(
                    workspace=workspace,
                    author=user,
                    title=f"Bench post {i}",
                    caption=f"Bench caption {i} #bench",
                    media_type="text",
                    status=statuses[i % len(statuses)],
                    scheduled_at=MONTH + timedelta(seconds=(i * 7919) % span),
                )
                for i in range(POSTS)
            ],
            batch_size=2000,
        )
        by_account = Post.target_accounts.through
        by_group = Post.target_groups.through
        by_account.objects.bulk_create(
            [
                by_account(post_id=post.pk, socialaccount_id=accounts[(i + k * 17) % ACCOUNTS].pk)
                for i, post in enumerate(posts)
                for k in range(1 + i % 3)
            ],
            batch_size=5000,
        )
        by_group.objects.bulk_create(
            [by_group(post_id=post.pk, accountgroup_id=groups[i % len(groups)].pk) for i, post in enumerate(posts) if i % 4 == 0],
            batch_size=5000,
        )

        client = Client()
        client.force_login(user)
        url = f"/calendar/?date={MONTH.date().isoformat()}"
        response = client.get(url)  # warm up
        assert response.status_code == 200, response.status_code
        samples, cpu = [], []
        for _ in range(RUNS):
            started, started_cpu = time.perf_counter(), time.process_time()
            response = client.get(url)
            samples.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
            assert response.status_code == 200
        with CaptureQueriesContext(connection) as ctx:
            client.get(url)
        extra = {"db": connection.vendor, "posts": POSTS, "runs": RUNS, "html_kb": round(len(response.content) / 1024, 1)}
        report("calendar_month_render_p50_ms", percentile(samples, 50), "ms", **extra)
        report("calendar_month_render_p95_ms", percentile(samples, 95), "ms", **extra)
        # CPU time of this process (SQLite runs in it): the figure that a busy shared machine does not inflate.
        report("calendar_month_render_cpu_p95_ms", percentile(cpu, 95), "ms", **extra)
        report("calendar_month_queries", len(ctx.captured_queries), "queries", **extra)


if __name__ == "__main__":
    main()
