"""A Zoom recording all the way to a YouTube upload, every service an emulator of its documented API.

A 60 s recording (espeak-ng speech, ffmpeg silence and test picture) offered by the Zoom emulator is
discovered once by a sync; the template with the highest matching priority wins; its pipeline runs
through real ffmpeg (silences out, A/V in sync), the transcription emulator (segments found in the
trimmed audio it receives), the LLM emulator (topics and chapters) and the engine, which uploads
the video to the preset's YouTube account with the rendered title and description. Repeating the
sync makes nothing new."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import av
import pytest

from accounts.models import Role
from crosspost.celery import app as celery_app
from crosspost.models import Job, JobStatus
from media.ffmpeg import ffmpeg_binary
from platforms.youtube import YouTubeAdapter
from publishing.models import Execution, ExecutionStatus
from studio.models import FileKind, InputSource, Recording, RecordingStatus, Step
from studio.services import preset_save, source_save, source_sync, template_save

from ..emulators.openai import OpenAIEmulator
from ..emulators.youtube import YouTubeEmulator
from ..emulators.zoom import ZoomEmulator
from ..factories import PublishingPolicyFactory, SocialAccountFactory
from ..support.engine import drain
from .speech import speech_wav

pytestmark = pytest.mark.django_db

PHRASES = [
    "Welcome everyone to the weekly product review meeting today",
    "First we look at the numbers from the last release of the app",
    "Sign ups grew by twenty percent and the churn went down again",
    "Next we talk about the new onboarding flow for small teams",
    "The design team tested three versions with twenty customers",
    "Then we plan the roadmap for the next quarter together",
    "We want to ship the mobile editor before the summer holidays",
    "Thank you all and see you again at the same time next week",
]
LEAD_S, GAP_S, TOTAL_S = 2.0, 3.0, 60.0
PADDING_S, MIN_SILENCE_S = 0.25, 1.5
YT = {"refresh_token": "1//studio", "client_id": "yt-client", "client_secret": "yt-secret"}


def make_recording(folder: Path) -> tuple[Path, list[tuple[float, float, str]]]:
    """60 s: speech at known times (silence between and after), a moving test picture."""
    speech = folder / "speech.wav"
    placed = speech_wav(speech, PHRASES, lead_s=LEAD_S, gap_s=GAP_S, tail_s=0.0)
    assert placed[-1][1] < TOTAL_S - 3, "the phrases must leave a silent tail"
    video = folder / "meeting.mp4"
    subprocess.run(
        [
            ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=25:duration={TOTAL_S}",
            "-i", str(speech),
            "-filter_complex", f"[1:a]apad=whole_dur={TOTAL_S}[a]",
            "-map", "0:v", "-map", "[a]", "-t", str(TOTAL_S),
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ar", "48000",
            str(video),
        ],
        check=True,
    )  # fmt: skip
    return video, placed


def expected_timeline(placed):
    """Where each phrase should start after trimming, and the seconds removed: every silence of at
    least MIN_SILENCE_S goes, except PADDING_S kept on each side of speech."""
    kept, starts = 0.0, []
    for start, end, _text in placed:
        kept += PADDING_S
        starts.append(kept)
        kept += (end - start) + PADDING_S
    return starts, TOTAL_S - kept


@pytest.fixture
def services(settings, monkeypatch, tmp_path):
    monkeypatch.setattr(YouTubeAdapter, "retry_delay", 0)
    monkeypatch.setattr(YouTubeAdapter, "processing_interval", 0)
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER = True
    with ZoomEmulator() as zoom, OpenAIEmulator() as openai, YouTubeEmulator() as youtube:
        settings.ZOOM_API_BASE_URL = zoom.api_base
        settings.ZOOM_OAUTH_URL = zoom.oauth_url
        settings.OPENAI_API_KEY = settings.TRANSCRIPTION_API_KEY = openai.api_key
        settings.OPENAI_BASE_URL = settings.TRANSCRIPTION_BASE_URL = openai.url + "/v1"
        settings.TRANSCRIPTION_MODEL_DIR = ""
        settings.DEEPL_API_KEY = ""
        settings.YOUTUBE_API_BASE_URL = youtube.url
        settings.GOOGLE_OAUTH_TOKEN_URL = f"{youtube.url}/token"
        youtube.add_channel(**YT)
        yield {"zoom": zoom, "openai": openai, "youtube": youtube}
    celery_app.conf.task_always_eager = previous


def test_a_zoom_recording_is_trimmed_transcribed_chaptered_and_uploaded_to_youtube_once(
    workspace, member, services, tmp_path, django_capture_on_commit_callbacks
):
    zoom, openai, youtube = services["zoom"], services["openai"], services["youtube"]
    editor = member(Role.ADMIN)
    video, placed = make_recording(tmp_path)
    started = datetime.now(UTC) - timedelta(days=1)
    zoom.add_meeting("Weekly product review", started, [(video, "MP4")])
    zoom.add_meeting("Someone else's chat", started, [])  # a meeting without files offers nothing
    openai.script = [text for _start, _end, text in placed]

    channel = SocialAccountFactory(workspace=workspace, platform="youtube", handle="Product", credentials=YT, options={})
    PublishingPolicyFactory(workspace=workspace, platform="youtube", fast=True)
    source = source_save(
        workspace=workspace,
        actor=editor,
        name="Company Zoom",
        kind="zoom",
        options={"lookback_days": 7},
        secret={"account_id": zoom.account_id, "client_id": zoom.client_id, "client_secret": zoom.client_secret},
    )
    preset = preset_save(
        workspace=workspace,
        actor=editor,
        accounts=[channel],
        name="Product channel",
        platform="youtube",
        privacy="unlisted",
        category="28",
        tags=["product", "review"],
        title_template="{title} ({date})",
        publish_mode="publish",
    )
    template_save(workspace=workspace, actor=editor, name="Anything", priority=10)
    template_save(workspace=workspace, actor=editor, name="Long lectures", priority=100, min_duration_s=3600)
    reviews = template_save(
        workspace=workspace,
        actor=editor,
        presets=[preset],
        name="Product reviews",
        priority=80,
        name_regex=r"product review",
        source=source,
        silence_threshold_db=-35,
        silence_min_s=MIN_SILENCE_S,
        silence_padding_s=PADDING_S,
        subtitles="srt",
        description_template="{description}\n\nRecorded {date} in {source_name}.\n\n{chapters}",
    )

    with django_capture_on_commit_callbacks(execute=True):
        report = source_sync(source=source, actor=editor)
    assert report.error == "" and len(report.created) == 1
    recording = Recording.objects.get()
    # The template with the highest priority among those that match won, and says why.
    assert recording.template == reviews
    assert recording.match_reason["name"] == "Product reviews"
    assert {o["name"]: o["matched"] for o in recording.match_reason["others"]} == {"Long lectures": False, "Anything": True}

    # The whole pipeline ran (the template processes automatically).
    job = Job.objects.get(pk=recording.job_id)
    assert job.status == JobStatus.COMPLETED, (job.error, job.message)
    assert job.progress == 100
    assert recording.finished_step == Step.PUBLISH
    assert recording.status == RecordingStatus.PUBLISHED

    # Silences out: shorter by the expected seconds (± 1 s), audio and video still in sync.
    starts, removed = expected_timeline(placed)
    assert recording.removed_s == pytest.approx(removed, abs=1.0)
    trimmed = recording.files.get(kind=FileKind.TRIMMED)
    with av.open(trimmed.file.path) as container:
        video_stream, audio_stream = container.streams.video[0], container.streams.audio[0]
        video_s = float(video_stream.duration * video_stream.time_base)
        audio_s = float(audio_stream.duration * audio_stream.time_base)
    assert abs(video_s - audio_s) < 0.1
    assert video_s == pytest.approx(TOTAL_S - removed, abs=1.0)

    # The transcription emulator found the speech in the trimmed audio; the SRT's cues follow it.
    calls = openai.transcription_calls
    assert len(calls) == 1
    segments = recording.transcript
    assert [s["text"] for s in segments] == PHRASES
    for segment, expected in zip(segments, starts, strict=True):
        assert segment["start"] == pytest.approx(expected, abs=0.35)
    srt = recording.files.get(kind=FileKind.SRT).file.read().decode()
    first_cue = srt.split("\n\n")[0].splitlines()
    assert first_cue[0] == "1"
    cue_start = first_cue[1].split(" --> ")[0]
    hours, minutes, rest = cue_start.split(":")
    seconds = int(hours) * 3600 + int(minutes) * 60 + float(rest.replace(",", "."))
    assert seconds == pytest.approx(starts[0], abs=0.35)
    assert "Welcome everyone" in srt and "see you again" in srt

    # The LLM's topics became the title and YouTube chapters.
    chapters = recording.topics["chapters"]
    assert len(chapters) >= 3 and chapters[0]["start"] == 0
    assert recording.title

    # The engine uploaded the video once, with the preset's metadata rendered.
    with django_capture_on_commit_callbacks(execute=True):
        drain()
    assert len(youtube.videos) == 1
    uploaded = next(iter(youtube.videos.values()))["resource"]
    snippet = uploaded["snippet"]
    day = recording.recorded_at.astimezone(ZoneInfo(workspace.timezone)).date().isoformat()
    assert snippet["title"] == f"{recording.topics['title']} ({day})"
    assert "0:00 " in snippet["description"] and f"Recorded {day} in Company Zoom." in snippet["description"]
    assert snippet["categoryId"] == "28"
    assert {"product", "review"} <= set(snippet.get("tags") or [])
    assert uploaded["status"]["privacyStatus"] == "unlisted"
    post = recording.posts.get()
    execution = Execution.objects.get(post=post)
    assert execution.status == ExecutionStatus.SUCCESS
    assert execution.account == channel

    # Syncing again offers the same file: nothing new, nothing uploaded twice.
    with django_capture_on_commit_callbacks(execute=True):
        again = source_sync(source=source, actor=editor)
    drain()
    assert again.created == [] and Recording.objects.count() == 1
    assert len(youtube.videos) == 1
    assert InputSource.objects.get(pk=source.pk).last_error == ""
