"""The pipeline runner: a failed step keeps what finished and the next run resumes after it; a cancel
during a render stops ffmpeg within 2 s and leaves the recording resumable (studio/runner.py)."""

import os
import threading
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections

from accounts.models import Role
from crosspost.jobs import job_request_cancel
from crosspost.models import Job, JobStatus
from media.ffmpeg import run_ffmpeg
from studio.models import FileKind, Recording, RecordingStatus, Step, Template
from studio.runner import recording_run, run_all
from studio.sync import import_upload

from ..emulators.openai import OpenAIEmulator
from .speech import speech_wav


@pytest.fixture
def openai(settings):
    with OpenAIEmulator() as emulator:
        settings.OPENAI_API_KEY = settings.TRANSCRIPTION_API_KEY = emulator.api_key
        settings.OPENAI_BASE_URL = settings.TRANSCRIPTION_BASE_URL = emulator.url + "/v1"
        settings.TRANSCRIPTION_MODEL_DIR = ""
        yield emulator


def _talk(tmp_path: Path) -> Path:
    """About 12 s: two phrases with silence between them, over a test picture."""
    speech = tmp_path / "speech.wav"
    speech_wav(
        speech, ["Hello and welcome to the studio", "This is the second part of the talk"], lead_s=1.0, gap_s=4.0, tail_s=2.0
    )
    video = tmp_path / "talk.mp4"
    run_ffmpeg(
        ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-i", str(speech), "-shortest",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(video)]
    )  # fmt: skip
    return video


def _imported(workspace, user, path: Path) -> Recording:
    upload = SimpleUploadedFile(path.name, path.read_bytes(), content_type="video/mp4")
    return import_upload(workspace=workspace, file=upload, author=user)


@pytest.mark.django_db
def test_a_failed_step_keeps_what_finished_and_the_next_run_resumes_after_it(workspace, member, openai, tmp_path):
    editor = member(Role.EDITOR)
    template = Template.objects.create(workspace=workspace, name="Talks", auto_process=False, subtitles="vtt", language="en")
    recording = _imported(workspace, editor, _talk(tmp_path))
    recording.template = template
    recording.save()

    openai.fail_next(401)
    job = recording_run(recording=recording, actor=editor, until=Step.SUBTITLES)
    assert job.stage == Step.TRIM  # the upload is already downloaded
    run_all(recording.pk, job.pk, job.stage)
    job.refresh_from_db()
    recording.refresh_from_db()
    assert job.status == JobStatus.FAILED and "run it again" in job.message
    assert recording.status == RecordingStatus.FAILED
    assert recording.finished_step == Step.TRIM
    assert "TRANSCRIPTION_API_KEY" in recording.error
    trimmed = recording.files.get(kind=FileKind.TRIMMED)
    assert recording.removed_s > 2.0

    again = recording_run(recording=recording, actor=editor, until=Step.SUBTITLES)
    assert again.stage == Step.TRANSCRIBE  # resumes after the last finished step
    run_all(recording.pk, again.pk, again.stage)
    again.refresh_from_db()
    recording.refresh_from_db()
    assert again.status == JobStatus.COMPLETED, again.error
    assert recording.status == RecordingStatus.READY and recording.finished_step == Step.SUBTITLES
    assert recording.files.get(kind=FileKind.TRIMMED).pk == trimmed.pk  # not rendered again
    assert len(recording.transcript) == 2
    assert recording.files.get(kind=FileKind.VTT).file.read().decode().startswith("WEBVTT")
    assert recording.files.filter(kind=FileKind.SRT).exists()  # both formats are kept whatever the template shows


def _ffmpeg_children() -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "comm").read_text().strip()
        except (OSError, ValueError, IndexError):
            continue
        if parent == os.getpid() and command == "ffmpeg":
            children.append(int(entry.name))
    return children


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_cancel_during_a_render_stops_ffmpeg_within_2_s_and_the_recording_resumes(workspace, member, tmp_path, settings):
    editor = member(Role.EDITOR)
    source = tmp_path / "long.mp4"
    run_ffmpeg(
        ["-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-f", "lavfi", "-i", "sine=frequency=300", "-t", "40",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(source)]
    )  # fmt: skip
    template = Template.objects.create(
        workspace=workspace,
        name="Loud",
        auto_process=False,
        remove_silence=False,
        loudnorm=True,
        transcribe=False,
        subtitles="off",
    )
    recording = _imported(workspace, editor, source)
    recording.template = template
    recording.save()
    job = recording_run(recording=recording, actor=editor, until="trim")

    def run() -> None:
        try:
            run_all(recording.pk, job.pk, job.stage)
        finally:
            connections.close_all()  # the thread's own connection, or the test database cannot be dropped

    runner = threading.Thread(target=run)
    runner.start()
    deadline = time.monotonic() + 60
    while not _ffmpeg_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # well into the render
    pids = _ffmpeg_children()
    assert pids, "ffmpeg should be rendering"
    asked = time.monotonic()
    job_request_cancel(job=Job.objects.get(pk=job.pk), actor=editor)
    while any(Path(f"/proc/{pid}").exists() and _is_running(pid) for pid in pids) and time.monotonic() - asked < 5:
        time.sleep(0.02)
    stopped_in = time.monotonic() - asked
    runner.join(30)
    assert stopped_in < 2.0
    job.refresh_from_db()
    recording.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert recording.status == RecordingStatus.DOWNLOADED and recording.finished_step == Step.DOWNLOAD
    assert not recording.files.filter(kind=FileKind.TRIMMED).exists()

    # Resumable: the next run starts at the step that was cancelled and finishes it.
    again = recording_run(recording=recording, actor=editor, until="trim")
    assert again.stage == Step.TRIM
    run_all(recording.pk, again.pk, again.stage)
    again.refresh_from_db()
    recording.refresh_from_db()
    assert again.status == JobStatus.COMPLETED, again.error
    assert recording.files.filter(kind=FileKind.TRIMMED).exists()


def _is_running(pid: int) -> bool:
    """False for a zombie (ended, not yet reaped by its parent)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
