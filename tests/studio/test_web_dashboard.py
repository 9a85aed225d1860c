"""The dashboard's Studio pages (Django test client): recordings with filters and the usage panel,
a recording's page with its live progress region, runs refused with the service's message, the
template / preset / source forms saving through the services and showing their refusals next to the
fields; viewers read only and another workspace's recording is a 404."""

from __future__ import annotations

import os
import subprocess
import time

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from accounts.models import Role
from crosspost.jobs import job_completed, job_step
from media.ffmpeg import ffmpeg_binary
from platforms.names import Platform
from studio.models import (
    FileKind,
    InputSource,
    OutputPreset,
    Recording,
    RecordingFile,
    RecordingStatus,
    Step,
    StudioPermission,
    StudioQuota,
    Template,
)
from studio.services import template_save

from ..factories import SocialAccountFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def login(client, member):
    def make(role=Role.EDITOR):
        user = member(role)
        client.force_login(user)
        return user

    return make


def make_recording(workspace, name="Weekly sync", **fields) -> Recording:
    values = {
        "remote_id": f"upload:{name}",
        "display_name": name,
        "duration_s": 42.0,
        "size_bytes": 1000,
        "status": RecordingStatus.DOWNLOADED,
        "finished_step": Step.DOWNLOAD,
        **fields,
    }
    return Recording.objects.create(workspace=workspace, **values)


def make_template(workspace, name="Talks", **fields) -> Template:
    return template_save(workspace=workspace, name=name, subtitles="srt", **fields)


def section(page: str, field: str) -> str:
    return page.split(f'id="field-{field}"', 1)[1].split('<div class="field', 1)[0]


# --- recordings -----------------------------------------------------------------------------------


def test_it_lists_recordings_with_filters_usage_and_a_nav_link(client, login, workspace):
    login(Role.VIEWER)
    template = make_template(workspace)
    make_recording(workspace, "Weekly sync", template=template)
    make_recording(workspace, "Board meeting", status=RecordingStatus.FAILED)
    make_recording(WorkspaceFactory(), "Someone else's")
    StudioQuota.objects.create(workspace=workspace, storage_gb=1, recordings_per_month=10, concurrent_jobs=3)
    page = client.get(reverse("dashboard:studio")).content.decode()
    assert "Weekly sync" in page and "Board meeting" in page and "Someone else" not in page
    assert f'href="{reverse("dashboard:studio")}"' in page  # the nav's Studio link
    assert 'data-testid="usage-recordings">2 / 10<' in page and 'data-testid="usage-jobs">0 / 3<' in page
    assert "1.00 GB" in page and "✗ process recordings" in page  # a viewer may not process
    assert 'data-testid="import-form"' not in page and 'data-testid="batch-run"' not in page
    failed = client.get(reverse("dashboard:studio"), {"status": "failed"}, **HTMX).content.decode()
    assert "Board meeting" in failed and "Weekly sync" not in failed and "<html" not in failed
    by_template = client.get(reverse("dashboard:studio"), {"template": template.pk}).content.decode()
    assert "Weekly sync" in by_template and "Board meeting" not in by_template
    searched = client.get(reverse("dashboard:studio"), {"q": "board"}).content.decode()
    assert "Board meeting" in searched and "Weekly sync" not in searched


def test_editors_see_the_import_form_and_their_permissions(client, login, workspace):
    user = login()
    StudioPermission.objects.create(workspace=workspace, user=user, can_publish=False)
    page = client.get(reverse("dashboard:studio")).content.decode()
    assert 'data-testid="import-form"' in page and 'data-testid="batch-run"' in page
    assert "✓ process recordings" in page and "✗ publish recordings" in page and "✗ delete recordings" in page


