"""studio.processing against real ffmpeg on synthetic media made here.

The talk: espeak-ng sentences and a 3 kHz tone burst separated by 4 s pauses,
under a testsrc2 picture. Its timeline is known by construction (the speech
is stripped of espeak's own leading and trailing silence), so the detected
pauses, the length of the cut and where the burst lands can all be checked
against numbers computed here, not against what the code under test says.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import time
from pathlib import Path

import av
import numpy as np
import pytest

from media.ffmpeg import FFmpegFailed, ffmpeg_binary, run_ffmpeg
from studio.processing.run import Cancelled, media_duration, run_with_progress
from studio.processing.silence import detect_silences, keep_ranges, map_time, render_cut
from studio.processing.subtitles import Cue, cues_from_segments, extract_audio, render_burned, to_srt, to_vtt

GAP_S = 4.0
BURST_S = 0.8
BURST_HZ = 3000
H264_FAST = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
RATE = 22050  # espeak-ng's sample rate: every piece is made at it so the concat demuxer can join them
SENTENCES = [
    "Hello and welcome to the studio test recording.",
    "Silence between sentences is removed automatically.",
    "Thank you for watching this short talk.",
]


def never() -> bool:
    return False


def ignore(_share: float) -> None:
    pass


def _speech(text: str, dest: Path) -> None:
    raw = dest.with_suffix(".raw.wav")
    subprocess.run(["/usr/bin/espeak-ng", "-v", "en", "-s", "160", "-w", str(raw), text], check=True)
    strip = "silenceremove=start_periods=1:start_threshold=-50dB"
    run_ffmpeg(["-i", str(raw), "-af", f"{strip},areverse,{strip},areverse", "-ar", str(RATE), "-ac", "1", str(dest)])


@pytest.fixture(scope="module")
def talk(tmp_path_factory) -> dict:
    """A ~22 s 320x240 talk: sentence, pause, sentence, pause, tone burst, pause, sentence."""
    tmp = tmp_path_factory.mktemp("talk")
    pieces, timeline, cursor = [], [], 0.0
    gap = tmp / "gap.wav"
    run_ffmpeg(["-f", "lavfi", "-i", f"anullsrc=r={RATE}:cl=mono", "-t", str(GAP_S), "-c:a", "pcm_s16le", str(gap)])
    burst = tmp / "burst.wav"
    run_ffmpeg(["-f", "lavfi", "-i", f"sine=frequency={BURST_HZ}:sample_rate={RATE}:duration={BURST_S}",
                "-af", "volume=0.5", "-ac", "1", "-c:a", "pcm_s16le", str(burst)])  # fmt: skip
    sounds = []
    for i, text in enumerate(SENTENCES):
        speech = tmp / f"speech{i}.wav"
        _speech(text, speech)
        sounds.append(speech)
    sounds.insert(2, burst)
    gaps = []
    for i, sound in enumerate(sounds):
        length = media_duration(sound)
        timeline.append((cursor, cursor + length, sound.name))
        pieces.append(sound)
        cursor += length
        if i < len(sounds) - 1:
            pieces.append(gap)
            gaps.append((cursor, cursor + GAP_S))
            cursor += GAP_S
    listing = tmp / "pieces.txt"
    listing.write_text("".join(f"file '{piece}'\n" for piece in pieces))
    audio = tmp / "talk.wav"
    run_ffmpeg(["-f", "concat", "-safe", "0", "-i", str(listing), "-c:a", "pcm_s16le", str(audio)])
    duration = media_duration(audio)
    video = tmp / "talk.mp4"
    picture = ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25"]
    run_ffmpeg([*picture, "-i", str(audio), "-t", f"{duration:.3f}", *H264_FAST, "-c:a", "aac", "-b:a", "128k", str(video)])
    m4a = tmp / "talk.m4a"
    run_ffmpeg(["-i", str(audio), "-c:a", "aac", "-b:a", "128k", str(m4a)])
    burst_start = next(start for start, _end, name in timeline if name == "burst.wav")
    return {"video": video, "m4a": m4a, "duration": duration, "gaps": gaps, "burst_start": burst_start, "tmp": tmp}


def _stream_durations(path: Path) -> dict[str, float]:
    """Each stream's length measured from its decoded frames (last frame's end minus first frame's start)."""
    lengths = {}
    with av.open(str(path)) as container:
        for stream in container.streams:
            if stream.type not in ("audio", "video"):
                continue
            first = last = None
            for frame in container.decode(stream):
                first = frame.time if first is None else first
                step = frame.samples / frame.sample_rate if stream.type == "audio" else 1 / float(stream.average_rate)
                last = frame.time + step
            container.seek(0)
            lengths[stream.type] = last - first
    return lengths


