"""Turning one original into its renditions, on local files (no database here).

Video: a few frames are sampled (one short ffmpeg run with fast seeks) to find
faces or the salient region; then ONE ffmpeg run decodes the source once and
``split``s it into every requested output — per output a crop+scale or a
blurred-background pad, square pixels, the profile's frame rate, H.264 High
yuv420p with a VBV cap that also keeps the file under the platform's size
limit, AAC 128k, ``+faststart`` — plus a cover JPEG per output from the same
graph. Each output is then checked (size, pixel aspect, bytes) on its own, so
one failing output fails only its rendition.

Image: Pillow, upright (EXIF), converted to sRGB, cropped or padded the same
way, saved as JPEG (quality lowered step by step if over the size limit).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import av
import numpy as np
from django.conf import settings
from PIL import Image, ImageCms, ImageFilter, ImageOps

from .ffmpeg import FFmpegFailed, run_ffmpeg
from .probe import MediaInfo
from .profiles import Profile
from .smartcrop import Box, Placement, find_faces, focus_point, plan_placement

logger = logging.getLogger(__name__)

ANALYSIS_MAX_SIDE = 1280
SAMPLE_POINTS = (0.2, 0.5, 0.8)  # where in the video frames are analysed, as shares of its duration
FPS_WHEN_TOO_LOW = 30
MIN_VIDEO_KBPS = 300  # below this a size cap cannot be met at a watchable quality
SIZE_HEADROOM = 0.9  # share of a size cap the bitrate budget may use (container, VBV overshoot)
AUDIO_RATE = 48_000
COVER_AT_SECONDS = 1.0
JPEG_QUALITY_STEPS = (0, 5, 10, 20, 30)  # quality reductions tried when a JPEG is over its size cap


@dataclass(frozen=True)
class Job:
    profile: Profile
    allow_trim: bool = False


@dataclass
class Output:
    profile: str
    path: Path | None = None
    cover: Path | None = None
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    size: int | None = None
    error: str = ""
    placement: Placement | None = None

    @property
    def ok(self) -> bool:
        return not self.error


# --- analysis -------------------------------------------------------------------------------------


def analysis_size(width: int, height: int) -> tuple[int, int]:
    scale = min(1.0, ANALYSIS_MAX_SIDE / max(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def sample_video_frames(source: Path, info: MediaInfo, workdir: Path) -> list[np.ndarray]:
    """Upright RGB frames at SAMPLE_POINTS, scaled to the analysis size, from one ffmpeg run."""
    width, height = analysis_size(info.width, info.height)
    duration = info.codecs.get("video_duration") or info.duration or 0.0
    args: list[str] = []
    for point in SAMPLE_POINTS:
        args += ["-ss", f"{duration * point:.3f}", "-i", str(source)]
    outputs = []
    for index in range(len(SAMPLE_POINTS)):
        out = workdir / f"sample{index}.rgb"
        outputs.append(out)
        args += ["-map", f"{index}:v:0", "-frames:v", "1", "-vf", f"scale={width}:{height}", "-pix_fmt", "rgb24"]
        args += ["-f", "rawvideo", str(out)]
    run_ffmpeg(args, timeout=300)
    frames = []
    for out in outputs:
        data = out.read_bytes() if out.exists() else b""
        if len(data) >= width * height * 3:
            frames.append(np.frombuffer(data[: width * height * 3], dtype=np.uint8).reshape(height, width, 3))
        out.unlink(missing_ok=True)
    return frames


def analyse(frames: Sequence[np.ndarray], width: int, height: int) -> tuple[list[Box], tuple[float, float] | None]:
    """Faces (or, without faces, the salient point) of ``frames``, in ``width``×``height`` coordinates."""
    if not frames:
        return [], None
    fh, fw = frames[0].shape[:2]
    sx, sy = width / fw, height / fh
    faces = [box.scaled(sx, sy) for box in find_faces(frames)]
    if faces:
        return faces, None
    focus = focus_point(frames)
    return [], (focus[0] * sx, focus[1] * sy) if focus else None


def placements(info: MediaInfo, jobs: Sequence[Job], faces, focus) -> dict[str, Placement]:
    return {
        job.profile.name: plan_placement(
            info.width, info.height, job.profile.size, faces=faces, focus=focus, max_loss=settings.MEDIA_MAX_CROP_LOSS
        )
        for job in jobs
    }


# --- video ---------------------------------------------------------------------------------------


def render_video(source: Path, info: MediaInfo, jobs: Sequence[Job], workdir: Path) -> dict[str, Output]:
    """Render every job from ``source`` in one ffmpeg run; returns an Output per profile name."""
    results = {job.profile.name: Output(job.profile.name) for job in jobs}
    runnable: list[tuple[Job, float, int]] = []  # (job, output duration, video kbps)
    for job in jobs:
        problem, out_duration, kbps = _video_plan(job, info)
        if problem:
            results[job.profile.name].error = problem
        else:
            runnable.append((job, out_duration, kbps))
    if not runnable:
        return results

    try:
        frames = sample_video_frames(source, info, workdir)
    except FFmpegFailed as exc:
        logger.warning("Frame sampling of %s failed, cropping at the centre: %s", source, exc)
        frames = []
    faces, focus = analyse(frames, info.width, info.height)
    placed = placements(info, [job for job, _, _ in runnable], faces, focus)
    planned = [(job, placed[job.profile.name], duration, kbps) for job, duration, kbps in runnable]
    args = video_command(source, info, planned, workdir)
    try:
        run_ffmpeg(args, timeout=settings.MEDIA_RENDER_TIME_LIMIT_SECONDS)
    except FFmpegFailed as exc:
        for job, _, _ in runnable:
            results[job.profile.name].error = f"Rendering failed: {exc}"
        return results
    for job, _, _ in runnable:
        output = results[job.profile.name]
        output.placement = placed[job.profile.name]
        _check_video(output, job.profile, workdir / f"{job.profile.name}.mp4", workdir / f"{job.profile.name}.jpg")
    return results


def video_plan_problem(job: Job, info: MediaInfo) -> str:
    """Why ``job`` cannot be rendered from a video described by ``info`` ("" when it can)."""
    return _video_plan(job, info)[0]


def _video_plan(job: Job, info: MediaInfo) -> tuple[str, float, int]:
    """(problem, output duration, video kbps) of one job, before anything runs."""
    profile, duration = job.profile, info.duration or 0.0
    if profile.min_duration and duration < profile.min_duration:
        return (f"The video lasts {duration:.1f} s; {profile.name} needs at least {profile.min_duration:.0f} s.", 0, 0)
    out_duration = duration
    if profile.max_duration and duration > profile.max_duration:
        if not job.allow_trim:
            return (
                f"The video lasts {_clock(duration)}; {profile.name} allows {_clock(profile.max_duration)}. "
                "Shorten it, or allow trimming (post option allow_trim).",
                0,
                0,
            )
        out_duration = profile.max_duration
    kbps = profile.max_video_kbps
    if profile.max_bytes and out_duration:
        audio = profile.audio_kbps if info.codecs.get("audio") else 0
        budget = int(profile.max_bytes * 8 * SIZE_HEADROOM / out_duration / 1000) - audio
        if budget < MIN_VIDEO_KBPS:
            return (
                f"At {_clock(out_duration)} the video cannot fit {profile.name}'s {profile.max_bytes / 1048576:.0f} MB limit "
                f"at a watchable quality ({max(budget, 0)} kbps). Use a shorter clip.",
                0,
                0,
            )
        kbps = min(kbps, budget)
    return "", out_duration, kbps


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60}:{seconds % 60:02d} min" if seconds >= 60 else f"{seconds} s"


def output_fps(profile: Profile, source_fps: float | None) -> float | None:
    """The frame rate to convert to, or None to keep the source's."""
    if not source_fps:
        return None
    if profile.min_fps and source_fps < profile.min_fps:
        return FPS_WHEN_TOO_LOW
    if profile.max_fps and source_fps > profile.max_fps:
        return profile.max_fps
    return None


