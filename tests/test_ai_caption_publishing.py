# ruff: noqa: F811 — pytest fixtures imported from translations_support are test arguments here.
"""AI captions that publish: one LLM call per (platform, language) a post's targets need, stored
per post × platform × language, used as the executions' captions, kept (cached, edited), and a
failure that blocks only its own executions with the reason — never the raw brief."""

import pytest

from posts.models import CaptionMode
from publishing.ai_captions import post_captions_prepare
from publishing.models import CaptionStatus, Execution, ExecutionStatus, PostCaption
from publishing.planner import post_publish

from .factories import PostFactory, PostMediaFactory, PublishingPolicyFactory, SocialAccountFactory
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
