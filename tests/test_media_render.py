"""Renditions: exact target sizes with square pixels, faces kept in the frame,
padding on a blurred copy, rotation and EXIF applied, one ffmpeg run per video,
per-rendition failures, trims and frame-rate limits, and the sandbox adapter's
validate() on the result. Clips are 1–2 s at 10 fps, encoded ``superfast``."""

from __future__ import annotations

import io
import sys
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from accounts.models import Platform
from media import render as render_module
from media.ffmpeg import run_ffmpeg
from media.models import MediaStatus, Rendition
from media.profiles import PROFILES, SIZES
from media.services import asset_render, media_item_for, media_items_for, request_renditions
from media.smartcrop import Box, detector_backend, find_faces, plan_placement
from platforms.base import PublishRequest
from platforms.registry import get_adapter
from publishing.adapters import account_snapshot

from .factories import SocialAccountFactory
from .test_media import face_picture, jpeg_bytes, make_rotated_phone_video, make_video, upload_now

GENERIC_VIDEO = ["video_9x16", "video_4x5", "video_1x1", "video_16x9"]
GENERIC_IMAGE = ["image_9x16", "image_4x5", "image_1x1", "image_16x9"]


@pytest.fixture(autouse=True)
def fast_encoding(settings):
    settings.MEDIA_X264_PRESET = "superfast"  # the fastest preset that still makes High-profile streams


@pytest.fixture
def ffmpeg_runs(monkeypatch):
    """Every ffmpeg argument list the renderer runs."""
    runs: list[list[str]] = []
    real = render_module.run_ffmpeg

    def record(args, **kwargs):
        runs.append(list(args))
        return real(args, **kwargs)

    monkeypatch.setattr(render_module, "run_ffmpeg", record)
    return runs


def render(asset, profiles, django_capture_on_commit_callbacks, allow_trim=False) -> dict[str, Rendition]:
    with django_capture_on_commit_callbacks(execute=False):
        request_renditions(assets=[asset], profiles=profiles, allow_trim=allow_trim)
    asset_render(asset_id=asset.pk)
    return {r.profile: r for r in Rendition.objects.filter(asset=asset)}


def video_facts(path: str) -> dict:
    with av.open(path) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
        return {
            "size": (video.codec_context.width, video.codec_context.height),
            "sar": video.sample_aspect_ratio,
            "codec": video.codec_context.name,
            "profile": video.codec_context.profile,
            "pix_fmt": video.codec_context.pix_fmt,
            "fps": float(video.guessed_rate),
            "audio": audio.codec_context.name if audio else None,
            "duration": container.duration / av.time_base,
            "first_frame": frame,
        }


def frame_at(path: str, seconds: float) -> np.ndarray:
    with av.open(path) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and frame.time >= seconds:
                return frame.to_ndarray(format="rgb24")
    raise AssertionError(f"no frame at {seconds} s in {path}")


def moov_before_mdat(path: str) -> bool:
    data = Path(path).read_bytes()
    return 0 <= data.find(b"moov") < data.find(b"mdat")


def sandbox_problems(rendition_items, media_type: str) -> list[str]:
    account = SocialAccountFactory.build(platform=Platform.SANDBOX)
    request = PublishRequest(account=account_snapshot(account), caption="hi", media_type=media_type, media=tuple(rendition_items))
    return [p.message for p in get_adapter(Platform.SANDBOX).validate(request)]


# --- placement (pure) ------------------------------------------------------------------------------


def test_it_crops_around_an_off_centre_face_and_pads_when_a_crop_would_cut_it_or_drop_too_much():
    face = Box(1200, 400, 180, 220)
    placed = plan_placement(1440, 1080, (1080, 1080), faces=[face], max_loss=0.4)
    assert placed.mode == "crop" and face.inside(placed.box)
    assert (placed.box.w, placed.box.h) == (1080, 1080)
    assert plan_placement(1440, 1080, (1080, 1080), max_loss=0.4).box == Box(180, 0, 1080, 1080)  # centre

    assert plan_placement(1440, 1080, (1080, 1920), faces=[face], max_loss=0.4).mode == "pad"  # drops 58 %
    two_far_apart = [Box(40, 400, 180, 220), face]
    assert plan_placement(1440, 1080, (1080, 1080), faces=two_far_apart, max_loss=0.4).reason == "a crop would cut a face"
    assert plan_placement(1440, 1080, (1080, 1080), focus=(1400, 500), max_loss=0.4).box.x == 360  # towards saliency


