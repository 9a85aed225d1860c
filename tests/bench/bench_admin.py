"""Admin changelists at production size: p50/p95 render time, CPU and query count of the accounts,
posts, executions and activity changelists with 10,000 accounts, 1,000,000 executions and
1,000,000 activity rows (``bulk_data``), unfiltered, with a common filter and on a later page, for a
workspace admin (staff member, scoped to their workspace) and for a superuser.

The slowest query of the slowest page is printed with its ``EXPLAIN ANALYZE`` so a regression names
its plan. Sizes can be lowered for a quick run:

    BENCH_ADMIN_ACCOUNTS=1000 BENCH_ADMIN_POSTS=100 BENCH_ADMIN_PER_POST=100 BENCH_ADMIN_ACTIVITY=10000 \
    BENCH_ADMIN_RUNS=5 python bench_admin.py
"""

import os
import statistics
import sys
import time

from common import report, scratch_database

RUNS = int(os.environ.get("BENCH_ADMIN_RUNS", "20"))
SIZES = {
    "accounts": int(os.environ.get("BENCH_ADMIN_ACCOUNTS", "10000")),
    "posts": int(os.environ.get("BENCH_ADMIN_POSTS", "1000")),
    "per_post": int(os.environ.get("BENCH_ADMIN_PER_POST", "1000")),
    "activity": int(os.environ.get("BENCH_ADMIN_ACTIVITY", "1000000")),
}
# Only these pages (comma-separated names), e.g. BENCH_ADMIN_PAGES=executions,executions_failed.
ONLY = {name for name in os.environ.get("BENCH_ADMIN_PAGES", "").split(",") if name}

PAGES = {
    "accounts": "/admin/accounts/socialaccount/",
    "accounts_banned": "/admin/accounts/socialaccount/?status__exact=banned",
    "accounts_page2": "/admin/accounts/socialaccount/?p=2",
    "posts": "/admin/posts/post/",
    "posts_failed": "/admin/posts/post/?status__exact=failed",
    "posts_page2": "/admin/posts/post/?p=2",
    "executions": "/admin/publishing/execution/",
    "executions_failed": "/admin/publishing/execution/?status__exact=failed",
    "executions_page2": "/admin/publishing/execution/?p=2",
    "activity": "/admin/crosspost/activitylog/",
    "activity_failed": "/admin/crosspost/activitylog/?status__exact=failed",
    "activity_page2": "/admin/crosspost/activitylog/?p=2",
}


def percentile(samples: list[float], pct: int) -> float:
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[pct - 1]


def compact_plan(sql: str, lines: int = 15) -> list[str]:
    """The first lines of EXPLAIN ANALYZE of one captured (already interpolated) query."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + sql)
        plan = [row[0] if len(row[0]) <= 160 else row[0][:159] + "…" for row in cursor.fetchall()]
    return plan if len(plan) <= lines else [*plan[: lines - 1], f"… {len(plan) - lines + 1} more lines"]


def measure(users: dict, runs: int, extra: dict) -> None:
    """Render every page ``runs`` times per user and report; then EXPLAIN the slowest query."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    slowest = {"ms": -1.0}
    for who, user in users.items():
        client = Client()
        client.force_login(user)
        suffix = "" if who == "member" else f"_{who}"
        for page, url in PAGES.items():
            if ONLY and page not in ONLY:
                continue
            response = client.get(url)  # warm up (and check the page renders)
            assert response.status_code == 200, (who, url, response.status_code)
            wall, cpu = [], []
            for _ in range(runs):
                started, started_cpu = time.perf_counter(), time.process_time()
                response = client.get(url)
                wall.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - started_cpu) * 1000)
                assert response.status_code == 200, (who, url, response.status_code)
            with CaptureQueriesContext(connection) as ctx:
                client.get(url)
            name = f"admin_{page}{suffix}"
            report(f"{name}_p50", percentile(wall, 50), "ms", **extra)
            report(f"{name}_p95", percentile(wall, 95), "ms", **extra)
            report(f"{name}_cpu_p95", percentile(cpu, 95), "ms", **extra)
            report(f"{name}_queries", len(ctx.captured_queries), "queries", **extra)
            p95 = percentile(wall, 95)
            if p95 > slowest["ms"]:
                query = max(ctx.captured_queries, key=lambda q: float(q["time"]))
                slowest = {"ms": p95, "page": name, "sql": query["sql"], "query_ms": float(query["time"]) * 1000}
    if slowest["ms"] < 0:
        return
    plan = compact_plan(slowest["sql"])
    report(
        "admin_slowest_query",
        slowest["query_ms"],
        "ms",
        page=slowest["page"],
        page_p95_ms=round(slowest["ms"], 1),
        sql=slowest["sql"][:600],
        plan=plan,
        **extra,
    )
    print(f"# slowest page {slowest['page']} (p95 {slowest['ms']:.1f} ms), its slowest query:", file=sys.stderr)
    print("# " + slowest["sql"][:600], file=sys.stderr)
    for line in plan:
        print("#   " + line, file=sys.stderr)


def main() -> None:
    with scratch_database():
        import bulk_data
        from django.contrib.auth import get_user_model
        from django.db import connection

        started = time.perf_counter()
        data = bulk_data.populate(**SIZES)
        print(f"# populated in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        bulk_data.settle()  # as the dashboard bench: vacuumed, as autovacuum leaves a live table
        superuser = get_user_model().objects.create_superuser("bench-root", password="bench-pw-123")
        extra = {
            "db": connection.vendor,
            "accounts": data.accounts,
            "posts": len(data.posts),
            "executions": data.executions,
            "activity": data.activity,
            "runs": RUNS,
        }
        measure({"member": data.user, "superuser": superuser}, RUNS, extra)


if __name__ == "__main__":
    main()
