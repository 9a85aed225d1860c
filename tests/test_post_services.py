"""posts.services: the checks every interface shares (dashboard form, admin, API, publish)."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from posts.models import Post, PostStatus
from posts.services import post_create, post_delete, post_update
from publishing.models import Execution
from publishing.planner import post_publish

from .factories import PostFactory, PostMediaFactory, SocialAccountFactory

pytestmark = pytest.mark.django_db

PASSED = "This time has passed; pick a later one or choose Now."


def test_it_refuses_a_scheduled_time_that_has_passed_beyond_the_grace(workspace):
    with pytest.raises(ValidationError) as refused:
        post_create(workspace=workspace, caption="hi", scheduled_at=timezone.now() - timedelta(minutes=5))
    assert refused.value.message_dict == {"scheduled_at": [PASSED]}
    post = post_create(workspace=workspace, caption="hi", scheduled_at=timezone.now() - timedelta(seconds=30))
    # Leaving an old time as it is does not trip the check; moving the post to another past time does.
    post_update(post=post, title="renamed", scheduled_at=post.scheduled_at)
    with pytest.raises(ValidationError, match="has passed"):
        post_update(post=post, scheduled_at=timezone.now() - timedelta(hours=3))


def test_it_refuses_publishing_at_a_time_that_has_passed(workspace):
    post = PostFactory(workspace=workspace)
    PostMediaFactory(post=post)
    post.target_accounts.set([SocialAccountFactory(workspace=workspace)])
    with pytest.raises(ValidationError) as refused:
        post_publish(post=post, scheduled_at=timezone.now() - timedelta(minutes=2))
    assert refused.value.message_dict == {"scheduled_at": [PASSED]}
    assert not Execution.objects.exists()


def test_it_refuses_a_text_post_without_a_caption_everywhere(workspace):
    with pytest.raises(ValidationError) as refused:
        post_create(workspace=workspace, media_type="text", caption=" \n")
    assert refused.value.message_dict == {"caption": ["A text post needs a caption."]}
    empty = PostFactory(workspace=workspace, media_type="text", caption="")
    empty.target_accounts.set(SocialAccountFactory.create_batch(2, workspace=workspace))
    with pytest.raises(ValidationError, match="A text post needs a caption"):
        post_publish(post=empty)
    assert not Execution.objects.exists()


@pytest.mark.parametrize("status", [PostStatus.SCHEDULED, PostStatus.PUBLISHING])
def test_it_deletes_only_drafts_and_finished_posts(workspace, status):
    for deletable in (PostStatus.DRAFT, PostStatus.COMPLETED, PostStatus.FAILED, PostStatus.CANCELLED):
        post_delete(post=PostFactory(workspace=workspace, status=deletable))
    busy = PostFactory(workspace=workspace, status=status)
    with pytest.raises(ValidationError, match="cancel it first"):
        post_delete(post=busy)
    assert list(Post.objects.all()) == [busy]
