"""A walk through the demo as a new operator sees it, in English and in Russian.

The demo is seeded as ``make run`` seeds it; the operator opens every page of
the dashboard, makes the composer show an error, previews and publishes the
demo post, follows its progress, and opens every admin changelist. Each page
is screenshotted under test-artifacts/e2e/walk/<language>/ for a person to look
at. The test itself holds what can be checked mechanically: every page answers,
nothing is wider than the window, no console errors, the composer's error is
on the screen, and in Russian the page chrome (title, headings, navigation,
table headers) carries no English words.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse

from posts.models import Post
from publishing.models import Execution

from .conftest import ARTIFACTS, run_engine_until

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DEMO_PASSWORD = "walk-Demo-pass-1"
# Words that stay in Latin letters in a Russian interface: product and platform names, codes.
LATIN_ALLOWED = {
    "crosspost",
    "sandbox",
    "instagram",
    "telegram",
    "tiktok",
    "youtube",
    "pinterest",
    "vk",
    "api",
    "deepl",
    "openai",
    "rss",  # format names: RSS and Atom feeds
    "atom",
    "http",
    "https",
    "socks5",
    "id",
    "url",
    "utc",
    "ip",
    "demo",
    "en",
    "english",  # a language's own name in a language picker (the bot's: Русский / English)
    "de",
    "es",
    "ru",
    "csv",
    "jpeg",
    "jpg",
    "png",
    "mp4",
    "srt",  # subtitle formats and the video studio's sources, as their makers spell them
    "webvtt",
    "zoom",
    "socks",
    "reels",
    "image",
    # Bot API method names, as Telegram spells them.
    "getupdates",
    "setwebhook",
    "deletewebhook",
}
# Where the interface speaks (not the operator's own data: captions, handles, group names).
CHROME_SELECTORS = "title, h1, h2, h3, nav a, th, label, button, legend, .breadcrumbs, #changelist-filter h3"


def _operator_words() -> set[str]:
    """Words of the operator's own data (group names, titles, handles, time zones), allowed in any language."""
    from accounts.models import AccountGroup, Proxy, SocialAccount, Workspace
    from media.models import MediaAsset
    from sources.models import Source

    texts = [
        *AccountGroup.objects.values_list("name", flat=True),
        *Post.objects.values_list("title", flat=True),
        *SocialAccount.objects.values_list("handle", flat=True),
        *Workspace.objects.values_list("timezone", flat=True),
        *Workspace.objects.values_list("name", flat=True),
        *MediaAsset.objects.values_list("original_name", flat=True),
        *Proxy.objects.values_list("host", flat=True),
        *Source.objects.values_list("name", flat=True),
    ]
    return {word.lower() for text in texts for word in re.findall(r"[A-Za-z]+", text or "")}


def _demo_source(post: Post):
    """A Telegram source of the demo workspace that made the demo post and failed on an album."""
    from sources.models import IngestRecord, ItemStatus, Source

    source = Source.objects.create(
        workspace=post.workspace,
        name="Demo channel",
        options={"chat_id": "-1001234567890"},
        secret={"bot_token": "7012345678:AAHwalkDemoToken"},
        last_error="Unauthorized",
    )
    IngestRecord.objects.create(source=source, chat_id=-1001234567890, key="message:12", post=post)
    IngestRecord.objects.create(
        source=source, chat_id=-1001234567890, key="group:1391", status=ItemStatus.FAILED, error="File too big"
    )
    return source


def _latin_words(page, allowed: set[str]) -> list[str]:
    texts = page.eval_on_selector_all(CHROME_SELECTORS, "els => els.map(e => e.innerText || e.textContent)")
    words = set()
    for text in texts:
        for word in re.findall(r"[A-Za-z][A-Za-z']{2,}", text or ""):
            if word.lower() not in LATIN_ALLOWED | allowed:
                words.add(word)
    return sorted(words)


def _snapshots_for(post: Post) -> None:
    """Snapshots at 1 h and 6 h for the post's published executions, as stats collection writes
    them; one account's views unavailable, with the reason, as a platform without view counts."""
    from stats.models import MetricSnapshot

    executions = list(post.executions.filter(status="success").order_by("pk"))
    for index, execution in enumerate(executions):
        for hours, slot in ((1, "1h"), (6, "6h")):
            blind = index == 0
            MetricSnapshot.objects.create(
                execution=execution,
                slot=slot,
                taken_at=execution.finished_at + timedelta(hours=hours),
                views=None if blind else (index + 1) * 10 * hours,
                likes=index * hours,
                comments=index % 3,
                unavailable={"views": "The sandbox gives no view counts for this account."} if blind else {},
            )


def _fits(page) -> tuple[int, int]:
    return page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")


