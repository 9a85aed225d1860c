"""Recordings an operator brings: an uploaded file (stored at once, the same file twice is one
recording, anything but video/audio refused) and a pasted URL (checked now, fetched by the download
step with a size cap, a clear error for a missing file or a web page)."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from studio.inputs import InputError
from studio.models import FileKind, Recording
from studio.sync import fetch_original, import_upload, import_url
from tests.emulators.base import Emulator, Reply
from tests.factories import WorkspaceFactory

from .inputs_support import audio_file, video_file


class FileServer(Emulator):
    """A plain web server: a video, a redirect to it, a missing file, a web page."""

    def handle(self, request):
        if request.path == "/media/talk.mp4":
            return Reply(200, video_file().read_bytes(), {"Content-Type": "video/mp4"})
        if request.path == "/share/talk":
            return Reply(302, b"", {"Location": "/media/talk.mp4"})
        if request.path == "/page":
            return Reply(200, "<html><body>Watch the video</body></html>", {"Content-Type": "text/html; charset=utf-8"})
        return Reply(404, "Not Found", {"Content-Type": "text/plain"})


@pytest.fixture
def server(settings):
    settings.STUDIO_URL_ALLOW_PRIVATE = True
    with FileServer() as emulator:
        yield emulator


def fetch(recording):
    return fetch_original(recording=recording, on_progress=lambda p: None, should_stop=lambda: False)


@pytest.mark.django_db
def test_an_upload_is_stored_at_once_and_the_same_file_again_is_the_same_recording(workspace):
    data = video_file().read_bytes()

    recording = import_upload(workspace=workspace, file=SimpleUploadedFile("Team call.mp4", data, "video/mp4"))
    again = import_upload(workspace=workspace, file=SimpleUploadedFile("renamed.mp4", data, "video/mp4"))

    assert again.pk == recording.pk and Recording.objects.count() == 1
    assert recording.status == "downloaded" and recording.finished_step == "download" and recording.source is None
    assert recording.display_name == "Team call" and recording.remote_id.startswith("upload:")
    assert recording.duration_s == pytest.approx(2.0, abs=0.1) and recording.size_bytes == len(data)
    original = recording.files.get(kind=FileKind.ORIGINAL)
    assert original.file.read() == data and original.size_bytes == len(data)
    assert fetch(recording).pk == original.pk  # nothing to download: the stored original is it
    other = import_upload(workspace=WorkspaceFactory(), file=SimpleUploadedFile("x.mp4", data, "video/mp4"))
    assert other.pk != recording.pk  # another workspace has its own


@pytest.mark.django_db
def test_an_audio_upload_is_accepted_and_a_document_is_refused(workspace):
    audio = import_upload(workspace=workspace, file=SimpleUploadedFile("voice.m4a", audio_file().read_bytes(), "audio/mp4"))
    assert audio.duration_s == pytest.approx(2.0, abs=0.1)

    with pytest.raises(ValidationError) as caught:
        import_upload(workspace=workspace, file=SimpleUploadedFile("minutes.mp4", b"%PDF-1.7 not a video", "video/mp4"))
    assert "minutes.mp4 is not a video or audio file" in str(caught.value.message_dict["file"])
    assert Recording.objects.count() == 1


@pytest.mark.django_db
def test_a_url_becomes_one_recording_fetched_by_the_download_step(workspace, server):
    recording = import_url(workspace=workspace, url=f"{server.url}/share/talk#t=10")
    same = import_url(workspace=workspace, url=f"{server.url.upper().replace('HTTP://', 'http://')}/share/talk")

    assert same.pk == recording.pk and recording.status == "discovered" and recording.remote_id.startswith("url:")
    assert recording.remote == {"url": f"{server.url}/share/talk"} and recording.display_name == "talk"

    stored = fetch(recording)
    recording.refresh_from_db()
    assert stored.file.read() == video_file().read_bytes()
    assert recording.duration_s == pytest.approx(2.0, abs=0.1)


@pytest.mark.django_db
def test_a_missing_file_a_web_page_and_a_too_large_file_are_explained(workspace, server, settings):
    missing = import_url(workspace=workspace, url=f"{server.url}/media/gone.mp4")
    with pytest.raises(InputError) as not_found:
        fetch(missing)
    assert "HTTP 404" in not_found.value.message and not not_found.value.retryable

    page = import_url(workspace=workspace, url=f"{server.url}/page")
    with pytest.raises(InputError, match="web page, not a video file"):
        fetch(page)

    settings.STUDIO_URL_MAX_BYTES = 10_000
    big = import_url(workspace=workspace, url=f"{server.url}/media/talk.mp4")
    with pytest.raises(InputError, match=r"larger than the 9\.77 KB allowed"):
        fetch(big)
    assert not big.files.exists()


@pytest.mark.django_db
def test_a_url_must_be_public_http(workspace, settings):
    settings.STUDIO_URL_ALLOW_PRIVATE = False
    settings.DEBUG = False
    for url, reason in [
        ("ftp://example.com/a.mp4", "Only http:// and https://"),
        ("file:///etc/passwd", "Only http:// and https://"),
        ("http://127.0.0.1:8000/a.mp4", "internal address"),
        ("http://localhost/a.mp4", "internal address"),
        ("http://10.1.2.3/a.mp4", "internal address"),
        ("http://[::1]/a.mp4", "internal address"),
        ("https://user:pw@example.com/a.mp4", "user name or password"),
        ("https:///a.mp4", "no host name"),
    ]:
        with pytest.raises(ValidationError) as caught:
            import_url(workspace=workspace, url=url)
        assert reason in str(caught.value.message_dict["url"]), url
    assert not Recording.objects.exists()


class _Chunked(BaseHTTPRequestHandler):
    """Sends the video in chunked encoding: no Content-Length to check, so the bytes must be counted."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        data = video_file().read_bytes()
        for start in range(0, len(data), 4096):
            piece = data[start : start + 4096]
            self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")


@pytest.mark.django_db
def test_a_file_without_a_declared_size_is_cut_off_at_the_limit(workspace, settings):
    settings.STUDIO_URL_ALLOW_PRIVATE = True
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Chunked)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/stream.mp4"
        settings.STUDIO_URL_MAX_BYTES = 20_000
        too_big = import_url(workspace=workspace, url=url)
        with pytest.raises(InputError, match="larger than"):
            fetch(too_big)
        assert not too_big.files.exists()

        settings.STUDIO_URL_MAX_BYTES = 10**9
        assert fetch(too_big).file.read() == video_file().read_bytes()
    finally:
        server.shutdown()
        server.server_close()
