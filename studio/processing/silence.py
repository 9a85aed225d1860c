"""Removing the pauses from a recording, and normalising its loudness.

``detect_silences`` runs ffmpeg's ``silencedetect`` over the audio;
``keep_ranges`` turns the pauses into the spoken parts to keep, each widened
by a little padding so words are not clipped; ``render_cut`` renders just
those parts in ONE ffmpeg run. Every kept range is cut with ``trim`` (video)
and ``atrim`` (audio, sample-exact) from the same decoded input and the pieces
are joined by ``concat``, which pads each piece's audio to its video length,
so picture and sound stay in sync however many cuts there are. ``map_time``
moves a time of the original recording onto the trimmed one (chapters,
transcript segments made before the cut).

Loudness: with a target the audio chain ends in ``loudnorm`` (EBU R128). It
runs in two passes as its documentation recommends: the first measures the
kept audio only (fast: no video is decoded), the second applies the measured
values in linear mode, which keeps the dynamics instead of compressing them.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from django.utils.translation import gettext

from .run import media_duration, run_with_progress

TRUE_PEAK_DB = -1.5
LOUDNESS_RANGE_LU = 11
AUDIO_BITRATE = "160k"
# Share of the progress bar given to loudnorm's measuring pass (audio only, much faster than the render).
MEASURE_SHARE = 0.1

_SILENCE_START = re.compile(r"silence_start:\s*(-?[\d.]+)")
_SILENCE_END = re.compile(r"silence_end:\s*(-?[\d.]+)")

Range = tuple[float, float]


@dataclass
class CutResult:
    duration_s: float  # length of the rendered file (the kept ranges together)
    removed_s: float  # how much of the original was cut out
    keep: list[Range]


def detect_silences(
    path: Path,
    *,
    threshold_db: float,
    min_silence_s: float,
    duration_s: float | None,
    on_progress: Callable[[float], None],
    should_stop: Callable[[], bool],
) -> list[Range]:
    """The pauses in ``path``'s audio: (start, end) in seconds, sorted.

    A pause is at least ``min_silence_s`` long and quieter than
    ``threshold_db`` (dBFS, e.g. -35). A pause still running at the end of the
    file ends at ``duration_s`` (measured from the file when not given).
    """
    args = ["-i", str(path), "-vn", "-af", f"silencedetect=noise={threshold_db}dB:d={min_silence_s}", "-f", "null", "-"]
    log = run_with_progress(args, duration_s=duration_s, on_progress=on_progress, should_stop=should_stop)
    silences: list[Range] = []
    start: float | None = None
    for line in log.splitlines():
        if found := _SILENCE_START.search(line):
            start = max(float(found.group(1)), 0.0)
        elif (found := _SILENCE_END.search(line)) and start is not None:
            silences.append((start, float(found.group(1))))
            start = None
    if start is not None:
        end = duration_s if duration_s is not None else media_duration(path)
        if end is not None and end > start:
            silences.append((start, end))
    return sorted(silences)


def keep_ranges(silences: list[Range], duration_s: float, *, padding_s: float, min_keep_s: float = 0.1) -> list[Range]:
    """The spoken parts between ``silences``, each widened by ``padding_s`` on both sides.

    Parts shorter than ``min_keep_s`` (a click in a pause) are dropped; the
    widened parts are clamped to [0, duration] and merged where they meet, so
    the result is sorted and never overlaps. No silence keeps everything.
    """
    spoken: list[Range] = []
    cursor = 0.0
    for start, end in sorted(silences):
        start, end = max(start, 0.0), min(end, duration_s)
        if start > cursor:
            spoken.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < duration_s:
        spoken.append((cursor, duration_s))
    spoken = [(start, end) for start, end in spoken if end - start >= min_keep_s]

    keep: list[Range] = []
    for start, end in spoken:
        start, end = max(start - padding_s, 0.0), min(end + padding_s, duration_s)
        if keep and start <= keep[-1][1]:
            keep[-1] = (keep[-1][0], max(keep[-1][1], end))
        else:
            keep.append((start, end))
    return keep


def map_time(t: float, keep: list[Range]) -> float:
    """Where time ``t`` of the original recording falls in the trimmed one.

    A time inside a cut-out pause maps to the cut (the start of the next kept part).
    """
    mapped = 0.0
    for start, end in keep:
        if t <= start:
            break
        mapped += min(t, end) - start
        if t < end:
            break
    return mapped


def render_cut(
    src: Path,
    dest: Path,
    keep: list[Range],
    *,
    has_video: bool,
    loudnorm_lufs: float | None,
    on_progress: Callable[[float], None],
    should_stop: Callable[[], bool],
    crf: int = 20,
    preset: str = "veryfast",
) -> CutResult:
    """Render the ``keep`` ranges of ``src`` into ``dest`` in one ffmpeg run.

    Video: H.264 (libx264, ``crf``/``preset``) + AAC in MP4 with the index at
    the front (``+faststart``, plays while downloading). Without video
    (``has_video=False``, e.g. an M4A recording): AAC only. With
    ``loudnorm_lufs`` the audio is normalised to that integrated loudness
    (true peak -1.5 dBTP, LRA 11). Progress covers the kept duration.
    With video the cuts are moved half-way between frames (at most half a
    frame): ``CutResult.keep`` holds the ranges actually rendered, the ones
    to give ``map_time``.
    """
    if not keep:
        raise ValueError(
            gettext("Nothing to render: every part of the recording was detected as silence. Lower the silence threshold.")
        )
    original_s = media_duration(src)
    if has_video and (fps := _frame_rate(src)):
        keep = _snap_to_frames(keep, fps, original_s)
        if not keep:
            raise ValueError(gettext("Nothing to render: every kept part is shorter than one video frame."))
    kept_s = sum(end - start for start, end in keep)
    audio_chain = ""
    render_progress = on_progress
    if loudnorm_lufs is not None:
        measured = _measure_loudness(
            src, keep, loudnorm_lufs, kept_s, lambda share: on_progress(share * MEASURE_SHARE), should_stop
        )
        # loudnorm outputs 192 kHz: back to 48 kHz for AAC. It also leaves the channel layout unset,
        # which ffmpeg 5.1 cannot negotiate with the encoder for mono: name the usual layouts.
        audio_chain = _loudnorm(loudnorm_lufs, measured) + ",aresample=48000,aformat=channel_layouts=mono|stereo"

        def render_progress(share: float) -> None:
            on_progress(MEASURE_SHARE + share * (1 - MEASURE_SHARE))

    graph = _cut_graph(keep, has_video=has_video, audio_chain=audio_chain)
    if has_video:
        streams = ["-map", "[v]", "-map", "[a]", "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p"]
    else:
        streams = ["-map", "[a]", "-vn"]
    codecs = [*streams, "-c:a", "aac", "-b:a", AUDIO_BITRATE, "-movflags", "+faststart", "-f", "mp4"]
    with _graph_file(graph) as script:
        args = ["-i", str(src), "-filter_complex_script", script, *codecs, str(dest)]
        run_with_progress(args, duration_s=kept_s, on_progress=render_progress, should_stop=should_stop)
    return CutResult(duration_s=kept_s, removed_s=max((original_s or kept_s) - kept_s, 0.0), keep=list(keep))


def _frame_rate(src: Path) -> Fraction | None:
    import av  # see media_duration

    with av.open(str(src)) as container:
        video = next(iter(container.streams.video), None)
        rate = video.average_rate if video is not None else None
    return Fraction(rate) if rate else None


def _snap_to_frames(keep: list[Range], fps: Fraction, duration_s: float | None) -> list[Range]:
    """Move every cut half-way between two frames.

    A range then holds a whole number of frames and its audio exactly as
    long, so ``concat`` never pads a piece (each pad would shift everything
    after it by up to a frame: a second after fifty cuts), ``map_time`` with
    the returned ranges stays exact, and no frame sits on a boundary where
    rounding decides whether ``trim`` keeps it.
    """
    snapped: list[Range] = []
    for start, end in keep:
        start = max(float((round(start * fps) - Fraction(1, 2)) / fps), 0.0)
        end = float((round(end * fps) - Fraction(1, 2)) / fps)
        if duration_s is not None and end >= duration_s - float(1 / fps):
            end = duration_s  # the last range runs to the end of the file
        if end <= start:
            continue
        if snapped and start <= snapped[-1][1]:
            snapped[-1] = (snapped[-1][0], max(snapped[-1][1], end))
        else:
            snapped.append((start, end))
    return snapped


def _cut_graph(keep: list[Range], *, has_video: bool, audio_chain: str) -> str:
    """trim/atrim every kept range from one decoded input, then concat them (labels [v] and [a])."""
    count = len(keep)
    parts = []
    if has_video:
        parts.append("[0:v:0]split=" + str(count) + "".join(f"[vs{i}]" for i in range(count)))
    parts.append("[0:a:0]asplit=" + str(count) + "".join(f"[as{i}]" for i in range(count)))
    pieces = ""
    for i, (start, end) in enumerate(keep):
        if has_video:
            parts.append(f"[vs{i}]trim=start={start:.6f}:end={end:.6f},setpts=PTS-STARTPTS[vt{i}]")
            pieces += f"[vt{i}]"
        parts.append(f"[as{i}]atrim=start={start:.6f}:end={end:.6f},asetpts=PTS-STARTPTS[at{i}]")
        pieces += f"[at{i}]"
    joined = "[v][ac]" if has_video else "[ac]"
    parts.append(f"{pieces}concat=n={count}:v={int(has_video)}:a=1{joined}")
    parts.append(f"[ac]{audio_chain or 'anull'}[a]")
    return ";\n".join(parts)


@contextmanager
def _graph_file(graph: str) -> Iterator[str]:
    """The filter graph in a temporary file (``-filter_complex_script``): hundreds of cuts exceed one argument's size limit."""
    with tempfile.NamedTemporaryFile("w", suffix=".ffgraph", encoding="utf-8") as script:
        script.write(graph)
        script.flush()
        yield script.name


