"""Finding and running the ffmpeg binary.

Order: the ``FFMPEG_BINARY`` setting, ``ffmpeg`` on PATH (Debian's package in
CI and Docker), then the binary inside the ``imageio-ffmpeg`` wheel, so a
machine without root still renders. Only ``ffmpeg`` itself is needed: probing
uses PyAV (see ``media.probe``), never ``ffprobe``.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

from django.conf import settings


class FFmpegMissing(RuntimeError):
    """No usable ffmpeg binary on this machine."""


class FFmpegFailed(RuntimeError):
    """ffmpeg exited non-zero; ``detail`` holds the end of its log."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


@functools.cache
def ffmpeg_binary() -> str:
    """The path of the ffmpeg to run (looked up once per process)."""
    configured = settings.FFMPEG_BINARY
    if configured:
        if not Path(configured).exists() and shutil.which(configured) is None:
            raise FFmpegMissing(f"FFMPEG_BINARY={configured} does not exist.")
        return shutil.which(configured) or configured
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    try:
        import imageio_ffmpeg
    except ImportError:
        raise FFmpegMissing("ffmpeg was not found: install it (apt-get install ffmpeg) or the imageio-ffmpeg package.") from None
    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(args: list[str], *, timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run ``ffmpeg <args>`` quietly; on failure raise FFmpegFailed naming the cause from its log."""
    command = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)  # noqa: S603
    except subprocess.TimeoutExpired as exc:
        raise FFmpegFailed(f"ffmpeg did not finish within {timeout:.0f} s.") from exc
    if done.returncode != 0:
        log = done.stderr.decode("utf-8", "replace").strip()
        raise FFmpegFailed(f"ffmpeg failed (exit {done.returncode}): {cause(log)}", detail=log[-4000:])
    return done


# Lines ffmpeg prints about the failure's consequences, not its cause.
_CONSEQUENCES = (
    "Task finished with error code",
    "Terminating thread with return code",
    "Could not open encoder before EOF",
    "Nothing was written into output file",
    "Conversion failed",
    "Last message repeated",
    "Error while filtering",
)


def cause(log: str, count: int = 2) -> str:
    """The first lines of an ffmpeg error log that explain it."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    telling = [line for line in lines if not any(noise in line for noise in _CONSEQUENCES)]
    return " | ".join((telling or lines)[:count]) or "no error output"
