"""Running one ffmpeg process that reports progress and can be cancelled.

``media.ffmpeg.run_ffmpeg`` waits silently for the end; a studio render of an
hour-long recording needs a progress bar and a Cancel button instead. ffmpeg
writes machine-readable progress to stdout with ``-progress pipe:1``
(key=value lines: ``out_time_us=…``, ``progress=continue|end``); a reader
thread parses them while the calling thread polls ``should_stop``. stderr goes
to a temporary file, so neither pipe can fill up and block ffmpeg, and its
text is returned (``silencedetect`` and ``loudnorm`` report there).

Cancelling sends SIGTERM (ffmpeg stops cleanly), then SIGKILL after a second,
deletes the half-written output and raises :class:`Cancelled`.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from django.utils.translation import gettext

from media.ffmpeg import FFmpegFailed, cause, ffmpeg_binary

# How long ffmpeg may take to stop after SIGTERM before it is killed.
TERM_GRACE_S = 1.0
# Progress callbacks at most this often (the runner writes each one to the database).
PROGRESS_INTERVAL_S = 0.25


class Cancelled(Exception):
    """The caller asked to stop (``should_stop()`` returned True); ffmpeg was stopped."""


class _Progress:
    """The latest position ffmpeg reported, updated by the reader thread."""

    def __init__(self) -> None:
        self.out_time_s = 0.0
        self.ended = False

    def read(self, stream) -> None:
        for raw in stream:
            key, _, value = raw.decode("utf-8", "replace").strip().partition("=")
            if key in ("out_time_us", "out_time_ms"):
                # Both are microseconds (out_time_ms is misnamed in ffmpeg); "N/A" before the first frame.
                with contextlib.suppress(ValueError):
                    self.out_time_s = max(self.out_time_s, int(value) / 1_000_000)
            elif key == "progress" and value == "end":
                self.ended = True


def run_with_progress(
    args: list[str],
    *,
    duration_s: float | None,
    on_progress: Callable[[float], None],
    should_stop: Callable[[], bool],
    poll_s: float = 0.25,
    timeout: float | None = None,
) -> str:
    """Run ``ffmpeg <args>`` and return its stderr text.

    ``args`` are ffmpeg's arguments without the binary, ending with the output
    (a path, or ``-`` with ``-f null``). ``on_progress`` gets the share done
    (0..1, of ``duration_s`` seconds of output; nothing but the final 1.0 when
    the duration is unknown), at most about four times a second.
    ``should_stop`` is polled every ``poll_s``: when it returns True ffmpeg is
    stopped, the partial output removed and :class:`Cancelled` raised.
    A non-zero exit raises ``FFmpegFailed`` naming the cause from the log; a
    ``timeout`` (seconds) that runs out stops ffmpeg and raises it too.
    """
    command = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-y", "-progress", "pipe:1", "-nostats", *args]
    progress = _Progress()
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL)  # noqa: S603
        reader = threading.Thread(target=progress.read, args=(process.stdout,), daemon=True)
        reader.start()
        started = last_report = time.monotonic()
        last_share = -1.0
        try:
            while True:
                try:
                    process.wait(timeout=poll_s)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if should_stop():
                    _stop(process)
                    _remove_output(args)
                    raise Cancelled(gettext("Stopped on request."))
                now = time.monotonic()
                if timeout is not None and now - started > timeout:
                    _stop(process)
                    _remove_output(args)
                    raise FFmpegFailed(gettext("ffmpeg did not finish within %(seconds)d s.") % {"seconds": timeout})
                if duration_s and now - last_report >= PROGRESS_INTERVAL_S:
                    share = 1.0 if progress.ended else min(progress.out_time_s / duration_s, 0.999)
                    if share > last_share:
                        on_progress(share)
                        last_share, last_report = share, now
        except BaseException:
            # Whatever interrupts the wait (KeyboardInterrupt, a failing callback) must not leave ffmpeg running.
            if process.poll() is None:
                _stop(process)
            raise
        finally:
            reader.join(timeout=2)
            process.stdout.close()
        stderr.seek(0)
        log = stderr.read().decode("utf-8", "replace")
    if process.returncode != 0:
        raise FFmpegFailed(f"ffmpeg failed (exit {process.returncode}): {cause(_errors(log))}", detail=log[-4000:])
    if last_share < 1.0:
        on_progress(1.0)
    return log


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if ffmpeg is still there after TERM_GRACE_S; reaps it."""
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=TERM_GRACE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _remove_output(args: list[str]) -> None:
    """Delete the output file ffmpeg was writing (its last argument), if it is a file."""
    if not args:
        return
    output = args[-1]
    if output == "-" or ":" in output.split("/")[0] or output.startswith("/dev/"):
        return  # stdout, a protocol URL (pipe:, tcp:) or a device
    with contextlib.suppress(OSError):
        Path(output).unlink(missing_ok=True)


def _errors(log: str) -> str:
    """The lines of an info-level log that report errors (the rest is banner and stream listing)."""
    markers = ("error", "invalid", "no such", "not found", "unable", "cannot", "could not", "failed", "does not", "matches no")
    lines = [line for line in log.splitlines() if any(marker in line.lower() for marker in markers)]
    return "\n".join(lines) or "\n".join(log.splitlines()[-3:])


def media_duration(path: Path) -> float | None:
    """The length of a media file in seconds (container header, else the longest stream), None if unknown."""
    import av  # PyAV bundles FFmpeg's libraries; imported here so merely importing this module stays cheap

    with av.open(str(path)) as container:
        if container.duration:
            return container.duration / 1_000_000
        lengths = [float(s.duration * s.time_base) for s in container.streams if s.duration and s.time_base]
        return max(lengths, default=None)