def picture_filter(placement: Placement, target: tuple[int, int], label_in: str, label_out: str, tag: str) -> str:
    """Filter-graph text turning ``label_in`` into exactly ``target`` with square pixels."""
    tw, th = target
    if placement.mode == "crop":
        box = placement.box
        return f"[{label_in}]crop={int(box.w)}:{int(box.h)}:{int(box.x)}:{int(box.y)},scale={tw}:{th},setsar=1[{label_out}]"
    # Pad: the picture fitted on a blurred, zoomed copy of itself (blurred small, then scaled up: cheap).
    bw, bh = tw // 4, th // 4
    return (
        f"[{label_in}]split=2[bg{tag}][fg{tag}];"
        f"[bg{tag}]scale={bw}:{bh}:force_original_aspect_ratio=increase,crop={bw}:{bh},boxblur=12:2,scale={tw}:{th},setsar=1[bb{tag}];"
        f"[fg{tag}]scale={tw}:{th}:force_original_aspect_ratio=decrease:force_divisible_by=2,setsar=1[ff{tag}];"
        f"[bb{tag}][ff{tag}]overlay=(W-w)/2:(H-h)/2,setsar=1[{label_out}]"
    )


def encoder_args(profile: Profile, *, fps: float | None, kbps: int, has_audio: bool, preset: str | None = None) -> list[str]:
    """H.264 High yuv420p (closed GOPs, 2 s keyframes) + AAC, moov first, no edit list, no source metadata.

    Instagram wants no edit lists; without one, B-frames would start the video a
    couple of frames after the audio, so B-frames are off (CABAC and 8×8
    transforms keep it High profile).
    """
    gop = max(1, round(2 * (fps or 30)))
    args = [
        "-c:v", "libx264", "-profile:v", "high", "-pix_fmt", "yuv420p",
        "-preset", preset or settings.MEDIA_X264_PRESET, "-crf", str(settings.MEDIA_X264_CRF), "-bf", "0",
        "-maxrate", f"{kbps}k", "-bufsize", f"{kbps}k", "-g", str(gop),
    ]  # fmt: skip
    if has_audio:
        args += ["-c:a", "aac", "-b:a", f"{profile.audio_kbps}k", "-ar", str(AUDIO_RATE), "-ac", "2"]
    return [*args, "-movflags", "+faststart", "-use_editlist", "0", "-map_metadata", "-1", "-map_chapters", "-1"]


