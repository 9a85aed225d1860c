"""The admin and the activity log in Russian: model names, columns, filters, action
messages and the activity log's actions, with no English left over."""

import re
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse
from django.utils import translation

from accounts.models import AccountStatus, SocialAccount
from crosspost.models import ACTION_LABELS, action_label
from platforms.tiktok import ACCEPTED_ACTION
from publishing.models import Execution, ExecutionStatus

from .factories import ActivityLogFactory, ExecutionFactory, SocialAccountFactory, UserFactory
from .test_admin import one_of_each

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english_afterwards():
    """Russian requests leave Russian active in this thread; later tests expect English."""
    yield
    translation.activate("en")


PROJECT_APPS = ("accounts", "posts", "media", "publishing", "translations", "products", "crosspost")
ROOT = Path(__file__).resolve().parents[1]
CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)
# Names that read the same in Russian.
LATIN_OK = {"URL", "SHA-256", "user agent", "User agent"}


def project_models():
    return [model for app in PROJECT_APPS for model in apps.get_app_config(app).get_models()]


def russian_client(client):
    client.force_login(UserFactory(username="root", is_superuser=True))
    client.cookies["django_language"] = "ru"
    return client


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_it_names_every_model_in_russian():
    assert project_models()
    for model in project_models():
        opts = model._meta
        with translation.override("en"):
            english = (str(opts.verbose_name), str(opts.verbose_name_plural))
        with translation.override("ru"):
            russian = (str(opts.verbose_name), str(opts.verbose_name_plural))
            fields = {field.name: str(field.verbose_name) for field in opts.get_fields() if hasattr(field, "verbose_name")}
        assert russian[0] != english[0] and CYRILLIC.search(russian[0]), (opts.label, russian)
        assert russian[1] != english[1] and CYRILLIC.search(russian[1]), (opts.label, russian)
        english_fields = [name for name, label in fields.items() if not CYRILLIC.search(label) and label not in LATIN_OK]
        assert not [name for name in english_fields if name != "id"], (opts.label, english_fields)


def test_it_shows_every_admin_changelist_in_russian(client, workspace):
    one_of_each(workspace)
    russian_client(client)
    models = [model for model in admin.site._registry if model._meta.app_label in PROJECT_APPS]
    assert len(models) >= 17
    for model in models:
        opts = model._meta
        response = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        assert response.status_code == 200, opts.label
        html = response.content.decode()
        assert '<html lang="ru"' in html
        title = text_of(re.search(r"<title>(.*?)</title>", html, re.S).group(1))
        heading = text_of(re.search(r"<h1>(.*?)</h1>", html, re.S).group(1))
        assert heading.startswith("Выберите") and re.search("для (изменения|просмотра)", heading), heading
        # "Выберите execution для изменения": the model name in the heading and title is Russian.
        name = re.sub(r"^Выберите | для (изменения|просмотра)$", "", heading)
        assert CYRILLIC.search(name) and name in title, (opts.label, heading, title)
        headers = [text_of(th) for th in re.findall(r'<th scope="col"[^>]*>(.*?)</th>', html, re.S)]
        english = [h for h in headers if h and not CYRILLIC.search(h) and h not in LATIN_OK]
        assert not english, (opts.label, english)
        filters = re.findall(r'data-filter-title="([^"]*)"', html)
        assert all(CYRILLIC.search(f) for f in filters), (opts.label, filters)
        actions = re.findall(r'<option value="(?!delete_selected)[a-z_]+">([^<]+)</option>', html)
        assert all(CYRILLIC.search(a) for a in actions), (opts.label, actions)


def test_it_reports_admin_actions_in_russian(client, workspace):
    accounts = SocialAccountFactory.create_batch(2, workspace=workspace, status=AccountStatus.DISABLED)
    russian_client(client)
    response = client.post(
        reverse("admin:accounts_socialaccount_changelist"),
        {"action": "enable_accounts", "_selected_action": [a.pk for a in accounts]},
        follow=True,
    )
    assert "Включено 2 аккаунта." in response.content.decode()
    assert set(SocialAccount.objects.values_list("status", flat=True)) == {AccountStatus.ACTIVE}

    execution = ExecutionFactory(post__workspace=workspace, status=ExecutionStatus.SUCCESS)
    response = client.post(
        reverse("admin:publishing_execution_changelist"),
        {"action": "mark_published", "_selected_action": [execution.pk]},
        follow=True,
    )
    assert "1 публикация не была в статусе «не подтверждено» и оставлена как есть." in response.content.decode()
    assert Execution.objects.get(pk=execution.pk).status == ExecutionStatus.SUCCESS


def logged_action_codes() -> set[str]:
    """Every ``action="…"`` passed to log_activity in the project's apps, plus TikTok's accepted record."""
    codes = {ACCEPTED_ACTION}
    for app in (*PROJECT_APPS, "dashboard"):
        for path in (ROOT / app).rglob("*.py"):
            source = path.read_text()
            if "log_activity(" in source:
                codes |= set(re.findall(r'action="([a-z_]+\.[a-z_.]+)"', source))
                codes |= set(re.findall(r'"(post\.caption_override[a-z_]*)"', source))
    return codes


def test_it_labels_every_logged_action_in_both_languages():
    codes = logged_action_codes()
    assert {"execution.publish", "post.publish", "proxy.down", "account.status"} <= codes
    assert codes <= set(ACTION_LABELS), sorted(codes - set(ACTION_LABELS))
    for code in codes:
        with translation.override("en"):
            english = action_label(code)
        with translation.override("ru"):
            russian = action_label(code)
        assert english != code and CYRILLIC.search(russian), (code, english, russian)
    assert action_label("something.new") == "something.new"  # an unknown code is shown as it is


def test_it_shows_action_labels_on_the_activity_pages(client, member, workspace):
    ActivityLogFactory(workspace=workspace, action="execution.publish", status="failed", message="media rejected")
    ActivityLogFactory(workspace=workspace, action="something.new")
    client.force_login(member())
    client.cookies["django_language"] = "ru"
    page = text_of(client.get(reverse("dashboard:activity")).content.decode())
    assert "Попытка публикации" in page and "something.new" in page
    assert "execution.publish" not in page.replace('title="execution.publish"', "")

    client.cookies["django_language"] = "en"
    page = client.get(reverse("dashboard:activity")).content.decode()
    assert "Publishing attempt" in text_of(page)
    assert '<option value="execution.publish">Publishing attempt</option>' in page

    admin_page = client.get(reverse("admin:crosspost_activitylog_changelist")).content.decode()
    assert re.search(r'<span title="execution\.publish">Publishing attempt</span>', admin_page)
    assert "?action=execution.publish" in admin_page  # the filter lists the action by its label


def test_it_labels_every_change_form_in_russian(client, workspace):
    rows = one_of_each(workspace)
    russian_client(client)
    for model, obj in rows.items():
        opts = model._meta
        for url in (
            reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]),
            reverse(f"admin:{opts.app_label}_{opts.model_name}_add"),
        ):
            response = client.get(url)
            if response.status_code == 403:  # nobody adds audit rows
                continue
            html = response.content.decode()
            fieldsets = re.findall(r'class="fieldset-heading">(.*?)</h[23]>', html, re.S)
            labels = [text_of(label).rstrip(":") for label in re.findall(r"<label[^>]*>(.*?)</label>", html, re.S)]
            assert labels, url
            english = [t for t in (*map(text_of, fieldsets), *labels) if t and not CYRILLIC.search(t) and t not in LATIN_OK]
            assert not english, (url, english)
