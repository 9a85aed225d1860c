"""The statistics admin: read-only, scoped to the member's workspaces, every snapshot shown with
what failed."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from publishing.models import ExecutionStatus
from stats.models import MetricPause, MetricSnapshot

from .factories import ExecutionFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


def snapshot(workspace, **fields) -> MetricSnapshot:
    execution = ExecutionFactory(post__workspace=workspace, status=ExecutionStatus.SUCCESS, remote_id="1")
    values = {"slot": "1h", "taken_at": timezone.now(), "views": 120, "likes": 7, **fields}
    return MetricSnapshot.objects.create(execution=execution, **values)


def test_it_lists_the_workspaces_snapshots_only_and_never_offers_a_change(client, member, workspace):
    mine = snapshot(workspace, errors={"saves": "Instagram refused saved."})
    theirs = snapshot(WorkspaceFactory(), views=999_999)
    client.force_login(member(Role.ADMIN))
    page = client.get(reverse("admin:stats_metricsnapshot_changelist"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "999999" not in body and "999 999" not in body
    assert list(page.context["cl"].result_list) == [mine]
    assert client.get(reverse("admin:stats_metricsnapshot_change", args=[theirs.pk])).status_code in (302, 404)
    detail = client.get(reverse("admin:stats_metricsnapshot_change", args=[mine.pk]))
    assert detail.status_code == 200 and "Instagram refused saved." in detail.content.decode()
    assert client.get(reverse("admin:stats_metricsnapshot_add")).status_code == 403
    assert client.post(reverse("admin:stats_metricsnapshot_delete", args=[mine.pk]), {"post": "yes"}).status_code == 403
    assert MetricSnapshot.objects.filter(pk=mine.pk).exists()


def test_it_shows_paused_accounts(client, member, workspace):
    execution = ExecutionFactory(post__workspace=workspace)
    MetricPause.objects.create(account=execution.account, until=timezone.now() + timedelta(minutes=10), reason="VK error 6")
    client.force_login(member(Role.VIEWER))
    page = client.get(reverse("admin:stats_metricpause_changelist"))
    assert page.status_code == 200 and "VK error 6" in page.content.decode()
