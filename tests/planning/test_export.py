"""The posts export: a range of the member's days, their posts with executions and latest numbers,
as CSV (a row per execution) and JSON (nested), from the API and the dashboard."""

import csv
import io
import json
import types
from datetime import UTC, datetime, timedelta

import jsonschema
import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.api_base import DateTimeField
from accounts.models import Role
from platforms.base import METRICS
from posts.models import Post, PostStatus
from publishing.models import Execution, ExecutionStatus
from stats import exports
from stats.models import MetricSnapshot

from ..factories import PostFactory, SocialAccountFactory, WorkspaceFactory
from ..test_api_schema import _json_schema, openapi

URL = "/api/v1/export/posts/"
# Berlin (the factories' workspace zone, so the member's): 1 March 2026 is UTC+1.
IN_RANGE = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
RANGE = {"start": "2026-03-01", "end": "2026-03-31"}


def body(response) -> bytes:
    assert response.streaming, "the export streams"
    return b"".join(response.streaming_content)


def csv_rows(response) -> list[dict]:
    text = body(response).decode("utf-8")
    assert text.startswith("\ufeff"), "a byte-order mark, for Excel"
    return list(csv.DictReader(io.StringIO(text[1:])))


def snapshot(execution, slot, taken_at, **numbers) -> MetricSnapshot:
    return MetricSnapshot.objects.create(execution=execution, slot=slot, taken_at=taken_at, **numbers)


def execution(post, account, status, **fields) -> Execution:
    return Execution.objects.create(
        workspace=post.workspace,
        post=post,
        account=account,
        language=account.language,
        caption=post.caption,
        status=status,
        scheduled_for=fields.pop("scheduled_for", post.scheduled_at or timezone.now()),
        **fields,
    )


