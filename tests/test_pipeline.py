"""The pipeline of a source's post: seven recorded stages, each a task on its own queue, chained
after commit; a failed stage is retried without redoing the earlier ones; finalize reports to the
admin chat (and the channel when asked) and removes what killed renders left; the API, the admin
and /metrics show it all. Telegram (the source's bot and the admin bot) is the loopback emulator."""

import itertools
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError

from accounts.models import Role
from crosspost.celery import app as celery_app
from crosspost.periodic import PERIODIC_TASKS
from media.services import RENDER_DIR_PREFIX
from media.tasks import requeue_stale_renders
from posts.models import PipelineStage, Post, PostStatus, Stage, StageStatus
from posts.pipeline import STAGES, duration_display, stages_of
from products.models import Product
from publishing import pipeline
from publishing.ai_captions import CaptionsOutcome
from publishing.models import Execution, ExecutionStatus
from sources.models import IngestMode, Source
from sources.services import source_poll

from .emulators.telegram import TelegramEmulator
from .emulators.wildberries import WildberriesEmulator
from .factories import PublishingPolicyFactory, SocialAccountFactory, WorkspaceFactory, png_bytes
from .support.engine import drain

TOKEN = "7012345678:AAHpipelineBotToken_never-leaks-1"
ADMIN_TOKEN = "7099999999:AAHadminBotToken_never-leaks-2222"


@pytest.fixture
def telegram(settings):
    with TelegramEmulator() as emulator:
        settings.TELEGRAM_API_BASE_URL = emulator.url
        emulator.add_bot(TOKEN, username="source_bot")
        emulator.add_bot(ADMIN_TOKEN, username="admin_bot")
        admin_chat = emulator.add_chat(title="Ops", admins=[ADMIN_TOKEN])
        settings.TELEGRAM_ADMIN_BOT_TOKEN = ADMIN_TOKEN
        settings.TELEGRAM_ADMIN_CHAT_ID = str(admin_chat["id"])
        emulator.admin_chat = admin_chat
        yield emulator


@pytest.fixture
def eager():
    previous, celery_app.conf.task_always_eager = celery_app.conf.task_always_eager, True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def channel(telegram):
    return telegram.add_chat(title="Drops", admins=[TOKEN])


@pytest.fixture
def source(workspace, channel):
    account = SocialAccountFactory(workspace=workspace)
    PublishingPolicyFactory(workspace=workspace, fast=True)
    made = Source.objects.create(
        workspace=workspace,
        name="Drops",
        options={"chat_id": str(channel["id"])},
        secret={"bot_token": TOKEN},
        mode=IngestMode.PUBLISH,
    )
    made.target_accounts.set([account])
    return made


@pytest.fixture
def run(django_capture_on_commit_callbacks, eager):
    """Run ``work`` and everything it enqueues after commit (tasks run eagerly, as a worker would)."""

    def go(work):
        with django_capture_on_commit_callbacks(execute=True):
            return work()

    return go


def ingest(run, source, telegram, channel, **content):
    telegram.channel_post(TOKEN, channel, **content)
    run(lambda: source_poll(source=source))
    return Post.objects.get(workspace=source.workspace)


def publish_all(run):
    """What the dispatcher and the publish workers do, until nothing is left to publish."""
    for _round in range(5):
        if not run(drain):
            return


def statuses(post) -> list[tuple[str, str]]:
    return [(s.stage, s.status) for s in stages_of(post)]


def channel_texts(telegram, chat) -> list[str]:
    return [m.get("text", "") for m in telegram.messages if m["chat"]["id"] == chat["id"] and "text" in m]