def test_importing_an_address_makes_a_recording_and_a_bad_one_says_why(client, login, workspace, settings):
    settings.STUDIO_URL_ALLOW_PRIVATE = False
    login()
    response = client.post(reverse("dashboard:studio-import"), {"url": "https://93.184.215.14/talks/intro.mp4"})
    recording = Recording.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("dashboard:studio-recording", args=[recording.pk])
    assert recording.display_name == "intro.mp4" and recording.remote["url"].endswith("/intro.mp4")
    refused = client.post(reverse("dashboard:studio-import"), {"url": "http://127.0.0.1/x.mp4"}, follow=True)
    assert Recording.objects.count() == 1 and 'class="message error"' in refused.content.decode()
    nothing = client.post(reverse("dashboard:studio-import"), {}, follow=True).content.decode()
    assert "Choose a file or give an address" in nothing


def test_the_batch_run_starts_some_and_says_why_each_other_is_refused(client, login, workspace):
    login()
    template = make_template(workspace)
    ready = make_recording(workspace, "Ready one", template=template)
    unmatched = make_recording(workspace, "No template")
    skipped = make_recording(workspace, "Skipped one", template=template, status=RecordingStatus.SKIPPED)
    page = client.post(
        reverse("dashboard:studio-batch"), {"ids": [ready.pk, unmatched.pk, skipped.pk]}, follow=True
    ).content.decode()
    ready.refresh_from_db()
    assert ready.job is not None and ready.last_step == Step.PUBLISH
    assert "Started the pipeline of 1 recording." in page
    assert "No template: No template matched this recording; choose one before processing it." in page
    assert "Skipped one: The recording is skipped; bring it back before processing it." in page
    assert Recording.objects.get(pk=unmatched.pk).job is None


# --- a recording's page ---------------------------------------------------------------------------


def test_viewers_read_without_buttons_and_other_workspaces_are_hidden(client, login, workspace):
    login(Role.VIEWER)
    recording = make_recording(workspace, template=make_template(workspace))
    page = client.get(reverse("dashboard:studio-recording", args=[recording.pk])).content.decode()
    assert recording.display_name in page and 'data-testid="run-actions"' not in page and 'data-testid="skip"' not in page
    assert 'data-testid="choose-template"' not in page
    run = reverse("dashboard:studio-recording-run", args=[recording.pk])
    assert client.post(run, {"action": "process"}).status_code == 403
    stranger = make_recording(WorkspaceFactory(), "Theirs")
    assert client.get(reverse("dashboard:studio-recording", args=[stranger.pk])).status_code == 404


def test_a_refused_run_shows_the_services_message_never_a_500(client, login, workspace):
    user = login()
    recording = make_recording(workspace)
    url = reverse("dashboard:studio-recording-run", args=[recording.pk])
    page = client.post(url, {"action": "process"}, follow=True).content.decode()
    assert "No template matched this recording; choose one before processing it." in page
    template = make_template(workspace)
    client.post(reverse("dashboard:studio-recording-template", args=[recording.pk]), {"template": template.pk})
    recording.refresh_from_db()
    assert recording.template == template and recording.match_reason["manual"] is True
    StudioPermission.objects.create(workspace=workspace, user=user, can_process=False)
    page = client.post(url, {"action": "process"}, follow=True).content.decode()
    assert "You may not process recordings in this workspace" in page
    StudioPermission.objects.filter(user=user).update(can_process=True)
    StudioQuota.objects.create(workspace=workspace, storage_gb=0)
    page = client.post(url, {"action": "process"}, follow=True).content.decode()
    assert "The studio&#x27;s storage quota is used up" in page
    recording.refresh_from_db()
    assert recording.job is None  # nothing was started
    delete = client.post(reverse("dashboard:studio-recording-delete", args=[recording.pk]), follow=True).content.decode()
    assert "You may not delete recordings" in delete and Recording.objects.filter(pk=recording.pk).exists()


