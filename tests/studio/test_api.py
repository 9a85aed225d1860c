"""/api/v1/recordings/ and the studio's settings through the API: scoping, roles, studio permissions,
quotas (refused before any work), secrets never answered, and runs that are background jobs."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Role
from crosspost.models import ActivityLog, Job, JobStatus
from studio.models import (
    FileKind,
    InputSource,
    Recording,
    RecordingFile,
    RecordingStatus,
    StudioPermission,
    StudioQuota,
    Template,
)
from studio.runner import run_all

from ..factories import SocialAccountFactory, WorkspaceFactory
from .inputs_support import video_file

pytestmark = pytest.mark.django_db


def _upload(client, workspace, name="talk.mp4", data=None):
    data = data if data is not None else video_file(2.0).read_bytes()
    return client.post(
        "/api/v1/recordings/",
        {"workspace": workspace.pk, "file": SimpleUploadedFile(name, data, content_type="video/mp4")},
        format="multipart",
    )


def test_an_upload_becomes_a_recording_once_and_gets_its_template(api, workspace):
    client = api(Role.EDITOR)
    template = Template.objects.create(workspace=workspace, name="Uploads", auto_process=False)
    answer = _upload(client, workspace)
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert body["status"] == RecordingStatus.DOWNLOADED
    assert body["template"] == template.pk
    assert body["finished_step"] == "download"
    assert body["duration_s"] == pytest.approx(2.0, abs=0.2)
    assert [f["kind"] for f in body["files"]] == [FileKind.ORIGINAL]
    again = _upload(client, workspace)
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert Recording.objects.count() == 1


def test_bad_imports_are_refused_with_what_to_fix(api, workspace):
    client = api(Role.EDITOR)
    answer = _upload(client, workspace, name="notes.txt", data=b"just some text, not a video at all")
    assert answer.status_code == 400
    assert not Recording.objects.exists()
    answer = client.post("/api/v1/recordings/", {"workspace": workspace.pk}, format="json")
    assert answer.status_code == 400 and "either a file" in str(answer.json())
    answer = client.post("/api/v1/recordings/", {"workspace": workspace.pk, "url": "ftp://example.com/a.mp4"}, format="json")
    assert answer.status_code == 400
    viewer = api(Role.VIEWER)
    assert _upload(viewer, workspace).status_code == 403


def test_runs_are_jobs_and_refusals_have_their_status(api, workspace, member):
    client = api(Role.EDITOR)
    template = Template.objects.create(workspace=workspace, name="T", auto_process=False, transcribe=False, subtitles="off")
    recording = Recording.objects.get(pk=_upload(client, workspace).json()["id"])
    assert recording.template == template

    answer = client.post(f"/api/v1/recordings/{recording.pk}/process/", {}, format="json")
    assert answer.status_code == 202, answer.json()
    job = answer.json()["job"]
    assert job["status"] == JobStatus.QUEUED and job["stage"] == "trim"
    # Running again while it runs conflicts.
    assert client.post(f"/api/v1/recordings/{recording.pk}/process/", {}, format="json").status_code == 409
    run_all(recording.pk, job["id"], "trim")
    done = client.get(f"/api/v1/jobs/{job['id']}/").json()
    assert done["status"] == JobStatus.COMPLETED and done["progress"] == 100
    body = client.get(f"/api/v1/recordings/{recording.pk}/").json()
    assert body["status"] == RecordingStatus.READY and body["finished_step"] == "trim"
    # Everything up to trim is done: processing again needs from_step.
    again = client.post(f"/api/v1/recordings/{recording.pk}/process/", {}, format="json")
    assert again.status_code == 409 and "from_step" in str(again.json())
    bad = client.post(f"/api/v1/recordings/{recording.pk}/process/", {"from_step": "polish"}, format="json")
    assert bad.status_code == 400

    # A member without the permission: 403, nothing started.
    StudioPermission.objects.create(workspace=workspace, user=client.user, can_publish=False)
    answer = client.post(f"/api/v1/recordings/{recording.pk}/publish/", {}, format="json")
    assert answer.status_code == 403 and "publish recordings" in answer.json()["detail"]
    # Jobs at once: 429; storage: 403 with the figures — both before any work.
    StudioQuota.objects.create(workspace=workspace, concurrent_jobs=1, storage_gb=0.000001)
    Job.objects.create(kind="studio.pipeline", workspace=workspace, status=JobStatus.RUNNING)
    answer = client.post(f"/api/v1/recordings/{recording.pk}/full-pipeline/", {"from_step": "trim"}, format="json")
    assert answer.status_code == 403  # publish is part of it
    StudioPermission.objects.filter(user=client.user).update(can_publish=True)
    answer = client.post(f"/api/v1/recordings/{recording.pk}/transcribe/", {"from_step": "trim"}, format="json")
    assert answer.status_code == 429 and "at once" in answer.json()["detail"]
    Job.objects.filter(status=JobStatus.RUNNING).update(status=JobStatus.COMPLETED)
    answer = client.post(f"/api/v1/recordings/{recording.pk}/transcribe/", {"from_step": "trim"}, format="json")
    assert answer.status_code == 403 and "storage quota" in answer.json()["detail"]
    assert Job.objects.filter(kind="studio.pipeline").count() == 2  # the two made by the test and the first run


def test_a_recording_without_a_template_waits_and_can_be_given_one(api, workspace):
    client = api(Role.EDITOR)
    recording = Recording.objects.get(pk=_upload(client, workspace).json()["id"])
    assert recording.template is None
    assert "No template" in recording.match_reason["summary"]
    answer = client.post(f"/api/v1/recordings/{recording.pk}/process/", {}, format="json")
    assert answer.status_code == 400 and "choose one" in str(answer.json())
    template = Template.objects.create(workspace=workspace, name="Manual")
    other = Template.objects.create(workspace=WorkspaceFactory(), name="Theirs")
    # Another workspace's template does not exist for this member (the API's 409 for unknown ids).
    theirs = client.patch(f"/api/v1/recordings/{recording.pk}/", {"template": other.pk}, format="json")
    assert theirs.status_code == 409 and "in your workspaces" in str(theirs.json())
    answer = client.patch(f"/api/v1/recordings/{recording.pk}/", {"template": template.pk}, format="json")
    assert answer.status_code == 200 and answer.json()["template"] == template.pk
    assert answer.json()["match_reason"]["manual"] is True


def test_batch_process_starts_each_or_says_why(api, workspace):
    client = api(Role.EDITOR)
    template = Template.objects.create(workspace=workspace, name="T", auto_process=False)
    ready = Recording.objects.create(workspace=workspace, remote_id="a", display_name="A", template=template)
    unmatched = Recording.objects.create(workspace=workspace, remote_id="b", display_name="B")
    stranger = Recording.objects.create(workspace=WorkspaceFactory(), remote_id="c", display_name="C", template=template)
    answer = client.post(
        "/api/v1/recordings/batch-process/", {"ids": [ready.pk, unmatched.pk, stranger.pk], "action": "process"}, format="json"
    )
    assert answer.status_code == 202
    body = answer.json()
    assert [s["recording"] for s in body["started"]] == [ready.pk]
    refused = {r["recording"]: r["error"] for r in body["refused"]}
    assert "choose one" in refused[unmatched.pk]
    assert "No such recording" in refused[stranger.pk]


def test_other_workspaces_are_invisible_and_deleting_needs_the_permission(api, workspace):
    client = api(Role.EDITOR)
    theirs = Recording.objects.create(workspace=WorkspaceFactory(), remote_id="x", display_name="Theirs")
    assert client.get(f"/api/v1/recordings/{theirs.pk}/").status_code == 404
    assert client.get("/api/v1/recordings/").json()["count"] == 0
    ours = Recording.objects.get(pk=_upload(client, workspace).json()["id"])
    answer = client.delete(f"/api/v1/recordings/{ours.pk}/")
    assert answer.status_code == 403 and "delete recordings" in answer.json()["detail"]
    admin = api(Role.ADMIN)
    stored = RecordingFile.objects.get(recording=ours).file
    assert stored.storage.exists(stored.name)
    assert admin.delete(f"/api/v1/recordings/{ours.pk}/").status_code == 204
    assert not Recording.objects.filter(pk=ours.pk).exists()
    assert not stored.storage.exists(stored.name)
    assert ActivityLog.objects.filter(action="studio.recording.delete").exists()


def test_source_credentials_are_write_only_and_only_admins_manage_sources(api, workspace):
    admin = api(Role.ADMIN)
    answer = admin.post(
        "/api/v1/studio-sources/",
        {
            "workspace": workspace.pk,
            "name": "Company Zoom",
            "kind": "zoom",
            "options": {"lookback_days": 14},
            "secret": {"account_id": "acc", "client_id": "cid", "client_secret": "very-secret-value"},
        },
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert "secret" not in body and "very-secret-value" not in str(body)
    assert body["secret_set"] == ["account_id", "client_id", "client_secret"]
    source = InputSource.objects.get()
    assert source.secret["client_secret"] == "very-secret-value"
    # Changing the options without the secret keeps it.
    answer = admin.patch(f"/api/v1/studio-sources/{source.pk}/", {"options": {"lookback_days": 3}}, format="json")
    assert answer.status_code == 200, answer.json()
    source.refresh_from_db()
    assert source.secret["client_secret"] == "very-secret-value" and source.options["lookback_days"] == 3
    bad = admin.post(
        "/api/v1/studio-sources/",
        {"workspace": workspace.pk, "name": "Disk", "kind": "yandex_disk", "options": {"path": "disk:/Video"}},
        format="json",
    )
    assert bad.status_code == 400
    editor = api(Role.EDITOR)
    assert editor.get("/api/v1/studio-sources/").json()["count"] == 1
    answer = editor.post("/api/v1/studio-sources/", {"workspace": workspace.pk, "name": "X", "kind": "folder"}, format="json")
    assert answer.status_code == 403


def test_presets_are_checked_against_the_platform_when_saved(api, workspace):
    client = api(Role.EDITOR)
    channel = SocialAccountFactory(workspace=workspace, platform="youtube", handle="Channel")
    vk = SocialAccountFactory(workspace=workspace, platform="vk", handle="club1")
    good = {
        "workspace": workspace.pk,
        "name": "Channel",
        "platform": "youtube",
        "accounts": [channel.pk],
        "privacy": "unlisted",
        "category": "27",
        "tags": ["talks"],
        "title_template": "{topic} — {date}",
    }
    answer = client.post("/api/v1/studio-presets/", good, format="json")
    assert answer.status_code == 201, answer.json()
    long_title = {**good, "name": "Long", "title_template": "x" * 120 + " {topic}"}
    answer = client.post("/api/v1/studio-presets/", long_title, format="json")
    assert answer.status_code == 400 and "100" in str(answer.json())
    wrong_account = {**good, "name": "Wrong", "accounts": [vk.pk]}
    answer = client.post("/api/v1/studio-presets/", wrong_account, format="json")
    assert answer.status_code == 400 and "vk account" in str(answer.json())
    unknown = {**good, "name": "Unknown", "title_template": "{speaker}"}
    answer = client.post("/api/v1/studio-presets/", unknown, format="json")
    assert answer.status_code == 400 and "{speaker}" in str(answer.json())
    privacy = {**good, "name": "Privacy", "privacy": "everyone"}
    assert client.post("/api/v1/studio-presets/", privacy, format="json").status_code == 400
    assert api(Role.VIEWER).post("/api/v1/studio-presets/", {**good, "name": "V"}, format="json").status_code == 403


def test_usage_shows_quotas_and_the_members_permissions(api, workspace):
    client = api(Role.EDITOR)
    StudioQuota.objects.create(workspace=workspace, storage_gb=1, recordings_per_month=5, concurrent_jobs=3)
    _upload(client, workspace)
    [row] = client.get("/api/v1/studio-usage/").json()
    assert row["workspace"] == workspace.pk
    assert row["recordings_this_month"] == 1 and row["recordings_per_month"] == 5
    assert 0 < row["storage_bytes"] < row["storage_limit_bytes"] == 1024**3
    assert row["permissions"] == {"can_process": True, "can_transcribe": True, "can_publish": True, "can_delete": False}


def test_the_month_quota_refuses_an_import(api, workspace):
    client = api(Role.EDITOR)
    StudioQuota.objects.create(workspace=workspace, recordings_per_month=1)
    assert _upload(client, workspace).status_code == 201
    answer = _upload(client, workspace, data=video_file(3.0).read_bytes())
    assert answer.status_code == 403 and "recordings is used up" in answer.json()["detail"]
    assert Recording.objects.count() == 1


def test_skip_and_back_and_a_bad_flag_is_a_field_error(api, workspace):
    """The API fuzzer sent {"skipped": {}} and got a bare list back instead of the documented error body."""
    client = api(Role.EDITOR)
    recording = Recording.objects.create(workspace=workspace, remote_id="a", display_name="A")
    for wrong in ({}, 0, "yes"):  # what the fuzzer sent; the schema says boolean
        bad = client.post(f"/api/v1/recordings/{recording.pk}/skip/", {"skipped": wrong}, format="json")
        assert bad.status_code == 400 and "skipped" in bad.json(), wrong
    skipped = client.post(f"/api/v1/recordings/{recording.pk}/skip/", {}, format="json")
    assert skipped.status_code == 200 and skipped.json()["status"] == RecordingStatus.SKIPPED
    back = client.post(f"/api/v1/recordings/{recording.pk}/skip/", {"skipped": False}, format="json")
    assert back.status_code == 200 and back.json()["status"] == RecordingStatus.DISCOVERED