def test_it_runs_a_source_post_through_the_seven_stages_in_order(run, telegram, channel, source):
    post = ingest(run, source, telegram, channel, text="Straight out #drop")
    assert statuses(post)[:6] == [
        ("ingest", "done"),
        ("enrich", "skipped"),
        ("captionize", "done"),
        ("transcode", "skipped"),
        ("preflight", "done"),
        ("publish", "done"),
    ]
    assert statuses(post)[6] == ("finalize", "waiting")  # until the post has finished
    publish_all(run)
    post.refresh_from_db()
    assert post.status == PostStatus.COMPLETED
    stages = stages_of(post)
    assert [s.stage for s in stages] == list(STAGES)
    assert all(s.status in (StageStatus.DONE, StageStatus.SKIPPED) for s in stages), statuses(post)
    for earlier, later in itertools.pairwise(stages):
        assert earlier.started_at <= earlier.finished_at <= later.started_at
    assert all(s.duration is not None for s in stages)
    assert stages[1].note == "The post names no marketplace product."
    assert stages[4].details["accounts"][0]["status"] == "planned"
    # One summary, to the admin chat only (the source did not ask for its channel).
    summaries = channel_texts(telegram, telegram.admin_chat)
    assert len(summaries) == 1 and f"Post #{post.pk}" in summaries[0] and "Published 1 of 1" in summaries[0]
    assert channel_texts(telegram, channel) == []


def test_it_renders_what_the_platforms_need_in_the_transcode_stage(run, telegram, channel, source):
    photo = telegram.add_file(png_bytes(64, 48, (200, 40, 40)))
    post = ingest(run, source, telegram, channel, caption="A photo", **telegram.photo_content(photo))
    transcode = PipelineStage.objects.get(post=post, stage=Stage.TRANSCODE)
    assert transcode.status == StageStatus.DONE, transcode.error
    assert transcode.details["profiles"] == ["image_4x5"]
    assert post.media.get().asset.renditions.get(profile="image_4x5").status == "ready"
    assert PipelineStage.objects.get(post=post, stage=Stage.PUBLISH).status == StageStatus.DONE


def test_transcode_gives_up_with_a_clear_error_when_renditions_never_come(run, telegram, channel, source, settings, monkeypatch):
    settings.PIPELINE_TRANSCODE_MAX_WAIT_SECONDS = 30
    settings.PIPELINE_TRANSCODE_CHECK_SECONDS = 10
    # No media worker: the renders never run, so the renditions stay pending.
    monkeypatch.setattr("media.services._enqueue_renders", lambda asset_ids: None)
    photo = telegram.add_file(png_bytes(64, 48, (200, 40, 40)))
    post = ingest(run, source, telegram, channel, caption="A photo", **telegram.photo_content(photo))
    transcode = PipelineStage.objects.get(post=post, stage=Stage.TRANSCODE)
    assert transcode.status == StageStatus.FAILED
    assert "not ready after 0 min" in transcode.error and "queue media" in transcode.error
    assert PipelineStage.objects.get(post=post, stage=Stage.PREFLIGHT).status == StageStatus.WAITING


def test_transcode_looks_again_soon_then_every_check_interval(run, telegram, channel, source, settings, monkeypatch):
    """A picture's renditions are ready within a second or two: the first looks come after 1, 2, 4 and
    8 s, then every PIPELINE_TRANSCODE_CHECK_SECONDS until the maximum wait (a flat 15 s made every
    photo post of the ingest bench wait 15 s in this stage)."""
    settings.PIPELINE_TRANSCODE_MAX_WAIT_SECONDS = 60
    settings.PIPELINE_TRANSCODE_CHECK_SECONDS = 15
    monkeypatch.setattr("media.services._enqueue_renders", lambda asset_ids: None)  # the renders never come
    looks = []
    real_enqueue = pipeline.enqueue

    def recorded(post_id, stage, *, countdown=None, check=0):
        if stage == Stage.TRANSCODE:
            looks.append(countdown)
        real_enqueue(post_id, stage, countdown=countdown, check=check)

    monkeypatch.setattr(pipeline, "enqueue", recorded)
    photo = telegram.add_file(png_bytes(64, 48, (200, 40, 40)))
    post = ingest(run, source, telegram, channel, caption="A photo", **telegram.photo_content(photo))
    assert looks[:7] == [None, 1, 2, 4, 8, 15, 15]  # None: the stage's own start, right after captionize
    # The looks cover the maximum wait (1 + 2 + 4 + 8 + 15 + 15 + 15 ≥ 60 s), then the stage gives up.
    assert sum(look for look in looks if look) >= 60
    assert PipelineStage.objects.get(post=post, stage=Stage.TRANSCODE).status == StageStatus.FAILED


