"""Permissions and quotas are checked before any work (studio/quotas.py, studio/runner.py)."""

import pytest
from django.core.exceptions import PermissionDenied

from accounts.models import Role
from crosspost.models import Job
from studio import quotas
from studio.models import FileKind, Recording, RecordingFile, RecordingStatus, StudioPermission, StudioQuota, Template
from studio.runner import recording_run

pytestmark = pytest.mark.django_db


def test_roles_give_the_baseline_and_a_member_row_replaces_it(workspace, member):
    viewer, editor, admin = member(Role.VIEWER), member(Role.EDITOR), member(Role.ADMIN)
    assert not any(quotas.permissions_for(viewer, workspace.pk).values())
    assert quotas.permissions_for(editor, workspace.pk) == {
        "can_process": True,
        "can_transcribe": True,
        "can_publish": True,
        "can_delete": False,
    }
    assert quotas.permissions_for(admin, workspace.pk)["can_delete"] is True
    StudioPermission.objects.create(workspace=workspace, user=editor, can_publish=False, can_delete=True)
    assert quotas.permissions_for(editor, workspace.pk) == {
        "can_process": True,
        "can_transcribe": True,
        "can_publish": False,
        "can_delete": True,
    }
    # A row never lets a viewer write.
    StudioPermission.objects.create(workspace=workspace, user=viewer, can_process=True)
    assert quotas.permissions_for(viewer, workspace.pk)["can_process"] is False
    with pytest.raises(PermissionDenied, match="publish recordings"):
        quotas.require(editor, workspace.pk, "can_process", "can_publish")


def _recording(workspace, **fields):
    template = Template.objects.create(workspace=workspace, name=f"T{Template.objects.count()}")
    return Recording.objects.create(
        workspace=workspace, remote_id=f"r{Recording.objects.count()}", display_name="Talk", template=template, **fields
    )


def test_a_run_past_a_quota_is_refused_before_anything_is_written(workspace, member):
    editor = member(Role.EDITOR)
    StudioQuota.objects.create(workspace=workspace, storage_gb=1, recordings_per_month=10, concurrent_jobs=1)
    big = _recording(workspace, size_bytes=2 * 1024**3)
    with pytest.raises(quotas.QuotaExceeded, match="storage quota") as caught:
        recording_run(recording=big, actor=editor)
    assert caught.value.code == "storage"
    big.refresh_from_db()
    assert big.job is None and big.status == RecordingStatus.DISCOVERED
    assert not Job.objects.exists()

    small = _recording(workspace, size_bytes=1000)
    job = recording_run(recording=small, actor=editor)
    assert job.kind == quotas.JOB_KIND
    other = _recording(workspace, size_bytes=1000)
    with pytest.raises(quotas.QuotaExceeded, match="1 at once") as caught:
        recording_run(recording=other, actor=editor)
    assert caught.value.code == "jobs"
    assert Job.objects.count() == 1


def test_usage_counts_kept_files_recordings_this_month_and_running_jobs(workspace, settings):
    settings.STUDIO_STORAGE_GB = 2
    recording = _recording(workspace)
    RecordingFile.objects.create(recording=recording, kind=FileKind.ORIGINAL, file="x.mp4", size_bytes=512 * 1024**2)
    usage = quotas.usage_for(workspace.pk)
    assert usage.storage_bytes == 512 * 1024**2
    assert usage.storage_percent == 25
    assert usage.recordings_this_month == 1
    assert usage.limits.recordings_per_month == settings.STUDIO_RECORDINGS_PER_MONTH
    assert usage.jobs_running == 0


def test_a_member_without_the_permission_is_refused(workspace, member):
    editor = member(Role.EDITOR)
    StudioPermission.objects.create(workspace=workspace, user=editor, can_process=False)
    recording = _recording(workspace, size_bytes=10)
    with pytest.raises(PermissionDenied, match="process recordings"):
        recording_run(recording=recording, actor=editor, until="trim")
    assert not Job.objects.exists()


def test_recordings_refused_for_the_jobs_quota_start_when_a_slot_frees(workspace):
    from studio.services import recordings_arrived, recordings_waiting_start

    StudioQuota.objects.create(workspace=workspace, concurrent_jobs=1)
    template = Template.objects.create(workspace=workspace, name="Auto", auto_process=True)
    first, second = (
        Recording.objects.create(workspace=workspace, remote_id=f"w{n}", display_name=f"Talk {n}", size_bytes=10) for n in (1, 2)
    )
    recordings_arrived([first, second])
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.template == second.template == template
    assert first.job is not None and second.job is None and "at once" in second.error
    assert recordings_waiting_start() == 0  # the slot is still taken
    Job.objects.filter(pk=first.job_id).update(status="completed")
    assert recordings_waiting_start() == 1
    second.refresh_from_db()
    assert second.job is not None and second.error == ""


def test_the_workspace_page_in_the_admin_shows_the_studio_usage(client, workspace, member):
    owner = member(Role.OWNER, is_staff=True)
    StudioQuota.objects.create(workspace=workspace, storage_gb=2, recordings_per_month=5, concurrent_jobs=3)
    _recording(workspace)
    client.force_login(owner)
    page = client.get(f"/admin/accounts/workspace/{workspace.pk}/change/")
    assert page.status_code == 200
    assert "recordings this month 1 of 5" in page.content.decode() and "jobs running 0 of 3" in page.content.decode()


def test_syncing_a_source_needs_the_process_permission_whichever_door(workspace, member):
    from studio.models import InputSource
    from studio.services import source_sync

    editor = member(Role.EDITOR)
    StudioPermission.objects.create(workspace=workspace, user=editor, can_process=False)
    source = InputSource.objects.create(workspace=workspace, name="Inbox", kind="folder", options={"path": "/nowhere"})
    with pytest.raises(PermissionDenied, match="process recordings"):
        source_sync(source=source, actor=editor)
    source.refresh_from_db()
    assert source.last_synced_at is None  # refused before listing
