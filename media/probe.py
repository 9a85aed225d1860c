"""Decoding checks and metadata of uploaded media.

Images are opened with Pillow: the size is read from the header and refused
above ``MEDIA_MAX_IMAGE_PIXELS`` before anything is decoded (decompression
bombs), then the whole image is decoded so truncation shows; the reported size
is the upright one (EXIF orientation applied).

Videos are opened with PyAV, which bundles FFmpeg's libraries in its wheel, so
probing needs neither ``ffprobe`` (absent from imageio-ffmpeg) nor parsing the
text of ``ffmpeg -i``. One pass over the packets decodes the first frames
(the codec really decodes; the display matrix gives the rotation) and demuxes
the rest without decoding. The durations a container declares are claims (an
MP4's movie and track headers, a WebM's segment Duration): the length is
measured from the timestamps of the packets, and a declared one is kept only
when it agrees. Data that stops well before the declared end is a file cut
short only when the container's own structure runs past the end of the file
(an interrupted upload); otherwise the header was wrong.

Every refusal is a :class:`ProbeError` whose message an operator can act on.
"""

from __future__ import annotations

import os
import struct
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
# Packets that stop before this share of the declared duration (less the slack) are short of it.
TRUNCATION_TOLERANCE = 0.9
TRUNCATION_SLACK = 0.5  # seconds
# A declared duration this close to the measured one is kept (rounding, audio priming, the last frame's length).
DURATION_AGREEMENT = 0.25  # seconds
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
            return _probe_container(container, path)
        except av.error.FFmpegError as exc:
            raise ProbeError(f"The video is damaged ({_reason(exc)}). Re-export it as MP4 (H.264/AAC).") from exc


def _probe_container(container, path: str) -> MediaInfo:
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
    first_frame, video_length, measured = _scan(container, stream, audio)
    if first_frame is None:
        raise ProbeError(
            f"No picture could be decoded from the {codec.name} video track: the file is damaged or cut off. "
            "Re-export it as MP4 (H.264/AAC)."
        )
    short = declared and measured is not None and measured < declared * TRUNCATION_TOLERANCE - TRUNCATION_SLACK
    if short and _runs_past_end(path):
        raise ProbeError(
            f"The video is cut off: it should last {declared:.1f} s but its data stops at {measured:.1f} s "
            "(an interrupted upload or copy). Upload the complete file."
        )
    header_agrees = measured is None or (declared and abs(declared - measured) <= DURATION_AGREEMENT)
    # Where the header disagrees with the data, the data says how long the video really is.
    duration = declared if header_agrees else measured
    if not duration or duration <= 0:
        raise ProbeError("The video has no duration: the file is damaged. Re-export it as MP4 (H.264/AAC).")
    # libavformat derives the bit rate from the header's duration too.
    bitrate = container.bit_rate if header_agrees else round(os.path.getsize(path) * 8 / duration)

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
        # The picture's own length: a still picture over long audio is one frame long.
        "video_duration": round(min(video_length or duration, duration), 3),
        "bitrate": bitrate or None,
        "audio": audio.codec_context.name if audio is not None else None,
        "audio_rate": audio.codec_context.sample_rate if audio is not None else None,
        "audio_channels": audio.codec_context.channels if audio is not None else None,
        "container": container.format.name,
    }
    return MediaInfo(width=upright[0], height=upright[1], duration=round(duration, 3), codecs=codecs)


def _declared_duration(container) -> float | None:
    return container.duration / av.time_base if container.duration else None


def _scan(container, video, audio):
    """Decode the first frame; demux every later packet of the video and audio tracks.

    Returns (first frame, length of the video track's data, length of all the data) in seconds,
    each from the first packet's start to the last packet's end; None where no packet had a time.
    """
    first_frame = None
    video_packets = 0
    spans: dict[int, tuple[float, float]] = {}
    for packet in container.demux(*([video] if audio is None else [video, audio])):
        if packet.pts is not None and packet.time_base is not None:
            start = float(packet.pts * packet.time_base)
            end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
            earliest, latest = spans.get(packet.stream.index, (start, end))
            spans[packet.stream.index] = (min(earliest, start), max(latest, end))
        if packet.stream.index != video.index:
            continue
        video_packets += 1
        if first_frame is None and video_packets <= FIRST_FRAME_PACKETS:
            frames = packet.decode()
            if frames:
                first_frame = frames[0]
    if first_frame is None:
        # Some decoders hold frames back until flushed.
        frames = video.codec_context.decode(None)
        first_frame = frames[0] if frames else None
    video_span = spans.get(video.index)
    video_length = video_span[1] - video_span[0] if video_span else None
    if not spans:
        return first_frame, video_length, None
    return first_frame, video_length, max(end for _, end in spans.values()) - min(start for start, _ in spans.values())


def _runs_past_end(path: str) -> bool:
    """Whether the container's top-level structure claims more bytes than the file holds (it was cut off).

    MP4/MOV: the sizes of the top-level boxes; Matroska/WebM: the size of the segment.
    """
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        if fh.read(4) == EBML_MAGIC:
            return _ebml_segment_end(fh, size) > size
        position = 0
        while position + 8 <= size:
            fh.seek(position)
            box_size, _ = struct.unpack(">I4s", fh.read(8))
            if box_size == 1:  # a 64-bit size follows the type
                box_size = struct.unpack(">Q", fh.read(8))[0]
            elif box_size == 0:  # the last box, up to the end of the file by definition
                return False
            if box_size < 8:
                return False  # not a box structure: nothing to tell from it
            position += box_size
        return position > size


EBML_MAGIC = b"\x1a\x45\xdf\xa3"
MATROSKA_SEGMENT = 0x18538067


def _ebml_segment_end(fh: BinaryIO, size: int) -> int:
    """Where the Matroska segment says it ends (0 when its size is unknown, as a live stream's is)."""
    fh.seek(0)
    while fh.tell() < size:
        element = _ebml_number(fh, keep_marker=True)
        length = _ebml_number(fh, keep_marker=False)
        if element is None or length is None:
            return 0
        if element == MATROSKA_SEGMENT:
            return 0 if length < 0 else fh.tell() + length
        if length < 0:
            return 0
        fh.seek(length, os.SEEK_CUR)
    return 0


def _ebml_number(fh: BinaryIO, *, keep_marker: bool) -> int | None:
    """An EBML variable-length number: an element id (marker kept) or a size (-1: unknown)."""
    first = fh.read(1)
    if not first or first[0] == 0:
        return None
    width = 9 - first[0].bit_length()
    rest = fh.read(width - 1)
    if len(rest) != width - 1:
        return None
    value = first[0] if keep_marker else first[0] & (0xFF >> width)
    for byte in rest:
        value = value << 8 | byte
    if not keep_marker and value == (1 << (7 * width)) - 1:
        return -1  # all ones: unknown size
    return value


def _reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.rstrip(".")