def test_the_progress_region_polls_while_the_job_runs_and_stops_when_it_is_done(client, login, workspace):
    login()
    recording = make_recording(workspace, template=make_template(workspace))
    client.post(reverse("dashboard:studio-recording-run", args=[recording.pk]), {"action": "full-pipeline"})
    recording.refresh_from_db()
    job_step(recording.job_id, progress=38, stage=Step.TRIM, message="Removing 12 silences")
    url = reverse("dashboard:studio-recording", args=[recording.pk])
    region = client.get(url, {"region": "progress", "was": "live"}, **HTMX)
    html = region.content.decode()
    assert "<html" not in html and 'hx-trigger="every 1s"' in html
    assert "width: 38%" in html and "38 %" in html and "Removing 12 silences" in html
    assert 'data-testid="step-download" data-mark="done"' in html
    assert 'data-testid="step-trim" data-mark="current"' in html
    assert 'data-testid="step-publish" data-mark="waiting"' in html and 'data-testid="cancel"' in html
    assert "HX-Refresh" not in region
    job_completed(recording.job_id, message="Done.")
    Recording.objects.filter(pk=recording.pk).update(status=RecordingStatus.PUBLISHED, finished_step=Step.PUBLISH)
    ended = client.get(url, {"region": "progress", "was": "live"}, **HTMX)
    assert ended["HX-Refresh"] == "true"
    body = ended.content.decode()
    assert "every 1s" not in body and "width: 100%" in body and 'data-testid="step-publish" data-mark="done"' in body


def test_the_page_shows_results_subtitles_and_the_reason_for_the_template(client, login, workspace):
    login(Role.ADMIN)
    winner = make_template(workspace, "Talks", priority=80, name_regex="sync")
    make_template(workspace, "Long ones", priority=90, min_duration_s=3600)
    recording = make_recording(
        workspace,
        removed_s=7.5,
        trimmed_duration_s=34.5,
        title="Planning the release",
        transcript=[{"start": 0, "end": 2.5, "text": "Hello everyone"}],
        topics={"chapters": [{"start": 0, "title": "Intro"}, {"start": 20, "title": "Plans"}]},
        finished_step=Step.SUBTITLES,
        status=RecordingStatus.READY,
    )
    from studio.services import recording_match

    recording_match(recording=recording)
    assert recording.template == winner
    srt = "1\n00:00:00,000 --> 00:00:02,500\nHello everyone\n"
    RecordingFile.objects.create(recording=recording, kind=FileKind.SRT, file=ContentFile(srt.encode(), name="a.srt"))
    page = client.get(reverse("dashboard:studio-recording", args=[recording.pk])).content.decode()
    assert "7.5 s" in page and "34.5 s" in page and "Planning the release" in page and "Hello everyone" in page
    assert "Intro" in page and "Plans" in page and 'data-testid="delete"' in page
    assert "Long ones" in page and "✓" in page and "✗" in page
    assert f"/api/v1/recordings/{recording.pk}/subtitles.srt" in page and "subtitles.vtt" not in page
    download = client.get(f"/api/v1/recordings/{recording.pk}/subtitles.srt")  # the dashboard's session is enough
    assert download.status_code == 200 and b"Hello everyone" in download.content
    assert '<option value="subtitles">' in page  # redo from a finished step (or the next one)


def test_skip_unskip_and_delete_with_confirmation(client, login, workspace):
    login(Role.ADMIN)
    recording = make_recording(workspace)
    client.post(reverse("dashboard:studio-recording-skip", args=[recording.pk]))
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.SKIPPED
    client.post(reverse("dashboard:studio-recording-unskip", args=[recording.pk]))
    recording.refresh_from_db()
    assert recording.status == RecordingStatus.DISCOVERED  # no original file is stored
    confirm = client.get(reverse("dashboard:studio-recording-delete", args=[recording.pk])).content.decode()
    assert 'data-testid="confirm-delete"' in confirm
    response = client.post(reverse("dashboard:studio-recording-delete", args=[recording.pk]))
    assert response.status_code == 302 and not Recording.objects.filter(pk=recording.pk).exists()


# --- templates, presets, sources ------------------------------------------------------------------


