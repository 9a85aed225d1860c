"""Planner: wall time and query count to plan one post for 1,000 and 10,000 accounts."""

import time

from common import report, scratch_database


def main() -> None:
    with scratch_database():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from accounts.models import AccountGroup, SocialAccount, Workspace
        from posts.models import Post
        from publishing.planner import post_publish

        workspace = Workspace.objects.create(name="Bench", slug="bench")
        for count in (1_000, 10_000):
            group = AccountGroup.objects.create(workspace=workspace, name=f"g{count}")
            SocialAccount.objects.bulk_create(
                [
                    SocialAccount(workspace=workspace, platform="sandbox", handle=f"{count}-{i}", group=group)
                    for i in range(count)
                ],
                batch_size=2000,
            )
            post = Post.objects.create(workspace=workspace, caption="Bench #post", media_type="text")
            post.target_groups.set([group])
            started = time.perf_counter()
            with CaptureQueriesContext(connection) as ctx:
                plan = post_publish(post=post)
            elapsed = time.perf_counter() - started
            assert plan.created == count, plan.as_dict()
            report(f"plan_{count}_accounts_time", elapsed * 1000, "ms", db=connection.vendor)
            report(f"plan_{count}_accounts_queries", len(ctx.captured_queries), "queries", db=connection.vendor)


if __name__ == "__main__":
    main()