@pytest.fixture
def wildberries(settings):
    with WildberriesEmulator() as emulator:
        settings.WB_CARD_BASE_URL = emulator.url
        yield emulator


def test_a_marketplace_refusal_leaves_enrich_done_with_the_note_and_the_post_still_publishes(
    run, telegram, channel, source, wildberries
):
    wildberries.fail_next(403)  # the anti-bot page
    post = ingest(run, source, telegram, channel, text="See https://www.wildberries.ru/catalog/123456/detail.aspx")
    enrich = PipelineStage.objects.get(post=post, stage=Stage.ENRICH)
    assert enrich.status == StageStatus.DONE
    assert enrich.note.startswith("no product facts: ")
    publish_all(run)
    post.refresh_from_db()
    assert post.status == PostStatus.COMPLETED
    assert not Product.objects.filter(article=123456, title__gt="").exists()


def test_a_captionize_problem_fails_the_stage_and_the_others_go_on(run, telegram, channel, source, monkeypatch):
    problem = CaptionsOutcome(problems={("sandbox", "en"): "OpenAI: the provider is unavailable."})
    monkeypatch.setattr(pipeline, "post_captions_prepare", lambda *, post: problem)
    post = ingest(run, source, telegram, channel, text="Captions fail")
    stage = PipelineStage.objects.get(post=post, stage=Stage.CAPTIONIZE)
    assert stage.status == StageStatus.FAILED
    assert stage.error == "Sandbox (en): OpenAI: the provider is unavailable."
    assert PipelineStage.objects.get(post=post, stage=Stage.PUBLISH).status == StageStatus.DONE


def test_a_failed_captionize_stage_retried_completes_the_post_without_redoing_earlier_stages(
    run, telegram, channel, source, monkeypatch
):
    def broken(*, post):
        raise ConnectionError("the caption service dropped the connection")

    monkeypatch.setattr(pipeline, "post_captions_prepare", broken)
    post = ingest(run, source, telegram, channel, text="Retry me")
    assert statuses(post)[1:4] == [("enrich", "skipped"), ("captionize", "failed"), ("transcode", "waiting")]
    failed = PipelineStage.objects.get(post=post, stage=Stage.CAPTIONIZE)
    assert "ConnectionError: the caption service dropped the connection" in failed.error
    assert Post.objects.get(pk=post.pk).status == PostStatus.DRAFT
    enrich_before = PipelineStage.objects.get(post=post, stage=Stage.ENRICH)

    monkeypatch.setattr(pipeline, "post_captions_prepare", lambda *, post: CaptionsOutcome(stored=1))
    run(lambda: pipeline.stage_retry(post=post, stage=Stage.CAPTIONIZE))
    publish_all(run)
    post.refresh_from_db()
    assert post.status == PostStatus.COMPLETED
    assert all(status in ("done", "skipped") for _stage, status in statuses(post)), statuses(post)
    captionize = PipelineStage.objects.get(post=post, stage=Stage.CAPTIONIZE)
    assert captionize.attempts == 2 and captionize.note == "1 AI caption written."
    enrich = PipelineStage.objects.get(post=post, stage=Stage.ENRICH)
    assert (enrich.attempts, enrich.finished_at) == (enrich_before.attempts, enrich_before.finished_at)


def test_only_a_failed_stage_can_be_retried_and_it_says_why(run, telegram, channel, source):
    post = ingest(run, source, telegram, channel, text="All fine")
    with pytest.raises(ValidationError) as refused:
        pipeline.stage_retry(post=post, stage=Stage.PREFLIGHT)
    assert refused.value.messages == ["Only a failed stage can be retried; Preflight is done."]
    with pytest.raises(ValidationError) as unknown:
        pipeline.stage_retry(post=post, stage="ingest")
    assert "choose one of enrich, captionize" in unknown.value.messages[0]


