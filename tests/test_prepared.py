"""crosspost.prepared: a queryset compiled once gives the same objects as the ORM, call after call,
with one statement per call; and the publisher's prepared reads load what a publish needs."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crosspost.prepared import PreparedGet
from publishing.models import Execution
from publishing.planner import post_publish
from publishing.publisher import LOAD_EXECUTION, POST_MEDIA, _policy_fields

from .factories import PostFactory, PostMediaFactory, ProxyFactory, SocialAccountFactory

pytestmark = pytest.mark.django_db

POLICY = ("policy_daily_limit", "policy_warmup_curve", "policy_warmup_ramp_days")
FIELDS = ("pk", "status", "scheduled_for", "caption", "language", "lease_token", "raw_response", "attempts")


def plan(workspace, accounts):
    post = PostFactory(workspace=workspace, media_type="text")
    post.target_accounts.set(accounts)
    post_publish(post=post)
    return post


def test_the_prepared_load_equals_the_orm_load_for_every_execution(workspace):
    proxy = ProxyFactory(workspace=workspace)
    accounts = [
        SocialAccountFactory(workspace=workspace, platform="sandbox", proxy=proxy, credentials={"token": "s3cret"}),
        SocialAccountFactory(workspace=workspace, platform="telegram", options={"chat_id": "@x"}),
    ]
    workspace.policies.create(platform="sandbox", daily_limit=7, warmup_curve=[1, 2], warmup_ramp_days=3)
    post = plan(workspace, accounts)
    orm = Execution.objects.select_related("account__proxy", "account__workspace", "post").annotate(**_policy_fields())
    for execution_id in Execution.objects.filter(post=post).values_list("pk", flat=True):
        expected, got = orm.get(pk=execution_id), LOAD_EXECUTION.get(execution_id)
        assert [getattr(got, name) for name in FIELDS] == [getattr(expected, name) for name in FIELDS]
        assert got.account.credentials == expected.account.credentials
        assert got.account.proxy == expected.account.proxy
        assert (got.account.workspace.pk, got.account.workspace.name) == (workspace.pk, workspace.name)
        assert (got.post.pk, got.post.caption) == (post.pk, post.caption)
        assert [getattr(got, name) for name in POLICY] == [getattr(expected, name) for name in POLICY]
    sandbox = LOAD_EXECUTION.get(Execution.objects.get(post=post, account=accounts[0]).pk)
    telegram = LOAD_EXECUTION.get(Execution.objects.get(post=post, account=accounts[1]).pk)
    assert (sandbox.policy_daily_limit, sandbox.policy_warmup_curve) == (7, [1, 2])
    assert telegram.policy_daily_limit is None  # no saved policy: the planner's default applies


def test_one_statement_per_call_and_fresh_rows_each_time(workspace):
    account = SocialAccountFactory(workspace=workspace, platform="sandbox")
    post = plan(workspace, [account])
    execution = Execution.objects.get(post=post)
    LOAD_EXECUTION.get(execution.pk)  # compiled
    Execution.objects.filter(pk=execution.pk).update(caption="Changed since")
    with CaptureQueriesContext(connection) as ctx:
        again = LOAD_EXECUTION.get(execution.pk)
    assert len(ctx.captured_queries) == 1
    assert again.caption == "Changed since"
    assert LOAD_EXECUTION.get(execution.pk + 10_000) is None


def test_all_keeps_the_querysets_order(workspace):
    post = PostFactory(workspace=workspace, media_type="carousel")
    made = [PostMediaFactory(post=post, position=position) for position in (2, 0, 1)]
    got = POST_MEDIA.all(post.pk)
    assert [media.pk for media in got] == [made[1].pk, made[2].pk, made[0].pk]
    assert [media.asset.pk for media in got] == [made[1].asset.pk, made[2].asset.pk, made[0].asset.pk]
    assert POST_MEDIA.all(post.pk + 1) == []


def test_a_queryset_that_does_not_use_its_key_is_refused(workspace):
    with pytest.raises(ValueError, match="'key' is not used"):
        PreparedGet(lambda key: Execution.objects.all()).get(1)


def finish_and_compare(execution, token):
    """The prepared outcome update (text and JSON arguments) writes what the ORM's update writes."""
    from django.utils import timezone

    from publishing.models import ExecutionStatus
    from publishing.publisher import _finish_update

    now = timezone.now()
    raw = {"ok": True, "result": {"message_id": 7, "text": "Ünïcode ✓"}, "warnings": ["a", "b"]}
    fields = {"remote_id": "7", "remote_url": "https://t.me/c/7", "raw_response": raw, "error_code": "", "error_message": ""}
    assert _finish_update(execution.pk, "not-the-token", ExecutionStatus.SUCCESS, now, fields) == 0
    assert _finish_update(execution.pk, execution.lease_token, ExecutionStatus.SUCCESS, now, fields) == 1
    assert _finish_update(execution.pk, execution.lease_token, ExecutionStatus.SUCCESS, now, fields) == 0  # once
    done = Execution.objects.get(pk=execution.pk)
    assert (done.status, done.finished_at, done.lease_expires_at, done.remote_id) == (ExecutionStatus.SUCCESS, now, None, "7")
    assert (done.remote_url, done.raw_response, done.error_code) == ("https://t.me/c/7", raw, "")
    # Another row the ORM finishes the same way: the same stored values.
    Execution.objects.filter(pk=execution.pk).update(status=ExecutionStatus.POSTING, raw_response={})
    Execution.objects.filter(pk=execution.pk).update(status=ExecutionStatus.SUCCESS, finished_at=now, **fields)
    assert Execution.objects.get(pk=execution.pk).raw_response == done.raw_response
    # A JSON value that is not an object goes through as well.
    Execution.objects.filter(pk=execution.pk).update(status=ExecutionStatus.POSTING)
    assert _finish_update(execution.pk, execution.lease_token, ExecutionStatus.FAILED, now, {"raw_response": [1, "x"]}) == 1
    assert Execution.objects.get(pk=execution.pk).raw_response == [1, "x"]