def _tone_onset(path: Path, hz: float) -> float:
    """The time the first stretch of a pure ``hz`` tone starts in ``path``'s audio (10 ms resolution)."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
    samples, start = [], None
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            start = frame.time if start is None else start
            for out in resampler.resample(frame):
                samples.append(out.to_ndarray().reshape(-1))
    signal = np.concatenate(samples)
    window = 160  # 10 ms at 16 kHz: FFT bins 100 Hz apart
    band = round(hz / 100)
    for i in range(0, len(signal) - window, window // 4):
        spectrum = np.abs(np.fft.rfft(signal[i : i + window] * np.hanning(window))) ** 2
        total = spectrum.sum()
        if total > 1e-3 and spectrum[band - 1 : band + 2].sum() / total > 0.9:
            return start + i / 16000
    raise AssertionError(f"no {hz} Hz tone found in {path}")


def _integrated_loudness(path: Path) -> float:
    done = subprocess.run(
        [ffmpeg_binary(), "-hide_banner", "-nostats", "-i", str(path), "-af", "ebur128", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    summary = done.stderr[done.stderr.rindex("Summary:") :]
    return float(re.search(r"I:\s*(-?[\d.]+) LUFS", summary).group(1))


# --- pure functions -----------------------------------------------------------


def test_it_keeps_the_spoken_parts_widened_by_padding_without_overlap():
    keep = keep_ranges([(0.0, 2.0), (5.0, 5.3), (8.0, 12.0)], 12.0, padding_s=0.25)
    # 5.0-5.3 is shorter than two paddings: the parts on both sides merge.
    assert keep == [(1.75, 8.25)]
    keep = keep_ranges([(3.0, 6.0), (9.0, 9.02)], 10.0, padding_s=0.5, min_keep_s=0.1)
    assert keep == [(0.0, 3.5), (5.5, 10.0)]
    assert keep_ranges([], 7.5, padding_s=0.3) == [(0.0, 7.5)]
    # A 0.05 s click inside a long pause is not worth keeping.
    assert keep_ranges([(1.0, 4.0), (4.05, 8.0)], 8.0, padding_s=0.2) == [(0.0, 1.2)]


def test_it_maps_original_times_onto_the_trimmed_timeline():
    keep = [(1.0, 3.0), (5.0, 6.0), (8.0, 10.0)]
    assert map_time(0.5, keep) == 0.0
    assert map_time(2.0, keep) == pytest.approx(1.0)
    assert map_time(4.0, keep) == pytest.approx(2.0)  # inside a cut: the cut point
    assert map_time(5.5, keep) == pytest.approx(2.5)
    assert map_time(9.0, keep) == pytest.approx(4.0)
    assert map_time(20.0, keep) == pytest.approx(5.0)


def test_it_reports_progress_and_returns_the_log(talk):
    shares = []
    log = run_with_progress(
        ["-i", str(talk["video"]), "-f", "null", "-"], duration_s=talk["duration"], on_progress=shares.append, should_stop=never
    )
    assert "Stream #0:0" in log
    assert shares[-1] == 1.0
    assert shares == sorted(shares) and all(0 <= share <= 1 for share in shares)


def test_it_names_the_cause_when_ffmpeg_fails(tmp_path):
    missing = tmp_path / "missing.mp4"
    with pytest.raises(FFmpegFailed, match=r"missing\.mp4: No such file"):
        run_with_progress(["-i", str(missing), "-f", "null", "-"], duration_s=None, on_progress=ignore, should_stop=never)


def test_it_gives_up_after_the_timeout_and_leaves_no_ffmpeg(tmp_path):
    dest = tmp_path / "endless.wav"
    started = time.monotonic()
    with pytest.raises(FFmpegFailed, match="did not finish within 1 s"):
        endless = ["-f", "lavfi", "-i", "sine=frequency=440", str(dest)]
        run_with_progress(endless, duration_s=None, on_progress=ignore, should_stop=never, timeout=1)
    assert time.monotonic() - started < 3.5
    assert not _ffmpeg_children()
    assert not dest.exists()


def test_it_refuses_to_render_nothing(talk, tmp_path):
    with pytest.raises(ValueError, match="detected as silence"):
        dest = tmp_path / "nothing.mp4"
        render_cut(talk["video"], dest, [], has_video=True, loudnorm_lufs=None, on_progress=ignore, should_stop=never)


# --- silence removal ------------------------------------------------------------


def test_it_finds_the_pauses(talk):
    silences = detect_silences(
        talk["video"], threshold_db=-40, min_silence_s=1.0, duration_s=talk["duration"], on_progress=ignore, should_stop=never
    )
    assert len(silences) == len(talk["gaps"]), silences
    for (start, end), (gap_start, gap_end) in zip(silences, talk["gaps"], strict=True):
        assert start == pytest.approx(gap_start, abs=0.15)
        assert end == pytest.approx(gap_end, abs=0.15)


def test_it_ends_a_trailing_pause_at_the_end_of_the_file(tmp_path):
    clip = tmp_path / "tail.wav"
    run_ffmpeg(["-f", "lavfi", "-i", "sine=frequency=500:duration=2", "-f", "lavfi", "-i", "anullsrc=r=44100:cl=mono",
                "-filter_complex", "[1:a]atrim=0:3[s];[0:a][s]concat=n=2:v=0:a=1", str(clip)])  # fmt: skip
    silences = detect_silences(clip, threshold_db=-40, min_silence_s=1.0, duration_s=5.0, on_progress=ignore, should_stop=never)
    assert len(silences) == 1
    assert silences[0][0] == pytest.approx(2.0, abs=0.1)
    assert silences[0][1] == 5.0


def test_it_cuts_the_pauses_keeping_picture_and_sound_in_sync(talk, tmp_path):
    padding = 0.25
    silences = detect_silences(
        talk["video"], threshold_db=-40, min_silence_s=1.0, duration_s=talk["duration"], on_progress=ignore, should_stop=never
    )
    keep = keep_ranges(silences, talk["duration"], padding_s=padding)
    shares = []
    dest = tmp_path / "cut.mp4"
    result = render_cut(
        talk["video"], dest, keep, has_video=True, loudnorm_lufs=None, on_progress=shares.append, should_stop=never
    )
    expected_removed = sum(end - start - 2 * padding for start, end in talk["gaps"])
    streams = _stream_durations(dest)
    assert talk["duration"] - streams["video"] == pytest.approx(expected_removed, abs=0.5)
    assert result.removed_s == pytest.approx(expected_removed, abs=0.5)
    assert abs(streams["video"] - streams["audio"]) < 0.1, streams
    assert result.duration_s == pytest.approx(streams["video"], abs=0.1)
    assert shares[-1] == 1.0 and shares == sorted(shares)
    # The tone burst plays where map_time says it should.
    assert _tone_onset(dest, BURST_HZ) == pytest.approx(map_time(talk["burst_start"], result.keep), abs=0.05)
    assert _tone_onset(talk["video"], BURST_HZ) == pytest.approx(talk["burst_start"], abs=0.05)  # the measurement itself


@pytest.mark.parametrize("target", [-16.0, -30.0])
def test_it_normalises_loudness_of_an_audio_only_recording(talk, tmp_path, target):
    silences = detect_silences(
        talk["m4a"], threshold_db=-40, min_silence_s=1.0, duration_s=None, on_progress=ignore, should_stop=never
    )
    keep = keep_ranges(silences, media_duration(talk["m4a"]), padding_s=0.25)
    dest = tmp_path / "cut.m4a"
    before = _integrated_loudness(talk["m4a"])
    render_cut(talk["m4a"], dest, keep, has_video=False, loudnorm_lufs=target, on_progress=ignore, should_stop=never)
    with av.open(str(dest)) as container:
        assert [stream.type for stream in container.streams] == ["audio"]
        assert container.streams.audio[0].codec_context.name == "aac"
    assert abs(before - target) > 3, "the source must need normalising for this test to mean anything"
    assert _integrated_loudness(dest) == pytest.approx(target, abs=1.5)


def _ffmpeg_children() -> list[int]:
    """Pids of this process's ffmpeg children (from /proc: psutil is not a dependency)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and command == "ffmpeg":
            children.append(int(entry.name))
    return children


