"""Transcription: real speech (espeak-ng) through the OpenAI-compatible API emulator — segment times
where the speech is, chunked and stitched without doubling, chunks in flight at once, retries and
the errors an operator can act on; the local engine's setup errors; which engine the settings pick."""

import socket
import threading
import wave

import numpy as np
import pytest

from studio.transcription import (
    ApiTranscriber,
    LocalWhisperTranscriber,
    Segment,
    Stopped,
    TranscriptionError,
    WavInfo,
    plan_chunks,
    stitch,
    transcriber_from_settings,
    wav_slice,
)
from tests.emulators.openai import OpenAIEmulator

from .speech import speech_wav, write_wav

PHRASES = ["hello world", "good morning", "thank you"]


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    path = tmp_path_factory.mktemp("speech") / "speech.wav"
    placed = speech_wav(path, PHRASES, lead_s=0.5, gap_s=2.5, tail_s=1.0)
    return path, placed


@pytest.fixture
def api(speech):
    path, placed = speech
    with OpenAIEmulator() as emulator:
        # Each phrase's text is given at its middle on the whole recording's timeline.
        emulator.script_by_time = [((start + end) / 2, text) for start, end, text in placed]
        emulator.set_reference(path)
        yield emulator


def transcriber(api, **options) -> ApiTranscriber:
    options = {"chunk_s": 600, "overlap_s": 5, "concurrency": 1, "backoff_s": 0.01, **options}
    return ApiTranscriber(api.url + "/v1", api.api_key, options.pop("model", "whisper-1"), **options)


def run(transcriber, wav, language="en", should_stop=lambda: False):
    progress = []
    result = transcriber.transcribe(wav, language=language, on_chunk=lambda *p: progress.append(p), should_stop=should_stop)
    return result, progress


def test_it_finds_the_speech_where_it_is(api, speech):
    path, placed = speech
    result, progress = run(transcriber(api), path)
    assert [s.text for s in result.segments] == PHRASES
    for segment, (start, end, _) in zip(result.segments, placed, strict=True):
        assert segment.start == pytest.approx(start, abs=0.3)
        assert segment.end == pytest.approx(end, abs=0.3)
    assert result.language == "en"
    with wave.open(str(path)) as reader:
        assert result.duration_s == pytest.approx(reader.getnframes() / 16000, abs=0.01)
    assert progress == [(1, 1)]
    assert result.text == "hello world good morning thank you"
    assert result.as_json()[0] == {"start": result.segments[0].start, "end": result.segments[0].end, "text": "hello world"}
    (call,) = api.transcription_calls
    assert call.headers["Authorization"] == f"Bearer {api.api_key}"
    assert call.form["model"] == ["whisper-1"]
    assert call.form["response_format"] == ["verbose_json"]
    assert call.form["timestamp_granularities[]"] == ["segment"]
    assert call.form["language"] == ["en"]
    filename, ctype, body = call.files["file"]
    assert filename.endswith(".wav") and ctype == "audio/wav" and body[:4] == b"RIFF"


def test_it_detects_the_language_when_none_is_given(api, speech):
    result, _ = run(transcriber(api), speech[0], language="auto")
    assert "language" not in api.transcription_calls[0].form
    assert result.language == "en"  # whisper says "english"


def test_it_chunks_and_stitches_to_the_same_segments_as_one_chunk(api, speech):
    path = speech[0]
    whole, _ = run(transcriber(api), path)
    chunked, progress = run(transcriber(api, chunk_s=4, overlap_s=1, concurrency=2), path)
    plan = plan_chunks(whole.duration_s, chunk_s=4, overlap_s=1)
    assert len(plan) == 3
    assert len(api.transcription_calls) == 1 + len(plan)
    assert [p[1] for p in progress] == [3, 3, 3] and sorted(p[0] for p in progress) == [1, 2, 3]
    assert [s.text for s in chunked.segments] == PHRASES  # nothing doubled, nothing lost
    for one, many in zip(whole.segments, chunked.segments, strict=True):
        assert many.start == pytest.approx(one.start, abs=0.05)
        assert many.end == pytest.approx(one.end, abs=0.05)
    # Every chunk is a WAV of at most 4 s: 16 kHz × 2 bytes × 4 s + the header.
    assert all(len(c.files["file"][2]) <= 4 * 32000 + 44 for c in api.transcription_calls[1:])