def claim_and_post(workspace):
    """The publisher's prepared claim and account update, as it uses them."""
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import SocialAccount
    from publishing.dispatcher import claim_due
    from publishing.models import ExecutionStatus
    from publishing.publisher import ACCOUNT_POSTED, CLAIM

    account = SocialAccountFactory(workspace=workspace, platform="sandbox", failed_attempts=3)
    post = plan(workspace, [account])
    [claim] = claim_due(now=timezone.now() + timedelta(days=30))
    now = timezone.now()
    assert CLAIM.run(pk=claim.execution_id, token="not-the-token", now=now, lease=now) == 0
    assert CLAIM.run(pk=claim.execution_id, token=claim.token, now=now, lease=now + timedelta(seconds=90)) == 1
    assert CLAIM.run(pk=claim.execution_id, token=claim.token, now=now, lease=now) == 0  # claimed once only
    execution = Execution.objects.get(post=post)
    assert (execution.status, execution.attempts, execution.started_at) == (ExecutionStatus.POSTING, 1, now)
    assert execution.lease_expires_at == now + timedelta(seconds=90)
    assert ACCOUNT_POSTED.run(pk=account.pk, now=now) == 1
    account = SocialAccount.objects.get(pk=account.pk)
    finish_and_compare(execution, claim.token)
    assert (account.last_post_at, account.failed_attempts) == (now, 0)


def test_prepared_updates_claim_once_and_adapt_datetimes_and_uuids(workspace):
    claim_and_post(workspace)


@pytest.mark.postgres
def test_prepared_statements_on_postgresql(workspace):
    claim_and_post(workspace)
    test_the_prepared_load_equals_the_orm_load_for_every_execution(workspace)


def server_prepared(sql_start: str) -> int:
    """How many statements beginning with ``sql_start`` this connection has prepared on the server."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", [sql_start + "%"])
        return cursor.fetchone()[0]


@pytest.mark.postgres
def test_postgresql_prepares_them_once_per_connection_and_logs_their_sql(workspace, settings):
    post = plan(workspace, SocialAccountFactory.create_batch(3, workspace=workspace))
    ids = list(Execution.objects.filter(post=post).order_by("pk").values_list("pk", flat=True))
    # Statements of their own (a column set nothing else reads), so none was prepared before.
    load = PreparedGet(lambda key: Execution.objects.filter(pk=key).only("caption_edited", "language"))
    unprepared = PreparedGet(lambda key: Execution.objects.filter(pk=key).only("caption_edited", "priority"))
    start = load._get_compiled("default").sql[:90]
    assert server_prepared(start) == 0
    with CaptureQueriesContext(connection) as ctx:
        loaded = [load.get(pk) for pk in ids]
    # Prepared by the first call, reused by the others; each call is still one logged statement.
    assert server_prepared(start) == 1
    assert [execution.pk for execution in loaded] == ids
    assert len(ctx.captured_queries) == 3
    assert all(query["sql"] and query["sql"].startswith("SELECT") for query in ctx.captured_queries)

    # Off (behind an old transaction-pooling PgBouncer): the same answers, nothing prepared.
    settings.DATABASE_PREPARED_STATEMENTS = False
    assert [unprepared.get(pk).priority for pk in ids] == list(
        Execution.objects.filter(pk__in=ids).order_by("pk").values_list("priority", flat=True)
    )
    assert server_prepared(unprepared._get_compiled("default").sql[:90]) == 0