def test_it_stops_a_render_when_asked(tmp_path):
    source = tmp_path / "long.mp4"
    picture = ["-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30"]
    run_ffmpeg([*picture, "-f", "lavfi", "-i", "sine=frequency=300", "-t", "20", *H264_FAST, "-c:a", "aac", str(source)])
    dest = tmp_path / "cut.mp4"
    started = time.monotonic()
    state = {"pids": [], "stopped_at": None}

    def should_stop() -> bool:
        if time.monotonic() - started < 0.5:
            return False
        if state["stopped_at"] is None:
            state["pids"], state["stopped_at"] = _ffmpeg_children(), time.monotonic()
        return True

    with pytest.raises(Cancelled):
        render_cut(source, dest, [(0.0, 8.0), (10.0, 20.0)], has_video=True, loudnorm_lufs=None, preset="slow",
                   on_progress=ignore, should_stop=should_stop)  # fmt: skip
    assert time.monotonic() - state["stopped_at"] < 2.0
    assert state["pids"], "ffmpeg should have been running when the stop was requested"
    for pid in state["pids"]:
        assert not Path(f"/proc/{pid}").exists(), f"ffmpeg {pid} is still there"
    assert not dest.exists()


# --- subtitles ------------------------------------------------------------------

SEGMENTS = [
    {"start": 12.0, "end": 12.4, "text": "Short."},
    {"start": 0.0, "end": 9.0, "text": " ".join(["Subtitles are split at word boundaries into readable cues"] * 3)},
    {"start": 9.0, "end": 11.9, "text": "  "},
    {"start": 13.0, "end": 30.0, "text": "A slow sentence that lasts far too long."},
    {"start": 29.5, "end": 31.0, "text": "Overlapping segment from the recogniser."},
]


