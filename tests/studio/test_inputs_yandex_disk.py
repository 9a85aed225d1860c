"""The Yandex Disk input against the loopback Disk API (tests/emulators/yandex_disk.py): the folder
walked by offset pages, only video files, sub-folders only when asked, downloads through the href,
and the API's errors turned into messages that say what to fix."""

import pytest
from django.core.exceptions import ValidationError

from studio.inputs import InputError, clean_source, client_for
from studio.models import InputSource
from studio.sync import discover, fetch_original
from tests.emulators.yandex_disk import YandexDiskEmulator
from tests.factories import WorkspaceFactory

from .inputs_support import audio_file, video_file


@pytest.fixture
def disk(settings):
    with YandexDiskEmulator(token="good-token") as emulator:
        settings.YANDEX_DISK_API_BASE_URL = emulator.api_base
        yield emulator


GOOD_TOKEN = "good-token"


def make_source(token=GOOD_TOKEN, **options) -> InputSource:
    cleaned, secret = clean_source("yandex_disk", {"path": "disk:/Video", **options}, {"token": token})
    return InputSource.objects.create(
        workspace=WorkspaceFactory(), name="Disk", kind="yandex_disk", options=cleaned, secret=secret
    )


@pytest.mark.django_db
def test_it_lists_the_folders_video_files_across_pages(disk):
    for index in range(205):
        disk.add_file(f"disk:/Video/call-{index:03}.mp4", video_file())
    disk.add_file("disk:/Video/notes.txt", audio_file())  # not a recording, whatever its bytes
    disk.add_file("disk:/Video/voice.m4a", audio_file())
    disk.add_file("disk:/Video/Archive/old.mp4", video_file())

    files = list(client_for(make_source()).list())

    names = [f.name for f in files]
    assert len(names) == 206 and "notes.txt" not in names and "old.mp4" not in names and "voice.m4a" in names
    offsets = [c.param("offset") for c in disk.listing_calls()]
    assert offsets == ["0", "100", "200"]  # 208 items (with the sub-folder), 100 a page
    assert all(c.headers["Authorization"] == "OAuth good-token" for c in disk.listing_calls())
    call = files[0]
    assert call.remote_id == f"disk:/Video/call-000.mp4:{call.extra['md5']}" and call.size == video_file().stat().st_size
    assert call.recorded_at.tzinfo is not None and call.extra["path"] == "disk:/Video/call-000.mp4"


@pytest.mark.django_db
def test_it_walks_sub_folders_only_when_asked(disk):
    disk.add_file("disk:/Video/top.mp4", video_file())
    disk.add_file("disk:/Video/2026/12/deep.mov", video_file())

    flat = {f.name for f in client_for(make_source()).list()}
    deep = {f.name for f in client_for(make_source(recursive=True)).list()}

    assert flat == {"top.mp4"} and deep == {"top.mp4", "deep.mov"}


@pytest.mark.django_db
def test_it_downloads_through_the_href_and_stores_the_original(disk):
    disk.add_file("disk:/Video/lecture.mp4", video_file())
    recording = discover(source=make_source()).created[0]

    stored = fetch_original(recording=recording, on_progress=lambda p: None, should_stop=lambda: False)

    recording.refresh_from_db()
    assert stored.file.read() == video_file().read_bytes()
    assert recording.duration_s == pytest.approx(2.0, abs=0.1) and recording.display_name == "lecture.mp4"
    download = next(r for r in disk.requests if r.path.startswith("/downloader/"))
    assert "Authorization" not in download.headers  # the href is pre-signed; the token stays with the API


@pytest.mark.django_db
def test_it_explains_a_bad_token_a_missing_folder_and_a_busy_disk(disk):
    with pytest.raises(InputError) as bad_token:
        list(client_for(make_source(token="expired")).list())
    assert "refused the OAuth token" in bad_token.value.message and not bad_token.value.retryable

    with pytest.raises(InputError) as missing:
        list(client_for(make_source(path="disk:/Nope")).list())
    assert "has no disk:/Nope" in missing.value.message and not missing.value.retryable

    disk.add_folder("disk:/Video")
    disk.fail_next(429)
    with pytest.raises(InputError) as busy:
        list(client_for(make_source()).list())
    assert busy.value.retryable and "rate limit" in busy.value.message


@pytest.mark.django_db
def test_a_sync_error_is_kept_on_the_source_and_a_later_sync_clears_it(disk):
    source = make_source(token="expired")

    report = discover(source=source)

    source.refresh_from_db()
    assert report.error and report.created == [] and source.last_error == report.error
    assert "refused the OAuth token" in source.last_error and source.last_synced_at is not None

    disk.add_file("disk:/Video/a.webm", video_file())
    source.secret = {"token": "good-token"}
    source.save()
    again = discover(source=source)
    source.refresh_from_db()
    assert len(again.created) == 1 and source.last_error == ""
    assert discover(source=source).created == []


def test_clean_source_normalises_the_path_and_needs_a_token():
    options, secret = clean_source("yandex_disk", {"path": "/Video/Zoom/", "extensions": "MP4, .mov"}, {"token": " t "})
    assert options == {"path": "disk:/Video/Zoom", "extensions": ["mp4", "mov"], "recursive": False} and secret == {"token": "t"}
    with pytest.raises(ValidationError) as no_token:
        clean_source("yandex_disk", {"path": "disk:/Video"}, {})
    assert "cloud_api:disk.read" in str(no_token.value)
    kept = clean_source("yandex_disk", {"path": "disk:/V"}, {"token": ""}, existing_secret={"token": "old"})[1]
    assert kept == {"token": "old"}


@pytest.mark.django_db
def test_each_file_is_imported_once_however_often_the_folder_is_synced(disk):
    from studio.services import source_sync

    disk.add_file("disk:/Video/monday.mp4", video_file())
    source = make_source()
    first = source_sync(source=source)
    again = source_sync(source=source)
    disk.add_file("disk:/Video/tuesday.mp4", audio_file())
    third = source_sync(source=source)

    assert [r.display_name for r in first.created] == ["monday.mp4"]
    assert again.created == [] and again.error == ""
    assert [r.display_name for r in third.created] == ["tuesday.mp4"]
    assert sorted(source.recordings.values_list("display_name", flat=True)) == ["monday.mp4", "tuesday.mp4"]
