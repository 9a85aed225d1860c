"""Planner: time, CPU, queries and peak memory to plan one post for 1,000, 10,000 and 100,000 accounts.

Sizes: ``BENCH_PLANNER_SIZES`` (comma-separated, default "1000,10000,100000"; drop 100000 for
a quick run). Every size plans one post to that many sandbox accounts (figures comparable with
the earlier 1 k / 10 k rows); ``BENCH_PLANNER_MIXED`` (default 10000, 0 to skip) adds a plan to
a mixed set — a fifth each sandbox, Telegram, VK, TikTok and YouTube accounts with credentials,
so the adapters' ``validate()`` read decrypted secrets as in production.

Peak memory is ``tracemalloc``'s peak of Python allocations during the plan (tracing makes the
run slower, so it is a second plan of a fresh post to the same accounts, not the timed one).
The 10 k sandbox plan is profiled once more with cProfile: ``plan_10000_profile`` is the profiled
plan's total (seconds, slower than the timed one: profiling costs) and lists the functions with the
largest cumulative time (ms), the issue's "where does the time go".
"""

import cProfile
import os
import pstats
import time
import tracemalloc

from common import report, scratch_database

PROFILED = 10_000
MIXED_PLATFORMS = ("sandbox", "telegram", "vk", "tiktok", "youtube")
CREDENTIALS = {
    "sandbox": {},
    "telegram": {"bot_token": "123:abc"},
    "vk": {"access_token": "vk-token"},
    "tiktok": {"access_token": "tt-token", "refresh_token": "tt-refresh"},
    "youtube": {"access_token": "yt-token", "refresh_token": "yt-refresh", "client_id": "c", "client_secret": "s"},
}


def _sizes() -> list[int]:
    raw = os.environ.get("BENCH_PLANNER_SIZES", "1000,10000,100000")
    return [int(part) for part in raw.split(",") if part.strip()]


def _profile_lines(profiler: cProfile.Profile, top: int = 10) -> dict[str, float]:
    """The ``top`` functions (of this project, not Django's or the standard library's) by cumulative time."""
    stats = pstats.Stats(profiler)
    rows = []
    for (filename, _line, name), (_cc, _nc, _tt, cumulative, _callers) in stats.stats.items():
        if "/site-packages/" in filename or "/lib/python" in filename or filename.startswith("<"):
            continue
        if "bench_planner" in filename:
            continue
        module = filename.rsplit("/", 2)[-2:]
        rows.append((cumulative, f"{'/'.join(module)}:{name}"))
    rows.sort(reverse=True)
    return {label: round(seconds * 1000, 1) for seconds, label in rows[:top]}


def main() -> None:
    with scratch_database():
        from django.db import connection, reset_queries
        from django.test.utils import CaptureQueriesContext

        from accounts.models import AccountGroup, SocialAccount, Workspace
        from posts.models import Post
        from publishing.planner import post_publish

        workspace = Workspace.objects.create(name="Bench", slug="bench")

        def accounts(label: str, count: int, platforms=("sandbox",)) -> AccountGroup:
            group = AccountGroup.objects.create(workspace=workspace, name=f"g{label}")
            for start in range(0, count, 5000):
                SocialAccount.objects.bulk_create(
                    [
                        SocialAccount(
                            workspace=workspace,
                            platform=platforms[i % len(platforms)],
                            handle=f"{label}-{i}",
                            group=group,
                            credentials=CREDENTIALS[platforms[i % len(platforms)]],
                        )
                        for i in range(start, min(count, start + 5000))
                    ],
                    batch_size=5000,
                )
            return group

        def new_post(group: AccountGroup) -> Post:
            post = Post.objects.create(workspace=workspace, caption="Bench #post", media_type="text")
            post.target_groups.set([group])
            return post

        def measure(label: str, count: int, group: AccountGroup, *, profile: bool = False) -> None:
            post = new_post(group)
            started, cpu = time.perf_counter(), time.process_time()
            with CaptureQueriesContext(connection) as ctx:
                plan = post_publish(post=post)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            assert len(plan.entries) == count and plan.created, plan.nothing_to_publish()
            planned = plan.created
            del plan
            report(f"plan_{label}_accounts_time", elapsed * 1000, "ms", db=connection.vendor, planned=planned)
            report(f"plan_{label}_accounts_cpu", cpu * 1000, "ms", db=connection.vendor)
            report(f"plan_{label}_accounts_queries", len(ctx.captured_queries), "queries", db=connection.vendor)

            post = new_post(group)
            tracemalloc.start()
            plan = post_publish(post=post)
            _current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert plan.created == planned
            del plan
            report(f"plan_{label}_accounts_peak_memory", peak / 2**20, "MB", measured="tracemalloc peak")

            if profile:
                post = new_post(group)
                profiler = cProfile.Profile()
                profiler.enable()
                post_publish(post=post)
                profiler.disable()
                if os.environ.get("BENCH_PLANNER_PROFILE_OUT"):
                    profiler.dump_stats(os.environ["BENCH_PLANNER_PROFILE_OUT"])
                total = pstats.Stats(profiler).total_tt  # the profiled plan's total, seconds
                report(f"plan_{label}_profile", total, "s", top_cumulative_ms=_profile_lines(profiler))
            reset_queries()

        for count in _sizes():
            measure(str(count), count, accounts(str(count), count), profile=count == PROFILED)
        mixed = int(os.environ.get("BENCH_PLANNER_MIXED", "10000"))
        if mixed:
            measure(f"mixed_{mixed}", mixed, accounts(f"mixed{mixed}", mixed, MIXED_PLATFORMS))


if __name__ == "__main__":
    main()
