"""The Zoom input against the loopback Zoom (tests/emulators/zoom.py): Server-to-Server OAuth, the
month-sliced listing walked page by page, downloads through the CDN redirect, delete-after-download
to the trash, and Zoom's errors turned into messages that say what to fix."""

from datetime import date, datetime, timedelta

import pytest
import requests
from django.core.exceptions import ValidationError
from django.utils import timezone

from studio.inputs import InputError, Stopped, clean_source, client_for
from studio.inputs import zoom as zoom_input
from studio.models import FileKind, InputSource, RecordingFile
from studio.sync import discover, fetch_original
from tests.emulators.zoom import ZoomEmulator
from tests.factories import WorkspaceFactory

from .inputs_support import audio_file, video_file

SECRET = {"account_id": "acc-1", "client_id": "cid", "client_secret": "csecret"}


@pytest.fixture
def zoom(settings):
    with ZoomEmulator() as emulator:
        settings.ZOOM_API_BASE_URL = emulator.api_base
        settings.ZOOM_OAUTH_URL = emulator.oauth_url
        yield emulator
    zoom_input._tokens.clear()


def make_source(**options) -> InputSource:
    cleaned, secret = clean_source("zoom", options, SECRET)
    return InputSource.objects.create(workspace=WorkspaceFactory(), name="Zoom", kind="zoom", options=cleaned, secret=secret)


def days_ago(days: int) -> datetime:
    return (timezone.now() - timedelta(days=days)).replace(microsecond=0)


@pytest.mark.django_db
def test_it_lists_completed_recordings_of_the_wanted_types_page_by_page(zoom):
    zoom.max_page_size = 2
    video, audio = video_file(), audio_file()
    for day in range(1, 6):
        zoom.add_meeting(f"Weekly sync {day}", days_ago(day), [(video, "MP4"), (audio, "M4A")])
    zoom.add_meeting("Still processing", days_ago(1), [(video, "MP4")], status="processing")
    zoom.add_meeting("Too old", days_ago(20), [(video, "MP4")])
    source = make_source(lookback_days=7, file_types=["MP4", "M4A"])

    files = list(client_for(source).list())

    assert sorted(f.name for f in files) == sorted(
        [f"Weekly sync {d}" for d in range(1, 6)] + [f"Weekly sync {d} (audio)" for d in range(1, 6)]
    )
    assert len({f.remote_id for f in files}) == 10
    first = next(f for f in files if f.name == "Weekly sync 1")
    assert first.duration_s == 3.0 and first.size == video.stat().st_size
    assert first.recorded_at.tzinfo is not None
    assert "download_url" in first.extra and first.extra["file_type"] == "MP4"
    assert not any("token" in key or "secret" in key for key in first.extra)
    calls = zoom.list_calls()
    assert [c.param("next_page_token") for c in calls] == [None, "2", "4"]  # 5 meetings, 2 per page
    assert all(c.param("page_size") == "300" for c in calls)


@pytest.mark.django_db
def test_it_walks_a_long_lookback_in_slices_of_at_most_a_month(zoom):
    video = video_file()
    zoom.add_meeting("Fifty days ago", days_ago(50), [(video, "MP4")])
    zoom.add_meeting("Eighty days ago", days_ago(80), [(video, "MP4")])
    zoom.add_meeting("Yesterday", days_ago(1), [(video, "MP4")])
    source = make_source(lookback_days=90)

    names = {f.name for f in client_for(source).list()}

    assert names == {"Fifty days ago", "Eighty days ago", "Yesterday"}
    ranges = [(date.fromisoformat(c.param("from")), date.fromisoformat(c.param("to"))) for c in zoom.list_calls()]
    assert len(ranges) == 4
    assert all((last - first).days < 30 for first, last in ranges)
    assert ranges[0][0] == timezone.now().date() - timedelta(days=90) and ranges[-1][1] == timezone.now().date()
    assert all(ranges[i + 1][0] == ranges[i][1] + timedelta(days=1) for i in range(3))  # no gap, no overlap


