"""The queue slots' admin: scoped to the member's workspaces, writes through planning.queue."""

import pytest
from django.urls import reverse

from accounts.models import Role
from crosspost.models import ActivityLog
from planning.models import QueueSlot
from planning.queue import queue_slot_add

from ..factories import MembershipFactory, UserFactory, WorkspaceFactory


@pytest.mark.django_db
def test_it_lists_only_the_members_slots_and_adds_through_the_service(client, workspace):
    mine = queue_slot_add(workspace=workspace, weekday=0, time="09:00")
    theirs = queue_slot_add(workspace=WorkspaceFactory(), weekday=0, time="10:00")
    user = UserFactory()
    MembershipFactory(user=user, workspace=workspace, role=Role.ADMIN)
    client.force_login(user)
    listing = client.get(reverse("admin:planning_queueslot_changelist"))
    assert listing.status_code == 200
    assert list(listing.context["cl"].queryset) == [mine]
    assert client.get(reverse("admin:planning_queueslot_change", args=[theirs.pk])).status_code in (302, 404)
    response = client.post(
        reverse("admin:planning_queueslot_add"), {"workspace": workspace.pk, "group": "", "weekday": 2, "time": "18:30"}
    )
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    assert QueueSlot.objects.filter(workspace=workspace, weekday=2).exists()
    assert ActivityLog.objects.filter(action="queue.slot_add", workspace=workspace).exists()
    duplicate = client.post(
        reverse("admin:planning_queueslot_add"), {"workspace": workspace.pk, "group": "", "weekday": 2, "time": "18:30"}
    )
    assert duplicate.status_code == 200 and duplicate.context["adminform"].form.errors


@pytest.mark.django_db
def test_it_lets_an_editor_read_but_not_add(client, workspace):
    user = UserFactory()
    MembershipFactory(user=user, workspace=workspace, role=Role.EDITOR)
    client.force_login(user)
    assert client.get(reverse("admin:planning_queueslot_changelist")).status_code == 200
    assert client.get(reverse("admin:planning_queueslot_add")).status_code == 403