def test_it_falls_back_when_mediapipe_cannot_be_imported(monkeypatch):
    detector_backend.cache_clear()
    try:
        with monkeypatch.context() as patch:
            patch.setitem(sys.modules, "mediapipe.tasks.python", None)
            assert detector_backend() in ("haar", "none")  # Haar cascades ship with OpenCV 4, not 5
            assert find_faces([np.full((200, 200, 3), 128, np.uint8)]) == []
    finally:
        detector_backend.cache_clear()
    assert detector_backend() == "mediapipe"


# --- video ----------------------------------------------------------------------------------------


def test_it_renders_every_aspect_of_a_video_in_one_ffmpeg_run(
    workspace, tmp_path, ffmpeg_runs, django_capture_on_commit_callbacks
):
    data = make_video(tmp_path / "clip.mp4", size=(640, 360), seconds=1.5, fps=10).read_bytes()
    asset = upload_now(workspace, data, "clip.mp4", django_capture_on_commit_callbacks)
    ffmpeg_runs.clear()
    rows = render(asset, GENERIC_VIDEO, django_capture_on_commit_callbacks)

    encodes = [args for args in ffmpeg_runs if "-filter_complex" in args]
    assert len(encodes) == 1, "all renditions of a video come from one ffmpeg run"
    assert encodes[0].count("-i") == 1 and "split=4" in encodes[0][encodes[0].index("-filter_complex") + 1]
    for name in GENERIC_VIDEO:
        row = rows[name]
        assert row.status == MediaStatus.READY, row.error
        facts = video_facts(row.file.path)
        assert facts["size"] == SIZES[PROFILES[name].aspect] == (row.width, row.height)
        assert facts["sar"] in (None, 1)
        assert (facts["codec"], facts["profile"], facts["pix_fmt"], facts["audio"]) == ("h264", "High", "yuv420p", "aac")
        assert facts["duration"] == pytest.approx(1.5, abs=0.15) and row.duration == pytest.approx(facts["duration"])
        assert row.size == Path(row.file.path).stat().st_size
        assert moov_before_mdat(row.file.path)
        with Image.open(row.cover.path) as cover:
            assert (cover.format, cover.size) == ("JPEG", facts["size"])
        assert sandbox_problems([media_item_for(row)], "video") == []
    (item,) = media_items_for(assets=[asset], platform="sandbox", media_type="reel")
    assert (item.width, item.height) == (1080, 1920)


def test_it_keeps_an_off_centre_face_inside_the_crop(workspace, tmp_path, django_capture_on_commit_callbacks):
    still = tmp_path / "face.png"
    face_picture((1440, 1080), face_at=(1080, 300)).save(still)  # face on the right: a centre crop would cut it
    data = make_video(tmp_path / "face.mp4", size=(1440, 1080), seconds=1.0, fps=10, still=still).read_bytes()
    asset = upload_now(workspace, data, "face.mp4", django_capture_on_commit_callbacks)
    rows = render(asset, ["video_1x1", "video_4x5"], django_capture_on_commit_callbacks)
    for name, row in rows.items():
        assert row.status == MediaStatus.READY, row.error
        frame = frame_at(row.file.path, 0.5)
        assert frame.shape[:2] == SIZES[PROFILES[name].aspect][::-1]
        faces = find_faces([frame])
        assert len(faces) == 1, f"{name}: the face must be in the picture"
        face = faces[0]
        assert face.w > 150 and face.inside(Box(0, 0, frame.shape[1], frame.shape[0]))
        assert face.x > 100, f"{name}: cropped around the face, not merely shifted to the right edge"