def test_the_emulator_refuses_more_than_a_month_like_zoom(zoom):
    token = requests.post(
        zoom.oauth_url, params={"grant_type": "account_credentials", "account_id": "acc-1"}, auth=("cid", "csecret"), timeout=10
    ).json()
    answer = requests.get(
        f"{zoom.api_base}/users/me/recordings",
        params={"from": "2026-01-01", "to": "2026-03-01"},
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=10,
    )
    assert answer.status_code == 400 and answer.json()["code"] == 300


@pytest.mark.django_db
def test_it_keeps_the_token_and_asks_for_a_new_one_once_when_zoom_revokes_it(zoom):
    zoom.add_meeting("Standup", days_ago(1), [(video_file(), "MP4")])
    client = client_for(make_source())

    assert len(list(client.list())) == 1
    assert len(list(client.list())) == 1
    assert sum(r.path == "/oauth/token" for r in zoom.requests) == 1  # cached in-process

    zoom.revoke_tokens()
    assert len(list(client.list())) == 1
    assert sum(r.path == "/oauth/token" for r in zoom.requests) == 2
    assert all(r.headers["Authorization"].startswith("Basic ") for r in zoom.requests if r.path == "/oauth/token")


@pytest.mark.django_db
def test_it_says_the_credentials_are_wrong(zoom):
    source = make_source()
    source.secret = {**SECRET, "client_secret": "wrong"}

    with pytest.raises(InputError) as caught:
        list(client_for(source).list())

    assert "Zoom refused the credentials" in caught.value.message
    assert "client secret" in caught.value.message and not caught.value.retryable


@pytest.mark.django_db
def test_it_retries_rate_limits_and_server_errors_later(zoom):
    client = client_for(make_source())
    zoom.fail_next({"status": 429, "retry_after": 7})
    with pytest.raises(InputError) as limited:
        list(client.list())
    assert limited.value.retryable and limited.value.retry_after == 7.0
    assert "rate limit" in limited.value.message

    zoom.fail_next(503)
    with pytest.raises(InputError) as failed:
        list(client.list())
    assert failed.value.retryable and "503" in failed.value.message


@pytest.mark.django_db
def test_it_downloads_through_the_cdn_redirect_with_progress_and_stops_on_request(zoom, tmp_path):
    video = video_file()
    zoom.add_meeting("Demo", days_ago(1), [(video, "MP4")])
    client = client_for(make_source())
    remote = next(iter(client.list())).extra
    progress = []

    size = client.download(
        remote, tmp_path / "a.mp4", on_progress=lambda done, total: progress.append((done, total)), should_stop=lambda: False
    )

    assert size == video.stat().st_size and (tmp_path / "a.mp4").read_bytes() == video.read_bytes()
    assert progress[-1] == (size, size)
    assert any(r.path.startswith("/cdn/") for r in zoom.requests)
    assert (
        next(r for r in zoom.requests if r.path.startswith("/v2/recording/download/"))
        .headers["Authorization"]
        .startswith("Bearer ")
    )

    with pytest.raises(Stopped):
        client.download(remote, tmp_path / "b.mp4", on_progress=lambda *_: None, should_stop=lambda: True)
    assert not (tmp_path / "b.mp4").exists()


@pytest.mark.django_db
def test_fetch_original_stores_the_file_and_moves_the_zoom_copy_to_the_trash(zoom):
    # A UUID with "//" must be encoded twice, or Zoom does not find the meeting.
    meeting = zoom.add_meeting("Board meeting", days_ago(2), [(video_file(), "MP4")], uuid="/ajXp112QmuoKj4854875==//")
    source = make_source(delete_after_download=True)
    recording = discover(source=source).created[0]
    progress = []

    stored = fetch_original(recording=recording, on_progress=progress.append, should_stop=lambda: False)

    recording.refresh_from_db()
    assert stored.kind == FileKind.ORIGINAL and stored.file.read() == video_file().read_bytes()
    assert stored.file.name.endswith(".mp4") and stored.size_bytes == video_file().stat().st_size
    assert recording.duration_s == pytest.approx(2.0, abs=0.1) and recording.size_bytes == stored.size_bytes
    assert progress[-1] == 1.0 and all(0 <= p <= 1 for p in progress)
    assert zoom.deleted == [(meeting.uuid, recording.remote_id, "trash")]
    assert source.recordings.get().remote["meeting_uuid"] == meeting.uuid


