"""Issue 13 in a real browser: a post from a Telegram channel shows its seven pipeline stages with
durations on the dashboard; a captionize stage failed by an OpenAI outage is retried with one click
once OpenAI is back, and the post completes. Telegram and OpenAI are loopback emulators; stage
tasks run eagerly, as a worker would."""

from __future__ import annotations

import re

import pytest

from accounts.models import Role
from crosspost.celery import app as celery_app
from posts.models import CaptionMode, PipelineStage, Post, PostStatus, Stage, StageStatus
from publishing.models import PostCaption
from sources.models import IngestMode, Source
from sources.services import source_poll

from ..emulators.openai import OpenAIEmulator
from ..emulators.telegram import TelegramEmulator
from ..factories import MembershipFactory, PublishingPolicyFactory, SocialAccountFactory, UserFactory
from .conftest import login, run_engine_until, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TOKEN = "7012345678:AAHpipelineE2eToken_never-leaks-33"


@pytest.fixture
def eager():
    previous, celery_app.conf.task_always_eager = celery_app.conf.task_always_eager, True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def telegram(settings):
    with TelegramEmulator() as emulator:
        settings.TELEGRAM_API_BASE_URL = emulator.url
        emulator.add_bot(TOKEN, username="source_bot")
        yield emulator


@pytest.fixture
def openai_api(settings):
    with OpenAIEmulator() as emulator:
        settings.OPENAI_API_KEY = emulator.api_key
        settings.OPENAI_BASE_URL = emulator.url + "/v1"
        settings.TRANSLATION_MAX_RETRIES = 0
        yield emulator


def test_the_post_page_shows_seven_stages_and_a_failed_captionize_retried_completes_the_post(
    page, live_server, db_lock, eager, telegram, openai_api
):
    openai_api.fail_next(500, times=50)  # OpenAI is down until recover()
    channel = telegram.add_chat(title="Drops", admins=[TOKEN])
    with db_lock:
        member = MembershipFactory(user=UserFactory(username="operator"), role=Role.EDITOR)
        account = SocialAccountFactory(workspace=member.workspace, handle="shop_feed")
        PublishingPolicyFactory(workspace=member.workspace, fast=True)
        source = Source.objects.create(
            workspace=member.workspace,
            name="Drops",
            options={"chat_id": str(channel["id"])},
            secret={"bot_token": TOKEN},
            mode=IngestMode.PUBLISH,
            caption_mode=CaptionMode.AI,
        )
        source.target_accounts.set([account])
        telegram.channel_post(TOKEN, channel, text="New drop, straight from the channel")
        source_poll(source=source)  # each commit starts the next stage, up to the failing one
        post = Post.objects.get(workspace=member.workspace)
        assert PipelineStage.objects.get(post=post, stage=Stage.CAPTIONIZE).status == StageStatus.FAILED

    login(page, live_server.url, "operator", next_path=f"/posts/{post.pk}/")
    stepper = page.get_by_test_id("pipeline")
    assert [item.get_attribute("data-testid") for item in stepper.locator("li").all()] == [
        f"stage-{stage}" for stage in Stage.values
    ]
    captionize = page.get_by_test_id("stage-captionize")
    assert captionize.get_attribute("data-status") == "failed"
    assert "OpenAI" in captionize.inner_text()
    # With no caption for its only target, preflight stops the pipeline: nothing is published raw.
    assert page.get_by_test_id("stage-preflight").get_attribute("data-status") == "failed"
    assert page.get_by_test_id("stage-publish").get_attribute("data-status") == "waiting"
    shot(page, "pipeline-01-captionize-failed")

    openai_api.recover()
    captionize.get_by_role("button", name="Retry").click()
    page.locator("[data-testid=stage-publish][data-status=done]").wait_for()
    run_engine_until(page, db_lock, lambda: Post.objects.get(pk=post.pk).status == PostStatus.COMPLETED)
    page.locator("[data-testid=post-status]", has_text="Completed").wait_for()
    page.locator("[data-testid=stage-finalize][data-status=done]").wait_for()

    steps = stepper.locator("li")
    assert steps.count() == 7
    for index in range(7):
        step = steps.nth(index)
        assert step.get_attribute("data-status") in ("done", "skipped"), step.inner_text()
        duration = step.get_by_test_id("duration").inner_text()
        assert re.fullmatch(r"\d+(\.\d)? s|\d+ min|\d+ h \d+ min", duration), duration
    assert page.get_by_role("button", name="Retry").count() == 0
    shot(page, "pipeline-02-completed")
    with db_lock:
        assert PipelineStage.objects.get(post=post, stage=Stage.ENRICH).attempts == 1  # not redone
        caption = PostCaption.objects.get(post=post, platform=account.platform, language=account.language)
        assert "New drop, straight from the channel" in caption.caption  # the emulated model's answer
        assert post.executions.get().caption == caption.caption
    assert page.console_problems == []
