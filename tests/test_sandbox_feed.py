"""/sandbox/ without a browser: a post's link opens the page it is on; filters never error."""

import pytest
from django.urls import reverse

from accounts.models import Role
from publishing.models import SandboxPost

from .factories import SocialAccountFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def feed(client, member, workspace):
    client.force_login(member(Role.VIEWER))
    account = SocialAccountFactory(workspace=workspace, handle="shop_en")
    posts = [SandboxPost.objects.create(account=account, marker=f"cp-{i}", media_type="photo") for i in range(45)]
    return posts  # oldest first


def _markers(response) -> list[str]:
    return [post.marker for post in response.context["page"]]


def test_a_posts_link_opens_the_page_it_is_on(client, feed):
    oldest, newest = feed[0], feed[-1]
    response = client.get(f"/sandbox/?post={oldest.pk}")
    assert response.status_code == 200
    assert response.context["page"].number == 3 and "cp-0" in _markers(response)
    assert f'id="post-{oldest.pk}"' in response.content.decode()
    assert client.get(f"/sandbox/?post={newest.pk}").context["page"].number == 1
    assert client.get(f"/sandbox/?post={feed[24].pk}").context["page"].number == 2  # 20 newer ones


@pytest.mark.parametrize("query", ["?post=abc", "?post=999999", "?page=zzz", "?page=99", "?account=x", "?account=12"])
def test_bad_parameters_show_a_page_not_an_error(client, feed, query):
    response = client.get(reverse("sandbox-feed") + query)
    assert response.status_code == 200
    assert len(_markers(response)) in (20, 5)


def test_another_workspaces_post_is_not_found_by_its_link(client, feed):
    stranger = SandboxPost.objects.create(
        account=SocialAccountFactory(workspace=WorkspaceFactory()), marker="theirs", media_type="photo"
    )
    response = client.get(f"/sandbox/?post={stranger.pk}")
    assert response.status_code == 200
    assert "theirs" not in _markers(response) and response.context["page"].number == 1