def template_data(**change):
    data = {
        "name": "Lectures",
        "enabled": "on",
        "priority": 60,
        "name_regex": "^Lecture",
        "min_duration_s": 60,
        "weekdays": ["0", "2"],
        "time_from": "09:00",
        "remove_silence": "on",
        "silence_threshold_db": -35,
        "silence_min_s": 1.5,
        "silence_padding_s": 0.25,
        "target_lufs": -16,
        "transcribe": "on",
        "language": "ru",
        "subtitles": "vtt",
        "title_template": "{topic} — {date}",
        "description_template": "{description}\n\n{chapters}",
    }
    return {**data, **change}


def test_the_template_form_saves_and_shows_refusals_next_to_fields(client, login, workspace):
    login()
    account = SocialAccountFactory(workspace=workspace, platform=Platform.SANDBOX)
    preset = OutputPreset.objects.create(workspace=workspace, name="Sandbox", platform=Platform.SANDBOX)
    preset.accounts.add(account)
    new = client.get(reverse("dashboard:studio-template-new")).content.decode()
    assert "{topic}" in new and "{chapters}" in new  # the placeholder list
    response = client.post(reverse("dashboard:studio-template-new"), template_data(presets=[preset.pk]))
    assert response.status_code == 302
    template = Template.objects.get()
    assert template.weekdays == [0, 2] and template.language == "ru" and list(template.presets.all()) == [preset]
    assert template.time_from.hour == 9 and template.workspace == workspace
    bad = client.post(
        reverse("dashboard:studio-template", args=[template.pk]),
        template_data(name_regex="([", title_template="{topic} {weather}", transcribe="", subtitles="srt"),
    )
    assert bad.status_code == 400
    page = bad.content.decode()
    for field in ("name_regex", "title_template", "subtitles"):
        assert "field-error" in section(page, field), field
    assert "{weather}" in section(page, "title_template")
    template.refresh_from_db()
    assert template.name_regex == "^Lecture"
    listing = client.get(reverse("dashboard:studio-templates")).content.decode()
    assert "Lectures" in listing and "Sandbox" in listing


def test_the_preset_form_saves_and_refuses_a_wrong_platforms_account_and_the_platforms_limits(client, login, workspace):
    login()
    channel = SocialAccountFactory(workspace=workspace, platform=Platform.YOUTUBE, handle="channel_one")
    other = SocialAccountFactory(workspace=workspace, platform=Platform.VK, handle="vk_one")
    data = {
        "name": "Channel drafts",
        "platform": Platform.YOUTUBE,
        "privacy": "unlisted",
        "accounts": [channel.pk],
        "tags": "talks, video",
        "title_template": "Talk: {topic}",
        "publish_mode": "draft",
    }
    assert client.post(reverse("dashboard:studio-preset-new"), data).status_code == 302
    preset = OutputPreset.objects.get()
    assert preset.tags == ["talks", "video"] and list(preset.accounts.all()) == [channel]
    edit = client.get(reverse("dashboard:studio-preset", args=[preset.pk])).content.decode()
    assert 'value="talks, video"' in edit
    bad = client.post(
        reverse("dashboard:studio-preset", args=[preset.pk]), {**data, "accounts": [other.pk], "title_template": "{nope}"}
    )
    assert bad.status_code == 400
    page = bad.content.decode()
    assert "field-error" in section(page, "accounts") and "field-error" in section(page, "title_template")
    too_long = client.post(reverse("dashboard:studio-preset-new"), {**data, "name": "Long", "title_template": "x" * 101})
    assert too_long.status_code == 400 and "100" in too_long.content.decode()
    none = client.post(reverse("dashboard:studio-preset-new"), {**data, "name": "Empty", "accounts": []})
    assert none.status_code == 400 and "Choose the account(s) or the group" in none.content.decode()
    assert list(OutputPreset.objects.get(pk=preset.pk).accounts.all()) == [channel]


