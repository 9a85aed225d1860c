# ruff: noqa: F811 — pytest fixtures imported from translations_support are test arguments here.
"""AI captions: per-platform prompts, the platform's length limit and the policy's
content rules, one repair attempt, and only the facts we were given."""

import pytest

from accounts.models import Role
from publishing.ai_captions import generate_ai_caption
from publishing.prompts import CAPTION_LIMITS, PLATFORM_PROMPTS
from publishing.rules import hashtags

from .factories import PostFactory, PublishingPolicyFactory
from .translations_support import _no_providers, openai_api, wb_api  # noqa: F401

pytestmark = pytest.mark.django_db
V1 = "/api/v1"
BRIEF = "Linen midi dress for hot days, made in our studio.\nAvailable in white."


@pytest.fixture
def post(workspace):
    return PostFactory(workspace=workspace, title="Summer linen", caption=BRIEF)


def test_it_has_one_prompt_and_one_limit_per_platform():
    assert set(PLATFORM_PROMPTS) == set(CAPTION_LIMITS)
    assert CAPTION_LIMITS["telegram"] == 1024 and CAPTION_LIMITS["pinterest"] == 500 and CAPTION_LIMITS["youtube"] == 5000


def test_it_writes_a_caption_within_the_platforms_rules(workspace, post, openai_api):
    PublishingPolicyFactory(workspace=workspace, platform="instagram", hashtag_min=3, hashtag_max=5, required_hashtags=["#acme"])
    result = generate_ai_caption(post=post, platform="instagram", language="de")

    assert result.problems == [] and result.attempts == 1
    assert result.caption.startswith("[de] Linen midi dress")
    assert 3 <= len(hashtags(result.caption)) <= 5 and "acme" in hashtags(result.caption)
    payload = openai_api.user_payload(openai_api.completion_calls[0])
    assert (payload["max_length"], payload["hashtag_min"], payload["hashtag_max"]) == (2200, 3, 5)
    assert payload["language"] == "de"
    system = openai_api.completion_calls[0].json["messages"][0]["content"]
    assert "Write in German" in system and PLATFORM_PROMPTS["instagram"] in system


def test_it_repairs_a_caption_that_is_too_long_once(post, openai_api):
    openai_api.reply_next(
        {"caption": "Linen dress. " * 60, "hashtags": []}, {"caption": "Linen midi dress.", "hashtags": ["#linen"]}
    )

    result = generate_ai_caption(post=post, platform="pinterest", language="en")

    assert result.caption == "Linen midi dress.\n\n#linen"
    assert result.attempts == 2
    repair = openai_api.completion_calls[1].json["messages"][-1]["content"]
    assert "The caption has 779 characters; Pinterest allows 500." in repair


def test_it_gives_up_after_one_repair_with_a_clear_problem(workspace, post, openai_api):
    PublishingPolicyFactory(workspace=workspace, platform="vk", forbidden_words=["спам"])
    bad = {"caption": "Не спам, а платье", "hashtags": ["#dress"]}
    openai_api.reply_next(bad, bad)

    result = generate_ai_caption(post=post, platform="vk", language="ru")

    assert result.caption is None
    assert len(openai_api.completion_calls) == 2
    assert result.problems == ["The AI caption still breaks the rules after one repair: Remove the forbidden word(s): спам."]


def test_it_sends_only_the_facts_it_has_and_forbids_inventing_others(workspace, openai_api, wb_api):
    post = PostFactory(workspace=workspace, caption=BRIEF, options={"product": {"marketplace": "wildberries", "article": 123456}})

    result = generate_ai_caption(post=post, platform="telegram", language="ru")

    payload = openai_api.user_payload(openai_api.completion_calls[0])
    assert payload["facts"] == {
        "marketplace": "wildberries",
        "article": 123456,
        "title": "Платье миди из льна",
        "brand": "Acme",
        "composition": "лён 100%",
        "care": "деликатная стирка 30°",
        "colors": ["белый"],
        "price": 4990.0,
    }
    assert payload["brief"] == BRIEF and payload["title"] == post.title
    assert "never invent prices" in openai_api.completion_calls[0].json["messages"][0]["content"]
    assert result.facts == payload["facts"] and result.caption


def test_it_rejects_numbers_that_are_in_none_of_the_facts(post, openai_api):
    invented = {"caption": "Linen dress, now 50% off, only 3 left", "hashtags": []}
    openai_api.reply_next(invented, invented)
    result = generate_ai_caption(post=post, platform="instagram", language="en")
    assert result.caption is None
    assert "numbers that are not in the brief or the product facts: 3, 50" in result.problems[0]


def test_it_reports_an_unusable_answer_and_provider_errors(post, openai_api):
    openai_api.reply_next("not json", "still not json")
    assert "not the JSON asked for" in generate_ai_caption(post=post, platform="tiktok", language="en").problems[0]
    openai_api.fail_next("insufficient_quota")
    assert "insufficient_quota" in generate_ai_caption(post=post, platform="tiktok", language="en").problems[0]


def test_it_needs_openai(post):
    result = generate_ai_caption(post=post, platform="vk", language="en")
    assert (result.caption, result.problems) == (None, ["AI captions need OpenAI: set OPENAI_API_KEY."])


def test_it_previews_an_ai_caption_through_the_api(api, workspace, openai_api):
    post = PostFactory(workspace=workspace, caption=BRIEF)
    client = api(Role.EDITOR)

    response = client.post(f"{V1}/posts/{post.pk}/ai-caption/", {"platform": "youtube", "language": "en"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["caption"].startswith("[en] Linen midi dress")
    assert response.json()["problems"] == []
    bad = client.post(f"{V1}/posts/{post.pk}/ai-caption/", {"platform": "myspace", "language": "en"}, format="json")
    assert bad.status_code == 400 and "platform" in bad.json()
    bad = client.post(f"{V1}/posts/{post.pk}/ai-caption/", {"platform": "vk", "language": "??"}, format="json")
    assert bad.status_code == 400 and "not a language code" in bad.json()["language"][0]
