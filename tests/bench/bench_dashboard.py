"""Dashboard: p95 render time and query count of the overview, accounts and post-progress
pages with 10,000 accounts and 100,000 executions (10 posts × 10,000 accounts)."""

import statistics
import time
from datetime import timedelta

from common import report, scratch_database

ACCOUNTS = 10_000
POSTS = 10
RUNS = 20


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[18]


def main() -> None:
    with scratch_database():
        from django.contrib.auth import get_user_model
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext
        from django.utils import timezone

        from accounts.models import AccountGroup, Membership, Proxy, SocialAccount, Workspace
        from crosspost.models import ActivityLog
        from posts.models import Post
        from publishing.models import Execution

        workspace = Workspace.objects.create(name="Bench", slug="bench", timezone="Europe/Berlin")
        user = get_user_model().objects.create_user("bench", password="bench-pw-123", is_staff=True)
        Membership.objects.create(user=user, workspace=workspace, role="admin")
        groups = [AccountGroup.objects.create(workspace=workspace, name=f"Group {i}") for i in range(20)]
        proxies = Proxy.objects.bulk_create(
            [
                Proxy(
                    workspace=workspace,
                    url=f"http://10.1.{i // 250}.{i % 250}:8080",
                    scheme="http",
                    host=f"10.1.{i // 250}.{i % 250}",
                    port=8080,
                    status="active",
                )
                for i in range(500)
            ]
        )
        statuses = ["active"] * 7 + ["cooldown", "banned", "login_required"]
        accounts = SocialAccount.objects.bulk_create(
            [
                SocialAccount(
                    workspace=workspace,
                    platform="sandbox",
                    handle=f"bench_{i:05d}",
                    group=groups[i % len(groups)],
                    proxy=proxies[i % len(proxies)] if i % 3 == 0 else None,
                    language=["en", "de", "fr"][i % 3],
                    status=statuses[i % len(statuses)],
                    credentials={"token": "bench"},
                )
                for i in range(ACCOUNTS)
            ],
            batch_size=2000,
        )
        now = timezone.now()
        outcomes = ["success"] * 6 + ["failed", "pending", "queued", "retry_wait"]
        posts = []
        for p in range(POSTS):
            post = Post.objects.create(workspace=workspace, author=user, caption=f"Bench post {p}", status="publishing")
            posts.append(post)
            rows = []
            for i, account in enumerate(accounts):
                status = outcomes[(i + p) % len(outcomes)]
                at = now - timedelta(minutes=(i * 7 + p * 131) % (14 * 24 * 60))
                rows.append(
                    Execution(
                        workspace=workspace,
                        post=post,
                        account=account,
                        language=account.language,
                        caption=post.caption,
                        status=status,
                        priority=["high", "normal", "low"][i % 3],
                        scheduled_for=at,
                        attempts=1 if status in ("success", "failed") else 0,
                        finished_at=at if status in ("success", "failed") else None,
                        remote_url=f"https://example.test/p/{p}-{i}" if status == "success" else "",
                        error_message="Sandbox: injected transient." if status == "failed" else "",
                    )
                )
            Execution.objects.bulk_create(rows, batch_size=2000)
        ActivityLog.objects.bulk_create(
            [
                ActivityLog(workspace=workspace, account=accounts[i % ACCOUNTS], action="account.check", details={"i": i})
                for i in range(20_000)
            ],
            batch_size=2000,
        )

        client = Client()
        client.force_login(user)
        pages = {
            "overview": "/",
            "accounts": "/accounts/",
            "accounts_filtered": "/accounts/?status=banned&language=de&page=3",
            "post_progress": f"/posts/{posts[-1].pk}/",
            "post_progress_htmx": f"/posts/{posts[-1].pk}/",
            "posts": "/posts/",
            "activity": "/activity/",
        }
        for name, url in pages.items():
            headers = {"HTTP_HX_REQUEST": "true"} if name.endswith("_htmx") else {}
            client.get(url, **headers)  # warm up
            samples = []
            for _ in range(RUNS):
                started = time.perf_counter()
                response = client.get(url, **headers)
                samples.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (url, response.status_code)
            with CaptureQueriesContext(connection) as ctx:
                client.get(url, **headers)
            extra = {"db": connection.vendor, "accounts": ACCOUNTS, "executions": ACCOUNTS * POSTS}
            report(f"dashboard_{name}_p95", p95(samples), "ms", **extra)
            report(f"dashboard_{name}_queries", len(ctx.captured_queries), "queries", **extra)


if __name__ == "__main__":
    main()