@pytest.fixture
def data(workspace):
    """In ``workspace``: a published post in March (two accounts: one with two snapshots, one
    failed), a draft made in March and never scheduled, a post of April; and a post of March in
    another workspace."""
    shop = SocialAccountFactory(workspace=workspace, handle="berlin_shop", platform="telegram")
    blog = SocialAccountFactory(workspace=workspace, handle="alpha_blog", platform="vk", language="de")
    published = PostFactory(
        workspace=workspace,
        title="Spring sale",
        caption="Spring, line one\nline two",
        scheduled_at=IN_RANGE,
        status=PostStatus.PARTIAL,
    )
    won = execution(
        published,
        shop,
        ExecutionStatus.SUCCESS,
        finished_at=IN_RANGE + timedelta(minutes=1),
        remote_url="https://t.me/shop/12",
        attempts=1,
    )
    lost = execution(published, blog, ExecutionStatus.FAILED, error_message="VK: access denied", attempts=3)
    snapshot(won, "1h", IN_RANGE + timedelta(hours=1), views=10, likes=1)
    snapshot(won, "24h", IN_RANGE + timedelta(hours=24), views=250, likes=12, comments=3, shares=None)
    draft = PostFactory(workspace=workspace, title="Idea", caption="Later")
    Post.objects.filter(pk=draft.pk).update(created_at=datetime(2026, 3, 31, 22, 30, tzinfo=UTC))  # 1 April in Berlin
    draft_in_march = PostFactory(workspace=workspace, title="Draft of March", caption="Soon")
    Post.objects.filter(pk=draft_in_march.pk).update(created_at=datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    april = PostFactory(workspace=workspace, title="April post", scheduled_at=datetime(2026, 4, 2, 9, 0, tzinfo=UTC))
    stranger = PostFactory(workspace=WorkspaceFactory(), title="Not yours", scheduled_at=IN_RANGE)
    execution(stranger, SocialAccountFactory(workspace=stranger.workspace), ExecutionStatus.SUCCESS)
    return types.SimpleNamespace(
        published=published, won=won, lost=lost, draft_in_march=draft_in_march, draft=draft, april=april, stranger=stranger
    )


def when(value) -> str:
    """How the export writes a time: RFC 3339 in the member's zone (Berlin, as activated by the API)."""
    from zoneinfo import ZoneInfo

    with timezone.override(ZoneInfo("Europe/Berlin")):
        return DateTimeField().to_representation(value) if value else ""


@pytest.mark.django_db
def test_it_exports_a_csv_row_per_execution_matching_the_database(api, data):
    response = api(Role.VIEWER).get(URL, {**RANGE, "format": "csv"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="posts-2026-03-01-2026-03-31.csv"'
    rows = csv_rows(response)
    assert list(rows[0]) == list(exports.POST_HEADER)
    # Oldest first: the draft made on 2 March, then the post of 10 March with its two executions
    # (by platform: telegram before vk). The draft of 1 April (Berlin) and April's post are out.
    assert [(row["post_id"], row["execution_id"]) for row in rows] == [
        (str(data.draft_in_march.pk), ""),
        (str(data.published.pk), str(data.won.pk)),
        (str(data.published.pk), str(data.lost.pk)),
    ]
    draft = rows[0]
    assert draft["post_status"] == "draft" and draft["post_scheduled_at"] == ""
    assert draft["post_created_at"] == when(Post.objects.get(pk=data.draft_in_march.pk).created_at)
    assert all(draft[column] == "" for column in exports.POST_HEADER[9:])

    for row, stored in zip(rows[1:], (data.won, data.lost), strict=True):
        stored = Execution.objects.select_related("post__workspace", "account").get(pk=stored.pk)
        post = stored.post
        assert row["workspace"] == post.workspace.name
        assert (row["post_title"], row["post_caption"], row["post_status"]) == (post.title, post.caption, post.status)
        assert (row["media_type"], row["approval_status"]) == (post.media_type, post.approval_status)
        assert row["post_scheduled_at"] == when(post.scheduled_at) == "2026-03-10T10:30:00+01:00"
        assert row["account_id"] == str(stored.account_id) and row["account_handle"] == stored.account.handle
        assert (row["platform"], row["language"], row["execution_status"]) == (
            stored.account.platform,
            stored.language,
            stored.status,
        )
        assert row["execution_scheduled_for"] == when(stored.scheduled_for)
        assert row["published_at"] == when(stored.finished_at)
        assert (row["url"], row["error"], row["attempts"]) == (stored.remote_url, stored.error_message, str(stored.attempts))

    won, lost = rows[1], rows[2]
    latest = MetricSnapshot.objects.get(execution=data.won, slot="24h")
    assert won["metrics_taken_at"] == when(latest.taken_at)
    assert [won[metric] for metric in METRICS] == [
        "" if getattr(latest, metric) is None else str(getattr(latest, metric)) for metric in METRICS
    ]
    assert (won["views"], won["likes"], won["comments"], won["shares"]) == ("250", "12", "3", "")
    assert lost["metrics_taken_at"] == "" and all(lost[metric] == "" for metric in METRICS)


@pytest.mark.django_db
def test_it_exports_json_posts_with_nested_executions_matching_the_database(api, data):
    response = api(Role.VIEWER).get(URL, RANGE)

    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    document = json.loads(body(response))
    schema = openapi()["paths"][URL]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    validator = jsonschema.Draft202012Validator(
        {**_json_schema(schema), "components": _json_schema(openapi()["components"])}, format_checker=jsonschema.FormatChecker()
    )
    validator.validate(document)

    assert (document["start"], document["end"]) == ("2026-03-01", "2026-03-31")
    assert [post["id"] for post in document["posts"]] == [data.draft_in_march.pk, data.published.pk]
    draft, published = document["posts"]
    assert draft["executions"] == [] and draft["scheduled_at"] is None
    post = Post.objects.select_related("workspace").get(pk=data.published.pk)
    assert {key: published[key] for key in ("title", "caption", "status", "media_type", "approval_status")} == {
        "title": post.title,
        "caption": post.caption,
        "status": post.status,
        "media_type": post.media_type,
        "approval_status": post.approval_status,
    }
    assert published["workspace"] == {"id": post.workspace_id, "name": post.workspace.name}
    assert published["scheduled_at"] == when(post.scheduled_at) and published["created_at"] == when(post.created_at)
    won, lost = published["executions"]
    for shown, stored in ((won, data.won), (lost, data.lost)):
        stored = Execution.objects.select_related("account").get(pk=stored.pk)
        assert shown["id"] == stored.pk
        account = stored.account
        assert shown["account"] == {"id": str(account.pk), "handle": account.handle, "platform": account.platform}
        assert (shown["language"], shown["status"], shown["url"], shown["error"], shown["attempts"]) == (
            stored.language,
            stored.status,
            stored.remote_url,
            stored.error_message,
            stored.attempts,
        )
        assert shown["scheduled_for"] == when(stored.scheduled_for)
        assert shown["published_at"] == (when(stored.finished_at) or None)
    latest = MetricSnapshot.objects.get(execution=data.won, slot="24h")
    assert won["metrics"] == {
        "slot": "24h",
        "taken_at": when(latest.taken_at),
        **{metric: getattr(latest, metric) for metric in METRICS},
    }
    assert lost["metrics"] is None


@pytest.mark.django_db
def test_it_filters_by_status_and_workspace(api, data, workspace):
    client = api(Role.VIEWER)
    drafts = json.loads(body(client.get(URL, {**RANGE, "status": "draft"})))
    assert [post["id"] for post in drafts["posts"]] == [data.draft_in_march.pk]
    mine = json.loads(body(client.get(URL, {**RANGE, "workspace": workspace.pk})))
    assert len(mine["posts"]) == 2


@pytest.mark.django_db
def test_it_never_exports_another_workspaces_posts(api, data):
    client = api(Role.VIEWER)
    for params in (RANGE, {**RANGE, "workspace": data.stranger.workspace_id}):
        exported = json.loads(body(client.get(URL, params)))
        assert data.stranger.pk not in [post["id"] for post in exported["posts"]]
        rows = csv_rows(client.get(URL, {**params, "format": "csv"}))
        assert str(data.stranger.pk) not in [row["post_id"] for row in rows]
    outsider = api(Role.OWNER, ws=data.stranger.workspace)
    assert [post["id"] for post in json.loads(body(outsider.get(URL, RANGE)))["posts"]] == [data.stranger.pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"end": "2026-03-31"}, "start"),
        ({"start": "2026-03-01"}, "end"),
        ({"start": "", "end": "2026-03-31"}, "start"),
        ({"start": "2026-02-31", "end": "2026-03-31"}, "start"),
        ({"start": "20260301", "end": "2026-03-31"}, "start"),
        ({"start": "2026-03-01", "end": "1 April"}, "end"),
        ({"start": "2026-03-31", "end": "2026-03-01"}, "end"),
        ({"start": "2025-03-01", "end": "2026-03-02"}, "end"),  # 367 days
        ({**RANGE, "format": "xml"}, "format"),
        ({**RANGE, "format": ""}, "format"),
        ({**RANGE, "status": "bogus"}, "status"),
        ({**RANGE, "workspace": "abc"}, "workspace"),
    ],
)
def test_it_refuses_a_bad_range_or_format_with_a_400_naming_the_parameter(api, params, field):
    response = api(Role.VIEWER).get(URL, params)

    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/json")
    assert field in response.json(), response.json()