def test_it_keeps_several_chunks_in_flight(api, speech):
    api.delay_s = 0.3
    run(transcriber(api, chunk_s=2, overlap_s=0.5, concurrency=3), speech[0])
    assert 2 <= api.in_flight_max <= 3
    api.in_flight_max = 0
    run(transcriber(api, chunk_s=2, overlap_s=0.5, concurrency=1), speech[0])
    assert api.in_flight_max == 1


def test_it_stops_between_chunks(api, speech):
    api.delay_s = 0.1
    stop = threading.Event()
    chunker = transcriber(api, chunk_s=2, overlap_s=0.5, concurrency=1)
    with pytest.raises(Stopped):
        chunker.transcribe(speech[0], language="en", on_chunk=lambda done, total: stop.set(), should_stop=stop.is_set)
    total = len(plan_chunks(8.6, chunk_s=2, overlap_s=0.5))
    assert 1 <= len(api.transcription_calls) < total


def test_it_refuses_a_wrong_key_without_retrying(api, speech):
    chunker = ApiTranscriber(api.url + "/v1", "sk-wrong", "whisper-1", backoff_s=0.01)
    with pytest.raises(TranscriptionError) as caught:
        run(chunker, speech[0])
    assert not caught.value.retryable
    assert "TRANSCRIPTION_API_KEY" in caught.value.message and "Incorrect API key" in caught.value.message
    assert len(api.transcription_calls) == 1


def test_it_retries_a_rate_limit_and_a_server_error(api, speech):
    api.retry_after = "0.2"
    api.fail_next(429)
    api.fail_next(500)
    result, _ = run(transcriber(api), speech[0])
    assert [s.text for s in result.segments] == PHRASES
    assert len(api.transcription_calls) == 3


def test_it_gives_up_on_a_lasting_rate_limit_as_retryable(api, speech):
    api.retry_after = "0.1"
    api.fail_next(429, times=3)
    with pytest.raises(TranscriptionError) as caught:
        run(transcriber(api), speech[0])
    assert caught.value.retryable and caught.value.retry_after == pytest.approx(0.1)
    assert "TRANSCRIPTION_CONCURRENCY" in caught.value.message
    assert len(api.transcription_calls) == 3


def test_it_says_a_used_up_quota_is_not_retryable(api, speech):
    api.fail_next("insufficient_quota")
    with pytest.raises(TranscriptionError) as caught:
        run(transcriber(api), speech[0])
    assert not caught.value.retryable and "quota" in caught.value.message
    assert len(api.transcription_calls) == 1


def test_it_explains_a_chunk_too_large(api, speech):
    api.max_bytes = 50_000  # a 4 s chunk is 128 kB
    with pytest.raises(TranscriptionError) as caught:
        run(transcriber(api, chunk_s=4, overlap_s=1), speech[0])
    assert not caught.value.retryable
    assert "TRANSCRIPTION_CHUNK_SECONDS" in caught.value.message and "Maximum content size" in caught.value.message


