"""Media pipeline: ffmpeg discovery, probing and decode checks on upload, rendition
requests and status, MediaItems and public URLs, preflight, cleanup.

Media is made inside the tests with ffmpeg (lavfi sources) and Pillow. The
helpers at the top are shared with test_media_render.py and test_media_s3.py.
"""

from __future__ import annotations

import io
import struct
import zlib
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from accounts.models import Role
from crosspost.celery import app as celery_app
from media import ffmpeg as ffmpeg_module
from media import services
from media.ffmpeg import FFmpegFailed, run_ffmpeg
from media.models import MediaAsset, MediaStatus, Rendition
from media.profiles import PLATFORM_PROFILES, PROFILES, SIZES
from media.selectors import assets_of, renditions_pending
from media.services import (
    MediaNotReady,
    MediaUnavailable,
    media_item_for,
    media_items_for,
    media_problems,
    media_upload,
    profiles_for,
    rendition_status,
    request_renditions,
)
from posts.models import PostMedia
from posts.services import media_cleanup
from publishing.models import Execution

from .factories import (
    ExecutionFactory,
    MediaAssetFactory,
    PostFactory,
    PostMediaFactory,
    RenditionFactory,
    VideoAssetFactory,
)

# --- helpers shared by the media tests ----------------------------------------------------------


def make_video(
    path: Path,
    *,
    size: tuple[int, int] = (320, 240),
    seconds: float = 1.0,
    fps: int = 10,
    audio: bool = True,
    still: Path | None = None,
    faststart: bool = False,
    vf: str = "",
) -> Path:
    """An H.264 (+AAC) MP4: a moving test pattern, or the picture ``still`` looped."""
    width, height = size
    if still is not None:
        source = ["-loop", "1", "-framerate", str(fps), "-i", str(still)]
    else:
        source = ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}"]
    if audio:
        source += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}"]
    filters = ",".join(f for f in (f"scale={width}:{height}", vf, "format=yuv420p") if f)
    args = [*source, "-t", f"{seconds}", "-vf", filters, "-c:v", "libx264", "-preset", "ultrafast", "-g", str(fps)]
    if audio:
        args += ["-c:a", "aac", "-b:a", "64k"]
    if faststart:
        args += ["-movflags", "+faststart"]
    run_ffmpeg([*args, str(path)], timeout=120)
    return path


def make_rotated_phone_video(path: Path, work: Path) -> Path:
    """A portrait 180×320 picture (red band at the top) stored landscape with a 90° display rotation."""
    stored = work / "stored-landscape.mp4"
    run_ffmpeg(
        ["-f", "lavfi", "-i", "color=c=blue:size=180x320:rate=10", "-t", "1",
         "-vf", "drawbox=x=0:y=0:w=180:h=60:color=red:t=fill,transpose=1,format=yuv420p",
         "-c:v", "libx264", "-preset", "ultrafast", str(stored)],
        timeout=60,
    )  # fmt: skip
    try:  # ffmpeg ≥ 6: counter-clockwise degrees to rotate for display
        run_ffmpeg(["-display_rotation:v:0", "90", "-i", str(stored), "-c", "copy", str(path)], timeout=60)
    except FFmpegFailed:  # ffmpeg 5 has no -display_rotation: the legacy "rotate" tag writes the same matrix
        run_ffmpeg(["-i", str(stored), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(path)], timeout=60)
    return path