@pytest.mark.django_db
def test_fetch_original_of_an_audio_recording_keeps_it_and_replaces_an_older_original(zoom, django_capture_on_commit_callbacks):
    zoom.add_meeting("Podcast", days_ago(1), [(audio_file(), "M4A")])
    recording = discover(source=make_source(file_types=["M4A"])).created[0]

    first = fetch_original(recording=recording, on_progress=lambda p: None, should_stop=lambda: False)
    old_name = first.file.name
    with django_capture_on_commit_callbacks(execute=True):
        second = fetch_original(recording=recording, on_progress=lambda p: None, should_stop=lambda: False)

    assert recording.display_name == "Podcast (audio)"
    assert RecordingFile.objects.filter(recording=recording).count() == 1
    assert second.pk == first.pk and second.file.name.endswith(".m4a")
    assert second.file.storage.exists(second.file.name)
    assert old_name != second.file.name and not second.file.storage.exists(old_name)
    assert zoom.deleted == []  # the source did not ask


@pytest.mark.django_db
def test_a_recording_deleted_at_zoom_is_a_final_error(zoom, tmp_path):
    meeting = zoom.add_meeting("Gone", days_ago(1), [(video_file(), "MP4")])
    client = client_for(make_source())
    remote = next(iter(client.list())).extra
    meeting.files.clear()

    with pytest.raises(InputError) as caught:
        client.download(remote, tmp_path / "x.mp4", on_progress=lambda *_: None, should_stop=lambda: False)

    assert not caught.value.retryable and "no such user or recording" in caught.value.message


@pytest.mark.django_db
def test_discovering_twice_creates_each_recording_once(zoom):
    zoom.add_meeting("One", days_ago(1), [(video_file(), "MP4"), (audio_file(), "M4A")])
    source = make_source(file_types=["MP4", "M4A"])

    first, second = discover(source=source), discover(source=source)

    assert (first.listed, len(first.created)) == (2, 2) and (second.listed, second.created) == (2, [])
    source.refresh_from_db()
    assert source.recordings.count() == 2 and source.last_error == "" and source.last_synced_at is not None
    assert {r.status for r in source.recordings.all()} == {"discovered"}


def test_clean_source_checks_the_options_and_keeps_a_secret_left_empty():
    options, secret = clean_source("zoom", {"file_types": ["mp4"]}, {"client_secret": ""}, existing_secret=SECRET)
    assert options == {"user_id": "me", "lookback_days": 7, "file_types": ["MP4"], "delete_after_download": False}
    assert secret == SECRET

    with pytest.raises(ValidationError) as bad_days:
        clean_source("zoom", {"lookback_days": 365}, SECRET)
    assert "lookback_days must be from 1 to 180" in str(bad_days.value)
    with pytest.raises(ValidationError) as bad_type:
        clean_source("zoom", {"file_types": ["CHAT"]}, SECRET)
    assert "CHAT" in str(bad_type.value)
    with pytest.raises(ValidationError) as missing:
        clean_source("zoom", {}, {"account_id": "a"})
    assert "client_id, client_secret" in str(missing.value.message_dict["secret"])


def test_uuids_are_encoded_twice_only_when_zoom_says_so():
    assert zoom_input.encode_uuid("abc+d==") == "abc%2Bd%3D%3D"
    assert zoom_input.encode_uuid("/abc") == "%252Fabc"
    assert zoom_input.encode_uuid("ab//c") == "ab%252F%252Fc"
    assert list(zoom_input.slices(date(2026, 1, 1), date(2026, 1, 31)))[-1] == (date(2026, 1, 31), date(2026, 1, 31))
