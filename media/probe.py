"""Decoding checks and metadata of uploaded media.

Images are opened with Pillow: the size is read from the header and refused
above ``MEDIA_MAX_IMAGE_PIXELS`` before anything is decoded (decompression
bombs), then the whole image is decoded so truncation shows; the reported size
is the upright one (EXIF orientation applied).

Videos are opened with PyAV, which bundles FFmpeg's libraries in its wheel, so
probing needs neither ``ffprobe`` (absent from imageio-ffmpeg) nor parsing the
text of ``ffmpeg -i``. One pass over the packets decodes the first frames
(the codec really decodes; the display matrix gives the rotation) and demuxes
the rest without decoding, so a file cut short ends before its declared
duration and is caught without the cost of a full decode.

Every refusal is a :class:`ProbeError` whose message an operator can act on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import BinaryIO

import av
from django.conf import settings
from PIL import Image, UnidentifiedImageError

# Pillow's own guard (a warning above this, an error above twice this) backs up
# the explicit check below for every other place that opens images.
Image.MAX_IMAGE_PIXELS = settings.MEDIA_MAX_IMAGE_PIXELS

# EXIF orientations that turn the picture by 90° (width and height swap).
SWAPPING_ORIENTATIONS = {5, 6, 7, 8}
# A video track whose packets stop before this share of its declared duration (less the slack) was cut off.
TRUNCATION_TOLERANCE = 0.9
TRUNCATION_SLACK = 0.5  # seconds
FIRST_FRAME_PACKETS = 300


class ProbeError(ValueError):
    """The file cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class MediaInfo:
    width: int
    height: int
    duration: float | None = None
    codecs: dict = field(default_factory=dict)


def probe_image(stream: BinaryIO) -> MediaInfo:
    """Decode the whole image (catches truncation) and return its upright size."""
    limit = settings.MEDIA_MAX_IMAGE_PIXELS
    try:
        stream.seek(0)
        with Image.open(stream) as img:
            if img.width * img.height > limit:
                raise ProbeError(_bomb_message(img.width, img.height, limit))
            img.load()
            orientation = img.getexif().get(0x0112, 1)
            width, height = (img.height, img.width) if orientation in SWAPPING_ORIENTATIONS else (img.width, img.height)
            codecs = {
                "format": img.format,
                "mode": img.mode,
                "orientation": orientation,
                "icc_profile": bool(img.info.get("icc_profile")),
                "frames": getattr(img, "n_frames", 1),
            }
            return MediaInfo(width=width, height=height, codecs=codecs)
    except Image.DecompressionBombError as exc:
        raise ProbeError(f"The image is too large to decode safely ({exc}). Resize it below {limit / 1e6:.0f} MP.") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, ProbeError):
            raise
        raise ProbeError(f"The image cannot be decoded ({exc}). Re-export it as JPEG or PNG.") from exc
    finally:
        stream.seek(0)


def _bomb_message(width: int, height: int, limit: int) -> str:
    return (
        f"The image claims {width}×{height} pixels ({width * height / 1e6:.0f} MP); the limit is "
        f"{limit / 1e6:.0f} MP, so it is refused unread (it could be a decompression bomb). Resize it."
    )