def test_it_pads_on_a_blurred_copy_when_a_crop_would_drop_too_much(
    workspace, tmp_path, settings, django_capture_on_commit_callbacks
):
    settings.MEDIA_MAX_CROP_LOSS = 0.4
    still = tmp_path / "face.png"
    face_picture((1440, 1080), face_at=(1080, 300)).save(still)
    data = make_video(tmp_path / "face.mp4", size=(1440, 1080), seconds=1.0, fps=10, still=still, audio=False).read_bytes()
    asset = upload_now(workspace, data, "face.mp4", django_capture_on_commit_callbacks)
    row = render(asset, ["video_9x16"], django_capture_on_commit_callbacks)["video_9x16"]
    assert row.status == MediaStatus.READY, row.error
    frame = frame_at(row.file.path, 0.5)
    assert frame.shape[:2] == (1920, 1080)
    assert len(find_faces([frame])) >= 1  # the whole picture is there, face included
    # Above and below the fitted 1080×810 picture: a blurred copy, not black bars.
    band = frame[:400].astype(float)
    assert band.mean() > 40 and band.std() > 5
    assert np.abs(np.diff(band, axis=1)).mean() < 3  # smooth: blurred


def test_it_renders_a_rotated_phone_video_upright(workspace, tmp_path, django_capture_on_commit_callbacks):
    data = make_rotated_phone_video(tmp_path / "phone.mp4", tmp_path).read_bytes()
    asset = upload_now(workspace, data, "phone.mp4", django_capture_on_commit_callbacks)
    row = render(asset, ["video_9x16"], django_capture_on_commit_callbacks)["video_9x16"]
    assert row.status == MediaStatus.READY, row.error
    frame = video_facts(row.file.path)["first_frame"]
    assert frame.shape[:2] == (1920, 1080)
    top, bottom = frame[:200].mean(axis=(0, 1)), frame[-200:].mean(axis=(0, 1))
    assert top[0] > 150 and top[2] < 100, "the red band is at the top: the picture was turned upright"
    assert bottom[2] > 150 and bottom[0] < 100


def test_it_renders_a_4k_video(workspace, tmp_path, django_capture_on_commit_callbacks):
    data = make_video(tmp_path / "uhd.mp4", size=(3840, 2160), seconds=1.0, fps=4, audio=False).read_bytes()
    asset = upload_now(workspace, data, "uhd.mp4", django_capture_on_commit_callbacks)
    assert (asset.width, asset.height) == (3840, 2160)
    rows = render(asset, ["video_16x9", "video_1x1"], django_capture_on_commit_callbacks)
    for name, row in rows.items():
        assert row.status == MediaStatus.READY, row.error
        facts = video_facts(row.file.path)
        assert facts["size"] == SIZES[PROFILES[name].aspect] and facts["sar"] in (None, 1) and facts["audio"] is None


def test_it_renders_a_still_picture_over_longer_sound(workspace, tmp_path, django_capture_on_commit_callbacks):
    still = tmp_path / "cover.png"
    face_picture((640, 480), face_at=(300, 100), face_height=240).save(still)
    clip = tmp_path / "song.mp4"
    run_ffmpeg(
        ["-loop", "1", "-framerate", "10", "-t", "0.1", "-i", str(still), "-f", "lavfi", "-i", "sine=duration=2",
         "-vf", "format=yuv420p", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(clip)],
        timeout=60,
    )  # fmt: skip
    asset = upload_now(workspace, clip.read_bytes(), "song.mp4", django_capture_on_commit_callbacks)
    assert asset.status == MediaStatus.READY, asset.error  # one picture is not a cut-off video
    row = render(asset, ["video_1x1"], django_capture_on_commit_callbacks)["video_1x1"]
    assert row.status == MediaStatus.READY, row.error
    assert row.cover and row.duration == pytest.approx(2.0, abs=0.2)


def test_it_fails_only_the_rendition_over_its_size_cap(workspace, tmp_path, monkeypatch, django_capture_on_commit_callbacks):
    tiny = replace(PROFILES["video_1x1"], name="tiny_1x1", max_bytes=20_000)
    monkeypatch.setitem(PROFILES, "tiny_1x1", tiny)
    data = make_video(tmp_path / "clip.mp4", size=(640, 360), seconds=1.0).read_bytes()
    asset = upload_now(workspace, data, "clip.mp4", django_capture_on_commit_callbacks)
    rows = render(asset, ["tiny_1x1", "video_4x5"], django_capture_on_commit_callbacks)
    assert rows["video_4x5"].status == MediaStatus.READY
    assert rows["tiny_1x1"].status == MediaStatus.FAILED
    assert "0 MB limit" in rows["tiny_1x1"].error or "watchable" in rows["tiny_1x1"].error