@pytest.mark.django_db
def test_it_accepts_a_range_of_exactly_366_days(api):
    assert api(Role.VIEWER).get(URL, {"start": "2025-03-01", "end": "2026-03-01"}).status_code == 200


@pytest.mark.django_db
def test_it_escapes_cells_that_would_run_as_formulas(api, workspace):
    post = PostFactory(workspace=workspace, title='=HYPERLINK("http://evil")', caption="+1 for this", scheduled_at=IN_RANGE)
    account = SocialAccountFactory(workspace=workspace, handle="@evil")
    execution(post, account, ExecutionStatus.FAILED, error_message="-bad")

    [row] = csv_rows(api(Role.VIEWER).get(URL, {**RANGE, "format": "csv"}))

    assert row["post_title"] == '\'=HYPERLINK("http://evil")'
    assert row["post_caption"] == "'+1 for this"
    assert row["account_handle"] == "'@evil"
    assert row["error"] == "'-bad"
    # JSON is data, not a spreadsheet: as stored.
    [shown] = json.loads(body(api(Role.VIEWER).get(URL, RANGE)))["posts"]
    assert shown["title"] == post.title


@pytest.mark.django_db
def test_it_streams_in_chunks(api, workspace, monkeypatch):
    monkeypatch.setattr(exports, "POST_CHUNK", 3)
    account = SocialAccountFactory(workspace=workspace)
    posts = [PostFactory(workspace=workspace, scheduled_at=IN_RANGE + timedelta(minutes=i)) for i in range(8)]
    for post in posts:
        execution(post, account, ExecutionStatus.SUCCESS, finished_at=post.scheduled_at)

    response = api(Role.VIEWER).get(URL, {**RANGE, "format": "csv"})

    assert response.streaming
    chunks = iter(response.streaming_content)
    header = next(chunks)  # the header is written before any post is read
    assert header.decode().startswith("\ufeffpost_id,")
    rows = list(csv.DictReader(io.StringIO((header + b"".join(chunks)).decode()[1:])))
    assert [row["post_id"] for row in rows] == [str(post.pk) for post in posts]


@pytest.mark.django_db
def test_it_exports_from_the_dashboard_posts_page(client, member, data):
    client.force_login(member(Role.VIEWER))
    page = client.get(reverse("dashboard:posts")).content.decode()
    assert 'data-testid="export-form"' in page and reverse("dashboard:posts-export") in page

    response = client.get(reverse("dashboard:posts-export"), {**RANGE, "format": "csv"})
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert [row["post_id"] for row in csv_rows(response)] == [str(data.draft_in_march.pk), *[str(data.published.pk)] * 2]

    as_json = client.get(reverse("dashboard:posts-export"), {**RANGE, "format": "json"})
    assert [post["id"] for post in json.loads(body(as_json))["posts"]] == [data.draft_in_march.pk, data.published.pk]

    refused = client.get(reverse("dashboard:posts-export"), {"start": "2026-03-31", "end": "2026-03-01", "format": "csv"})
    assert refused.status_code == 400
    assert "The range ends before it starts" in refused.content.decode()