def test_a_draft_source_waits_for_review_and_the_operators_publish_moves_it_on(run, api, telegram, channel, source):
    Source.objects.filter(pk=source.pk).update(mode=IngestMode.DRAFT)
    source.refresh_from_db()
    post = ingest(run, source, telegram, channel, text="Review me")
    publish = PipelineStage.objects.get(post=post, stage=Stage.PUBLISH)
    assert publish.status == StageStatus.REVIEW and publish.finished_at is None
    assert Post.objects.get(pk=post.pk).status == PostStatus.DRAFT
    client = api(Role.EDITOR, source.workspace)
    response = run(lambda: client.post(f"/api/v1/posts/{post.pk}/publish/", {}, format="json"))
    assert response.status_code == 201, response.content
    publish.refresh_from_db()
    assert publish.status == StageStatus.DONE and publish.details["approved"] is True
    publish_all(run)
    assert PipelineStage.objects.get(post=post, stage=Stage.FINALIZE).status == StageStatus.DONE


def test_preflight_stops_the_pipeline_only_when_nothing_can_be_published(run, telegram, channel, source):
    source.target_accounts.update(status="banned")
    post = ingest(run, source, telegram, channel, text="Nowhere to go")
    preflight = PipelineStage.objects.get(post=post, stage=Stage.PREFLIGHT)
    assert preflight.status == StageStatus.FAILED
    assert preflight.error.startswith("Nothing was published: the only target account is blocked.")
    assert preflight.details["accounts"][0]["problems"] == ["The account is banned."]
    assert PipelineStage.objects.get(post=post, stage=Stage.PUBLISH).status == StageStatus.WAITING
    assert not Execution.objects.filter(post=post).exists()


def test_finalize_reports_to_the_channel_when_asked_and_removes_render_leftovers(run, telegram, channel, source):
    Source.objects.filter(pk=source.pk).update(report_to_channel=True)
    source.refresh_from_db()
    photo = telegram.add_file(png_bytes(64, 48, (10, 40, 200)))
    post = ingest(run, source, telegram, channel, caption="Report it", **telegram.photo_content(photo))
    asset = post.media.get().asset
    # What a render killed by its time limit leaves behind, and another asset's that must stay.
    leftover = Path(tempfile.mkdtemp(prefix=f"{RENDER_DIR_PREFIX}{asset.pk}-"))
    (leftover / "partial.mp4").write_bytes(b"\0" * 1024)
    killed_at = time.time() - settings.MEDIA_RENDER_TIME_LIMIT_SECONDS - 300  # past the render's hard limit
    os.utime(leftover, (killed_at, killed_at))
    other = Path(tempfile.mkdtemp(prefix=f"{RENDER_DIR_PREFIX}{asset.pk + 1000}-"))
    os.utime(other, (killed_at, killed_at))
    # A render running right now with the same asset number (another database on this machine).
    fresh = Path(tempfile.mkdtemp(prefix=f"{RENDER_DIR_PREFIX}{asset.pk}-"))
    try:
        publish_all(run)
        finalize = PipelineStage.objects.get(post=post, stage=Stage.FINALIZE)
        assert finalize.status == StageStatus.DONE, finalize.error
        assert not leftover.exists() and other.exists() and fresh.exists()
        assert finalize.details["temporary_removed"] == 1
        # The media worker's periodic sweep takes what finalize did not: old ones of any asset.
        requeue_stale_renders()
        assert not other.exists() and fresh.exists()
    finally:
        shutil.rmtree(other, ignore_errors=True)
        shutil.rmtree(fresh, ignore_errors=True)
    admin = channel_texts(telegram, telegram.admin_chat)
    reported = [t for t in channel_texts(telegram, channel) if t.startswith("Post #")]
    assert len(admin) == 1 and reported == admin
    assert "sandbox" in admin[0] or "account_" in admin[0]


def test_a_channel_the_bot_may_not_post_to_fails_finalize_with_the_reason(run, telegram, channel, source):
    Source.objects.filter(pk=source.pk).update(report_to_channel=True)
    source.refresh_from_db()
    post = ingest(run, source, telegram, channel, text="Report it")
    telegram.set_member(channel, TOKEN, "administrator", can_post_messages=False)
    publish_all(run)
    finalize = PipelineStage.objects.get(post=post, stage=Stage.FINALIZE)
    assert finalize.status == StageStatus.FAILED
    assert finalize.error.startswith("The summary did not reach the source's channel:")
    assert TOKEN not in finalize.error
    assert len(channel_texts(telegram, telegram.admin_chat)) == 1


