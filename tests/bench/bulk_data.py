"""A production-sized workspace for the page benchmarks: 10,000 accounts, 1,000 posts with 1,000
executions each (1,000,000 executions) and 1,000,000 activity rows.

Accounts and posts go through the ORM (their fields have defaults and encrypted columns); the two
million-row tables are written by the database server itself (``INSERT … SELECT generate_series``
on PostgreSQL), which takes seconds instead of the minutes a million ORM objects would.
"""

from __future__ import annotations

import gc
import sys
import time
from dataclasses import dataclass

ACCOUNTS = 10_000
POSTS = 1_000
EXECUTIONS_PER_POST = 1_000
ACTIVITY_ROWS = 1_000_000
# Execution outcomes, one per ten: mostly published, some failed, some still open.
OUTCOMES = ["success"] * 6 + ["failed", "pending", "queued", "retry_wait"]


@dataclass
class BulkData:
    workspace: object
    user: object
    posts: list
    accounts: int
    executions: int
    activity: int


def populate(
    *, accounts: int = ACCOUNTS, posts: int = POSTS, per_post: int = EXECUTIONS_PER_POST, activity: int = ACTIVITY_ROWS
) -> BulkData:
    """Fill the (scratch) database; PostgreSQL only. Returns what the pages need to address it."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from accounts.models import AccountGroup, Membership, Proxy, SocialAccount, Workspace
    from posts.models import Post

    if connection.vendor != "postgresql":
        raise SystemExit("bulk_data: the million-row data set is built on PostgreSQL only")
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
    platforms = ["sandbox", "telegram", "vk", "instagram", "tiktok", "youtube", "pinterest"]
    SocialAccount.objects.bulk_create(
        [
            SocialAccount(
                workspace=workspace,
                platform=platforms[i % len(platforms)],
                handle=f"bench_{i:05d}",
                group=groups[i % len(groups)],
                proxy=proxies[i % len(proxies)] if i % 3 == 0 else None,
                language=["en", "de", "fr"][i % 3],
                status=statuses[i % len(statuses)],
                credentials={"token": "bench"},
            )
            for i in range(accounts)
        ],
        batch_size=2000,
    )
    post_statuses = ["completed"] * 6 + ["partial", "failed", "publishing", "scheduled"]
    made = Post.objects.bulk_create(
        [
            Post(
                workspace=workspace,
                author=user,
                caption=f"Bench post {p}",
                media_type="text",
                status=post_statuses[p % len(post_statuses)],
            )
            for p in range(posts)
        ],
        batch_size=1000,
    )
    now = timezone.now()
    with connection.cursor() as cursor:
        # Accounts in a stable order, numbered 0…n-1: post p targets per_post consecutive accounts from
        # (p * 37) onwards, so every account appears in about posts*per_post/accounts posts.
        cursor.execute(
            "CREATE TEMP TABLE bench_accounts AS SELECT row_number() OVER (ORDER BY id) - 1 AS n, id, language"
            " FROM accounts_socialaccount WHERE workspace_id = %s",
            [workspace.pk],
        )
        cursor.execute("CREATE INDEX ON bench_accounts (n)")
        cursor.execute(
            "CREATE TEMP TABLE bench_posts AS SELECT row_number() OVER (ORDER BY id) - 1 AS n, id"
            " FROM posts_post WHERE workspace_id = %s",
            [workspace.pk],
        )
        # Outcomes: mostly success, some failed, some still open; finished over the last 30 days.
        cursor.execute(
            """
            INSERT INTO publishing_execution (workspace_id, post_id, account_id, language, caption, caption_edited, status,
                priority, scheduled_for, attempts, lease_token, started_at, finished_at, remote_id, remote_url, error_code,
                error_message,
                raw_response, created_at, updated_at)
            SELECT %(ws)s, p.id, a.id, a.language, 'Bench post', false,
                   s.status, (ARRAY['high','normal','low'])[1 + (i %% 3)],
                   s.at,
                   CASE WHEN s.status IN ('success', 'failed') THEN 1 ELSE 0 END, '',
                   CASE WHEN s.status IN ('success', 'failed') THEN s.at END,
                   CASE WHEN s.status IN ('success', 'failed') THEN s.at END,
                   CASE WHEN s.status = 'success' THEN 'r' || p.id || '-' || a.id ELSE '' END,
                   CASE WHEN s.status = 'success' THEN 'https://example.test/p/' || p.id || '-' || a.id ELSE '' END,
                   CASE WHEN s.status = 'failed' THEN 'transient' ELSE '' END,
                   CASE WHEN s.status = 'failed' THEN 'Sandbox: injected transient.' ELSE '' END,
                   '{}'::jsonb, %(now)s, %(now)s
            FROM bench_posts p
            CROSS JOIN generate_series(0, %(per_post)s - 1) AS i
            JOIN bench_accounts a ON a.n = (p.n * 37 + i) %% %(accounts)s
            CROSS JOIN LATERAL (
                SELECT (%(outcomes)s::text[])[1 + ((p.n + i) %% 10)] AS status,
                       %(now)s - make_interval(mins => ((p.n * 1013 + i * 7) %% (30 * 24 * 60))::int) AS at
            ) s
            """,
            {"ws": workspace.pk, "now": now, "per_post": per_post, "accounts": accounts, "outcomes": OUTCOMES},
        )
        cursor.execute(
            """
            INSERT INTO publishing_activitylog (workspace_id, account_id, action, status, message, details, created_at)
            SELECT %(ws)s, a.id, (ARRAY['account.check','execution.publish','post.publish'])[1 + (i %% 3)],
                   (ARRAY['info','success','failed'])[1 + (i %% 3)], 'Bench activity ' || i, '{}'::jsonb,
                   %(now)s - make_interval(secs => i * 2.5)
            FROM generate_series(0, %(rows)s - 1) AS i
            JOIN bench_accounts a ON a.n = i %% %(accounts)s
            """,
            {"ws": workspace.pk, "now": now, "rows": activity, "accounts": accounts},
        )
        cursor.execute("DROP TABLE bench_accounts")
        cursor.execute("DROP TABLE bench_posts")
        cursor.execute("ANALYZE publishing_execution")
        cursor.execute("ANALYZE publishing_activitylog")
        cursor.execute("ANALYZE accounts_socialaccount")
        cursor.execute("ANALYZE posts_post")
    return BulkData(workspace=workspace, user=user, posts=made, accounts=accounts, executions=posts * per_post, activity=activity)


def settle() -> None:
    """VACUUM the freshly written tables, as autovacuum does on a live installation within minutes:
    without a visibility map no index-only scan is possible, and autovacuum would run during the
    measurement instead (the admin bench's figures then depended on when it started). Then the
    process itself (settle_process)."""
    from django.db import connection

    tables = ("publishing_execution", "publishing_activitylog", "accounts_socialaccount", "posts_post")
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM ANALYZE {table}")
        # Right after the bulk insert a VACUUM may mark no page all-visible (seen: 0 of 29,416 pages
        # with the test server's asynchronous commit), and every index-only scan then reads the table:
        # vacuum again until the map covers the tables.
        for _ in range(10):
            cursor.execute(
                "SELECT relname FROM pg_class WHERE relname = ANY(%s) AND relpages > 0 AND relallvisible < 0.99 * relpages",
                [list(tables)],
            )
            behind = [row[0] for row in cursor.fetchall()]
            if not behind:
                break
            time.sleep(1)
            for table in behind:
                cursor.execute(f"VACUUM ANALYZE {table}")
        else:
            print(f"# the visibility map still misses pages of {', '.join(behind)}", file=sys.stderr)
    settle_process()


def settle_process() -> None:
    """Collect what the fill left and freeze what stays out of the cyclic collector's sight: a server
    worker never made a million rows' worth of ORM objects, but this process did, and its full
    collections then ran during the measurement (the overview's CPU p95 44 ms instead of 34)."""
    gc.collect()
    gc.freeze()


def explain(sql: str, params) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of one captured query, for the bench output of the slowest one."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())
