"""Tiny synthetic media for the input tests (made once per process with ffmpeg's lavfi sources)."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from media.ffmpeg import run_ffmpeg

_DIR = Path(tempfile.mkdtemp(prefix="studio-inputs-media-"))


@functools.cache
def video_file(seconds: float = 2.0) -> Path:
    """An H.264/AAC MP4 of colour bars and a tone, ``seconds`` long."""
    path = _DIR / f"bars-{seconds:g}s.mp4"
    run_ffmpeg(
        [
            *("-f", "lavfi", "-i", f"testsrc2=size=160x120:rate=15:duration={seconds}"),
            *("-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=22050:duration={seconds}"),
            *("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest"),
            str(path),
        ]
    )
    return path


@functools.cache
def audio_file(seconds: float = 2.0) -> Path:
    """An AAC-in-M4A tone (what Zoom's audio-only recording is), ``seconds`` long."""
    path = _DIR / f"tone-{seconds:g}s.m4a"
    run_ffmpeg(["-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=22050:duration={seconds}", "-c:a", "aac", str(path)])
    return path