# How long after ``cover_at`` a frame still counts as the cover (covers any frame rate ≥ 2 fps).
COVER_WINDOW_SECONDS = 0.5


def video_command(
    source: Path, info: MediaInfo, planned: Sequence[tuple[Job, Placement, float, int]], workdir: Path
) -> list[str]:
    """ffmpeg arguments for all ``planned`` outputs (and their covers) in one run."""
    source_fps = info.codecs.get("fps")
    has_audio = bool(info.codecs.get("audio"))
    sar = info.codecs.get("sar", "1:1")
    # ffmpeg rotates by the display matrix before the graph; non-square pixels are made square first.
    normalise = f"scale={info.width}:{info.height},setsar=1," if sar not in ("1:1", "0:1") else ""
    count = len(planned)
    graph = [f"[0:v]{normalise}split={count}" + "".join(f"[in{i}]" for i in range(count))]
    outputs: list[str] = []
    for i, (job, placement, duration, kbps) in enumerate(planned):
        profile = job.profile
        graph.append(picture_filter(placement, profile.size, f"in{i}", f"pic{i}", str(i)))
        fps = output_fps(profile, source_fps)
        cover_at = min(COVER_AT_SECONDS, duration / 3)
        # Cover: the first frame, then one at ``cover_at`` overwrites it when the picture lasts
        # that long (a still over long audio has one frame). Selecting only those (not every frame
        # after ``cover_at``) keeps the cover branch from converting the whole video. Its own scale converts to the full range
        # JPEG wants; without it newer ffmpegs negotiate full range for the whole split, and the H.264
        # output would become yuvj420p.
        graph.append(
            f"[pic{i}]{f'fps={fps},' if fps else ''}format=yuv420p,split=2[v{i}][c{i}];"
            f"[c{i}]select=max(eq(n\\,0)\\,between(t\\,{cover_at:.3f}\\,{cover_at + COVER_WINDOW_SECONDS:.3f})),"
            f"scale=out_range=pc[cover{i}]"
        )
        outputs += ["-map", f"[v{i}]", "-map", "0:a:0?"]
        outputs += encoder_args(profile, fps=fps or source_fps, kbps=kbps, has_audio=has_audio)
        if duration < (info.duration or 0):
            outputs += ["-t", f"{duration:.3f}"]
        outputs += [str(workdir / f"{profile.name}.mp4")]
        outputs += ["-map", f"[cover{i}]", "-frames:v", "2", "-q:v", "3", "-update", "1", str(workdir / f"{profile.name}.jpg")]
    return ["-i", str(source), "-filter_complex", ";".join(graph), *outputs]


