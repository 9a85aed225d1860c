"""Discovery records each file of a source exactly once, even when two syncs of the source run at the
same moment (the periodic task and an operator's "sync now"), and keeps a source's error on it
(redacted) instead of raising."""

import os
import shutil
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from studio.inputs import clean_source
from studio.inputs import zoom as zoom_input
from studio.models import InputSource, Recording
from studio.sync import discover
from tests.emulators.zoom import ZoomEmulator
from tests.factories import WorkspaceFactory

from .inputs_support import video_file


def folder_source(settings, tmp_path, count: int) -> InputSource:
    root = tmp_path / "inbox"
    root.mkdir()
    settings.STUDIO_FOLDER_ROOTS = [str(root)]
    past = time.time() - 60
    for index in range(count):
        target = shutil.copy(video_file(), root / f"talk-{index:02}.mp4")
        os.utime(target, (past, past))
    options = {"path": str(root), "pattern": "*.mp4", "settle_seconds": 10}
    return InputSource.objects.create(workspace=WorkspaceFactory(), name="Inbox", kind="folder", options=options)


@pytest.mark.postgres  # SQLite's shared-cache test database answers "table is locked" instead of waiting
@pytest.mark.django_db(transaction=True)
def test_two_syncs_at_once_create_each_recording_once(settings, tmp_path):
    source = folder_source(settings, tmp_path, count=12)
    barrier = threading.Barrier(2)
    reports, errors = [], []

    def sync():
        try:
            barrier.wait()
            reports.append(discover(source=InputSource.objects.get(pk=source.pk)))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sync) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert [r.listed for r in reports] == [12, 12]
    created = [recording.remote_id for report in reports for recording in report.created]
    assert sorted(created) == [f"talk-{i:02}.mp4" for i in range(12)]  # each reported by exactly one of them
    assert Recording.objects.filter(source=source).count() == 12


@pytest.mark.django_db(transaction=True)
def test_a_sync_that_listed_before_another_one_wrote_creates_nothing_twice(settings):
    """The race without simultaneous writes (which SQLite's test database cannot take): sync A lists,
    sync B lists and writes, then A writes — A must find B's rows and create none of them."""
    with ZoomEmulator() as zoom:
        settings.ZOOM_API_BASE_URL, settings.ZOOM_OAUTH_URL = zoom.api_base, zoom.oauth_url
        for day in (1, 2, 3):
            zoom.add_meeting(f"Call {day}", timezone.now() - timedelta(days=day), [(video_file(), "MP4")])
        options, secret = clean_source("zoom", {}, {"account_id": "acc-1", "client_id": "cid", "client_secret": "csecret"})
        source = InputSource.objects.create(
            workspace=WorkspaceFactory(), name="Zoom", kind="zoom", options=options, secret=secret
        )
        arrived, release = zoom.hold_next_listing()
        slow = []

        def sync_a():
            try:
                slow.append(discover(source=InputSource.objects.get(pk=source.pk)))
            finally:
                connection.close()

        thread = threading.Thread(target=sync_a)
        thread.start()
        assert arrived.wait(10)
        fast = discover(source=source)  # B lists and writes while A's listing is in flight
        release.set()
        thread.join(30)
    zoom_input._tokens.clear()

    assert len(fast.created) == 3 and slow[0].listed == 3 and slow[0].created == []
    assert Recording.objects.filter(source=source).count() == 3


@pytest.mark.django_db
def test_a_new_file_is_the_only_new_recording(settings, tmp_path):
    source = folder_source(settings, tmp_path, count=2)
    first = discover(source=source)
    past = time.time() - 60
    os.utime(shutil.copy(video_file(), tmp_path / "inbox" / "late.mp4"), (past, past))

    second = discover(source=source)

    assert len(first.created) == 2 and [r.remote_id for r in second.created] == ["late.mp4"]
    late = second.created[0]
    assert late.workspace_id == source.workspace_id and late.status == "discovered" and late.display_name == "late.mp4"
    assert late.size_bytes == video_file().stat().st_size and late.remote == {"path": "late.mp4", "size": late.size_bytes}
    source.refresh_from_db()
    assert source.cursor["listed"] == 3 and source.last_synced_at is not None


@pytest.mark.django_db
def test_a_source_error_is_recorded_not_raised(settings, tmp_path):
    source = folder_source(settings, tmp_path, count=1)
    settings.STUDIO_FOLDER_ROOTS = [str(tmp_path / "somewhere-else")]  # the administrator narrowed the roots

    report = discover(source=source)

    source.refresh_from_db()
    assert report.listed == 0 and report.created == []
    assert "outside the folders the studio may read" in report.error and source.last_error == report.error
    assert not Recording.objects.exists()
