"""Studio transcription: a synthetic N-minute recording (espeak-ng phrases, seeded silences between
them, 16 kHz mono WAV) through ApiTranscriber against the OpenAI emulator, which holds every request
``BENCH_TRANSCRIBE_DELAY`` seconds (a stand-in for the service's work).

Reports the chunks sent, audio seconds transcribed per wall second at concurrency 1 and 4 (and their
ratio), and the most chunks the emulator served at once; checks that the stitched transcript has
every phrase once, at its place (the emulator is given the whole recording to locate each chunk).

Env: BENCH_TRANSCRIBE_SECONDS (600), BENCH_TRANSCRIBE_CHUNK_SECONDS (60 — the production default of
600 s would make a 10-minute file one chunk), TRANSCRIPTION_OVERLAP_SECONDS (5),
BENCH_TRANSCRIBE_DELAY (0.5). No database.
"""

import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import ROOT, report

PHRASES = [
    "welcome to the weekly studio meeting",
    "the new camera arrived on monday",
    "we cut the intro to ten seconds",
    "subtitles go out in three languages",
    "the shop video gets chapters now",
    "please check the sound levels",
    "thank you and see you next week",
]


def synthetic_recording(path: Path, seconds: float) -> list[tuple[float, float, str]]:
    from tests.studio.speech import RATE, phrase_samples, write_wav

    spoken = {text: phrase_samples(text) for text in PHRASES}
    rng = random.Random(17)
    parts, placed, at = [], [], 0.0
    while True:
        gap = np.zeros(round(rng.uniform(1.0, 3.0) * RATE))  # random gaps: no two chunks alike
        text = PHRASES[len(placed) % len(PHRASES)]
        if at + (len(gap) + len(spoken[text])) / RATE > seconds - 0.5:
            break
        parts += [gap, spoken[text]]
        start = at + len(gap) / RATE
        at = start + len(spoken[text]) / RATE
        placed.append((start, at, text))
    parts.append(np.zeros(round((seconds - at) * RATE)))
    write_wav(path, np.concatenate(parts))
    return placed


def main() -> None:
    sys.path.insert(0, str(ROOT))
    import django

    os.environ.setdefault("CROSSPOST_VAR_DIR", tempfile.mkdtemp(prefix="crosspost-bench-var-"))
    django.setup()
    from studio.transcription import ApiTranscriber, plan_chunks
    from tests.emulators.openai import OpenAIEmulator

    seconds = float(os.environ.get("BENCH_TRANSCRIBE_SECONDS", "600"))
    chunk_s = float(os.environ.get("BENCH_TRANSCRIBE_CHUNK_SECONDS", "60"))
    overlap_s = float(os.environ.get("TRANSCRIPTION_OVERLAP_SECONDS", "5"))
    delay = float(os.environ.get("BENCH_TRANSCRIBE_DELAY", "0.5"))
    with tempfile.TemporaryDirectory(prefix="crosspost-bench-transcribe-") as tmp:
        wav = Path(tmp) / "recording.wav"
        print(f"speaking a {seconds:.0f} s recording with espeak-ng", file=sys.stderr)
        placed = synthetic_recording(wav, seconds)
        chunks = len(plan_chunks(seconds, chunk_s=chunk_s, overlap_s=overlap_s))
        tag = {"audio_s": seconds, "chunk_s": chunk_s, "overlap_s": overlap_s, "delay_s": delay}
        report("studio_transcription_chunks", chunks, "chunks", **tag)
        speed = {}
        for concurrency in (1, 4):
            with OpenAIEmulator() as api:
                api.delay_s = delay
                api.set_reference(wav)
                api.script_by_time = [((start + end) / 2, text) for start, end, text in placed]
                transcriber = ApiTranscriber(
                    api.url + "/v1", api.api_key, "whisper-1", chunk_s=chunk_s, overlap_s=overlap_s, concurrency=concurrency
                )
                started = time.perf_counter()
                result = transcriber.transcribe(wav, language="en", on_chunk=lambda *_: None, should_stop=lambda: False)
                elapsed = time.perf_counter() - started
                complete = [s.text for s in result.segments] == [text for *_, text in placed] and all(
                    abs(s.start - start) < 0.3 for s, (start, _, _) in zip(result.segments, placed, strict=True)
                )
                assert complete, f"{len(result.segments)} segments for {len(placed)} phrases"
                speed[concurrency] = seconds / elapsed
                report(
                    f"studio_transcription_audio_per_wall_second_concurrency_{concurrency}",
                    speed[concurrency],
                    "x realtime",
                    requests=len(api.transcription_calls),
                    segments=len(result.segments),
                    **tag,
                )
                report(f"studio_transcription_max_in_flight_concurrency_{concurrency}", api.in_flight_max, "requests", **tag)
        report("studio_transcription_speedup_4_over_1", speed[4] / speed[1], "x", **tag)


if __name__ == "__main__":
    main()
