"""Small real media for tests that publish video: made once per process with ffmpeg."""

import struct
import tempfile
from functools import cache
from pathlib import Path

from media.ffmpeg import run_ffmpeg


@cache
def _base_clip() -> bytes:
    """A 1 s, 180×320, 24 fps H.264 + AAC clip (valid for every video profile once rendered)."""
    out = Path(tempfile.mkdtemp(prefix="crosspost-test-clip-")) / "clip.mp4"
    run_ffmpeg(
        [
            "-f", "lavfi", "-i", "testsrc2=size=180x320:rate=24:duration=4",
            "-f", "lavfi", "-i", "sine=frequency=440:duration=4",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-shortest", "-movflags", "+faststart", str(out),
        ],
        timeout=120,
    )  # fmt: skip
    return out.read_bytes()


def mp4_bytes(n: int = 0) -> bytes:
    """The test clip, made unique by a trailing MP4 ``free`` box (content hashes differ, decoders skip it)."""
    return _base_clip() + struct.pack(">I4sI", 12, b"free", n)
