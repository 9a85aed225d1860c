"""Dashboard pages at production size: p50/p95 wall time, p95 CPU time and query count of the
overview, posts list, post progress (a post with 1,000 executions; full page and its HTMX refresh),
accounts list (plain and filtered) and activity (first and a later page), on ``bulk_data``'s
10,000 accounts / 1,000,000 executions / 1,000,000 activity rows (PostgreSQL).

The query count of every page must not depend on the data size (tests/test_dashboard_scale.py holds
that); the EXPLAIN (ANALYZE) of the slowest query of the slowest page is printed as a last line so a
regression shows its plan.

Sizes: BENCH_PAGES_ACCOUNTS, BENCH_PAGES_POSTS, BENCH_PAGES_PER_POST, BENCH_PAGES_ACTIVITY; RUNS:
BENCH_PAGES_RUNS (default 20).
"""

import os
import statistics
import time

import bulk_data
from common import report, scratch_database

RUNS = int(os.environ.get("BENCH_PAGES_RUNS", "20"))


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[18]


def pages(data) -> dict[str, tuple[str, dict]]:
    """Page name → (URL, extra request headers)."""
    from crosspost.models import ActivityLog

    post = data.posts[len(data.posts) // 2]
    htmx = {"HTTP_HX_REQUEST": "true"}
    # A later activity page as the page's own "older" link reaches it (keyset: ?before=<id>).
    newest = ActivityLog.objects.filter(workspace=data.workspace).order_by("-created_at", "-id")
    later = newest.values_list("id", flat=True)[500:501]
    before = later[0] if later else 0
    return {
        "overview": ("/", {}),
        "overview_htmx": ("/", htmx),
        "posts": ("/posts/", {}),
        "post_progress": (f"/posts/{post.pk}/", {}),
        "post_progress_htmx": (f"/posts/{post.pk}/", htmx),
        "accounts": ("/accounts/", {}),
        "accounts_filtered": ("/accounts/?status=banned&language=de&page=3", {}),
        "activity": ("/activity/", {}),
        "activity_later": (f"/activity/?before={before}", {}),
    }


def measure(data, runs: int = RUNS, explain_slowest: bool = True) -> dict:
    """Request every page ``runs`` times; report and return {page: (p95 ms, queries)}."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(data.user)
    sizes = {"db": connection.vendor, "accounts": data.accounts, "executions": data.executions, "activity": data.activity}
    results, slowest = {}, None
    for name, (url, headers) in pages(data).items():
        client.get(url, **headers)  # warm up
        wall, cpu = [], []
        for _ in range(runs):
            started, started_cpu = time.perf_counter(), time.process_time()
            response = client.get(url, **headers)
            wall.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        with CaptureQueriesContext(connection) as ctx:
            client.get(url, **headers)
        queries = ctx.captured_queries
        report(f"dashboard_{name}_p50", statistics.median(wall), "ms", **sizes)
        report(f"dashboard_{name}_p95", p95(wall), "ms", **sizes)
        report(f"dashboard_{name}_cpu_p95", p95(cpu), "ms", **sizes)
        report(f"dashboard_{name}_queries", len(queries), "queries", **sizes)
        results[name] = (p95(wall), len(queries))
        worst = max(queries, key=lambda q: float(q["time"]), default=None)
        if worst is not None and (slowest is None or results[name][0] > slowest[1]):
            slowest = (name, results[name][0], worst["sql"])
    if explain_slowest and slowest is not None and connection.vendor == "postgresql":
        # The captured SQL has its parameters inlined already; EXPLAIN it as it ran.
        plan = bulk_data.explain(slowest[2], None).splitlines()
        report(
            "dashboard_slowest_query_ms",
            max(float(q) for q in [plan[-1].split(":")[1].split()[0]] if q),
            "ms",
            page=slowest[0],
            sql=slowest[2][:300],
            explain="\n".join(plan[:15]),
        )
    return results


def sizes_from_env() -> dict:
    env = os.environ.get
    return {
        "accounts": int(env("BENCH_PAGES_ACCOUNTS", bulk_data.ACCOUNTS)),
        "posts": int(env("BENCH_PAGES_POSTS", bulk_data.POSTS)),
        "per_post": int(env("BENCH_PAGES_PER_POST", bulk_data.EXECUTIONS_PER_POST)),
        "activity": int(env("BENCH_PAGES_ACTIVITY", bulk_data.ACTIVITY_ROWS)),
    }


def main() -> None:
    with scratch_database():
        started = time.perf_counter()
        data = bulk_data.populate(**sizes_from_env())
        report("dashboard_populate", time.perf_counter() - started, "s", accounts=data.accounts, executions=data.executions)
        bulk_data.settle()
        measure(data)


if __name__ == "__main__":
    main()
