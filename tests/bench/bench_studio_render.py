"""Studio: silence removal of a talk — our pipeline against one plain ffmpeg command.

A synthetic talk (testsrc2 1920x1080 at 30 fps; espeak-ng sentences with
1.5–4 s pauses between them) of ``BENCH_STUDIO_SECONDS`` seconds (default
600) is generated once into ``BENCH_STUDIO_CACHE`` (default var/bench-cache/,
kept between runs: making ten minutes of 1080p takes a while). Then:

(a) ours: ``detect_silences`` + ``keep_ranges`` + ``render_cut`` (one
    rendition, no loudness normalisation), with progress callbacks;
(b) plain: one ffmpeg command a person would write for the same cut list —
    trim/atrim per kept range and concat, same libx264/AAC settings — with
    the ranges handed to it for free (no detection).

Reports both wall times, speed in × realtime and
``studio_render_vs_plain_ratio`` = plain / ours (goal ≥ 0.9: detection and
our plumbing cost at most a tenth of the encode), and the same ratio of the
ffmpeg processes' CPU time, which a busy machine disturbs less than wall time.
"""

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, report

SECONDS = int(os.environ.get("BENCH_STUDIO_SECONDS", "600"))
CACHE = Path(os.environ.get("BENCH_STUDIO_CACHE", str(ROOT / "var" / "bench-cache")))
SENTENCES = [
    "Welcome back to the channel, today we look at the quarterly numbers.",
    "First, the good news about subscriptions.",
    "Retention improved in every region we measured.",
    "Now let me show you the slide with the funnel.",
    "That is all for this part, questions come at the end.",
]
PAUSES = [1.5, 3.0, 2.2, 4.0, 2.7]
RATE = 22050  # espeak-ng's sample rate: all pieces share it so the concat demuxer joins them
CRF, PRESET = 20, "veryfast"  # render_cut's defaults, used by both runs


def make_talk(dest: Path) -> None:
    from media.ffmpeg import run_ffmpeg

    with tempfile.TemporaryDirectory(prefix="crosspost-bench-studio-") as tmp_name:
        tmp = Path(tmp_name)
        speech = []
        for i, text in enumerate(SENTENCES):
            wav = tmp / f"speech{i}.wav"
            subprocess.run(["/usr/bin/espeak-ng", "-v", "en", "-s", "160", "-w", str(wav), text], check=True)
            speech.append(wav)
        pauses = []
        for seconds in PAUSES:
            wav = tmp / f"pause{seconds}.wav"
            run_ffmpeg(["-f", "lavfi", "-i", f"anullsrc=r={RATE}:cl=mono", "-t", str(seconds), "-c:a", "pcm_s16le", str(wav)])
            pauses.append(wav)
        # Sentence, pause, sentence, … (the list runs a little past SECONDS; -t cuts it).
        lines, total, i = [], 0.0, 0
        while total < SECONDS + 10:
            lines += [f"file '{speech[i % len(speech)]}'", f"file '{pauses[i % len(pauses)]}'"]
            total += 3.0 + PAUSES[i % len(PAUSES)]  # a sentence lasts about 3 s
            i += 1
        listing = tmp / "talk.txt"
        listing.write_text("\n".join(lines) + "\n")
        partial = dest.with_suffix(".partial.mp4")
        print(f"generating a {SECONDS} s 1920x1080 talk into {dest} (once)", file=sys.stderr)
        run_ffmpeg(
            ["-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30", "-f", "concat", "-safe", "0", "-i", str(listing),
             "-t", str(SECONDS), "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "23",
             "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", str(partial)],
            timeout=3600,
        )  # fmt: skip
        partial.rename(dest)


def plain_graph(keep: list[tuple[float, float]]) -> str:
    """The trim-and-concat graph one would type for these ranges."""
    parts = [f"[0:v]split={len(keep)}" + "".join(f"[v{i}]" for i in range(len(keep)))]
    parts.append(f"[0:a]asplit={len(keep)}" + "".join(f"[a{i}]" for i in range(len(keep))))
    pieces = ""
    for i, (start, end) in enumerate(keep):
        parts.append(f"[v{i}]trim={start}:{end},setpts=PTS-STARTPTS[tv{i}]")
        parts.append(f"[a{i}]atrim={start}:{end},asetpts=PTS-STARTPTS[ta{i}]")
        pieces += f"[tv{i}][ta{i}]"
    parts.append(f"{pieces}concat=n={len(keep)}:v=1:a=1[v][a]")
    return ";".join(parts)


def _children_cpu() -> float:
    """CPU seconds used by finished child processes (ffmpeg): steadier than wall time on a busy machine."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    import django

    django.setup()
    from media.ffmpeg import ffmpeg_binary, run_ffmpeg
    from studio.processing.run import media_duration
    from studio.processing.silence import detect_silences, keep_ranges, render_cut

    CACHE.mkdir(parents=True, exist_ok=True)
    source = CACHE / f"studio-talk-{SECONDS}s-1080p30.mp4"
    if not source.exists():
        make_talk(source)
    duration = media_duration(source)

    def never() -> bool:
        return False

    progress_calls = []
    with tempfile.TemporaryDirectory(prefix="crosspost-bench-studio-out-") as out_name:
        out = Path(out_name)
        cpu_started, started = _children_cpu(), time.perf_counter()
        silences = detect_silences(
            source, threshold_db=-40, min_silence_s=1.0, duration_s=duration, on_progress=progress_calls.append, should_stop=never
        )
        detected = time.perf_counter()
        keep = keep_ranges(silences, duration, padding_s=0.25)
        result = render_cut(
            source, out / "ours.mp4", keep, has_video=True, loudnorm_lufs=None, on_progress=progress_calls.append,
            should_stop=never, crf=CRF, preset=PRESET,
        )  # fmt: skip
        ours, ours_cpu = time.perf_counter() - started, _children_cpu() - cpu_started
        detect = detected - started

        cpu_started, started = _children_cpu(), time.perf_counter()
        run_ffmpeg(
            ["-i", str(source), "-filter_complex", plain_graph(result.keep), "-map", "[v]", "-map", "[a]",
             "-c:v", "libx264", "-preset", PRESET, "-crf", str(CRF), "-pix_fmt", "yuv420p",
             "-c:a", "aac", "-b:a", "160k", "-movflags", "+faststart", str(out / "plain.mp4")],
            timeout=7200,
        )  # fmt: skip
        plain, plain_cpu = time.perf_counter() - started, _children_cpu() - cpu_started

    extra = {"source_s": round(duration, 1), "kept_s": round(result.duration_s, 1), "cuts": len(result.keep),
             "preset": PRESET, "ffmpeg": ffmpeg_binary()}  # fmt: skip
    report(f"studio_render_{SECONDS}s_1080p_wall", ours, "s", detect_s=round(detect, 3), **extra)
    report("studio_render_speed", duration / ours, "x realtime", **extra)
    report(f"studio_plain_ffmpeg_{SECONDS}s_1080p_wall", plain, "s", **extra)
    report("studio_render_vs_plain_ratio", plain / ours, "ratio", **extra)
    report("studio_render_vs_plain_cpu_ratio", plain_cpu / ours_cpu, "ratio", ours_cpu_s=round(ours_cpu, 3),
           plain_cpu_s=round(plain_cpu, 3), **extra)  # fmt: skip
    report("studio_render_removed", result.removed_s, "s", progress_callbacks=len(progress_calls))


if __name__ == "__main__":
    main()