def _measure_loudness(src, keep, target, kept_s, on_progress, should_stop) -> dict | None:
    """loudnorm's first pass over the kept audio: its JSON measurements, None when it measured nothing."""
    graph = _cut_graph(keep, has_video=False, audio_chain=_loudnorm(target, None) + ":print_format=json")
    with _graph_file(graph) as script:
        log = run_with_progress(
            ["-i", str(src), "-vn", "-filter_complex_script", script, "-map", "[a]", "-f", "null", "-"],
            duration_s=kept_s,
            on_progress=on_progress,
            should_stop=should_stop,
        )
    start = log.rfind("{")
    end = log.rfind("}")
    if start < 0 or end < start:
        return None
    measured = json.loads(log[start : end + 1])
    try:
        values = [float(measured[key]) for key in ("input_i", "input_tp", "input_lra", "input_thresh", "target_offset")]
    except (KeyError, ValueError):
        return None
    return measured if all(math.isfinite(value) for value in values) else None  # silence measures -inf


def _loudnorm(target: float, measured: dict | None) -> str:
    """The loudnorm filter: single pass without measurements, linear second pass with them."""
    chain = f"loudnorm=I={target}:TP={TRUE_PEAK_DB}:LRA={LOUDNESS_RANGE_LU}"
    if measured is None:
        return chain
    chain += (
        f":measured_I={measured['input_i']}:measured_TP={measured['input_tp']}"
        f":measured_LRA={measured['input_lra']}:measured_thresh={measured['input_thresh']}"
        f":offset={measured['target_offset']}:linear=true:print_format=summary"
    )
    return chain