def test_it_retries_an_unreachable_service_then_says_so(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    chunker = ApiTranscriber(f"http://127.0.0.1:{port}/v1", "sk", "whisper-1", backoff_s=0.01, timeout_s=2)
    path = write_wav(tmp_path / "silence.wav", np.zeros(16000))
    with pytest.raises(TranscriptionError) as caught:
        run(chunker, path)
    assert caught.value.retryable and "TRANSCRIPTION_BASE_URL" in caught.value.message


def test_it_takes_one_segment_per_chunk_from_a_json_only_model(api, speech):
    result, _ = run(transcriber(api, model="gpt-4o-transcribe", chunk_s=4, overlap_s=1), speech[0])
    calls = api.transcription_calls
    assert all(c.form["response_format"] == ["json"] and "timestamp_granularities[]" not in c.form for c in calls)
    assert len(result.segments) == len(calls) == 3
    assert [(s.start, s.end) for s in result.segments] == [(0.0, 4.0), (3.0, 7.0), (6.0, pytest.approx(8.587, abs=0.01))]


def test_it_caps_a_chunk_below_the_upload_limit(tmp_path):
    chunker = ApiTranscriber("http://x/v1", "sk", "whisper-1", chunk_s=3600)
    cap = chunker.chunk_length(WavInfo(rate=16000, channels=1, width=2, frames=16000 * 3600))
    assert 700 < cap < 750
    assert ApiTranscriber("http://x/v1", "sk", "whisper-1", chunk_s=600).chunk_length(WavInfo(16000, 1, 2, 1)) == 600
    path = write_wav(tmp_path / "long.wav", np.zeros(16000 * 760))
    assert cap == 749
    assert len(wav_slice(path, 0, cap)) < 24_000_000 < len(wav_slice(path, 0, 760))


def test_it_plans_overlapping_chunks():
    assert plan_chunks(10, chunk_s=4, overlap_s=1) == [(0, 4), (3, 7), (6, 10)]
    assert plan_chunks(3, chunk_s=600, overlap_s=5) == [(0, 3)]
    assert plan_chunks(0, chunk_s=600, overlap_s=5) == []


def test_it_stitches_by_the_middle_of_each_overlap():
    # Chunks [0,4] and [3,7]: the cut is 3.5 s. "b" is heard by both (midpoint 3.25 → the first).
    first = [Segment(0.5, 1.5, " a "), Segment(3.0, 3.5, "b"), Segment(3.8, 4.0, "c-cut")]
    second = [Segment(0.0, 0.5, "b-tail"), Segment(0.8, 1.6, "c"), Segment(2.0, 2.5, " "), Segment(3.0, 3.9, "d")]
    out = stitch([(3.0, 7.0, second), (0.0, 4.0, first)], overlap_s=1)
    assert [(s.start, s.end, s.text) for s in out] == [
        (0.5, 1.5, "a"),
        (3.0, 3.5, "b"),
        (3.8, 4.6, "c"),
        (6.0, 6.9, "d"),
    ]


def test_the_local_engine_says_what_is_missing(tmp_path):
    with pytest.raises(TranscriptionError) as caught:
        LocalWhisperTranscriber(tmp_path).load_model()
    assert "holds no faster-whisper model" in caught.value.message and str(tmp_path) in caught.value.message
    try:
        import faster_whisper  # noqa: F401
    except ImportError:
        (tmp_path / "model.bin").write_bytes(b"not a model")
        with pytest.raises(TranscriptionError) as caught:
            LocalWhisperTranscriber(tmp_path).load_model()
        assert "pip install faster-whisper" in caught.value.message


def test_settings_choose_the_engine(settings, tmp_path):
    settings.TRANSCRIPTION_MODEL_DIR = str(tmp_path)
    local = transcriber_from_settings()
    assert isinstance(local, LocalWhisperTranscriber) and local.model_dir == tmp_path
    settings.TRANSCRIPTION_MODEL_DIR = ""
    settings.TRANSCRIPTION_API_KEY = "sk-transcribe"
    settings.TRANSCRIPTION_BASE_URL = "https://api.fireworks.example/v1/"
    settings.TRANSCRIPTION_MODEL = "whisper-v3"
    remote = transcriber_from_settings()
    assert isinstance(remote, ApiTranscriber)
    assert (remote.base_url, remote.api_key, remote.model) == ("https://api.fireworks.example/v1", "sk-transcribe", "whisper-v3")
    settings.TRANSCRIPTION_API_KEY = ""
    with pytest.raises(TranscriptionError) as caught:
        transcriber_from_settings()
    assert "TRANSCRIPTION_API_KEY" in caught.value.message and "TRANSCRIPTION_MODEL_DIR" in caught.value.message