def test_it_trims_a_long_video_only_when_the_post_allows_it(workspace, tmp_path, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setitem(PROFILES, "short_9x16", replace(PROFILES["video_9x16"], name="short_9x16", max_duration=1.0))
    data = make_video(tmp_path / "clip.mp4", size=(360, 640), seconds=2.0).read_bytes()
    asset = upload_now(workspace, data, "clip.mp4", django_capture_on_commit_callbacks)
    refused = render(asset, ["short_9x16", "video_1x1"], django_capture_on_commit_callbacks)
    assert refused["short_9x16"].status == MediaStatus.FAILED
    assert "allow trimming" in refused["short_9x16"].error
    assert refused["video_1x1"].status == MediaStatus.READY

    trimmed = render(asset, ["short_9x16"], django_capture_on_commit_callbacks, allow_trim=True)["short_9x16"]
    assert trimmed.status == MediaStatus.READY, trimmed.error
    assert trimmed.duration == pytest.approx(1.0, abs=0.15)


def test_it_raises_a_low_frame_rate_to_what_the_platform_accepts(workspace, tmp_path, django_capture_on_commit_callbacks):
    data = make_video(tmp_path / "clip.mp4", size=(360, 640), seconds=1.0, fps=10).read_bytes()
    asset = upload_now(workspace, data, "clip.mp4", django_capture_on_commit_callbacks)
    row = render(asset, ["tiktok_video"], django_capture_on_commit_callbacks)["tiktok_video"]
    assert row.status == MediaStatus.READY, row.error
    assert video_facts(row.file.path)["fps"] == pytest.approx(30)


def test_it_fails_the_renditions_of_an_original_that_cannot_be_decoded(workspace, tmp_path, django_capture_on_commit_callbacks):
    broken = make_video(tmp_path / "clip.mp4").read_bytes()[:3000]
    asset = upload_now(workspace, broken, "clip.mp4", django_capture_on_commit_callbacks)
    rows = render(asset, ["video_1x1"], django_capture_on_commit_callbacks)
    assert rows["video_1x1"].status == MediaStatus.FAILED
    assert rows["video_1x1"].error.startswith("The original cannot be used: The video cannot be read")


# --- images ---------------------------------------------------------------------------------------


def test_it_renders_images_upright_in_srgb_jpeg_at_every_size(workspace, django_capture_on_commit_callbacks):
    upright = face_picture((900, 1200), face_at=(250, 500), face_height=420)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned 90° anticlockwise, shown upright
    data = jpeg_bytes(upright.transpose(Image.Transpose.ROTATE_90), exif=exif)
    asset = upload_now(workspace, data, "phone.jpg", django_capture_on_commit_callbacks)
    assert (asset.width, asset.height) == (900, 1200)
    rows = render(asset, GENERIC_IMAGE, django_capture_on_commit_callbacks)
    for name, row in rows.items():
        assert row.status == MediaStatus.READY, row.error
        with Image.open(row.file.path) as out:
            assert (out.format, out.mode, out.size) == ("JPEG", "RGB", SIZES[PROFILES[name].aspect])
            assert "exif" not in out.info  # no orientation tag left, no location either
            assert find_faces([np.asarray(out)]), f"{name}: the face is in the picture, upright"
        assert sandbox_problems([media_item_for(row)], "photo") == []


def test_it_converts_a_wide_gamut_image_to_srgb(workspace, django_capture_on_commit_callbacks):
    from PIL import ImageCms

    lab_tinted = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB", 5000))  # a non-default white point
    buf = io.BytesIO()
    Image.new("RGB", (400, 400), (200, 120, 60)).save(buf, "PNG", icc_profile=lab_tinted.tobytes())
    asset = upload_now(workspace, buf.getvalue(), "tinted.png", django_capture_on_commit_callbacks)
    row = render(asset, ["image_1x1"], django_capture_on_commit_callbacks)["image_1x1"]
    assert row.status == MediaStatus.READY, row.error
    with Image.open(row.file.path) as out:
        assert out.getpixel((200, 200)) != (200, 120, 60)  # colours were converted, not copied
        assert not out.info.get("icc_profile")
