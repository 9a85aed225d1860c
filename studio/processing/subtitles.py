"""Subtitles: cues from transcription segments, SRT and WebVTT, burned-in video.

Transcription returns segments (start, end, text) of any length; a screen
holds two lines of about 42 characters (the common broadcast and streaming
guideline). ``cues_from_segments`` wraps each segment's words into such
lines, groups them into cues of at most ``max_lines`` lines and shares the
segment's time between its cues by character count (speech runs at a roughly
constant rate of characters). A cue stays at least ``min_s`` on screen where
the next one leaves room, at most ``max_s``, and ends ``gap_s`` before the
next begins, so players never show two at once.

``render_burned`` draws an SRT onto the picture with libass (ffmpeg's
``subtitles`` filter); ``extract_audio`` makes the 16 kHz mono WAV that
speech recognition expects.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .run import run_with_progress

# Cues shorter than this after resolving overlaps still get this much time (the next one moves).
SHORTEST_CUE_S = 0.2


@dataclass
class Cue:
    start: float
    end: float
    text: str  # one line, or two separated by "\n"


def cues_from_segments(
    segments: list[dict],
    *,
    max_line: int = 42,
    max_lines: int = 2,
    min_s: float = 1.0,
    max_s: float = 7.0,
    gap_s: float = 0.05,
) -> list[Cue]:
    """Cues for ``segments`` (dicts with start, end, text; seconds on the trimmed timeline)."""
    cues: list[Cue] = []
    for segment in sorted(segments, key=lambda s: (float(s["start"]), float(s["end"]))):
        start, end = float(segment["start"]), float(segment["end"])
        lines = _wrap(str(segment.get("text") or ""), max_line)
        if not lines:
            continue
        chunks = [lines[i : i + max_lines] for i in range(0, len(lines), max_lines)]
        weights = [sum(len(line) for line in chunk) for chunk in chunks]
        total = sum(weights)
        cursor = start
        for chunk, weight in zip(chunks, weights, strict=True):
            share = max(end - start, 0.0) * weight / total
            cues.append(Cue(start=cursor, end=cursor + share, text="\n".join(chunk)))
            cursor += share

    for i, cue in enumerate(cues):
        following = cues[i + 1].start - gap_s if i + 1 < len(cues) else None
        cue.end = min(cue.end, cue.start + max_s)
        if cue.end - cue.start < min_s:
            # Longer on screen than spoken, into the free time before the next cue.
            wanted = cue.start + min_s
            cue.end = max(cue.end, min(wanted, following) if following is not None else wanted)
    # Overlapping segments (or a next cue within gap_s): shorten the earlier cue, or move the later one.
    for previous, cue in itertools.pairwise(cues):
        previous.end = min(previous.end, cue.start - gap_s)
        if previous.end - previous.start < SHORTEST_CUE_S:
            previous.end = previous.start + SHORTEST_CUE_S
        if cue.start < previous.end + gap_s:
            length = cue.end - cue.start
            cue.start = previous.end + gap_s
            cue.end = cue.start + max(length, SHORTEST_CUE_S)
    return cues


def _wrap(text: str, width: int) -> list[str]:
    """Words into lines of at most ``width`` characters (a longer word is split)."""
    words = []
    for word in re.split(r"\s+", text.strip()):
        while len(word) > width:
            words.append(word[:width])
            word = word[width:]
        if word:
            words.append(word)
    lines: list[str] = []
    for word in words:
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def _timestamp(seconds: float, separator: str) -> str:
    millis = max(round(seconds * 1000), 0)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def to_srt(cues: list[Cue]) -> str:
    """SubRip: numbered cues, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, a blank line after each."""
    blocks = [
        f"{index}\n{_timestamp(cue.start, ',')} --> {_timestamp(cue.end, ',')}\n{cue.text}\n"
        for index, cue in enumerate(cues, start=1)
    ]
    return "\n".join(blocks)


def to_vtt(cues: list[Cue]) -> str:
    """WebVTT: the ``WEBVTT`` header, then ``HH:MM:SS.mmm --> HH:MM:SS.mmm`` cues."""
    blocks = [f"{_timestamp(cue.start, '.')} --> {_timestamp(cue.end, '.')}\n{_vtt_text(cue.text)}\n" for cue in cues]
    return "\n".join(["WEBVTT\n", *blocks])


def _vtt_text(text: str) -> str:
    # WebVTT cue text is markup: & and < must be escaped; "-->" may not appear.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_burned(
    src: Path,
    srt: Path,
    dest: Path,
    *,
    on_progress: Callable[[float], None],
    should_stop: Callable[[], bool],
    duration_s: float | None,
    font_size: int = 22,
) -> None:
    """``src`` with the subtitles of ``srt`` drawn onto the picture (H.264, the audio copied) into ``dest``."""
    style = f"FontSize={font_size}"
    drawing = f"subtitles=filename={_graph_value(str(srt))}:charenc=UTF-8:force_style={_graph_value(style)}"
    args = [
        "-i", str(src), "-vf", drawing, "-map", "0:v:0", "-map", "0:a?",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
        "-c:a", "copy", "-movflags", "+faststart", "-f", "mp4", str(dest),
    ]  # fmt: skip
    run_with_progress(args, duration_s=duration_s, on_progress=on_progress, should_stop=should_stop)


def _graph_value(value: str) -> str:
    """Escape a filter option value twice: for the option parser, then for the filter graph parser."""
    for char in "\\':":
        value = value.replace(char, "\\" + char)
    for char in "\\'[],;":
        value = value.replace(char, "\\" + char)
    return value


def extract_audio(
    src: Path,
    dest: Path,
    *,
    on_progress: Callable[[float], None],
    should_stop: Callable[[], bool],
    duration_s: float | None,
) -> None:
    """The first audio stream of ``src`` as a 16 kHz mono 16-bit PCM WAV (what speech recognition takes)."""
    args = ["-i", str(src), "-map", "0:a:0", "-vn", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", "-f", "wav", str(dest)]
    run_with_progress(args, duration_s=duration_s, on_progress=on_progress, should_stop=should_stop)