def test_the_source_form_keeps_credentials_write_only(client, login, workspace):
    login(Role.ADMIN)
    data = {
        "name": "Team disk",
        "kind": "yandex_disk",
        "enabled": "on",
        "sync_interval_s": 900,
        "yandex_path": "Video/Zoom",
        "yandex_token": "y0_secret-token-123",
    }
    assert client.post(reverse("dashboard:studio-source-new"), data).status_code == 302
    source = InputSource.objects.get()
    assert source.options["path"] == "disk:/Video/Zoom" and source.secret == {"token": "y0_secret-token-123"}
    edit = client.get(reverse("dashboard:studio-source", args=[source.pk])).content.decode()
    assert "y0_secret-token-123" not in edit and 'data-testid="stored-secrets"' in edit and "disk:/Video/Zoom" in edit
    InputSource.objects.filter(pk=source.pk).update(options={**source.options, "recursive": True})  # set through the API
    kept = client.post(reverse("dashboard:studio-source", args=[source.pk]), {**data, "yandex_token": "", "name": "Disk"})
    assert kept.status_code == 302
    source.refresh_from_db()
    assert source.name == "Disk" and source.secret == {"token": "y0_secret-token-123"}
    assert source.options["recursive"] is True  # an option the form has no field for is kept
    zoom = client.post(
        reverse("dashboard:studio-source-new"), {"name": "Zoom", "kind": "zoom", "sync_interval_s": 900, "zoom_file_types": "MP4"}
    )
    assert zoom.status_code == 400 and "field-error" in section(zoom.content.decode(), "zoom_account_id")
    bad_types = client.post(
        reverse("dashboard:studio-source-new"),
        {
            "name": "Zoom",
            "kind": "zoom",
            "sync_interval_s": 900,
            "zoom_file_types": "AVI",
            "zoom_account_id": "a",
            "zoom_client_id": "b",
            "zoom_client_secret": "c",
        },
    )
    assert bad_types.status_code == 400 and "field-error" in section(bad_types.content.decode(), "zoom_user_id")
    assert InputSource.objects.count() == 1
    listing = client.get(reverse("dashboard:studio-sources")).content.decode()
    assert "Disk" in listing and "Sync now" in listing and "y0_secret" not in listing


def test_editors_may_not_configure_sources(client, login, workspace):
    login()
    assert client.get(reverse("dashboard:studio-source-new")).status_code == 403
    assert client.get(reverse("dashboard:studio-templates")).status_code == 200
    assert client.get(reverse("dashboard:studio-presets")).status_code == 200


def test_uploading_a_file_imports_it_and_the_storage_quota_refuses_with_a_message(client, login, workspace, tmp_path):
    login()
    sound = tmp_path / "standup.wav"
    subprocess.run([ffmpeg_binary(), "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=2", str(sound)], check=True)
    with sound.open("rb") as handle:
        response = client.post(reverse("dashboard:studio-import"), {"file": handle})
    recording = Recording.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("dashboard:studio-recording", args=[recording.pk])
    assert recording.display_name == "standup" and recording.status == RecordingStatus.DOWNLOADED
    assert 1.9 < recording.duration_s < 2.1 and recording.files.get().kind == FileKind.ORIGINAL
    StudioQuota.objects.create(workspace=workspace, storage_gb=0)
    with sound.open("rb") as handle:
        page = client.post(reverse("dashboard:studio-import"), {"file": handle}, follow=True).content.decode()
    assert "The studio&#x27;s storage quota is used up" in page and Recording.objects.count() == 1


def test_sync_sources_now_imports_a_folders_new_files_once(client, login, workspace, settings, tmp_path):
    login()
    settings.STUDIO_FOLDER_ROOTS = [str(tmp_path)]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("Lecture 1.mp4", "notes.txt"):
        (inbox / name).write_bytes(b"not really a video")
        os.utime(inbox / name, (time.time() - 600, time.time() - 600))
    InputSource.objects.create(workspace=workspace, name="Inbox", kind="folder", options={"path": str(inbox), "pattern": "*.mp4"})
    page = client.post(reverse("dashboard:studio-sync"), follow=True).content.decode()
    assert "Inbox: 1 new recording." in page
    assert list(Recording.objects.values_list("display_name", flat=True)) == ["Lecture 1.mp4"]
    again = client.post(reverse("dashboard:studio-sync"), follow=True).content.decode()
    assert "Inbox: 0 new recordings." in again and Recording.objects.count() == 1
