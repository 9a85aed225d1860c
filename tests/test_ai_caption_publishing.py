# ruff: noqa: F811 — pytest fixtures imported from translations_support are test arguments here.
"""AI captions that publish: one LLM call per (platform, language) a post's targets need, stored
per post × platform × language, used as the executions' captions, kept (cached, edited), and a
failure that blocks only its own executions with the reason — never the raw brief."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from posts.models import CaptionMode, Post
from publishing.ai_captions import post_captions_prepare
from publishing.models import CaptionStatus, Execution, ExecutionStatus, PostCaption
from publishing.planner import post_publish
from publishing.publisher import replan_due_blocked
from sources.models import Source
from sources.services import source_poll

from .factories import (
    MediaAssetFactory,
    PostFactory,
    PostMediaFactory,
    PublishingPolicyFactory,
    SocialAccountFactory,
    WorkspaceFactory,
)
from .test_admin import form_data as admin_form_data
from .test_admin import url as admin_url
from .test_api_schema import assert_documented
from .test_sources import TOKEN, channel, source, telegram  # noqa: F401
from .translations_support import _no_providers, openai_api  # noqa: F401

pytestmark = pytest.mark.django_db
BRIEF = "Linen midi dress for hot days, made in our studio.\nAvailable in white."


def instagram(workspace, language):
    return SocialAccountFactory(
        workspace=workspace,
        platform="instagram",
        language=language,
        credentials={"access_token": "ig-token"},
        options={"ig_user_id": "1784"},
    )


@pytest.fixture
def accounts(workspace, settings):
    settings.PUBLIC_MEDIA_BASE_URL = "https://media.example.com"  # Instagram's Graph API fetches media by URL
    return {
        "ig_ru_1": instagram(workspace, "ru"),
        "ig_ru_2": instagram(workspace, "ru"),
        "vk_ru": SocialAccountFactory(
            workspace=workspace, platform="vk", language="ru", credentials={"access_token": "vk-token"}, options={"owner_id": -1}
        ),
        "ig_en": instagram(workspace, "en"),
    }


@pytest.fixture
def ai_post(workspace, accounts):
    post = PostFactory(workspace=workspace, title="Summer linen", caption=BRIEF, caption_mode=CaptionMode.AI)
    PostMediaFactory(post=post)
    post.target_accounts.set(accounts.values())
    return post


def captions_of(post) -> dict:
    return {(c.platform, c.language): c for c in PostCaption.objects.filter(post=post)}


def test_it_asks_once_per_platform_and_language_not_per_account(ai_post, openai_api):
    outcome = post_captions_prepare(post=ai_post)

    assert len(openai_api.completion_calls) == 3
    asked = sorted(
        (openai_api.user_payload(c)["language"], c.json["messages"][0]["content"]) for c in openai_api.completion_calls
    )
    assert [language for language, _system in asked] == ["en", "ru", "ru"]
    assert (outcome.stored, outcome.problems) == (3, {})
    stored = captions_of(ai_post)
    assert set(stored) == {("instagram", "ru"), ("vk", "ru"), ("instagram", "en")}
    assert stored[("vk", "ru")].caption.startswith("[ru] Linen midi dress")
    assert all(c.status == CaptionStatus.OK and c.source_hash and c.generated_at for c in stored.values())


def test_the_executions_publish_the_stored_captions(ai_post, accounts, openai_api):
    plan = post_publish(post=ai_post)

    assert plan.created == 4, [e.problems for e in plan.entries]
    stored = captions_of(ai_post)
    for execution in Execution.objects.filter(post=ai_post).select_related("account"):
        assert execution.caption == stored[(execution.account.platform, execution.account.language)].caption
    assert "[en]" in Execution.objects.get(account=accounts["ig_en"]).caption
    assert len(openai_api.completion_calls) == 3


def test_a_second_prepare_or_publish_asks_nobody(ai_post, openai_api):
    post_captions_prepare(post=ai_post)
    again = post_captions_prepare(post=ai_post)
    post_publish(post=ai_post, dry_run=True)

    assert (again.stored, again.kept) == (0, 3)
    assert len(openai_api.completion_calls) == 3


def test_a_changed_brief_makes_the_captions_stale(ai_post, openai_api):
    post_captions_prepare(post=ai_post)
    ai_post.caption = "Cotton shirt for cool evenings."
    ai_post.save()

    outcome = post_captions_prepare(post=ai_post)

    assert outcome.stored == 3 and len(openai_api.completion_calls) == 6
    assert captions_of(ai_post)[("vk", "ru")].caption.startswith("[ru] Cotton shirt")


def test_an_llm_failure_blocks_only_its_platform_with_the_reason(ai_post, accounts, openai_api):
    # Pairs are written in order: (instagram, en), (instagram, ru), (vk, ru) — the first fails.
    openai_api.fail_next(500)

    plan = post_publish(post=ai_post)

    entries = {e.handle: e for e in plan.entries}
    blocked = entries[accounts["ig_en"].handle]
    assert blocked.status == "blocked"
    assert blocked.problems[0].startswith("AI caption: OpenAI:")
    assert blocked.retry_after is not None  # an outage: planned again by itself
    assert {entries[accounts[k].handle].status for k in ("ig_ru_1", "ig_ru_2", "vk_ru")} == {"planned"}
    execution = Execution.objects.get(account=accounts["ig_en"])
    assert execution.status == ExecutionStatus.BLOCKED and execution.caption == ""
    assert execution.error_message.startswith("AI caption: OpenAI:")
    assert captions_of(ai_post)[("instagram", "en")].status == CaptionStatus.FAILED

    # Publishing again writes the failed caption once more and plans its executions.
    again = post_publish(post=ai_post)

    assert again.created == 1
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.PENDING and execution.caption.startswith("[en] Linen midi dress")
    assert len(openai_api.completion_calls) == 4


def test_a_rate_limited_caption_is_written_again_when_its_retry_time_comes(ai_post, accounts, openai_api):
    openai_api.fail_next(429)
    plan = post_publish(post=ai_post)
    waiting = Execution.objects.get(account=accounts["ig_en"])
    assert waiting.status == ExecutionStatus.BLOCKED and waiting.next_attempt_at is not None
    assert "AI caption: OpenAI:" in waiting.error_message and plan.created == 3

    counts = replan_due_blocked(now=waiting.next_attempt_at + timedelta(seconds=1))

    waiting.refresh_from_db()
    assert counts["planned"] == 1 and waiting.status == ExecutionStatus.PENDING
    assert waiting.caption == captions_of(ai_post)[("instagram", "en")].caption
    assert len(openai_api.completion_calls) == 4


def test_a_caption_that_breaks_the_rules_blocks_with_them(workspace, ai_post, accounts, openai_api):
    PublishingPolicyFactory(workspace=workspace, platform="vk", forbidden_words=["спам"])
    bad = {"caption": "Не спам, а платье", "hashtags": ["#dress"]}
    openai_api.reply_next(
        {"caption": "Linen midi dress", "hashtags": []}, {"caption": "Льняное платье", "hashtags": []}, bad, bad
    )

    plan = post_publish(post=ai_post)

    vk = next(e for e in plan.entries if e.handle == accounts["vk_ru"].handle)
    assert vk.status == "blocked" and "Remove the forbidden word(s): спам" in vk.problems[0]
    assert vk.retry_after is None
    assert plan.created == 3


def test_an_edited_caption_is_published_and_survives_regeneration(ai_post, accounts, openai_api):
    post_captions_prepare(post=ai_post)
    PostCaption.objects.filter(post=ai_post, platform="vk").update(caption="Платье из льна — руками", edited=True)
    ai_post.caption = "A new brief"
    ai_post.save()

    outcome = post_captions_prepare(post=ai_post)
    post_publish(post=ai_post)

    assert outcome.stored == 2 and outcome.kept == 1
    assert Execution.objects.get(account=accounts["vk_ru"]).caption == "Платье из льна — руками"


def test_settled_accounts_need_no_caption(ai_post, accounts, openai_api):
    post_publish(post=ai_post)
    PostCaption.objects.all().delete()

    outcome = post_captions_prepare(post=ai_post)

    assert outcome == type(outcome)()
    assert len(openai_api.completion_calls) == 3


def test_other_caption_modes_write_no_ai_caption(workspace, accounts, openai_api):
    post = PostFactory(workspace=workspace, caption=BRIEF)
    post.target_accounts.set([accounts["ig_en"]])

    assert post_captions_prepare(post=post).captions == {}
    assert not openai_api.completion_calls and not PostCaption.objects.exists()


def test_template_mode_lays_out_the_caption_per_platform(workspace, openai_api):
    PublishingPolicyFactory(workspace=workspace, platform="sandbox", required_hashtags=["#acme"])
    post = PostFactory(
        workspace=workspace,
        title="Linen",
        caption="Linen midi dress\n\n#linen",
        media_type="text",
        caption_mode=CaptionMode.TEMPLATE,
        caption_template="✨ {title}\n{description}\n🧵 {composition}\n{hashtags}",
    )
    sandbox = SocialAccountFactory(workspace=workspace)
    telegram = SocialAccountFactory(workspace=workspace, platform="telegram")
    post.target_accounts.set([sandbox, telegram])

    entries = {e.platform: e for e in post_publish(post=post, dry_run=True).entries}

    assert entries["sandbox"].caption == "✨ Linen\nLinen midi dress\n#linen #acme"
    assert entries["telegram"].caption == "✨ Linen\nLinen midi dress\n#linen"
    assert not openai_api.completion_calls


# --- The API: review, edit, generate ------------------------------------------------------------

V1 = "/api/v1"


def test_the_api_lists_generates_and_edits_captions(api, workspace, ai_post, openai_api):
    PublishingPolicyFactory(workspace=workspace, platform="vk", forbidden_words=["спам"])
    editor = api(Role.EDITOR)

    generated = editor.post(f"{V1}/posts/{ai_post.pk}/ai-captions/generate/")

    assert generated.status_code == 200, generated.content
    body = generated.json()
    assert (body["stored"], body["problems"]) == (3, [])
    assert {(c["platform"], c["language"], c["status"]) for c in body["captions"]} == {
        ("instagram", "en", "ok"),
        ("instagram", "ru", "ok"),
        ("vk", "ru", "ok"),
    }
    listed = api(Role.VIEWER).get(f"{V1}/posts/{ai_post.pk}/ai-captions/")
    assert listed.status_code == 200 and len(listed.json()) == 3
    assert_documented(listed, "/api/v1/posts/{id}/ai-captions/", "get")  # a plain list, as the schema says

    url = f"{V1}/posts/{ai_post.pk}/ai-captions/vk/ru/"
    edited = editor.patch(url, {"caption": "Льняное платье на лето, 2 цвета"}, format="json")

    assert edited.status_code == 200, edited.content
    assert edited.json()["edited"] is True and edited.json()["edited_by"] == editor.user.pk
    row = PostCaption.objects.get(post=ai_post, platform="vk")
    assert (row.caption, row.edited) == ("Льняное платье на лето, 2 цвета", True)

    forbidden = editor.patch(url, {"caption": "Не спам"}, format="json")
    assert forbidden.status_code == 400
    assert forbidden.json()["caption"] == ["Remove the forbidden word(s): спам."]
    too_long = editor.patch(f"{V1}/posts/{ai_post.pk}/ai-captions/instagram/en/", {"caption": "x" * 2201}, format="json")
    assert too_long.status_code == 400
    assert "The caption has 2201 characters; Instagram allows 2200." in too_long.json()["caption"]
    assert editor.patch(f"{V1}/posts/{ai_post.pk}/ai-captions/tiktok/en/", {"caption": "Hi"}, format="json").status_code == 404


def test_the_api_keeps_roles_and_workspaces(api, workspace, ai_post, openai_api):
    post_captions_prepare(post=ai_post)
    url = f"{V1}/posts/{ai_post.pk}/ai-captions/vk/ru/"

    assert api(Role.VIEWER).patch(url, {"caption": "Hi"}, format="json").status_code == 403
    assert api(Role.VIEWER).post(f"{V1}/posts/{ai_post.pk}/ai-captions/generate/").status_code == 403
    stranger = api(Role.ADMIN, ws=WorkspaceFactory())
    assert stranger.get(f"{V1}/posts/{ai_post.pk}/ai-captions/").status_code == 404
    assert stranger.patch(url, {"caption": "Hi"}, format="json").status_code == 404
    assert PostCaption.objects.get(post=ai_post, platform="vk").edited is False


def test_generating_needs_the_ai_caption_mode(api, workspace, accounts, openai_api):
    post = PostFactory(workspace=workspace, caption=BRIEF)
    post.target_accounts.set([accounts["vk_ru"]])

    response = api(Role.EDITOR).post(f"{V1}/posts/{post.pk}/ai-captions/generate/")

    assert response.status_code == 400
    assert "does not use AI captions" in response.json()["caption_mode"][0]
    assert not openai_api.completion_calls


def test_the_post_api_sets_the_caption_mode_and_checks_the_template(api, workspace, accounts):
    client = api(Role.EDITOR)
    base = {"workspace": workspace.pk, "caption": BRIEF, "media_type": "text", "target_accounts": [str(accounts["vk_ru"].pk)]}

    empty = client.post(f"{V1}/posts/", {**base, "caption_mode": "template"}, format="json")
    unknown = client.post(f"{V1}/posts/", {**base, "caption_mode": "template", "caption_template": "{price}"}, format="json")
    created = client.post(f"{V1}/posts/", {**base, "caption_mode": "ai"}, format="json")

    assert empty.status_code == 400 and "needs a template" in empty.json()["caption_template"][0]
    assert unknown.status_code == 400 and "Unknown placeholder(s) {price}" in unknown.json()["caption_template"][0]
    assert created.status_code == 201, created.content
    assert (created.json()["caption_mode"], created.json()["caption_template"]) == ("ai", "")
    changed = client.patch(
        f"{V1}/posts/{created.json()['id']}/",
        {"caption_mode": "template", "caption_template": "{title}\n{caption}"},
        format="json",
    )
    assert changed.status_code == 200 and changed.json()["caption_mode"] == "template"


# --- The dashboard composer ------------------------------------------------------------------------

HX = {"HTTP_HX_REQUEST": "true"}


def test_the_composer_reviews_edits_and_generates_ai_captions(client, member, workspace, accounts, openai_api):
    PublishingPolicyFactory(workspace=workspace, platform="vk", forbidden_words=["спам"])
    client.force_login(member(Role.EDITOR))
    asset = MediaAssetFactory(workspace=workspace)
    data = {
        "title": "Summer linen",
        "caption": BRIEF,
        "language": "en",
        "media_type": "photo",
        "caption_mode": "ai",
        "schedule": "now",
        "priority": "normal",
        "action": "preview",
        "media": [asset.pk],
        "target_accounts": [str(a.pk) for a in accounts.values()],
    }

    response = client.post(reverse("dashboard:compose"), data, **HX)

    assert response.status_code == 200, response.content.decode()[:2000]
    post = Post.objects.get()
    body = response.content.decode()
    assert post.caption_mode == CaptionMode.AI and "Captions per platform" in body
    assert 'data-platform="vk" data-language="ru"' in body and "[ru] Linen midi dress" in body
    assert len(openai_api.completion_calls) == 3

    url = reverse("dashboard:compose-ai-caption", args=[post.pk])
    refused = client.post(url, {"platform": "vk", "language": "ru", "caption": "Это не спам"}, **HX)
    assert refused.status_code == 400
    assert "Remove the forbidden word(s): спам." in refused.content.decode()
    saved = client.post(url, {"platform": "vk", "language": "ru", "caption": "Платье из льна"}, **HX)
    assert saved.status_code == 200 and "edited by hand" in saved.content.decode()
    assert PostCaption.objects.get(post=post, platform="vk").caption == "Платье из льна"

    generated = client.post(reverse("dashboard:compose-ai-generate", args=[post.pk]), **HX)
    assert generated.status_code == 200
    assert "Wrote 0 AI caption(s), kept 3; 0 could not be written." in generated.content.decode()
    assert len(openai_api.completion_calls) == 3

    viewer = Client()
    viewer.force_login(member(Role.VIEWER))
    assert viewer.post(url, {"platform": "vk", "language": "ru", "caption": "x"}, **HX).status_code == 403


def test_the_composer_needs_a_template_in_template_mode(client, member, workspace, accounts):
    client.force_login(member(Role.EDITOR))
    data = {
        "caption": BRIEF,
        "language": "en",
        "media_type": "text",
        "caption_mode": "template",
        "caption_template": "{price}",
        "schedule": "now",
        "priority": "normal",
        "action": "preview",
        "target_accounts": [str(accounts["vk_ru"].pk)],
    }

    response = client.post(reverse("dashboard:compose"), data, **HX)

    assert response.status_code == 400
    assert "Unknown placeholder(s) {price}" in response.content.decode()
    assert not Post.objects.exists()


# --- The admin -----------------------------------------------------------------------------------


def test_the_post_admin_edits_an_ai_caption_through_the_checks(client, member, workspace, ai_post, openai_api):
    PublishingPolicyFactory(workspace=workspace, platform="vk", forbidden_words=["спам"])
    post_captions_prepare(post=ai_post)
    client.force_login(member(Role.EDITOR))
    change = admin_url(Post, "change", ai_post.pk)
    data = admin_form_data(client.get(change))
    index = next(i for i in range(3) if data[f"ai_captions-{i}-id"] == str(PostCaption.objects.get(platform="vk").pk))

    refused = client.post(change, {**data, f"ai_captions-{index}-caption": "Не спам"})

    assert refused.status_code == 200
    assert "Remove the forbidden word(s): спам." in refused.content.decode()
    saved = client.post(change, {**data, f"ai_captions-{index}-caption": "Платье из льна"})
    assert saved.status_code == 302
    row = PostCaption.objects.get(platform="vk")
    assert (row.caption, row.edited) == ("Платье из льна", True)


# --- Sources ---------------------------------------------------------------------------------------


def test_a_source_in_ai_mode_makes_ai_mode_posts(telegram, channel, source):
    Source.objects.filter(pk=source.pk).update(caption_mode=CaptionMode.AI)
    source.refresh_from_db()
    telegram.channel_post(TOKEN, channel, text="Linen midi dress")

    source_poll(source=source)

    assert Post.objects.get().caption_mode == CaptionMode.AI


def test_a_source_in_template_mode_needs_a_valid_template(source):
    source.caption_mode = CaptionMode.TEMPLATE
    with pytest.raises(ValidationError) as empty:
        source.full_clean()
    source.caption_template = "{title}\n{price}"
    with pytest.raises(ValidationError) as unknown:
        source.full_clean()

    assert "needs a template" in empty.value.message_dict["caption_template"][0]
    assert "Unknown placeholder(s) {price}" in unknown.value.message_dict["caption_template"][0]
    source.caption_template = "{title}\n{caption}"
    source.full_clean()


def test_the_post_page_shows_the_captions_and_lets_an_editor_fix_one(client, member, workspace, ai_post, openai_api):
    openai_api.fail_next(500)
    post_publish(post=ai_post)
    page = reverse("dashboard:post", args=[ai_post.pk])
    viewer = Client()
    viewer.force_login(member(Role.VIEWER))

    shown = viewer.get(page).content.decode()

    assert "Captions per platform" in shown and 'data-platform="instagram" data-language="en"' in shown
    assert "OpenAI:" in shown and "readonly" in shown and "Generate captions" not in shown
    client.force_login(member(Role.EDITOR))
    response = client.post(
        reverse("dashboard:compose-ai-caption", args=[ai_post.pk]),
        {"platform": "instagram", "language": "en", "caption": "Linen midi dress #linen", "next": page},
    )
    assert response.status_code == 302 and response["Location"] == page
    row = captions_of(ai_post)[("instagram", "en")]
    assert (row.status, row.edited) == (CaptionStatus.OK, True)
    plan = post_publish(post=ai_post)
    assert plan.created == 1
    assert Execution.objects.get(post=ai_post, account__language="en").caption == "Linen midi dress #linen"