@pytest.mark.parametrize(
    "task, queue",
    [
        ("sources.tasks.ingest_source", "ingest"),
        ("publishing.pipeline_tasks.enrich", "enrich"),
        ("publishing.pipeline_tasks.captionize", "captionize"),
        ("publishing.pipeline_tasks.transcode", "media"),
        ("publishing.pipeline_tasks.preflight", "publish"),
        ("publishing.pipeline_tasks.publish", "publish"),
        ("publishing.pipeline_tasks.finalize", "publish"),
    ],
)
def test_each_stage_task_is_routed_to_its_queue(task, queue):
    assert task in celery_app.tasks
    route = celery_app.amqp.router.route({}, task)
    assert route["queue"].name == queue
    assert queue in {q.name for q in celery_app.conf.task_queues}


def test_the_beat_polls_sources_on_the_ingest_queue():
    polling = next(p for p in PERIODIC_TASKS if p.task == "sources.tasks.poll_sources")
    assert polling.queue == "ingest"


def test_a_hand_made_post_has_no_pipeline_and_notifies_as_before(workspace):
    post = Post.objects.create(workspace=workspace, caption="By hand", media_type="text")
    assert not PipelineStage.objects.filter(post=post).exists()
    assert pipeline.post_finished(post.pk) is False
    assert [s.status for s in stages_of(post)] == ["waiting"] * 7


@pytest.mark.parametrize("seconds, shown", [(None, ""), (0.42, "0.4 s"), (12.4, "12 s"), (185, "3 min"), (7500, "2 h 5 min")])
def test_durations_read_short(seconds, shown):
    assert duration_display(seconds) == shown


# --- API -------------------------------------------------------------------------------------------


def test_the_api_lists_the_stages_and_retries_a_failed_one(run, api, telegram, channel, source, monkeypatch):
    monkeypatch.setattr(pipeline, "post_captions_prepare", lambda *, post: 1 / 0)
    post = ingest(run, source, telegram, channel, text="Over the API")
    client = api(Role.EDITOR, source.workspace)
    listed = client.get(f"/api/v1/posts/{post.pk}/stages/")
    assert listed.status_code == 200
    body = listed.json()
    assert [s["stage"] for s in body] == list(STAGES)
    assert body[2]["status"] == "failed" and "ZeroDivisionError" in body[2]["error"]
    assert body[0]["duration_seconds"] is not None and body[3]["started_at"] is None
    refused = client.post(f"/api/v1/posts/{post.pk}/stages/enrich/retry/")
    assert refused.status_code == 409
    assert refused.json()["detail"] == "Only a failed stage can be retried; Enrich is skipped."
    assert client.post(f"/api/v1/posts/{post.pk}/stages/nonsense/retry/").status_code == 400
    monkeypatch.setattr(pipeline, "post_captions_prepare", lambda *, post: CaptionsOutcome())
    retried = run(lambda: client.post(f"/api/v1/posts/{post.pk}/stages/captionize/retry/"))
    assert retried.status_code == 200, retried.content
    assert PipelineStage.objects.get(post=post, stage=Stage.PUBLISH).status == StageStatus.DONE


def test_the_api_keeps_stages_to_the_workspace_and_viewers_cannot_retry(run, api, telegram, channel, source, monkeypatch):
    monkeypatch.setattr(pipeline, "post_captions_prepare", lambda *, post: 1 / 0)
    post = ingest(run, source, telegram, channel, text="Mine")
    stranger = api(Role.ADMIN, WorkspaceFactory())
    assert stranger.get(f"/api/v1/posts/{post.pk}/stages/").status_code == 404
    assert stranger.post(f"/api/v1/posts/{post.pk}/stages/captionize/retry/").status_code == 404
    viewer = api(Role.VIEWER, source.workspace)
    assert viewer.get(f"/api/v1/posts/{post.pk}/stages/").status_code == 200
    assert viewer.post(f"/api/v1/posts/{post.pk}/stages/captionize/retry/").status_code == 403
    assert PipelineStage.objects.get(post=post, stage=Stage.CAPTIONIZE).status == StageStatus.FAILED


