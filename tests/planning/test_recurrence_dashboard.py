"""The post page's Repeating section: set and stop a rule, switch evergreen, compare the
repetitions (outcomes and views); a repetition links to its parent."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from planning.models import Recurrence
from planning.recurrence import recurrence_set
from posts.models import Post, PostStatus
from stats.models import MetricSnapshot

from ..factories import ExecutionFactory, PostFactory, SocialAccountFactory

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


def login(client, member, role=Role.EDITOR):
    user = member(role)
    client.force_login(user)
    return user


def test_it_sets_a_rule_from_the_post_page_and_shows_it(client, member, workspace):
    login(client, member)
    post = PostFactory(workspace=workspace)
    day = (timezone.localdate() + timedelta(days=3)).isoformat()
    form = {"frequency": "weekly", "interval": "2", "weekdays": ["0", "3"], "date": day, "time": "09:30", "count": "4"}

    response = client.post(reverse("dashboard:post-repeat", args=[post.pk]), form, **HX)

    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="repeat"' in body and "Every 2 weeks on Monday, Thursday at 09:30, 4 times" in body
    rule = Recurrence.objects.get(post=post)
    assert (rule.frequency, rule.interval, rule.weekdays, rule.count) == ("weekly", 2, [0, 3], 4)
    page = client.get(reverse("dashboard:post", args=[post.pk])).content.decode()
    assert 'data-testid="next-occurrence"' in page and "Stop repeating" in page

    stopped = client.post(reverse("dashboard:post-repeat-stop", args=[post.pk]), **HX)
    assert "Not repeating any more." in stopped.content.decode()
    assert not Recurrence.objects.get(post=post).active


def test_it_shows_what_to_fix_in_a_bad_rule_and_works_without_htmx(client, member, workspace):
    login(client, member)
    post = PostFactory(workspace=workspace)
    day = (timezone.localdate() + timedelta(days=3)).isoformat()
    bad = {"frequency": "daily", "interval": "1", "weekdays": ["2"], "date": day, "time": "09:00", "until": "2001-01-01"}
    response = client.post(reverse("dashboard:post-repeat", args=[post.pk]), bad, **HX)
    assert response.status_code == 400
    body = response.content.decode()
    assert "Weekdays apply to weekly repetition only" in body and "is before the first occurrence" in body
    assert not Recurrence.objects.exists()

    good = {"frequency": "daily", "interval": "1", "date": day, "time": "09:00"}
    response = client.post(reverse("dashboard:post-repeat", args=[post.pk]), good)
    assert response.status_code == 302 and response.url == reverse("dashboard:post", args=[post.pk])
    assert Recurrence.objects.get(post=post).active


def test_it_switches_evergreen_on_a_finished_post(client, member, workspace):
    login(client, member)
    post = PostFactory(workspace=workspace, status=PostStatus.COMPLETED)
    response = client.post(reverse("dashboard:post-evergreen", args=[post.pk]), {"on": "1"}, **HX)
    assert 'data-testid="evergreen"' in response.content.decode()
    assert Post.objects.get(pk=post.pk).evergreen
    response = client.post(reverse("dashboard:post-evergreen", args=[post.pk]), **HX)
    assert "Make evergreen" in response.content.decode()
    assert not Post.objects.get(pk=post.pk).evergreen


def test_it_lets_viewers_see_but_not_change_the_rule(client, member, workspace):
    login(client, member, Role.VIEWER)
    post = PostFactory(workspace=workspace)
    recurrence_set(post=post, frequency="daily", interval=1, starts_at=timezone.now() + timedelta(days=1))
    page = client.get(reverse("dashboard:post", args=[post.pk])).content.decode()
    assert 'data-testid="rule"' in page and "Every day at" in page
    assert 'data-testid="repeat-form"' not in page and "Stop repeating" not in page
    assert client.post(reverse("dashboard:post-repeat-stop", args=[post.pk])).status_code == 403
    assert Recurrence.objects.get(post=post).active


def test_it_compares_the_repetitions_and_links_a_repetition_to_its_parent(client, member, workspace):
    login(client, member)
    parent = PostFactory(workspace=workspace, title="Tips")
    account, other = SocialAccountFactory(workspace=workspace), SocialAccountFactory(workspace=workspace)
    now = timezone.now()
    first = PostFactory(workspace=workspace, parent=parent, occurrence_at=now - timedelta(days=2), status="completed")
    second = PostFactory(workspace=workspace, parent=parent, occurrence_at=now - timedelta(days=1), status="partial")
    for child, views in ((first, 120), (second, 80)):
        done = ExecutionFactory(post=child, account=account, status="success", finished_at=child.occurrence_at)
        MetricSnapshot.objects.create(execution=done, slot="24h", taken_at=now, views=views)
    ExecutionFactory(post=second, account=other, status="failed")

    page = client.get(reverse("dashboard:post", args=[parent.pk])).content.decode()

    rows = page.split('data-testid="repetition"')[1:]
    assert len(rows) == 2
    # Latest first: the second repetition (1 published, 1 failed, 80 views), then the first.
    cells = [[cell.split("</td>")[0] for cell in row.split('<td class="num">')[1:]] for row in rows]
    assert cells == [["1", "1", "0", "80"], ["1", "0", "0", "120"]]

    child_page = client.get(reverse("dashboard:post", args=[second.pk])).content.decode()
    assert f"Repetition of #{parent.pk}" in child_page
    assert reverse("dashboard:post", args=[parent.pk]) in child_page
