"""Statistics shown: p50/p95 render time and query count of the dashboard post page (Results
section included) for a post with 1,000 executions × 7 snapshots, and of the post's CSV."""

import statistics
import time
from datetime import timedelta

from common import report, scratch_database

EXECUTIONS = 1_000
SLOTS = ("1h", "6h", "24h", "3d", "7d", "30d")
RUNS = 30


def percentile(samples: list[float], n: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[n - 1]


def seed():
    """A viewer and a post with EXECUTIONS published executions × 6 slots (+ one earlier post's snapshot each)."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from accounts.models import AccountGroup, Membership, SocialAccount, Workspace
    from posts.models import Post
    from publishing.models import Execution
    from stats.models import MetricSnapshot

    workspace = Workspace.objects.create(name="Bench", slug="bench", timezone="Europe/Berlin")
    user = get_user_model().objects.create_user("bench", password="bench-pw-123", is_staff=True)
    Membership.objects.create(user=user, workspace=workspace, role="viewer")
    groups = [AccountGroup.objects.create(workspace=workspace, name=f"Group {i}") for i in range(10)]
    platforms = ["vk", "youtube", "telegram", "tiktok", "instagram", "pinterest"]
    accounts = SocialAccount.objects.bulk_create(
        [
            SocialAccount(
                workspace=workspace,
                platform=platforms[i % len(platforms)],
                handle=f"bench_{i:05d}",
                group=groups[i % len(groups)],
                language=["en", "de", "ru"][i % 3],
                credentials={"token": "bench"},
            )
            for i in range(EXECUTIONS)
        ],
        batch_size=1000,
    )
    now = timezone.now()
    published = now - timedelta(days=31)
    post = Post.objects.create(workspace=workspace, author=user, caption="Bench results", status="completed")
    executions = Execution.objects.bulk_create(
        [
            Execution(
                workspace=workspace,
                post=post,
                account=account,
                language=account.language,
                status="success",
                scheduled_for=published,
                finished_at=published,
                remote_url=f"https://example.test/p/{i}",
            )
            for i, account in enumerate(accounts)
        ],
        batch_size=1000,
    )
    offsets = {"1h": 1, "6h": 6, "24h": 24, "3d": 72, "7d": 168, "30d": 720}
    rows = []
    for i, execution in enumerate(executions):
        telegram = execution.account.platform == "telegram"
        for step, slot in enumerate(SLOTS):
            views = None if telegram else (i % 50 + 1) * (step + 1) * 10
            rows.append(
                MetricSnapshot(
                    execution=execution,
                    slot=slot,
                    taken_at=published + timedelta(hours=offsets[slot]),
                    views=views,
                    likes=(i % 7) * (step + 1),
                    comments=i % 3,
                    shares=None if i % 4 == 0 else step,
                    saves=None,
                    watch_time_s=float(i % 11) * step if execution.account.platform == "youtube" else None,
                    unavailable={"views": "The Bot API gives no view counts."} if telegram else {},
                )
            )
    MetricSnapshot.objects.bulk_create(rows, batch_size=2000)
    # There are six slots and one snapshot per execution and slot: the seventh thousand goes to
    # the same accounts' earlier post, so the table holds 1,000 × 7 and the page reads its 6,000.
    other = Post.objects.create(workspace=workspace, author=user, caption="Earlier", status="completed")
    siblings = Execution.objects.bulk_create(
        [
            Execution(
                workspace=workspace,
                post=other,
                account=account,
                language=account.language,
                status="success",
                scheduled_for=published - timedelta(days=1),
                finished_at=published - timedelta(days=1),
            )
            for account in accounts
        ],
        batch_size=1000,
    )
    MetricSnapshot.objects.bulk_create(
        [MetricSnapshot(execution=e, slot="30d", taken_at=now, views=5) for e in siblings], batch_size=2000
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    return user, post


def main() -> None:
    with scratch_database():
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        from stats.models import MetricSnapshot

        user, post = seed()
        client = Client()
        client.force_login(user)
        extra = {"db": connection.vendor, "executions": EXECUTIONS, "snapshots": MetricSnapshot.objects.count()}
        # The polled progress region alone (no Results section) is the baseline the section adds to.
        pages = {
            "post_page_results": (f"/posts/{post.pk}/", {}),
            "post_page_progress_only": (f"/posts/{post.pk}/", {"HTTP_HX_REQUEST": "true"}),
            "post_results_csv": (f"/posts/{post.pk}/results.csv", {}),
        }
        for name, (url, headers) in pages.items():
            client.get(url, **headers)  # warm up
            samples = []
            for _ in range(RUNS):
                started = time.perf_counter()
                response = client.get(url, **headers)
                if response.streaming:
                    b"".join(response.streaming_content)
                samples.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (url, response.status_code)
            with CaptureQueriesContext(connection) as ctx:
                response = client.get(url, **headers)
                if response.streaming:
                    b"".join(response.streaming_content)
            report(f"{name}_ms", percentile(samples, 50), "ms", stat="p50", **extra)
            report(f"{name}_ms", percentile(samples, 95), "ms", stat="p95", **extra)
            report(f"{name}_queries", len(ctx.captured_queries), "queries", **extra)


if __name__ == "__main__":
    main()