def face_picture(size: tuple[int, int], face_at: tuple[int, int], face_height: int = 360) -> Image.Image:
    """A colourful background with a real face (scikit-image's astronaut photo) pasted at ``face_at``."""
    import skimage.data

    face = Image.fromarray(skimage.data.astronaut()).crop((120, 20, 340, 260))
    face = face.resize((round(face.width * face_height / face.height), face_height))
    background = Image.linear_gradient("L").resize(size).point(lambda v: 70 + v * 150 // 255).convert("RGB")
    background.paste(Image.new("RGB", (size[0] // 3, size[1] // 3), (40, 140, 60)), (size[0] // 10, size[1] // 2))
    background.paste(face, face_at)
    return background


def jpeg_bytes(img: Image.Image, **save) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90, **save)
    return buf.getvalue()


def png_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """A tiny PNG whose header claims a huge picture (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def uploaded(data: bytes, name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


@pytest.fixture
def eager_tasks(django_capture_on_commit_callbacks):
    """Run tasks enqueued on commit in-process, as a worker would."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        yield callbacks
    celery_app.conf.task_always_eager = previous


def upload_now(workspace, data: bytes, name: str, django_capture_on_commit_callbacks) -> MediaAsset:
    """Upload and run what the upload enqueued (the video probe) before returning the fresh row."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            asset, _ = media_upload(workspace=workspace, file=uploaded(data, name))
    finally:
        celery_app.conf.task_always_eager = previous
    asset.refresh_from_db()
    return asset


# --- ffmpeg discovery -----------------------------------------------------------------------------


@pytest.fixture
def fresh_discovery():
    ffmpeg_module.ffmpeg_binary.cache_clear()
    yield
    ffmpeg_module.ffmpeg_binary.cache_clear()


def test_it_prefers_ffmpeg_on_path_and_falls_back_to_the_imageio_binary(monkeypatch, settings, fresh_discovery):
    import imageio_ffmpeg

    settings.FFMPEG_BINARY = ""
    monkeypatch.setattr(ffmpeg_module.shutil, "which", lambda name: "/usr/bin/ffmpeg" if name == "ffmpeg" else None)
    assert ffmpeg_module.ffmpeg_binary() == "/usr/bin/ffmpeg"

    ffmpeg_module.ffmpeg_binary.cache_clear()
    monkeypatch.setattr(ffmpeg_module.shutil, "which", lambda name: None)
    assert ffmpeg_module.ffmpeg_binary() == imageio_ffmpeg.get_ffmpeg_exe()
    assert Path(ffmpeg_module.ffmpeg_binary()).exists()


def test_it_refuses_a_configured_binary_that_does_not_exist(settings, fresh_discovery):
    settings.FFMPEG_BINARY = "/nowhere/ffmpeg"
    with pytest.raises(ffmpeg_module.FFmpegMissing, match="/nowhere/ffmpeg"):
        ffmpeg_module.ffmpeg_binary()


# --- probing on upload ---------------------------------------------------------------------------


def test_it_probes_an_uploaded_video_after_commit(workspace, tmp_path, django_capture_on_commit_callbacks):
    data = make_video(tmp_path / "clip.mp4", size=(320, 240), seconds=1.0, fps=10).read_bytes()
    asset = upload_now(workspace, data, "clip.mp4", django_capture_on_commit_callbacks)
    assert asset.status == MediaStatus.READY, asset.error
    assert (asset.kind, asset.mime, asset.width, asset.height) == ("video", "video/mp4", 320, 240)
    assert asset.duration == pytest.approx(1.0, abs=0.1)
    assert asset.codecs["video"] == "h264"
    assert asset.codecs["fps"] == pytest.approx(10)
    assert asset.codecs["audio"] == "aac"
    assert asset.codecs["rotation"] == 0
    assert asset.codecs["bitrate"] > 0


def test_it_leaves_a_video_pending_until_the_probe_runs(workspace, tmp_path, django_capture_on_commit_callbacks):
    data = make_video(tmp_path / "clip.mp4", audio=False).read_bytes()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        asset, created = media_upload(workspace=workspace, file=uploaded(data, "clip.mp4"))
    assert created and asset.status == MediaStatus.PENDING
    assert len(callbacks) == 1  # probe_asset, enqueued after commit


def test_it_reports_a_rotated_phone_video_upright(workspace, tmp_path, django_capture_on_commit_callbacks):
    data = make_rotated_phone_video(tmp_path / "phone.mp4", tmp_path).read_bytes()
    asset = upload_now(workspace, data, "phone.mp4", django_capture_on_commit_callbacks)
    assert asset.status == MediaStatus.READY, asset.error
    assert (asset.width, asset.height) == (180, 320)
    assert asset.codecs["rotation"] in (90, 270)
    assert (asset.codecs["coded_width"], asset.codecs["coded_height"]) == (320, 180)
    assert asset.codecs["audio"] is None


def test_it_applies_exif_orientation_to_an_image(workspace):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown rotated 90° clockwise
    data = jpeg_bytes(Image.new("RGB", (60, 40), (10, 20, 30)), exif=exif)
    asset, _ = media_upload(workspace=workspace, file=uploaded(data, "phone.jpg"))
    assert asset.status == MediaStatus.READY
    assert (asset.width, asset.height) == (40, 60)
    assert asset.codecs["orientation"] == 6


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        (b"", "empty.mp4", "empty (0 bytes)"),
        (b"just some notes\n" * 10, "notes.jpg", "Unsupported file type"),
        (png_bomb(), "bomb.png", "decompression bomb"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 200, "cut.jpg", "cannot be decoded"),
    ],
    ids=["zero-bytes", "text-renamed-jpg", "decompression-bomb", "broken-jpeg"],
)
def test_it_refuses_an_unusable_image_upload_with_the_reason(workspace, data, name, reason):
    with pytest.raises(ValidationError) as refused:
        media_upload(workspace=workspace, file=uploaded(data, name))
    assert reason in " ".join(refused.value.messages)
    assert not MediaAsset.objects.exists()


def _truncated(path: Path) -> bytes:
    return path.read_bytes()[: path.stat().st_size // 2]


def _unknown_codec(path: Path) -> bytes:
    return path.read_bytes().replace(b"avc1", b"zzz9")  # a codec tag no decoder knows


def _audio_only(path: Path) -> bytes:
    audio = path.with_name("sound.m4a")
    run_ffmpeg(["-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", str(audio)], timeout=60)
    return audio.read_bytes()


@pytest.mark.parametrize(
    ("spoil", "faststart", "reason"),
    [
        (_truncated, False, "cannot be read"),
        (_truncated, True, "cut off"),
        (_unknown_codec, False, "codec this server cannot decode"),
        (_audio_only, False, "sound only"),
    ],
    ids=["truncated-mp4", "truncated-faststart-mp4", "unsupported-codec", "audio-only"],
)
def test_it_fails_only_the_broken_video_with_the_reason(
    workspace, tmp_path, django_capture_on_commit_callbacks, spoil, faststart, reason
):
    source = make_video(tmp_path / "source.mp4", seconds=2.0, faststart=faststart)
    good = make_video(tmp_path / "good.mp4", seconds=1.0, audio=False)
    broken = upload_now(workspace, spoil(source), "broken.mp4", django_capture_on_commit_callbacks)
    fine = upload_now(workspace, good.read_bytes(), "good.mp4", django_capture_on_commit_callbacks)
    assert broken.status == MediaStatus.FAILED
    assert reason in broken.error
    assert fine.status == MediaStatus.READY, fine.error


def _mp4_claiming(data: bytes, seconds: float | None) -> bytes:
    """The MP4 ``data`` with the duration its movie, track and media headers declare replaced by
    ``seconds`` (None: 0xFFFFFFFF, the most a version-0 header holds); the samples stay as they are."""
    out = bytearray(data)
    movie_scale = 1

    def walk(start: int, end: int) -> None:
        nonlocal movie_scale
        pos = start
        while pos < end:
            size, kind = struct.unpack(">I4s", out[pos : pos + 8])
            body = pos + 8
            if kind in (b"moov", b"trak", b"mdia"):
                walk(body, pos + size)
            elif kind in (b"mvhd", b"mdhd", b"tkhd"):
                assert out[body] == 0  # version 0: after version/flags, creation and modification time (4 bytes each)
                if kind == b"tkhd":  # track id, reserved, then the duration in the movie's time scale
                    scale, at = movie_scale, body + 20
                else:  # the time scale, then the duration
                    scale, at = struct.unpack(">I", out[body + 12 : body + 16])[0], body + 16
                    if kind == b"mvhd":
                        movie_scale = scale
                out[at : at + 4] = struct.pack(">I", 0xFFFFFFFF if seconds is None else round(seconds * scale))
            pos += size

    walk(0, len(out))
    return bytes(out)


def _webm_claiming(data: bytes, seconds: float) -> bytes:
    """The WebM ``data`` with the Duration of its segment info (a float in milliseconds) replaced by ``seconds``."""
    at = data.find(b"\x44\x89\x88")  # the Duration element, 8-byte float
    assert at != -1
    return data[: at + 3] + struct.pack(">d", seconds * 1000) + data[at + 11 :]


def make_webm(path: Path, *, seconds: float) -> Path:
    """A VP8 + Opus WebM of a moving test pattern."""
    run_ffmpeg(
        ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=10", "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
         "-t", f"{seconds}", "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k",
         "-c:a", "libopus", str(path)],
        timeout=120,
    )  # fmt: skip
    return path


@pytest.mark.parametrize(
    ("name", "lying"),
    [
        ("clip.mp4", lambda work: _mp4_claiming(make_video(work / "clip.mp4", seconds=4.0).read_bytes(), None)),
        ("clip.mp4", lambda work: _mp4_claiming(make_video(work / "clip.mp4", seconds=4.0).read_bytes(), 2.0)),
        ("clip.webm", lambda work: _webm_claiming(make_webm(work / "clip.webm", seconds=4.0).read_bytes(), 4.29e9)),
    ],
    ids=["mp4-headers-at-max", "mp4-headers-claim-2s", "webm-claims-4.29e9s"],
)
def test_it_measures_a_video_whose_header_lies_about_its_length(
    workspace, tmp_path, django_capture_on_commit_callbacks, name, lying
):
    # Really 4 s long; the headers say otherwise.
    asset = upload_now(workspace, lying(tmp_path), name, django_capture_on_commit_callbacks)
    assert asset.status == MediaStatus.READY, asset.error
    assert asset.duration == pytest.approx(4.0, abs=0.1)
    assert asset.codecs["video_duration"] == pytest.approx(4.0, abs=0.1)

    # Planning sees the real length: an Instagram reel takes 3 s to 15 min.
    assert media_problems(assets=[asset], platform="instagram", media_type="reel") == []
    (planned,) = services.planned_media_items(assets=[asset], platform="instagram", media_type="reel")
    assert planned.duration == pytest.approx(4.0, abs=0.1)
    with django_capture_on_commit_callbacks(execute=False):
        request_renditions(assets=[asset], profiles=["instagram_reel"])
    summary = services.asset_render(asset_id=asset.pk)
    assert summary.rendered == ["instagram_reel"], summary.failed
    assert Rendition.objects.get(asset=asset).duration == pytest.approx(4.0, abs=0.15)


# --- stored names and serving ----------------------------------------------------------------------


def test_it_stores_and_serves_an_upload_by_its_sniffed_type_never_its_name(api, client, settings):
    settings.DEBUG = True  # the app serves local files in development only
    data = jpeg_bytes(Image.new("RGB", (40, 30), (200, 30, 30))) + b"<script>alert(document.cookie)</script>"
    upload = SimpleUploadedFile("x.html", data, content_type="text/html")
    response = api(Role.EDITOR).post("/api/v1/media/", {"file": upload}, format="multipart")
    assert response.status_code == 201, response.content
    asset = MediaAsset.objects.get(pk=response.json()["id"])
    assert (asset.mime, asset.original_name) == ("image/jpeg", "x.html")
    assert asset.file.name.endswith(f"{asset.sha256}.jpg")

    served = client.get(asset.file.url)
    assert served.status_code == 200
    assert served["Content-Type"] == "image/jpeg"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert not served.get("Content-Disposition", "").startswith("attachment")
    assert b"".join(served.streaming_content) == data


def test_it_serves_a_stored_file_of_no_media_type_as_a_download(client, settings):
    settings.DEBUG = True
    # e.g. stored before names came from the sniffed type
    name = default_storage.save("assets/1/ab/old.html", ContentFile(b"<script>alert(1)</script>"))
    served = client.get(default_storage.url(name))
    assert served.status_code == 200
    assert served["Content-Type"] == "application/octet-stream"
    assert served["Content-Disposition"] == 'attachment; filename="old.html"'
    assert served["X-Content-Type-Options"] == "nosniff"


# --- profiles and rendition requests ---------------------------------------------------------------


def test_it_maps_every_platform_media_type_to_known_profiles_of_the_four_sizes():
    for names in PLATFORM_PROFILES.values():
        assert names and all(name in PROFILES for name in names)
        kinds = [PROFILES[name].kind for name in names]
        assert len(kinds) == len(set(kinds))  # at most one profile per kind: each asset gets one rendition
    assert {p.size for p in PROFILES.values()} == set(SIZES.values())
    assert profiles_for("instagram", "reel") == ["instagram_reel"]
    assert profiles_for("instagram", "carousel") == ["instagram_feed_image", "instagram_feed_video"]
    assert profiles_for("sandbox", "text") == []


def test_it_requests_renditions_once_and_enqueues_one_render_per_asset(workspace, django_capture_on_commit_callbacks):
    image = MediaAssetFactory(workspace=workspace)
    video = VideoAssetFactory(workspace=workspace)
    profiles = profiles_for("instagram", "carousel")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        rows = request_renditions(assets=[image, video], profiles=profiles)
    assert [(r.asset_id, r.profile, r.aspect, r.status) for r in rows] == [
        (image.pk, "instagram_feed_image", "4:5", "pending"),
        (video.pk, "instagram_feed_video", "4:5", "pending"),
    ]
    assert len(callbacks) == 2

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        again = request_renditions(assets=[image, video], profiles=profiles)
    assert [r.pk for r in again] == [r.pk for r in rows]
    assert Rendition.objects.count() == 2
    assert len(callbacks) == 2  # still pending: asking again re-enqueues, the task is idempotent

    Rendition.objects.update(status=MediaStatus.READY)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        request_renditions(assets=[image, video], profiles=profiles)
    assert callbacks == []


def test_it_queues_a_too_long_video_again_when_trimming_becomes_allowed(workspace, django_capture_on_commit_callbacks):
    video = VideoAssetFactory(workspace=workspace)
    RenditionFactory(asset=video, profile="instagram_story_video", aspect="9:16", status=MediaStatus.FAILED, error="too long")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        (row,) = request_renditions(assets=[video], profiles=["instagram_story_video"], allow_trim=True)
    assert (row.status, row.allow_trim, row.error) == (MediaStatus.PENDING, True, "")
    assert len(callbacks) == 1


def test_it_refuses_unknown_profiles(workspace):
    with pytest.raises(ValueError, match="no_such_profile"):
        request_renditions(assets=[MediaAssetFactory(workspace=workspace)], profiles=["no_such_profile"])


def test_it_reports_rendition_status_with_the_failure_reason(workspace):
    image, video = MediaAssetFactory(workspace=workspace), VideoAssetFactory(workspace=workspace)
    profiles = ["image_1x1", "video_1x1"]
    assert rendition_status([image.pk, video.pk], profiles).status == "pending"  # nothing requested yet

    RenditionFactory(asset=image, profile="image_1x1")
    pending = RenditionFactory(asset=video, profile="video_1x1", status=MediaStatus.PENDING)
    report = rendition_status([image.pk, video.pk], profiles)
    assert report.status == "pending" and "video_1x1" in report.reason

    Rendition.objects.filter(pk=pending.pk).update(status=MediaStatus.FAILED, error="The video lasts 20:00 min")
    report = rendition_status([image.pk, video.pk], profiles)
    assert (report.status, report.reason) == ("failed", "clip.mp4 → video_1x1: The video lasts 20:00 min")

    Rendition.objects.filter(pk=pending.pk).update(status=MediaStatus.READY)
    assert rendition_status([image.pk, video.pk], profiles).status == "ready"


def test_it_builds_media_items_with_absolute_public_urls(workspace, settings):
    settings.PUBLIC_MEDIA_BASE_URL = "https://media.example.test/"
    video = VideoAssetFactory(workspace=workspace)
    rendition = RenditionFactory(asset=video, profile="instagram_reel", aspect="9:16", width=1080, height=1920, duration=3.5)
    rendition.file.save("instagram_reel.mp4", io.BytesIO(b"rendered"), save=True)
    item = media_item_for(rendition)
    assert item.url == f"https://media.example.test/files/{rendition.file.name}"
    assert Path(item.path).read_bytes() == b"rendered"
    assert (item.kind, item.mime, item.width, item.height, item.duration) == ("video", "video/mp4", 1080, 1920, 3.5)
    assert media_items_for(assets=[video], platform="instagram", media_type="reel") == (item,)


def test_it_refuses_media_items_until_renditions_are_ready(workspace):
    video = VideoAssetFactory(workspace=workspace)
    with pytest.raises(MediaNotReady):
        media_items_for(assets=[video], platform="youtube", media_type="video")
    RenditionFactory(asset=video, profile="youtube_video", aspect="16:9", status=MediaStatus.FAILED, error="ffmpeg failed")
    with pytest.raises(MediaUnavailable, match="ffmpeg failed"):
        media_items_for(assets=[video], platform="youtube", media_type="video")
    # A platform without a profile for the media type publishes the original.
    (original,) = media_items_for(assets=[video], platform="sandbox", media_type="text")
    assert original.size == video.size and original.mime == "video/mp4"


def test_it_flags_a_video_longer_than_the_platform_allows_unless_trimming_is_allowed(workspace):
    video = VideoAssetFactory(workspace=workspace, duration=20 * 60.0, codecs={"audio": "aac"})
    (problem,) = media_problems(assets=[video], platform="instagram", media_type="reel")
    assert "20:00 min" in problem and "15:00 min" in problem and "allow_trim" in problem
    assert media_problems(assets=[video], platform="instagram", media_type="reel", allow_trim=True) == []
    too_short = VideoAssetFactory(workspace=workspace, duration=1.0)
    assert "at least 3 s" in media_problems(assets=[too_short], platform="instagram", media_type="reel")[0]
    failed = VideoAssetFactory(workspace=workspace, status=MediaStatus.FAILED, error="The video is cut off")
    assert media_problems(assets=[failed], platform="sandbox", media_type="video") == ["clip.mp4: The video is cut off"]


def test_it_plans_media_items_with_the_rendition_size_for_preflight(workspace):
    video = VideoAssetFactory(workspace=workspace, duration=20 * 60.0)
    (item,) = services.planned_media_items(assets=[video], platform="instagram", media_type="reel")
    assert (item.width, item.height, item.duration, item.mime) == (1080, 1920, 15 * 60, "video/mp4")


def test_it_reads_trim_permission_from_the_post_options():
    assert services.trim_allowed({"allow_trim": True}, "instagram")
    assert services.trim_allowed({"instagram": {"allow_trim": True}}, "instagram")
    assert not services.trim_allowed({"tiktok": {"allow_trim": True}}, "instagram")
    assert not services.trim_allowed({}, "instagram")


def test_it_lets_the_dispatcher_hold_executions_until_their_renditions_are_ready(workspace, django_capture_on_commit_callbacks):
    post = PostFactory(workspace=workspace, media_type="video")
    video = VideoAssetFactory(workspace=workspace)
    PostMediaFactory(post=post, asset=video)
    execution = ExecutionFactory(post=post)
    other = ExecutionFactory(post=PostFactory(workspace=workspace, media_type="text"))
    with django_capture_on_commit_callbacks(execute=False):
        (rendition,) = request_renditions(
            assets=assets_of(post), profiles=profiles_for(execution.account.platform, post.media_type)
        )
    due = Execution.objects.exclude(renditions_pending())
    assert list(due) == [other]

    Rendition.objects.filter(pk=rendition.pk).update(status=MediaStatus.FAILED, error="ffmpeg failed: no space left")
    assert set(Execution.objects.exclude(renditions_pending())) == {execution, other}
    with pytest.raises(MediaUnavailable, match="no space left"):  # the publisher fails it with the reason
        media_items_for(assets=assets_of(post), platform=execution.account.platform, media_type=post.media_type)


# --- cleanup ----------------------------------------------------------------------------------------


def _with_files(asset: MediaAsset) -> list[str]:
    rendition = RenditionFactory(asset=asset, profile="image_1x1")
    rendition.file.save("image_1x1.jpg", io.BytesIO(b"jpeg"), save=True)
    return services.asset_file_names(asset)


def test_it_deletes_media_of_posts_finished_long_ago_but_never_a_file_another_post_needs(
    workspace, settings, django_capture_on_commit_callbacks
):
    settings.MEDIA_RETENTION_DAYS = 30
    now = timezone.now()
    old_post = PostFactory(workspace=workspace, status="completed", finished_at=now - timedelta(days=31))
    recent_post = PostFactory(workspace=workspace, status="completed", finished_at=now - timedelta(days=3))
    draft = PostFactory(workspace=workspace)
    only_old = PostMediaFactory(post=old_post, position=0).asset
    shared_with_recent = PostMediaFactory(post=old_post, position=1).asset
    PostMediaFactory(post=recent_post, asset=shared_with_recent)
    shared_with_draft = PostMediaFactory(post=old_post, position=2).asset
    PostMediaFactory(post=draft, asset=shared_with_draft)
    gone_files = _with_files(only_old)
    kept_files = _with_files(shared_with_recent) + _with_files(shared_with_draft)
    storage = only_old.file.storage

    with django_capture_on_commit_callbacks(execute=True):
        assert media_cleanup(now=now) == {"assets": 1, "files": 2}

    assert not MediaAsset.objects.filter(pk=only_old.pk).exists()
    assert not Rendition.objects.filter(asset_id=only_old.pk).exists()
    assert not any(storage.exists(name) for name in gone_files)
    assert all(storage.exists(name) for name in kept_files)
    assert set(MediaAsset.objects.values_list("pk", flat=True)) == {shared_with_recent.pk, shared_with_draft.pk}
    assert PostMedia.objects.filter(post=old_post).count() == 2  # the old post keeps the media others still use

    with django_capture_on_commit_callbacks(execute=True):
        assert media_cleanup(now=now + timedelta(days=30)) == {"assets": 1, "files": 2}  # recent post aged out
    assert set(MediaAsset.objects.values_list("pk", flat=True)) == {shared_with_draft.pk}


def test_it_declares_the_cleanup_as_a_periodic_task():
    from crosspost.periodic import PERIODIC_TASKS

    assert "media.tasks.cleanup_media" in {p.task for p in PERIODIC_TASKS}
