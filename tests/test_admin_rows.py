"""Admin lists drawn at the cost of what they show (issue 19): the rows rendered once per column are
Django's rows, cell for cell, and read no column row by row; choice labels read from a table are Django's labels; the executions'
post filter is a drop-down that still filters, offers only the user's own posts and keeps the
list's other parameters."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib import admin
from django.contrib.admin.templatetags.admin_list import results
from django.db import connection, models
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from accounts.admin_rows import fast_results
from accounts.admin_utils import RelatedSelectFilter
from crosspost.choices import choice_label
from publishing.models import Execution, ExecutionStatus

from .factories import (
    AccountEventFactory,
    ActivityLogFactory,
    ExecutionFactory,
    PostFactory,
    ProxyFactory,
    SocialAccountFactory,
    UserFactory,
    WorkspaceFactory,
)

pytestmark = pytest.mark.django_db

EXECUTIONS = reverse("admin:publishing_execution_changelist")


def _fill(workspace, user) -> list:
    """Rows that take every branch of the big lists' columns: with and without a proxy, a post
    title, an error, a finish time, a linked post in the log, a status reason, an approval."""
    proxy = ProxyFactory(workspace=workspace)
    accounts = [
        SocialAccountFactory(workspace=workspace, proxy=proxy, status="banned", status_reason="Platform said <no>"),
        SocialAccountFactory(workspace=workspace, platform="telegram"),
    ]
    posts = [
        PostFactory(workspace=workspace, author=user, title="Summer & sale", approval_status="pending"),
        PostFactory(workspace=workspace, author=user, title="", caption="No title, a caption " * 5),
    ]
    for i, (post, account) in enumerate([(p, a) for p in posts for a in accounts]):
        ExecutionFactory(
            post=post,
            account=account,
            status=(ExecutionStatus.FAILED, ExecutionStatus.SUCCESS, ExecutionStatus.PENDING, ExecutionStatus.UNCONFIRMED)[i],
            error_code="media_rejected" if i == 0 else "",
            error_message="Too <long> " * 10 if i == 0 else "",
            finished_at=timezone.now() if i == 1 else None,
        )
    ActivityLogFactory(workspace=workspace, account=accounts[0], post=posts[0], action="post.publish", status="failed")
    ActivityLogFactory(workspace=workspace, action="unknown.code", message="")
    AccountEventFactory(account=accounts[0], from_status="active", to_status="banned")
    return posts


def _request(user, query: str = ""):
    request = RequestFactory().get("/admin/list/" + query)
    request.user = user
    return request


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("who", ["member", "superuser"])
def test_it_renders_every_changelist_row_as_django_does(workspace, member, who, language):
    user = member() if who == "member" else UserFactory(is_staff=True, is_superuser=True)
    _fill(workspace, user)
    _fill(WorkspaceFactory(), UserFactory())  # another tenant's rows: scoped away for the member
    compared = set()
    with translation.override(language):
        for model, model_admin in admin.site._registry.items():
            for query in ("", "?o=-2.1", "?status__exact=failed"):
                request = _request(user, query)
                if not model_admin.has_view_permission(request):
                    continue
                try:
                    cl = model_admin.get_changelist_instance(request)
                except admin.options.IncorrectLookupParameters:
                    continue  # no such filter on this list
                cl.formset = None  # as changelist_view sets it for a list without list_editable
                with CaptureQueriesContext(connection) as queries:
                    ours = fast_results(cl)
                assert ours is not None, model
                if getattr(model_admin, "list_only", ()):
                    # The rows were read with only the listed columns: none is fetched row by row.
                    assert not queries.captured_queries, (model, [q["sql"] for q in queries.captured_queries])
                assert [list(row) for row in ours] == [list(row) for row in results(cl)], (model, query)
                if cl.result_list:
                    compared.add(model._meta.model_name)
    assert {"socialaccount", "post", "execution", "activitylog", "accountevent", "proxy"} <= compared


def test_it_falls_back_to_django_for_lists_it_does_not_cover(workspace, member):
    user = member()
    _fill(workspace, user)
    cl = admin.site._registry[Execution].get_changelist_instance(_request(user, "?_popup=1"))
    cl.formset = None
    assert fast_results(cl) is None


def _choice_fields():
    for model in (m for m in admin.site._registry if m._meta.app_label in {"accounts", "posts", "publishing", "crosspost"}):
        for field in model._meta.concrete_fields:
            if field.choices and not isinstance(field, models.ForeignKey):
                yield model, field


@pytest.mark.parametrize("language", ["en", "ru"])
def test_choice_labels_are_djangos_labels(language):
    fields = list(_choice_fields())
    assert len(fields) > 10
    with translation.override(language):
        for model, field in fields:
            for value in [value for value, _label in field.flatchoices] + ["not-a-choice"]:
                obj = model(**{field.attname: value})
                assert choice_label(obj, field.name) == getattr(obj, f"get_{field.name}_display")(), (model, field, value)
    obj = Execution(status=ExecutionStatus.SUCCESS)
    with translation.override("ru"):
        assert choice_label(obj, "status") == "Опубликовано"  # translated per call, not cached in one language


def _post_filter(response) -> RelatedSelectFilter:
    return next(spec for spec in response.context["cl"].filter_specs if isinstance(spec, RelatedSelectFilter))


def test_the_post_filter_is_a_drop_down_of_the_users_posts_that_still_filters(client, workspace, member):
    user = member()
    client.force_login(user)
    posts = _fill(workspace, user)
    foreign = _fill(WorkspaceFactory(), UserFactory())
    PostFactory(workspace=workspace, title="No executions")

    response = client.get(EXECUTIONS + "?status__exact=failed")
    spec = _post_filter(response)
    assert {pk for pk, _label in spec.lookup_choices} == {post.pk for post in posts}
    html = response.content.decode()
    form = re.search(r'<form method="get" class="cp-select-filter">(.*?)</form>', html, re.S).group(1)
    assert '<input type="hidden" name="status__exact" value="failed">' in form  # the other filter rides along
    options = re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', form)
    assert options[0] == ("", " selected", "All")
    assert {value for value, _selected, _label in options[1:]} == {str(post.pk) for post in posts}
    assert "Summer &amp; sale" in form
    assert not any(str(post.pk) in value for post in foreign for value, _s, _l in options)
    assert f"post__id__exact={posts[0].pk}" not in html  # no link per post

    chosen = client.get(EXECUTIONS + f"?post__id__exact={posts[1].pk}&status__exact=failed")
    rows = list(chosen.context["cl"].result_list)
    expected = Execution.objects.filter(post=posts[1], status=ExecutionStatus.FAILED)
    assert {row.pk for row in rows} == set(expected.values_list("pk", flat=True))
    assert re.search(rf'<option value="{posts[1].pk}" selected>', chosen.content.decode())

    # "All" sends an empty value: the whole list, not an error.
    every = client.get(EXECUTIONS + "?post__id__exact=")
    assert every.status_code == 200 and "e=1" not in every.get("Location", "")
    assert every.context["cl"].result_count == Execution.objects.filter(workspace=workspace).count()

    # Another workspace's post is neither offered nor listed.
    stranger = client.get(EXECUTIONS + f"?post__id__exact={foreign[0].pk}")
    assert not list(stranger.context["cl"].result_list)
    assert foreign[0].pk not in {pk for pk, _label in _post_filter(stranger).lookup_choices}


def test_the_post_filter_offers_the_newest_posts_and_the_chosen_one(client, workspace, member, monkeypatch):
    monkeypatch.setattr(RelatedSelectFilter, "max_choices", 2)
    user = member()
    client.force_login(user)
    posts = _fill(workspace, user) + _fill(workspace, user)  # the newest is the highest key: the last
    offered = [pk for pk, _label in _post_filter(client.get(EXECUTIONS)).lookup_choices]
    assert offered == [posts[3].pk, posts[2].pk]
    chosen = client.get(EXECUTIONS + f"?post__id__exact={posts[0].pk}")
    assert [pk for pk, _label in _post_filter(chosen).lookup_choices] == [posts[3].pk, posts[2].pk, posts[0].pk]
    assert {row.post_id for row in chosen.context["cl"].result_list} == {posts[0].pk}


@pytest.mark.parametrize(
    "fmt",
    ["j M Y, H:i", "d.m.Y H:i", r"D, d M Y H:i:s \d\a\y z", "N j, Y, P", "l jS F y, g:i a A f u", "c", "r O e"],
)
@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "Asia/Kolkata"])
def test_dates_in_lists_are_formatted_as_django_formats_them(monkeypatch, fmt, zone):
    from django.contrib.admin.utils import display_for_field
    from django.utils import dateformat

    from accounts import admin_rows

    monkeypatch.setattr(admin_rows, "get_format", lambda name: fmt)
    field = Execution._meta.get_field("finished_at")
    start = timezone.now().replace(microsecond=123456)
    # Repeated days and times, a DST change (Berlin, 29 March), midnight and noon.
    values = [start - timedelta(hours=7 * i, minutes=13 * i) for i in range(60)]
    values += [datetime(2026, 3, 29, h, 30, tzinfo=UTC) for h in (0, 1, 2, 11, 12)] + [None]
    for language in ("en", "ru"):
        with translation.override(language), timezone.override(zone):
            text = admin_rows._field_text(field, "-", False)
            shown = [text(value) for value in values]
            if fmt in ("c", "r O e"):  # time zone characters: Django's own display_for_field
                expected = [display_for_field(value, field, "-") for value in values]
            else:
                expected = [
                    "-" if value is None else dateformat.format(timezone.template_localtime(value), fmt) for value in values
                ]
            assert shown == expected
            if fmt == "j M Y, H:i":  # the language's own format, through Django's display_for_field
                monkeypatch.undo()
                text = admin_rows._field_text(field, "-", False)
                assert [text(value) for value in values] == [display_for_field(value, field, "-") for value in values]
                monkeypatch.setattr(admin_rows, "get_format", lambda name: fmt)


def test_a_filtered_list_offers_show_all_instead_of_counting_the_whole_list(client, workspace, member):
    user = member()
    client.force_login(user)
    _fill(workspace, user)
    whole = client.get(EXECUTIONS)
    assert whole.context["cl"].full_result_count == whole.context["cl"].result_count == 4
    assert "Show all" not in whole.content.decode()

    with CaptureQueriesContext(connection) as queries:
        failed = client.get(EXECUTIONS + "?status__exact=failed&q=Summer")
    cl = failed.context["cl"]
    assert cl.result_count == Execution.objects.filter(workspace=workspace, status="failed", post__title="Summer & sale").count()
    assert cl.full_result_count is None and not cl.show_full_result_count
    assert re.search(r'1 result \(<a href="\?">Show all</a>\)', failed.content.decode())
    assert sum("COUNT(" in q["sql"].upper() for q in queries.captured_queries) == 1  # the filtered list's only