# --- admin and dashboard ----------------------------------------------------------------------------


def test_the_admin_retries_a_failed_stage(run, admin_client, telegram, channel, source, monkeypatch):
    monkeypatch.setattr(pipeline, "post_captions_prepare", lambda *, post: 1 / 0)
    post = ingest(run, source, telegram, channel, text="Admin retry")
    page = admin_client.get(f"/admin/posts/post/{post.pk}/change/")
    assert page.status_code == 200 and b"ZeroDivisionError" in page.content
    monkeypatch.setattr(pipeline, "post_captions_prepare", lambda *, post: CaptionsOutcome())
    stage = PipelineStage.objects.get(post=post, stage=Stage.CAPTIONIZE)
    response = run(
        lambda: admin_client.post(
            "/admin/posts/pipelinestage/", {"action": "retry_stages", "_selected_action": [stage.pk]}, follow=True
        )
    )
    assert response.status_code == 200
    assert "1 stage started again" in response.content.decode()
    assert PipelineStage.objects.get(post=post, stage=Stage.PUBLISH).status == StageStatus.DONE


def test_the_dashboard_post_page_shows_the_stepper_and_retries(run, client, member, telegram, channel, source, monkeypatch):
    monkeypatch.setattr(pipeline, "post_captions_prepare", lambda *, post: 1 / 0)
    post = ingest(run, source, telegram, channel, text="Dashboard")
    client.force_login(member(Role.EDITOR, source.workspace))
    page = client.get(f"/posts/{post.pk}/").content.decode()
    assert page.count('data-testid="stage-') == 7
    assert "ZeroDivisionError" in page and f"/posts/{post.pk}/stages/captionize/retry/" in page
    monkeypatch.setattr(pipeline, "post_captions_prepare", lambda *, post: CaptionsOutcome())
    response = run(lambda: client.post(f"/posts/{post.pk}/stages/captionize/retry/"))
    assert response.status_code in (200, 302)
    assert PipelineStage.objects.get(post=post, stage=Stage.CAPTIONIZE).status == StageStatus.DONE
    viewer = member(Role.VIEWER, source.workspace)
    client.force_login(viewer)
    assert client.post(f"/posts/{post.pk}/stages/captionize/retry/").status_code == 403


# --- metrics ----------------------------------------------------------------------------------------


def test_metrics_expose_stage_durations_posts_and_platform_requests(run, client, member, settings, telegram, channel, source):
    settings.METRICS_TOKEN = "metrics-token-123"
    post = ingest(run, source, telegram, channel, text="Count me")
    publish_all(run)
    other = SocialAccountFactory(workspace=WorkspaceFactory())  # another workspace's numbers
    Execution.objects.create(
        workspace=other.workspace,
        post=Post.objects.create(workspace=other.workspace, caption="x", media_type="text"),
        account=other,
        language="en",
        status=ExecutionStatus.FAILED,
        scheduled_for=post.created_at,
    )
    text = client.get("/metrics", headers={"Authorization": "Bearer metrics-token-123"}).content.decode()
    assert "# TYPE crosspost_stage_duration_seconds histogram" in text
    for stage in STAGES:
        assert f'crosspost_stage_duration_seconds_count{{stage="{stage}"}} 1.0' in text
        assert f'crosspost_stage_duration_seconds_bucket{{le="+Inf",stage="{stage}"}} 1.0' in text
    assert 'crosspost_stage_duration_seconds_bucket{le="3600.0",stage="publish"} 1.0' in text
    assert 'crosspost_posts_total{platform="sandbox",status="success"} 1.0' in text
    assert 'crosspost_posts_total{platform="sandbox",status="failed"} 1.0' in text
    assert 'crosspost_platform_requests_total{platform="sandbox",status="success"} 1.0' in text
    # A member sees their own workspace only.
    client.force_login(member(Role.VIEWER, source.workspace))
    mine = client.get("/metrics").content.decode()
    assert 'crosspost_posts_total{platform="sandbox",status="failed"}' not in mine
    assert 'crosspost_posts_total{platform="sandbox",status="success"} 1.0' in mine
    assert 'crosspost_stage_duration_seconds_count{stage="ingest"} 1.0' in mine
