"""Post.options: one validator for API, admin and services; malformed stored options never
turn into a 500 or an execution stuck in ``posting``."""

import pytest
from django.db import OperationalError

from accounts.models import Role
from posts.models import Post
from posts.options import post_options_problems
from publishing.models import ExecutionStatus
from publishing.planner import post_publish

from .factories import PostFactory, PostMediaFactory, SocialAccountFactory
from .support.engine import drain

pytestmark = pytest.mark.django_db

V1 = "/api/v1"


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ("x", "not a string"),
        (7, "not a number"),
        ([], "not an array"),
        ({"bogus": {}, "teleggram": {}}, "unknown keys: bogus, teleggram"),
        ({"telegram": {"silent": True}}, "options.telegram has unknown keys: silent"),
        ({"telegram": {"disable_notification": "yes"}}, "options.telegram.disable_notification must be a boolean"),
        ({"youtube": {"tags": [1, 2]}}, "options.youtube.tags must be a list of strings"),
        ({"vk": "wall"}, "options.vk must be an object"),
        ({"captions": {"de": 5}}, "options.captions must be an object of captions by language"),
    ],
)
def test_it_refuses_malformed_options_with_a_400_naming_them(api, options, named):
    client = api(Role.EDITOR)
    response = client.post(f"{V1}/posts/", {"caption": "hi", "options": options}, format="json")
    assert response.status_code == 400, response.content
    assert named in str(response.json()["options"])


def test_it_accepts_options_every_platform_understands(api):
    client = api(Role.EDITOR)
    options = {
        "telegram": {"disable_notification": True},
        "youtube": {"title": "Demo", "tags": ["a", "b"], "allow_trim": True},
        "pinterest": {"title": "Pin", "link": "https://example.com/p", "alt_text": "a red shoe"},
        "tiktok": {"privacy_level": "SELF_ONLY", "video_cover_timestamp_ms": 1000},
        "captions": {"de": "Hallo"},
        "product": {"marketplace": "wildberries", "article": 123456},
        "allow_trim": False,
    }
    response = client.post(f"{V1}/posts/", {"caption": "hi", "options": options}, format="json")
    assert response.status_code == 201, response.content
    assert Post.objects.get(pk=response.json()["id"]).options == options


def test_it_refuses_malformed_options_in_the_admin(client, member, workspace):
    client.force_login(member(Role.ADMIN, is_staff=True))
    post = PostFactory(workspace=workspace)
    response = client.post(
        f"/admin/posts/post/{post.pk}/change/",
        {
            "workspace": workspace.pk,
            "caption": "hi",
            "language": "en",
            "media_type": "text",
            "priority": "normal",
            "options": '{"telegram": {"pin": true}}',
            "postmedia_set-TOTAL_FORMS": "0",
            "postmedia_set-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "options.telegram has unknown keys: pin" in response.content.decode()
    post.refresh_from_db()
    assert post.options == {}


@pytest.fixture
def stored_bad_options(workspace):
    """A post whose options were saved before they were checked (the validator is bypassed)."""
    account = SocialAccountFactory(workspace=workspace)
    post = PostFactory(workspace=workspace, media_type="photo")
    PostMediaFactory(post=post)
    post.target_accounts.set([account])
    Post.objects.filter(pk=post.pk).update(options="x")
    post.refresh_from_db()
    return post


def test_it_answers_400_not_500_when_publishing_a_post_with_stored_bad_options(api, stored_bad_options):
    client = api(Role.EDITOR, ws=stored_bad_options.workspace)
    response = client.post(f"{V1}/posts/{stored_bad_options.pk}/publish/", {}, format="json")
    assert response.status_code == 400
    assert "This post's options are invalid" in str(response.json())
    response = client.put(f"{V1}/posts/{stored_bad_options.pk}/captions/de/", {"caption": "Hallo"}, format="json")
    assert response.status_code == 400
    assert "options" in response.json()


def test_it_fails_an_execution_whose_post_options_went_bad_with_the_real_reason(stored_bad_options):
    Post.objects.filter(pk=stored_bad_options.pk).update(options={})
    stored_bad_options.refresh_from_db()
    post_publish(post=stored_bad_options)
    Post.objects.filter(pk=stored_bad_options.pk).update(options={"telegram": 7})  # broken after planning
    (outcome,) = drain().values()
    assert outcome == ExecutionStatus.FAILED
    execution = stored_bad_options.executions.get()
    assert execution.status == ExecutionStatus.FAILED and execution.lease_expires_at is None
    assert execution.error_code == "invalid_post"
    assert "options.telegram must be an object" in execution.error_message


def test_it_retries_an_unexpected_error_before_the_platform_call_with_its_reason(workspace, monkeypatch):
    account = SocialAccountFactory(workspace=workspace)
    post = PostFactory(workspace=workspace, media_type="photo")
    PostMediaFactory(post=post)
    post.target_accounts.set([account])
    post_publish(post=post)

    def database_went_away(post):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("publishing.publisher.assets_of", database_went_away)
    (outcome,) = drain().values()
    execution = post.executions.get()
    assert outcome == execution.status == ExecutionStatus.RETRY_WAIT
    assert execution.lease_expires_at is None and execution.error_code == "prepare_failed"
    assert "OperationalError: server closed the connection unexpectedly" in execution.error_message


def test_it_lists_every_problem_at_once():
    problems = post_options_problems({"telegram": {"x": 1}, "vk": [], "nope": 1})
    assert len(problems) == 3
