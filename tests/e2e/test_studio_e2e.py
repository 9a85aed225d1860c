"""Issue 17 in a real browser: a member watches a recording being processed. The test moves the
run's Job through the steps with crosspost.jobs (as the step tasks do) and the page, polling by
itself, shows the bar's width and percent, the current step and the message change, ending at
100 % "Completed" with every step done. The source and preset forms show only the chosen kind's fields
and the chosen platform's accounts (static/dashboard/studio.js)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.utils import timezone

from accounts.models import Role
from crosspost.jobs import job_completed, job_create, job_started, job_step
from platforms.names import Platform
from studio.models import InputSource, Recording, RecordingStatus, Step
from studio.runner import JOB_KIND
from studio.services import template_save

from ..factories import MembershipFactory, SocialAccountFactory, UserFactory
from .conftest import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_recording_page_shows_the_pipeline_moving_through_its_steps_to_completed(page, live_server, db_lock):
    from playwright.sync_api import expect

    with db_lock:
        member = MembershipFactory(user=UserFactory(username="producer"), role=Role.EDITOR)
        template = template_save(workspace=member.workspace, name="Weekly talks", name_regex="sync")
        recording = Recording.objects.create(
            workspace=member.workspace,
            remote_id="upload:weekly",
            display_name="Weekly sync",
            duration_s=42.0,
            template=template,
            status=RecordingStatus.DOWNLOADING,
        )
        job = job_create(
            kind=JOB_KIND, workspace=member.workspace, author=member.user, subject=f"studio.recording:{recording.pk}"
        )
        job_started(job.pk, stage=Step.DOWNLOAD, message="Downloading Weekly sync.mp4")
        Recording.objects.filter(pk=recording.pk).update(job=job, last_step=Step.PUBLISH)

    path = f"/studio/recordings/{recording.pk}/"
    login(page, live_server.url, "producer", next_path=path)
    bar, percent = page.get_by_test_id("progress-bar"), page.get_by_test_id("progress-percent")
    expect(percent).to_have_text("0 %")
    expect(page.get_by_test_id("step-download")).to_have_attribute("data-mark", "current")
    expect(page.get_by_test_id("job-message")).to_contain_text("Weekly sync.mp4")
    expect(page.get_by_test_id("cancel")).to_be_visible()

    def move(progress: int, step: str, message: str, finished: str) -> None:
        with db_lock:
            job_step(job.pk, progress=progress, stage=step, message=message)
            Recording.objects.filter(pk=recording.pk).update(
                finished_step=finished, status=RecordingStatus.PROCESSING, updated_at=timezone.now()
            )

    move(32, Step.TRIM, "Removing 4 silences", Step.DOWNLOAD)
    expect(bar).to_have_attribute("style", "width: 32%")
    expect(percent).to_have_text("32 %")
    expect(page.get_by_test_id("step-trim")).to_have_attribute("data-mark", "current")
    expect(page.get_by_test_id("step-download")).to_have_attribute("data-mark", "done")
    expect(page.get_by_test_id("job-message")).to_have_text("Removing 4 silences")

    move(71, Step.TRANSCRIBE, "Transcribing: 3 of 5 chunks", Step.TRIM)
    expect(bar).to_have_attribute("style", "width: 71%")
    expect(page.get_by_test_id("step-transcribe")).to_have_attribute("data-mark", "current")
    expect(page.get_by_test_id("step-publish")).to_have_attribute("data-mark", "waiting")
    shot(page, "studio-progress-transcribe")

    with db_lock:
        job_completed(job.pk, message="Done: Publish.")
        Recording.objects.filter(pk=recording.pk).update(
            status=RecordingStatus.READY, finished_step=Step.PUBLISH, title="Planning the release", updated_at=timezone.now()
        )
    expect(percent).to_have_text("100 %")
    expect(bar).to_have_attribute("style", "width: 100%")
    expect(page.get_by_test_id("job-status")).to_have_text("Completed")
    for step in ("download", "trim", "transcribe", "topics", "subtitles", "publish"):
        expect(page.get_by_test_id(f"step-{step}")).to_have_attribute("data-mark", "done")
    expect(page.get_by_test_id("recording-progress")).to_have_attribute("data-live", "false")
    expect(page.get_by_test_id("recording-status")).to_have_text("Ready")  # the page reloaded once
    expect(page.get_by_test_id("title")).to_have_text("Planning the release")
    shot(page, "studio-progress-completed")

    page.get_by_role("link", name="Studio", exact=True).first.click()
    expect(page.get_by_test_id("recording-row")).to_contain_text("Weekly sync")
    expect(page.get_by_test_id(f"usage-{member.workspace.pk}")).to_contain_text("Recordings this month")
    expect(page.get_by_test_id("usage-recordings")).to_have_text(f"1 / {settings.STUDIO_RECORDINGS_PER_MONTH}")
    shot(page, "studio-recordings")
    assert page.console_problems == []


def test_the_source_and_preset_forms_show_only_the_chosen_kinds_fields(page, live_server, db_lock):
    from playwright.sync_api import expect

    with db_lock:
        member = MembershipFactory(user=UserFactory(username="studio-admin"), role=Role.ADMIN)
        SocialAccountFactory(workspace=member.workspace, platform=Platform.YOUTUBE, handle="channel_one")
        SocialAccountFactory(workspace=member.workspace, platform=Platform.VK, handle="vk_one")

    login(page, live_server.url, "studio-admin", next_path="/studio/sources/new/")
    zoom, disk = page.locator("fieldset[data-kind=zoom]"), page.locator("fieldset[data-kind=yandex_disk]")
    expect(zoom).to_be_visible()
    expect(disk).to_be_hidden()
    page.select_option("#id_kind", "yandex_disk")
    expect(zoom).to_be_hidden()
    expect(disk).to_be_visible()
    page.fill("#id_name", "Team disk")
    page.fill("#id_yandex_path", "Video/Zoom")
    page.fill("#id_yandex_token", "y0_token")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved the source “Team disk”.")).to_be_visible()
    with db_lock:
        assert InputSource.objects.get().options["path"] == "disk:/Video/Zoom"

    page.goto(f"{live_server.url}/studio/presets/new/")
    page.select_option("#id_platform", "youtube")
    expect(page.locator("#id_accounts option[data-platform=youtube]")).to_have_count(1)
    expect(page.locator("#id_accounts option[data-platform=vk]")).to_be_hidden()
    assert page.console_problems == []
