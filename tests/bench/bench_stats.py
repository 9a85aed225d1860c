"""Statistics collection: 10,000 successful executions on sandbox accounts, every due snapshot
read in batches — wall time, and the queries one batch costs at two batch sizes (they must not
grow with the batch)."""

import os
import time
from datetime import timedelta

from common import report, scratch_database

EXECUTIONS = 10_000
ACCOUNTS = 100

# The sandbox answers at once; the per-account spacing of real platforms is not what is measured.
os.environ["STATS_ACCOUNT_INTERVAL_SECONDS"] = "0"


def main() -> None:
    with scratch_database():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext
        from django.utils import timezone

        from accounts.models import SocialAccount, Workspace
        from posts.models import Post
        from publishing.models import Execution, ExecutionStatus
        from stats.models import MetricSnapshot
        from stats.services import metrics_collect_batch, metrics_collect_due

        workspace = Workspace.objects.create(name="Bench", slug="bench")
        accounts = SocialAccount.objects.bulk_create(
            [SocialAccount(workspace=workspace, platform="sandbox", handle=f"stats-{i}") for i in range(ACCOUNTS)]
        )
        posts = Post.objects.bulk_create(
            [Post(workspace=workspace, caption=f"Bench {i}", media_type="text") for i in range(EXECUTIONS // ACCOUNTS)]
        )
        now = timezone.now()
        executions = [
            Execution(
                workspace=workspace,
                post=post,
                account=account,
                language="en",
                caption=post.caption,
                scheduled_for=now - timedelta(hours=3),
                status=ExecutionStatus.SUCCESS,
                finished_at=now - timedelta(hours=2, seconds=index),
                remote_id=str(index),
            )
            for index, (post, account) in enumerate((p, a) for p in posts for a in accounts)
        ]
        Execution.objects.bulk_create(executions, batch_size=2000)

        for size in (100, 1000):
            with CaptureQueriesContext(connection) as ctx:
                batch = metrics_collect_batch(now=now, batch_size=size)
            assert batch.stored == size, batch
            report("stats_queries_per_batch", len(ctx.captured_queries), "queries", batch_size=size, db=connection.vendor)

        MetricSnapshot.objects.all().delete()
        started = time.perf_counter()
        batches = metrics_collect_due(now=now, batch_size=500, max_batches=1000)
        elapsed = time.perf_counter() - started
        stored = sum(b.stored for b in batches)
        assert stored == EXECUTIONS == MetricSnapshot.objects.count(), stored
        report(
            "stats_collect_seconds",
            elapsed,
            "s",
            executions=EXECUTIONS,
            accounts=ACCOUNTS,
            batch_size=500,
            batches=len(batches),
            db=connection.vendor,
        )
        report("stats_collect_per_execution", elapsed * 1000 / EXECUTIONS, "ms", db=connection.vendor)


if __name__ == "__main__":
    main()