def _check_video(output: Output, profile: Profile, path: Path, cover: Path) -> None:
    target = profile.size
    if not path.exists() or path.stat().st_size == 0:
        output.error = "ffmpeg produced no file for this rendition."
        return
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            sar = stream.sample_aspect_ratio
            duration = container.duration / av.time_base if container.duration else None
    except (av.error.FFmpegError, IndexError) as exc:
        output.error = f"The rendered file cannot be read back: {exc}"
        return
    size = path.stat().st_size
    if (width, height) != target or (sar is not None and sar != 1):
        output.error = f"Rendered {width}×{height} (pixel aspect {sar}) instead of {target[0]}×{target[1]}, square pixels."
    elif profile.max_bytes and size > profile.max_bytes:
        output.error = (
            f"The rendition is {size / 1048576:.1f} MB; {profile.name} allows {profile.max_bytes / 1048576:.0f} MB. "
            "Use a shorter clip."
        )
    output.path, output.width, output.height, output.size, output.duration = path, width, height, size, duration
    output.cover = cover if cover.exists() and cover.stat().st_size else None


# --- images --------------------------------------------------------------------------------------


def upright_srgb(img: Image.Image) -> Image.Image:
    """EXIF orientation applied; colours converted to sRGB; transparency flattened on white."""
    img = ImageOps.exif_transpose(img)
    icc = img.info.get("icc_profile")
    if icc and img.mode in ("RGB", "RGBA", "CMYK", "L"):
        try:
            source_profile = ImageCms.ImageCmsProfile(BytesIO(icc))
            mode = "RGBA" if img.mode == "RGBA" else "RGB"
            img = ImageCms.profileToProfile(img, source_profile, ImageCms.createProfile("sRGB"), outputMode=mode)
        except (ImageCms.PyCMSError, OSError) as exc:
            logger.warning("Ignoring an unreadable colour profile: %s", exc)
    if img.mode in ("RGBA", "LA", "P", "PA"):
        img = img.convert("RGBA")
        flat = Image.new("RGB", img.size, (255, 255, 255))
        flat.paste(img, mask=img.getchannel("A"))
        return flat
    return img.convert("RGB")


def render_image(source: Path, jobs: Sequence[Job], workdir: Path) -> dict[str, Output]:
    """Render every job from the image at ``source``; returns an Output per profile name."""
    with Image.open(source) as original:
        original.load()
        img = upright_srgb(original)
    frame = np.asarray(img.resize(analysis_size(*img.size), Image.Resampling.BILINEAR))
    faces, focus = analyse([frame], img.width, img.height)
    info = MediaInfo(width=img.width, height=img.height)
    placed = placements(info, jobs, faces, focus)
    results = {}
    for job in jobs:
        profile = job.profile
        output = Output(profile.name, placement=placed[profile.name])
        picture = _place_image(img, placed[profile.name], profile.size)
        path = workdir / f"{profile.name}.jpg"
        for step in JPEG_QUALITY_STEPS:
            picture.save(path, "JPEG", quality=profile.jpeg_quality - step, optimize=True, progressive=True)
            if not profile.max_bytes or path.stat().st_size <= profile.max_bytes:
                break
        size = path.stat().st_size
        output.path, output.width, output.height, output.size = path, picture.width, picture.height, size
        if profile.max_bytes and size > profile.max_bytes:
            output.error = (
                f"The JPEG is {size / 1048576:.1f} MB even at lower quality; "
                f"{profile.name} allows {profile.max_bytes / 1048576:.0f} MB."
            )
        results[profile.name] = output
    return results


def _place_image(img: Image.Image, placement: Placement, target: tuple[int, int]) -> Image.Image:
    if placement.mode == "crop":
        box = placement.box
        window = (int(box.x), int(box.y), int(box.x + box.w), int(box.y + box.h))
        return img.resize(target, Image.Resampling.LANCZOS, box=window)
    small = ImageOps.fit(img, (max(1, target[0] // 4), max(1, target[1] // 4)), Image.Resampling.BILINEAR)
    background = small.filter(ImageFilter.GaussianBlur(radius=math.ceil(min(small.size) / 40) + 4)).resize(
        target, Image.Resampling.BICUBIC
    )
    picture = ImageOps.contain(img, target, Image.Resampling.LANCZOS)
    background.paste(picture, ((target[0] - picture.width) // 2, (target[1] - picture.height) // 2))
    return background
