# ruff: noqa: F811 — pytest fixtures imported from translations_support are test arguments here.
"""Product facts from Wildberries' public card API: parsed from v4 or v2 answers,
cached, and a failing marketplace never blocks a caption or a publish."""

import pytest

from products.services import lookup, product_facts, wildberries_facts
from publishing.ai_captions import generate_ai_caption
from publishing.planner import post_publish

from .factories import PostFactory, SocialAccountFactory
from .translations_support import _no_providers, openai_api, wb_api  # noqa: F401

pytestmark = pytest.mark.django_db
PRODUCT = {"marketplace": "wildberries", "article": 123456}


def test_it_reads_a_card_and_caches_it(wb_api):
    facts = wildberries_facts(123456)
    assert (facts.title, facts.brand, facts.composition, facts.care, facts.price) == (
        "Платье миди из льна",
        "Acme",
        "лён 100%",
        "деликатная стирка 30°",
        4990.0,
    )
    call = wb_api.requests[0]
    assert (call.path, call.query["nm"], call.query["dest"], call.query["appType"]) == (
        "/cards/v4/detail",
        ["123456"],
        ["-1257786"],
        ["1"],
    )
    assert "Mozilla" in call.headers["User-Agent"]
    assert wildberries_facts(123456) == facts
    assert len(wb_api.requests) == 1


def test_it_accepts_the_old_v2_shape(wb_api):
    wb_api.shape = "v2"
    assert wildberries_facts(123456).brand == "Acme"


@pytest.mark.parametrize("failure", [403, 429, 404, 500, "empty"])
def test_it_answers_none_when_the_marketplace_fails(wb_api, failure, caplog):
    wb_api.fail_next(failure)
    assert wildberries_facts(123456) is None
    assert wildberries_facts(999) is None  # unknown article: empty list, not an error
    assert "Wildberries" in caplog.text


def test_it_gives_up_on_a_slow_marketplace(wb_api, settings):
    settings.WB_TIMEOUT_SECONDS = 0.2
    wb_api.fail_next(("slow", 0.6))
    assert wildberries_facts(123456) is None


def test_it_ignores_posts_without_a_valid_product(wb_api, workspace):
    for options in (
        {},
        {"product": "123"},
        {"product": {"marketplace": "amazon", "article": 1}},
        {"product": {**PRODUCT, "article": "x"}},
    ):
        assert product_facts(PostFactory(workspace=workspace, options=options).options.get("product")) is None
    assert wb_api.requests == []


def test_a_failing_marketplace_blocks_neither_captions_nor_publishing(workspace, wb_api, openai_api):
    wb_api.fail_next(403, times=5)
    post = PostFactory(workspace=workspace, caption="Linen dress", media_type="text", options={"product": PRODUCT})
    post.target_accounts.set([SocialAccountFactory(workspace=workspace)])

    result = generate_ai_caption(post=post, platform="telegram", language="en")
    assert result.caption and result.facts == {}
    assert openai_api.user_payload(openai_api.completion_calls[0])["facts"] == {}
    assert post_publish(post=post).created == 1


def test_a_card_without_a_name_is_unreadable_not_facts(wb_api):
    wb_api.products[123456] = {**wb_api.products[123456], "name": " "}
    assert lookup(PRODUCT).code == "unreadable"