def probe_video(path: str) -> MediaInfo:
    """Probe and decode-check the video at ``path`` (a local file)."""
    try:
        container = av.open(path, metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise ProbeError(
            f"The video cannot be read ({_reason(exc)}): the file is damaged, cut off (an interrupted upload?) "
            "or not a video. Re-export it as MP4 (H.264/AAC)."
        ) from exc
    with container:
        try:
            return _probe_container(container)
        except av.error.FFmpegError as exc:
            raise ProbeError(f"The video is damaged ({_reason(exc)}). Re-export it as MP4 (H.264/AAC).") from exc


def _probe_container(container) -> MediaInfo:
    if not container.streams.video:
        if container.streams.audio:
            codec = container.streams.audio[0].codec_context
            name = codec.name if codec is not None else "unknown codec"
            raise ProbeError(f"The file has sound only ({name}) and no picture: upload a video.")
        raise ProbeError("The file has no video track: upload a video.")
    stream = container.streams.video[0]
    if stream.codec_context is None:
        raise ProbeError("The video track uses a codec this server cannot decode. Re-export it as H.264 MP4.")
    codec = stream.codec_context
    width, height = codec.width, codec.height
    if not width or not height:
        raise ProbeError("The video has no picture size: the file is damaged. Re-export it as MP4 (H.264/AAC).")
    limit = settings.MEDIA_MAX_VIDEO_PIXELS
    if width * height > limit:
        raise ProbeError(f"The video is {width}×{height}; the limit is {limit / 1e6:.0f} MP per frame. Export it at 4K or less.")
    audio = container.streams.audio[0] if container.streams.audio else None
    if audio is not None and audio.codec_context is None:
        raise ProbeError("The sound track uses a codec this server cannot decode. Re-export it with AAC audio.")

    declared = _declared_duration(container)
    video_declared = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else declared
    first_frame, packets_end = _scan(container, stream)
    if first_frame is None:
        raise ProbeError(
            f"No picture could be decoded from the {codec.name} video track: the file is damaged or cut off. "
            "Re-export it as MP4 (H.264/AAC)."
        )
    declared = declared or packets_end
    if not declared or declared <= 0:
        raise ProbeError("The video has no duration: the file is damaged. Re-export it as MP4 (H.264/AAC).")
    # The video track's own declared length: a still picture over long audio is not "cut off".
    video_declared = video_declared or declared
    if packets_end is not None and packets_end < video_declared * TRUNCATION_TOLERANCE - TRUNCATION_SLACK:
        raise ProbeError(
            f"The video is cut off: it should last {video_declared:.1f} s but its data stops at {packets_end:.1f} s "
            "(an interrupted upload or copy). Upload the complete file."
        )

    rotation = round(getattr(first_frame, "rotation", 0) or 0) % 360
    sar = stream.sample_aspect_ratio or Fraction(1)
    display_width = round(width * sar) if sar != 1 else width
    upright = (height, display_width) if rotation in (90, 270) else (display_width, height)
    fps = stream.average_rate or stream.guessed_rate or stream.base_rate
    codecs = {
        "video": codec.name,
        "profile": codec.profile,
        "pix_fmt": codec.pix_fmt,
        "coded_width": width,
        "coded_height": height,
        "sar": f"{sar.numerator}:{sar.denominator}",
        "rotation": rotation,
        "fps": round(float(fps), 3) if fps else None,
        "video_duration": round(min(video_declared, packets_end or video_declared), 3),
        "bitrate": container.bit_rate or None,
        "audio": audio.codec_context.name if audio is not None else None,
        "audio_rate": audio.codec_context.sample_rate if audio is not None else None,
        "audio_channels": audio.codec_context.channels if audio is not None else None,
        "container": container.format.name,
    }
    return MediaInfo(width=upright[0], height=upright[1], duration=round(declared, 3), codecs=codecs)


def _declared_duration(container) -> float | None:
    return container.duration / av.time_base if container.duration else None


def _scan(container, stream):
    """Decode the first frame; demux every later packet; return (first frame, end time of the data in s)."""
    first_frame = None
    end = None
    for index, packet in enumerate(container.demux(stream)):
        if packet.pts is not None and packet.time_base is not None:
            packet_end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
            end = packet_end if end is None else max(end, packet_end)
        if first_frame is None and index < FIRST_FRAME_PACKETS:
            frames = packet.decode()
            if frames:
                first_frame = frames[0]
    if first_frame is None:
        # Some decoders hold frames back until flushed.
        frames = stream.codec_context.decode(None)
        first_frame = frames[0] if frames else None
    if end is not None and stream.start_time is not None and stream.time_base is not None:
        end -= float(stream.start_time * stream.time_base)
    return first_frame, end


def _reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.rstrip(".")
