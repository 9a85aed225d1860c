"""The roles a read-only request reads once (accounts.selectors.ROLES_READ): its queries filter by the
workspace ids it read instead of a membership subquery each, with exactly the rows the subquery gives,
and a write never relies on them."""

from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.middleware import MemberTimezoneMiddleware
from accounts.models import Membership, Role, SocialAccount
from accounts.selectors import ROLES_READ, primary_membership, scope, workspaces_for
from dashboard.selectors import access_for
from tests.factories import SocialAccountFactory, UserFactory, WorkspaceFactory
from tests.test_dashboard import login

# scope()'s subquery of the user's workspaces (its aliases as Django writes them).
MEMBERSHIP_SUBQUERY = 'FROM "accounts_workspace" U0 INNER JOIN "accounts_membership" U1'


def test_a_page_reads_the_memberships_once_and_filters_by_their_ids(client, member, workspace):
    login(client, member, Role.VIEWER)
    SocialAccountFactory(workspace=workspace)
    client.get(reverse("dashboard:overview"))  # warm caches
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("dashboard:overview"))
    assert response.status_code == 200
    sql = [q["sql"] for q in ctx.captured_queries]
    assert sql[2].startswith('SELECT "accounts_membership"')  # the middleware's read, the only one of the roles
    assert not [s for s in sql[3:] if MEMBERSHIP_SUBQUERY in s or s.startswith('SELECT "accounts_membership"')]
    assert f'"workspace_id" IN ({workspace.pk})' in " ".join(sql)


def test_an_admin_page_reads_the_memberships_once(client, member, workspace):
    """The admin's per-request roles (member_roles) are the ones the middleware read with the time zone."""
    client.force_login(member(Role.EDITOR))
    SocialAccountFactory(workspace=workspace)
    url = reverse("admin:accounts_socialaccount_changelist")
    client.get(url)  # warm caches
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200 and b"results" in response.content
    reads = [q["sql"] for q in ctx.captured_queries if 'FROM "accounts_membership"' in q["sql"]]
    assert len(reads) == 1, reads


def test_remembered_ids_give_the_rows_the_subquery_gives_for_every_minimum_role(member, workspace):
    others = [WorkspaceFactory() for _ in range(3)]
    user = member(Role.VIEWER)
    for ws, role in zip(others, (Role.EDITOR, Role.ADMIN, Role.OWNER), strict=True):
        Membership.objects.create(user=user, workspace=ws, role=role)
    stranger = WorkspaceFactory()
    for ws in [workspace, *others, stranger]:
        SocialAccountFactory.create_batch(2, workspace=ws)

    for min_role in (Role.VIEWER, Role.EDITOR, Role.ADMIN, Role.OWNER):
        asked = set(scope(SocialAccount.objects.all(), user, min_role).values_list("pk", flat=True))
        workspaces = set(workspaces_for(user, min_role).values_list("pk", flat=True))
        primary_membership(user, remember_roles=True)
        assert set(scope(SocialAccount.objects.all(), user, min_role).values_list("pk", flat=True)) == asked
        assert set(workspaces_for(user, min_role).values_list("pk", flat=True)) == workspaces
        delattr(user, ROLES_READ)
    assert stranger.pk not in set(workspaces_for(user).values_list("pk", flat=True))


def test_a_member_of_no_workspace_sees_nothing_with_remembered_roles(db, workspace):
    user = UserFactory()
    SocialAccountFactory(workspace=workspace)
    primary_membership(user, remember_roles=True)
    assert getattr(user, ROLES_READ) == {}
    assert not scope(SocialAccount.objects.all(), user).exists()
    assert access_for(user).roles == {}


def test_only_a_read_only_request_remembers_the_roles(member, workspace):
    user = member(Role.EDITOR)
    seen = {}

    def view(request):
        seen[request.method] = getattr(request.user, ROLES_READ, None)
        return None

    middleware = MemberTimezoneMiddleware(view)
    for method in ("get", "post", "delete"):
        request = getattr(RequestFactory(), method)("/")
        request.user = user
        middleware(request)
        if hasattr(user, ROLES_READ):
            delattr(user, ROLES_READ)
    assert seen == {"GET": {workspace.pk: Role.EDITOR}, "POST": None, "DELETE": None}


def test_access_uses_the_remembered_roles_without_a_query(member, workspace, django_assert_num_queries):
    user = member(Role.ADMIN)
    primary_membership(user, remember_roles=True)
    with django_assert_num_queries(0):
        access = access_for(user)
    assert access.can(workspace.pk, Role.ADMIN) and not access.can(workspace.pk + 1, Role.VIEWER)
