# ruff: noqa: F811 — pytest fixtures imported from translations_support are test arguments here.
"""Captions in every account's language: one provider call per language, the cache,
protected hashtags/mentions/links/emoji/line breaks, glossaries, language codes,
provider errors as clear problems, and the operator's review and edits."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from crosspost.models import ActivityLog
from posts.models import Post
from publishing.dispatcher import claim_due
from publishing.models import Execution, SandboxPost
from publishing.planner import post_publish
from publishing.publisher import execution_publish
from translations.models import TranslationCache
from translations.providers.deepl import FREE_URL, PRO_URL, server_url_for
from translations.services import captions_for

from .factories import (
    AccountGroupFactory,
    ExecutionFactory,
    GlossaryFactory,
    PostFactory,
    SocialAccountFactory,
    TranslationSettingsFactory,
)
from .translations_support import _no_providers, deepl_api, openai_api  # noqa: F401

pytestmark = pytest.mark.django_db
V1 = "/api/v1"

CAPTION = "Hi @anna_b! Our new dress 👗🏽 is here: https://shop.example/d?id=1&ref=ig\n\nLove it? ❤️ #summer #Sale2026"


def translated_lines(caption: str, tag: str) -> str:
    """What the emulators make of CAPTION: each line with words gets ``[tag] `` in front."""
    return "\n".join(f"[{tag}] {line}" if line.strip() else line for line in caption.split("\n"))


def post_for(workspace, accounts, caption=CAPTION, **fields) -> Post:
    post = PostFactory(workspace=workspace, caption=caption, media_type="text", **fields)
    post.target_accounts.set(accounts)
    return post


# --- One call per language, and the cache ---------------------------------------------------------


def test_it_translates_once_per_language_for_20_accounts_and_not_again(workspace, deepl_api):
    group = AccountGroupFactory(workspace=workspace)
    for language, count in (("en", 8), ("de", 7), ("fr", 5)):
        SocialAccountFactory.create_batch(count, workspace=workspace, group=group, language=language)
    post = PostFactory(workspace=workspace, caption=CAPTION, title="Summer drop", media_type="text")
    post.target_groups.set([group])

    plan = post_publish(post=post)

    assert plan.created == 20
    assert sorted(r.json["target_lang"] for r in deepl_api.translate_calls) == ["DE", "FR"]
    captions = dict(Execution.objects.filter(post=post).values_list("language", "caption").distinct())
    assert captions == {"en": CAPTION, "de": translated_lines(CAPTION, "DE"), "fr": translated_lines(CAPTION, "FR")}

    again = PostFactory(workspace=workspace, caption=CAPTION, title="Summer drop", media_type="text")
    again.target_groups.set([group])
    assert post_publish(post=again).created == 20
    assert len(deepl_api.translate_calls) == 2  # every language came from the cache
    assert set(TranslationCache.objects.values_list("hits", flat=True)) == {1}


def test_it_calls_the_provider_once_per_language_the_way_the_planner_asks(deepl_api):
    first = captions_for(text=CAPTION, source="en", targets={"en-GB", "de", "fr", "it"}, title="Summer")
    assert {lang: r.provider for lang, r in first.items()} == {"en-GB": "source", "de": "deepl", "fr": "deepl", "it": "deepl"}
    assert len(deepl_api.translate_calls) == 3
    assert all(call.json["text"] == [call.json["text"][0], "Summer"] for call in deepl_api.translate_calls)  # one batch

    second = captions_for(text=CAPTION, source="en", targets={"de", "fr", "it"}, title="Summer")
    assert len(deepl_api.translate_calls) == 3
    assert {r.caption for r in second.values()} == {r.caption for lang, r in first.items() if lang != "en-GB"}
    assert second["de"].title == "[DE] Summer"


def test_it_sends_nothing_for_a_caption_of_only_hashtags_and_emoji(deepl_api):
    result = captions_for(text="🔥🔥 #sale #summer", source="en", targets={"de"})
    assert result["de"].caption == "🔥🔥 #sale #summer"
    assert deepl_api.translate_calls == []


# --- What must survive translation ----------------------------------------------------------------


def test_it_keeps_hashtags_mentions_urls_emoji_and_line_breaks(deepl_api):
    caption = captions_for(text=CAPTION, source="en", targets={"de"})["de"].caption

    assert caption == translated_lines(CAPTION, "DE")
    sent = deepl_api.translate_calls[0].json
    assert sent["tag_handling"] == "xml"
    for protected in ("@anna_b", "👗🏽", "https://", "❤️", "#summer", "#Sale2026", "\n", "&"):
        assert protected not in sent["text"][0], protected


def test_it_keeps_them_with_openai_too(openai_api):
    caption = captions_for(text=CAPTION, source="en", targets={"de"})["de"]
    assert (caption.caption, caption.provider) == (translated_lines(CAPTION, "de"), "openai")
    assert openai_api.completion_calls[0].json["response_format"] == {"type": "json_object"}


def test_it_fails_a_language_whose_placeholder_was_lost_rather_than_post_it(deepl_api):
    deepl_api.fail_next("drop_tag")
    result = captions_for(text=CAPTION, source="en", targets={"de"})["de"]
    assert result.caption is None
    assert "lost protected text ('@anna_b')" in result.problem
    assert not TranslationCache.objects.exists()


# --- Glossaries -----------------------------------------------------------------------------------


def test_it_keeps_glossary_terms_with_deepl(workspace, deepl_api):
    GlossaryFactory(workspace=workspace, entries={"Acme": "Acme", "dress": "Kleid"})
    result = captions_for(text="Acme: the dress of summer", source="en", targets={"de"}, workspace=workspace)
    assert result["de"].caption == "[DE] Acme: the Kleid of summer"
    assert "Acme" not in deepl_api.translate_calls[0].json["text"][0]


def test_it_gives_openai_the_glossary_and_protects_brand_names(workspace, openai_api):
    GlossaryFactory(workspace=workspace, entries={"Acme": "Acme", "dress": "Kleid"})
    result = captions_for(text="Acme: the dress of summer", source="en", targets={"de"}, workspace=workspace)
    payload = openai_api.user_payload(openai_api.completion_calls[0])
    assert payload["glossary"] == {"dress": "Kleid"}
    assert "Acme" not in payload["texts"][0]
    assert result["de"].caption == "[de] Acme: the Kleid of summer"


def test_it_translates_again_when_the_glossary_changes(workspace, deepl_api):
    glossary = GlossaryFactory(workspace=workspace, entries={"dress": "Kleid"})
    captions_for(text="A dress", source="en", targets={"de"}, workspace=workspace)
    glossary.entries = {"dress": "Gewand"}
    glossary.save()
    result = captions_for(text="A dress", source="en", targets={"de"}, workspace=workspace)
    assert result["de"].caption == "[DE] A Gewand"
    assert len(deepl_api.translate_calls) == 2


# --- Language codes -------------------------------------------------------------------------------


def test_it_maps_account_languages_to_deepl_codes(deepl_api):
    captions_for(text="Guten Tag", source="de-AT", targets={"en", "en-GB", "pt", "pt-PT", "zh"})
    calls = deepl_api.translate_calls
    assert {c.json["source_lang"] for c in calls} == {"DE"}
    assert sorted(c.json["target_lang"] for c in calls) == ["EN-GB", "EN-US", "PT-BR", "PT-PT", "ZH-HANS"]


def test_it_names_a_language_code_it_cannot_translate(deepl_api, openai_api):
    results = captions_for(text="Hello", source="en", targets={"tlh", "english!"})
    assert "DeepL cannot translate into 'tlh'" in results["tlh"].problem
    assert "Unknown language code 'tlh'" in results["tlh"].problem
    assert "'english!' is not a language code" in results["english!"].problem
    assert deepl_api.translate_calls == [] and openai_api.completion_calls == []


def test_it_picks_the_deepl_host_from_the_key():
    assert server_url_for("abc:fx") == FREE_URL
    assert server_url_for("abc") == PRO_URL
    assert server_url_for("abc:fx", "http://127.0.0.1:9") == "http://127.0.0.1:9"


# --- Provider errors ------------------------------------------------------------------------------


def test_it_reports_an_exhausted_deepl_quota_without_retrying(deepl_api, settings):
    settings.TRANSLATION_MAX_RETRIES = 3
    deepl_api.fail_next(456)
    result = captions_for(text="Hello", source="en", targets={"de"})["de"]
    assert result.caption is None
    assert "DeepL's character quota for this billing period is used up (HTTP 456)" in result.problem
    assert len(deepl_api.translate_calls) == 1


def test_it_reports_an_exhausted_openai_quota_without_retrying(openai_api, settings):
    settings.TRANSLATION_MAX_RETRIES = 2
    openai_api.fail_next("insufficient_quota")
    result = captions_for(text="Hello", source="en", targets={"de"})["de"]
    assert "quota is used up (insufficient_quota)" in result.problem
    assert len(openai_api.completion_calls) == 1


def test_it_asks_to_try_again_later_when_rate_limited(deepl_api, openai_api, settings):
    settings.TRANSLATION_RETRY_AFTER_SECONDS = 45
    deepl_api.fail_next(429)
    openai_api.fail_next(429)
    problem = captions_for(text="Hello", source="en", targets={"de"})["de"].problem
    assert "DeepL: DeepL is rate limiting requests (HTTP 429). Try again in 45 s." in problem
    assert "OpenAI: OpenAI is rate limiting requests (HTTP 429). Try again in 7 s." in problem  # its retry-after


def test_it_blocks_the_account_with_a_retry_later_problem_in_the_plan(workspace, deepl_api):
    german = SocialAccountFactory(workspace=workspace, language="de")
    deepl_api.fail_next(429)
    entry = post_publish(post=post_for(workspace, [german]), dry_run=True).entries[0]
    assert entry.status == "blocked"
    assert "Try again in" in entry.problems[0]


def test_it_falls_back_to_openai_when_deepl_fails(deepl_api, openai_api):
    deepl_api.fail_next(456)
    result = captions_for(text="Hello", source="en", targets={"de"})["de"]
    assert (result.caption, result.provider) == ("[de] Hello", "openai")


def test_it_reports_bad_keys_as_configuration_problems(deepl_api, openai_api, settings):
    settings.DEEPL_API_KEY = "wrong"
    settings.OPENAI_API_KEY = "wrong"
    problem = captions_for(text="Hello", source="en", targets={"de"})["de"].problem
    assert "DeepL refused the API key (HTTP 403): check DEEPL_API_KEY" in problem
    assert "OpenAI refused the API key (HTTP 401): check OPENAI_API_KEY" in problem


def test_it_reports_a_malformed_deepl_answer_instead_of_crashing(deepl_api):
    deepl_api.fail_next("no_billed")
    assert "DeepL answered in an unexpected shape" in captions_for(text="Hello", source="en", targets={"de"})["de"].problem


def test_it_reports_a_language_without_a_provider_as_a_preflight_problem(workspace):
    german = SocialAccountFactory(workspace=workspace, language="de")
    entry = post_publish(post=post_for(workspace, [german]), dry_run=True).entries[0]
    assert entry.status == "blocked"
    assert entry.problems == [
        "No translation provider is configured for de: set DEEPL_API_KEY or OPENAI_API_KEY, or publish only to en accounts."
    ]


def test_it_follows_the_workspace_provider_setting(workspace, deepl_api, openai_api):
    TranslationSettingsFactory(workspace=workspace, provider="openai")
    assert captions_for(text="Hi", source="en", targets={"de"}, workspace=workspace)["de"].provider == "openai"
    TranslationSettingsFactory._meta.model.objects.filter(workspace=workspace).update(provider="none")
    problem = captions_for(text="Hi", source="en", targets={"fr"}, workspace=workspace)["fr"].problem
    assert "Machine translation is switched off for this workspace" in problem
    assert deepl_api.translate_calls == []


# --- The operator's review and edits --------------------------------------------------------------


def test_it_uses_the_operators_caption_instead_of_translating(deepl_api):
    results = captions_for(text=CAPTION, source="en", targets={"de", "de-AT", "fr"}, overrides={"de": "Von Hand"})
    assert (results["de"].caption, results["de"].provider) == ("Von Hand", "override")
    assert results["de-AT"].caption == "Von Hand"
    assert [c.json["target_lang"] for c in deepl_api.translate_calls] == ["FR"]


def test_it_shows_every_target_language_for_review_without_publishing(api, workspace, deepl_api):
    accounts = [SocialAccountFactory(workspace=workspace, language=lang) for lang in ("en", "de", "de", "fr")]
    post = post_for(workspace, accounts, title="Drop")
    client = api(Role.EDITOR)

    response = client.post(f"{V1}/posts/{post.pk}/translate/")

    assert response.status_code == 200, response.content
    by_language = {row["language"]: row for row in response.json()["languages"]}
    assert by_language["de"] == {
        "language": "de",
        "accounts": 2,
        "caption": translated_lines(CAPTION, "DE"),
        "title": "[DE] Drop",
        "provider": "deepl",
        "overridden": False,
        "problem": "",
    }
    assert by_language["en"]["provider"] == "source"
    assert not Execution.objects.filter(post=post).exists()


def test_it_keeps_an_operators_caption_over_retranslation(api, workspace, deepl_api):
    post = post_for(workspace, [SocialAccountFactory(workspace=workspace, language="de")])
    client = api(Role.EDITOR)

    response = client.put(f"{V1}/posts/{post.pk}/captions/de/", {"caption": "Handgemacht #summer"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["captions"] == {"de": "Handgemacht #summer"}
    translated = client.post(f"{V1}/posts/{post.pk}/translate/").json()["languages"]
    assert translated == [
        {
            "language": "de",
            "accounts": 1,
            "caption": "Handgemacht #summer",
            "title": "",
            "provider": "override",
            "overridden": True,
            "problem": "",
        }
    ]
    assert deepl_api.translate_calls == []
    assert ActivityLog.objects.filter(action="post.caption_override", post=post, actor=client.user).exists()

    assert client.delete(f"{V1}/posts/{post.pk}/captions/de/").json()["captions"] == {}
    assert client.post(f"{V1}/posts/{post.pk}/translate/").json()["languages"][0]["provider"] == "deepl"


def test_it_lets_only_editors_change_captions(api, workspace):
    post = post_for(workspace, [SocialAccountFactory(workspace=workspace, language="de")])
    viewer = api(Role.VIEWER)
    assert viewer.put(f"{V1}/posts/{post.pk}/captions/de/", {"caption": "x"}, format="json").status_code == 403
    assert viewer.post(f"{V1}/posts/{post.pk}/translate/").status_code == 403


def test_it_refuses_an_empty_override_and_a_post_without_targets(api, workspace):
    client = api(Role.EDITOR)
    post = PostFactory(workspace=workspace)
    assert client.put(f"{V1}/posts/{post.pk}/captions/de/", {"caption": "  "}, format="json").status_code == 400
    response = client.post(f"{V1}/posts/{post.pk}/translate/")
    assert response.status_code == 409
    assert "no target accounts" in response.json()["detail"]


def test_it_publishes_the_caption_an_operator_edited_on_the_execution(api, workspace):
    post = post_for(workspace, [SocialAccountFactory(workspace=workspace)])
    post_publish(post=post)
    execution = Execution.objects.get(post=post)
    client = api(Role.EDITOR)

    response = client.patch(f"{V1}/executions/{execution.pk}/caption/", {"caption": "Edited by hand #summer"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["caption"] == "Edited by hand #summer" and response.json()["caption_edited"] is True
    assert ActivityLog.objects.filter(action="execution.caption_edit", execution=execution).exists()
    for claim in claim_due(now=timezone.now() + timedelta(days=1)):
        execution_publish(claim.execution_id, claim.token)
    assert SandboxPost.objects.get(account=execution.account).caption == "Edited by hand #summer"


def test_it_refuses_to_edit_a_caption_that_can_no_longer_change(api, workspace):
    client = api(Role.EDITOR)
    done = ExecutionFactory(post=PostFactory(workspace=workspace), status="success")
    response = client.patch(f"{V1}/executions/{done.pk}/caption/", {"caption": "late"}, format="json")
    assert response.status_code == 409
    assert "while the execution waits" in response.json()["detail"]
    waiting = ExecutionFactory(post=PostFactory(workspace=workspace), account__platform="pinterest")
    response = client.patch(f"{V1}/executions/{waiting.pk}/caption/", {"caption": "x" * 501}, format="json")
    assert response.status_code == 400
    assert "Pinterest accepts at most 500 characters" in response.json()["caption"][0]