@pytest.mark.parametrize("language", ["en", "ru"])
def test_it_walks_the_demo(chromium, live_server, db_lock, language, monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", DEMO_PASSWORD)
    with db_lock:
        call_command("seed_demo", stdout=io.StringIO())
        post = Post.objects.get(workspace__slug="demo")
        source = _demo_source(post)
        operator_words = _operator_words()
    out = ARTIFACTS / "walk" / language
    out.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="ru-RU" if language == "ru" else "en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    # The composer's deliberate 400 and the admin pages the owner may not open (403, checked below)
    # show up as failed resource loads; other console errors are problems.
    page.on(
        "console",
        lambda m: (
            problems.append(f"{page.url}: {m.text}")
            if m.type == "error" and not re.search(r"the server responded with a status of 40[03]", m.text)
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(f"{page.url}: {e}"))
    report: dict[str, list[str]] = {}
    overflows: list[str] = []

    def visit(name: str, path: str | None = None) -> None:
        if path is not None:
            response = page.goto(f"{live_server.url}{path}")
            assert response is not None and response.status < 400, f"{path}: HTTP {response and response.status}"
        page.wait_for_load_state("load")
        width, window = _fits(page)
        if width > window:
            overflows.append(f"{name}: the page is {width} px wide in a {window} px window")
        if language == "ru":
            latin = _latin_words(page, operator_words)
            if latin:
                report[name] = latin
        page.screenshot(path=str(out / f"{name}.png"), full_page=True)

    page.goto(f"{live_server.url}/")
    page.fill("#id_username", "demo")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/$"))
    assert page.locator("html").get_attribute("lang") == language

    visit("01-overview")

    # The composer with an error the operator must see: a caption but no media and no targets.
    page.goto(f"{live_server.url}/compose/")
    page.fill("#id_caption", "A post without media or targets")
    page.locator("#compose-form button[value=preview]").click()
    alert = page.locator("#composer [role=alert]").first
    alert.wait_for()
    assert alert.inner_text().strip()
    visit("02-composer-error")

    # The demo's draft: preview its plan, publish, follow the progress.
    page.goto(f"{live_server.url}/compose/{post.pk}/")
    page.locator("#compose-form button[value=preview]").click()
    page.locator("[data-testid=plan-summary]").wait_for()
    visit("03-plan")
    page.locator("#compose-form button[value=publish]").click()
    page.wait_for_url(re.compile(rf"/posts/{post.pk}/$"))
    visit("04-progress-start")

    def finished() -> bool:
        with db_lock:
            return not Execution.objects.filter(post=post, status__in=["pending", "queued", "posting"]).exists()

    run_engine_until(page, db_lock, finished, timeout=60)
    page.reload()
    visit("05-progress-finished")
    # An hour on, the statistics collector has read the publications: the Results section fills in.
    with db_lock:
        _snapshots_for(post)
    page.reload()
    page.get_by_test_id("views-chart").wait_for()
    visit("05-results")

    with db_lock:
        account = post.executions.first().account
    for name, path in [
        ("06-posts", "/posts/"),
        ("07-accounts", "/accounts/"),
        ("08-account", f"/accounts/{account.pk}/"),
        ("09-proxies", "/proxies/"),
        ("10-activity", "/activity/"),
        ("11-sandbox", "/sandbox/"),
        ("12-sources", "/sources/"),
        ("13-source", f"/sources/{source.pk}/"),
        ("14-source-edit", f"/sources/{source.pk}/edit/"),
        ("16-overview-results-30d", "/?period=30d"),
        ("17-calendar", "/calendar/"),
        ("18-calendar-week", "/calendar/?view=week"),
        ("19-calendar-slots", "/calendar/slots/"),
    ]:
        visit(name, path)

    # A new source with mistakes: the form must say what to fix, next to each field.
    page.goto(f"{live_server.url}/sources/new/")
    page.fill("#id_name", "Drops")
    page.fill("#id_chat_id", "@drops")
    page.fill("#id_window_start", "09:00")
    page.locator("form.source-form button[type=submit]").click()
    page.locator("#field-chat_id [role=alert]").wait_for()
    assert page.locator("#field-bot_token [role=alert]").inner_text().strip()
    assert page.locator("#field-window_end [role=alert]").inner_text().strip()
    visit("15-source-errors")

    # Every admin changelist the demo owner can open (the owner is staff, not a superuser).
    for model in sorted(admin.site._registry, key=lambda m: (m._meta.app_label, m._meta.model_name)):
        path = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None
        if response.status == 403:
            continue
        assert response.status < 400, f"{path}: HTTP {response.status}"
        table = page.locator("#result_list")
        if table.count():
            overflow = page.evaluate(
                "() => { const t = document.querySelector('#result_list');"
                " const box = t.closest('.results') || t.parentElement;"
                " return [t.scrollWidth, box.clientWidth]; }"
            )
            if overflow[0] > overflow[1] + 1:
                overflows.append(f"{path}: the table is {overflow[0]} px in {overflow[1]} px")
        visit(f"admin-{model._meta.app_label}-{model._meta.model_name}")

    context.close()
    (out / "untranslated.txt").write_text("".join(f"{name}: {' '.join(words)}\n" for name, words in sorted(report.items())))
    assert problems == []
    assert overflows == []
    assert report == {}, f"English words in the Russian interface: {report}"