def test_it_makes_readable_non_overlapping_cues():
    cues = cues_from_segments(SEGMENTS)
    assert [cue.start for cue in cues] == sorted(cue.start for cue in cues)
    for cue in cues:
        lines = cue.text.split("\n")
        assert 1 <= len(lines) <= 2 and all(0 < len(line) <= 42 for line in lines), cue
        assert cue.end - cue.start <= 7.0 + 1e-9
    for cue, following in itertools.pairwise(cues):
        assert cue.end <= following.start - 0.05 + 1e-9, (cue, following)
    words = " ".join(cue.text.replace("\n", " ") for cue in cues).split()
    expected = " ".join(segment["text"] for segment in sorted(SEGMENTS, key=lambda s: s["start"])).split()
    assert words == expected  # nothing lost, nothing reordered; the blank segment is gone
    long_one = [cue for cue in cues if cue.start < 9.0]
    assert len(long_one) >= 3  # 177 characters do not fit one screen
    assert long_one[0].start == 0.0
    # The last piece holds few characters: its share of the time is stretched towards min_s.
    assert long_one[-1].end == pytest.approx(max(9.0, long_one[-1].start + 1.0))
    short = next(cue for cue in cues if cue.text == "Short.")
    assert short.end - short.start == pytest.approx(0.95)  # stretched towards 1 s, stopped by the next cue
    slow = next(cue for cue in cues if cue.text.startswith("A slow"))
    assert slow.end - slow.start == pytest.approx(7.0)


def test_it_writes_srt_and_vtt():
    cues = [Cue(1.5, 3.25, "First line\nsecond line"), Cue(3661.001, 3662.0, "An hour <later> & more")]
    assert to_srt(cues) == (
        "1\n00:00:01,500 --> 00:00:03,250\nFirst line\nsecond line\n\n2\n01:01:01,001 --> 01:01:02,000\nAn hour <later> & more\n"
    )
    assert to_vtt(cues) == (
        "WEBVTT\n\n00:00:01.500 --> 00:00:03.250\nFirst line\nsecond line\n\n"
        "01:01:01.001 --> 01:01:02.000\nAn hour &lt;later&gt; &amp; more\n"
    )


def _frame(path: Path, at: float) -> np.ndarray:
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time >= at:
                return frame.to_ndarray(format="gray").astype(float)
    raise AssertionError(f"no frame at {at} s in {path}")


def test_it_burns_subtitles_into_the_picture(tmp_path):
    source = tmp_path / "plain.mp4"
    picture = ["-f", "lavfi", "-i", "color=c=0x336699:size=320x240:rate=25"]
    run_ffmpeg([*picture, "-f", "lavfi", "-i", "sine=frequency=440", "-t", "4", *H264_FAST, "-c:a", "aac", str(source)])
    srt = tmp_path / "it's: a, [test];.srt"  # every character the filter graph would misread
    srt.write_text(to_srt([Cue(1.0, 3.0, "HELLO SUBTITLES\nsecond line")]), encoding="utf-8")
    dest = tmp_path / "burned.mp4"
    shares = []
    render_burned(source, srt, dest, on_progress=shares.append, should_stop=never, duration_s=4.0)
    assert shares[-1] == 1.0
    bottom = slice(160, 240)
    during = np.abs(_frame(dest, 2.0) - _frame(source, 2.0))
    before = np.abs(_frame(dest, 0.5) - _frame(source, 0.5))
    assert during[bottom].mean() > 5 * max(before[bottom].mean(), 0.5)
    assert during[:100].mean() < 2  # only the subtitle area changes
    with av.open(str(dest)) as container:
        assert container.streams.audio[0].codec_context.name == "aac"


def test_it_extracts_speech_audio_for_transcription(talk, tmp_path):
    dest = tmp_path / "speech.wav"
    extract_audio(talk["video"], dest, on_progress=ignore, should_stop=never, duration_s=talk["duration"])
    with av.open(str(dest)) as container:
        stream = container.streams.audio[0]
        assert (stream.codec_context.name, stream.rate, stream.channels) == ("pcm_s16le", 16000, 1)
    assert media_duration(dest) == pytest.approx(talk["duration"], abs=0.1)
