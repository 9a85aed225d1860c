"""Speech to timed text for the studio: an OpenAI-compatible transcription API or a local
faster-whisper model, behind one ``Transcriber`` interface and one error type.

The studio hands over a 16 kHz mono 16-bit PCM WAV (it extracts one with ffmpeg). Long audio goes
to the API in chunks — an API takes at most 25 MB per file (OpenAI), a long recording is hours —
cut with the stdlib ``wave`` module (no ffmpeg here), overlapping by a few seconds so no word is
lost at a cut, several chunks in flight at once. The answers are stitched back on one timeline:
each segment belongs to the chunk whose own half of the overlap holds its midpoint, so nothing is
doubled or lost (``stitch``).

The API client is ``requests`` with a hand-built multipart body rather than the ``openai`` SDK:
the same request shape works unchanged with OpenAI (whisper-1), Fireworks and faster-whisper-server,
and we control the retries (429 with Retry-After, 5xx, connection errors), the timeouts and the
error messages ourselves instead of mapping the SDK's. Differences between servers (their docs):

- OpenAI ``whisper-1`` answers ``verbose_json`` with ``segments``; ``gpt-4o-transcribe`` and
  ``gpt-4o-mini-transcribe`` only answer ``json``/``text`` — for those (``JSON_ONLY_MODELS``) we ask
  for ``json`` and each chunk becomes one segment spanning the chunk.
- Fireworks (docs.fireworks.ai/api-reference/audio-transcriptions: ``https://audio-prod.us-virginia-1.
  direct.fireworks.ai/v1`` with ``whisper-v3``, ``audio-turbo…`` with ``whisper-v3-turbo``) takes the same
  form; it names the field ``timestamp_granularities`` and defaults to segments, so the ``[]`` form we
  send (OpenAI's SDK's spelling) changes nothing there. It takes files up to 1 GB: chunks still pay off
  by running in parallel. faster-whisper-server (``http://host:8000/v1``, a model id like
  ``Systran/faster-whisper-small``) reads ``timestamp_granularities[]`` as OpenAI does.
- Whisper names the detected language ("english"); we store ISO 639-1 codes where we know them.

The local engine (``LocalWhisperTranscriber``) needs the optional package ``faster-whisper``
(``pip install faster-whisper`` — not in requirements.txt, it pulls CTranslate2 and is heavy) and a
CTranslate2 model directory in ``TRANSCRIPTION_MODEL_DIR``; it never downloads a model.
"""

from __future__ import annotations

import io
import logging
import time
import wave
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import requests
from django.conf import settings

logger = logging.getLogger(__name__)

# A chunk must stay below OpenAI's 25 MB upload limit with room for the multipart envelope.
MAX_CHUNK_BYTES = 24_000_000
WAV_HEADER_BYTES = 44
# Models that only answer json/text (no segments): OpenAI's GPT-4o transcription models.
JSON_ONLY_MODELS = ("gpt-4o-transcribe", "gpt-4o-mini-transcribe")
# Whisper's language names → ISO 639-1 (the ones a studio meets; unknown names are kept as given).
WHISPER_LANGUAGES = {
    "english": "en", "russian": "ru", "ukrainian": "uk", "belarusian": "be", "kazakh": "kk", "german": "de",
    "french": "fr", "spanish": "es", "italian": "it", "portuguese": "pt", "dutch": "nl", "polish": "pl",
    "czech": "cs", "turkish": "tr", "arabic": "ar", "hebrew": "he", "chinese": "zh", "japanese": "ja",
    "korean": "ko", "hindi": "hi", "swedish": "sv", "finnish": "fi", "norwegian": "no", "danish": "da",
    "greek": "el", "romanian": "ro", "hungarian": "hu", "bulgarian": "bg", "serbian": "sr", "croatian": "hr",
    "georgian": "ka", "armenian": "hy", "azerbaijani": "az", "uzbek": "uz", "vietnamese": "vi", "thai": "th",
    "indonesian": "id", "persian": "fa",
}  # fmt: skip


@dataclass
class Segment:
    start: float
    end: float
    text: str


@dataclass
class Transcript:
    language: str
    duration_s: float
    segments: list[Segment] = field(default_factory=list)

    def as_json(self) -> list[dict]:
        """The segments as stored in ``Recording.transcript``."""
        return [{"start": round(s.start, 3), "end": round(s.end, 3), "text": s.text} for s in self.segments]

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments if s.text)


class TranscriptionError(Exception):
    """Transcription failed; ``message`` says what to fix. ``retryable``: trying again later may
    succeed (rate limit, outage), ``retry_after`` the wait the service asked for, when it did."""

    def __init__(self, message: str, *, retryable: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after


class Stopped(Exception):
    """``should_stop()`` turned true: the transcription was abandoned between chunks."""


class Transcriber(ABC):
    name: str = ""

    @abstractmethod
    def transcribe(
        self,
        wav: Path,
        *,
        language: str | None,
        on_chunk: Callable[[int, int], None],
        should_stop: Callable[[], bool],
    ) -> Transcript:
        """Timed text of a 16 kHz mono 16-bit PCM WAV; ``language`` None or "auto" = detect."""


def normalise_language(name: str | None) -> str:
    name = (name or "").strip()
    return WHISPER_LANGUAGES.get(name.lower(), name.lower())


def plan_chunks(duration_s: float, *, chunk_s: float, overlap_s: float) -> list[tuple[float, float]]:
    """(start, end) of each chunk: ``chunk_s`` long, each starting ``chunk_s - overlap_s`` after the
    previous one, the last ending at ``duration_s``. One chunk when the audio fits in one."""
    if duration_s <= 0:
        return []
    if chunk_s <= 0:
        raise ValueError("chunk_s must be positive")
    overlap_s = max(0.0, min(overlap_s, chunk_s / 2))
    step = chunk_s - overlap_s
    chunks = []
    start = 0.0
    while True:
        end = min(start + chunk_s, duration_s)
        chunks.append((round(start, 6), round(end, 6)))
        if end >= duration_s:
            return chunks
        start += step


def stitch(chunks: list[tuple[float, float, list[Segment]]], *, overlap_s: float) -> list[Segment]:
    """One timeline from per-chunk segments (times relative to their chunk).

    Times are shifted by the chunk's start. Where chunks overlap, the cut is the middle of the
    overlap: a segment is kept only by the chunk whose own side of the cut holds its midpoint, so a
    phrase both chunks heard appears once. ``overlap_s`` is the planned overlap; the actual one is
    read from the chunks' bounds (the last chunk may be shorter)."""
    ordered = sorted(chunks, key=lambda c: c[0])
    out: list[Segment] = []
    for i, (start, end, segments) in enumerate(ordered):
        own_from = float("-inf") if i == 0 else _cut(ordered[i - 1][1], start, overlap_s)
        own_to = float("inf") if i == len(ordered) - 1 else _cut(end, ordered[i + 1][0], overlap_s)
        for seg in segments:
            text = (seg.text or "").strip()
            if not text:
                continue
            seg_start = start + max(0.0, seg.start)
            seg_end = min(start + max(seg.end, seg.start), end)
            middle = (seg_start + seg_end) / 2
            if own_from <= middle < own_to:
                out.append(Segment(round(seg_start, 3), round(max(seg_end, seg_start), 3), text))
    out.sort(key=lambda s: (s.start, s.end))
    return out


def _cut(previous_end: float, next_start: float, overlap_s: float) -> float:
    """The middle of the overlap between a chunk ending at ``previous_end`` and the next one."""
    return (next_start + min(previous_end, next_start + overlap_s)) / 2


@dataclass
class WavInfo:
    rate: int
    channels: int
    width: int
    frames: int

    @property
    def duration_s(self) -> float:
        return self.frames / self.rate if self.rate else 0.0

    @property
    def bytes_per_second(self) -> int:
        return self.rate * self.channels * self.width


def wav_info(wav: Path) -> WavInfo:
    try:
        with wave.open(str(wav), "rb") as reader:
            return WavInfo(reader.getframerate(), reader.getnchannels(), reader.getsampwidth(), reader.getnframes())
    except (OSError, EOFError, wave.Error) as exc:
        raise TranscriptionError(
            f"The audio {wav.name} is not a readable PCM WAV ({exc}): extract it as 16 kHz mono 16-bit WAV."
        ) from exc


def wav_slice(wav: Path, start_s: float, end_s: float) -> bytes:
    """Bytes of a WAV file holding ``[start_s, end_s)`` of ``wav`` (same format)."""
    with wave.open(str(wav), "rb") as reader:
        rate = reader.getframerate()
        first = min(round(start_s * rate), reader.getnframes())
        last = min(round(end_s * rate), reader.getnframes())
        reader.setpos(first)
        frames = reader.readframes(last - first)
        params = reader.getparams()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setparams(params)
        writer.writeframes(frames)
    return buffer.getvalue()


def _retry_after(response: requests.Response) -> float | None:
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = response.headers.get(name)
        if value:
            try:
                return max(0.0, float(value) / scale)
            except ValueError:
                continue
    return None


def _service_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300].strip()
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or "")[:300]
    if isinstance(body, dict) and body.get("detail"):  # faster-whisper-server (FastAPI)
        return str(body["detail"])[:300]
    return str(body)[:300]


class ApiTranscriber(Transcriber):
    """``POST {base_url}/audio/transcriptions`` per chunk (OpenAI's multipart shape)."""

    name = "api"

    def __init__(
        self,
        base_url: str,
        api_key: str,
        model: str,
        *,
        chunk_s: float | None = None,
        overlap_s: float | None = None,
        concurrency: int | None = None,
        timeout_s: float | None = None,
        tries: int = 3,
        backoff_s: float = 1.0,
        max_wait_s: float = 60.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.model = model
        self.chunk_s = chunk_s if chunk_s is not None else settings.TRANSCRIPTION_CHUNK_SECONDS
        self.overlap_s = overlap_s if overlap_s is not None else settings.TRANSCRIPTION_OVERLAP_SECONDS
        self.concurrency = max(1, concurrency if concurrency is not None else settings.TRANSCRIPTION_CONCURRENCY)
        self.timeout_s = timeout_s if timeout_s is not None else settings.TRANSCRIPTION_TIMEOUT_SECONDS
        self.tries = max(1, tries)
        self.backoff_s = backoff_s
        self.max_wait_s = max_wait_s

    @property
    def json_only(self) -> bool:
        return self.model.startswith(JSON_ONLY_MODELS)

    def chunk_length(self, info: WavInfo) -> float:
        """The configured chunk length, capped so a chunk's WAV stays under ``MAX_CHUNK_BYTES``."""
        cap = float((MAX_CHUNK_BYTES - WAV_HEADER_BYTES) // info.bytes_per_second)  # whole seconds
        return min(self.chunk_s, cap)

    def transcribe(self, wav, *, language, on_chunk, should_stop) -> Transcript:
        wav = Path(wav)
        info = wav_info(wav)
        language = None if not language or language == "auto" else language
        chunk_s = self.chunk_length(info)
        plan = plan_chunks(info.duration_s, chunk_s=chunk_s, overlap_s=self.overlap_s)
        if not plan:
            return Transcript(language or "", 0.0, [])
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.api_key}"
        # Enough pooled connections for every chunk in flight (requests keeps 10 by default).
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=max(10, self.concurrency))
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        results: dict[int, tuple[float, float, list[Segment], str]] = {}
        executor = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="transcribe")
        pending: set[Future] = set()
        try:
            futures = {executor.submit(self._chunk, session, wav, start, end, language): n for n, (start, end) in enumerate(plan)}
            pending = set(futures)
            while pending:
                if should_stop():
                    raise Stopped()
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in done:
                    n = futures[future]
                    segments, detected = future.result()  # a TranscriptionError ends the whole run
                    results[n] = (plan[n][0], plan[n][1], segments, detected)
                    on_chunk(len(results), len(plan))
            if should_stop():
                raise Stopped()
        finally:
            for future in pending:
                future.cancel()
            executor.shutdown(wait=False, cancel_futures=True)
            session.close()
        segments = stitch([(s, e, segs) for s, e, segs, _ in results.values()], overlap_s=self.overlap_s)
        detected = Counter(lang for *_, lang in results.values() if lang).most_common(1)
        return Transcript(language or (detected[0][0] if detected else ""), round(info.duration_s, 3), segments)

    def _chunk(self, session, wav: Path, start: float, end: float, language: str | None) -> tuple[list[Segment], str]:
        body = wav_slice(wav, start, end)
        data = [("model", self.model), ("response_format", "json" if self.json_only else "verbose_json")]
        if not self.json_only:
            data.append(("timestamp_granularities[]", "segment"))
        if language:
            data.append(("language", language))
        url = f"{self.base_url}/audio/transcriptions"
        for attempt in range(1, self.tries + 1):
            wait_s = self.backoff_s * 2 ** (attempt - 1)
            try:
                response = session.post(
                    url, data=data, files={"file": (f"chunk-{start:.0f}.wav", body, "audio/wav")}, timeout=self.timeout_s
                )
            except requests.RequestException as exc:
                error = TranscriptionError(
                    f"The transcription service at {self.base_url} cannot be reached ({type(exc).__name__}): "
                    "check TRANSCRIPTION_BASE_URL and the network.",
                    retryable=True,
                )
            else:
                if response.status_code == 200:
                    return self._segments(response, end - start), normalise_language(self._language(response))
                error = self._error(response, start, end)
                if error.retry_after is not None:
                    wait_s = error.retry_after
            if not error.retryable or attempt == self.tries:
                raise error
            logger.info("transcription chunk at %.0f s: %s — retry %d in %.1f s", start, error.message, attempt, wait_s)
            time.sleep(min(wait_s, self.max_wait_s))
        raise AssertionError("unreachable")

    def _error(self, response: requests.Response, start: float, end: float) -> TranscriptionError:
        status = response.status_code
        said = _service_message(response)
        where = f"{self.base_url} (HTTP {status}, chunk {start:.0f}–{end:.0f} s)"
        if status == 401:
            return TranscriptionError(
                f"The transcription service refused the API key at {where}: check TRANSCRIPTION_API_KEY "
                f"(or OPENAI_API_KEY). It said: {said}"
            )
        if status == 413:
            return TranscriptionError(
                f"The transcription service says an audio chunk is too large at {where}: lower "
                f"TRANSCRIPTION_CHUNK_SECONDS. It said: {said}"
            )
        if status == 429:
            if "insufficient_quota" in said or response.headers.get("x-should-retry") == "false":
                return TranscriptionError(
                    f"The transcription account's quota is used up at {where}: check the plan and billing of "
                    f"TRANSCRIPTION_API_KEY. It said: {said}"
                )
            return TranscriptionError(
                f"The transcription service is rate limiting requests at {where}: lower TRANSCRIPTION_CONCURRENCY or try later.",
                retryable=True,
                retry_after=_retry_after(response),
            )
        if status >= 500:
            return TranscriptionError(
                f"The transcription service is failing at {where}; try later. It said: {said}",
                retryable=True,
                retry_after=_retry_after(response),
            )
        if status == 404:
            return TranscriptionError(
                f"The transcription service has no such endpoint or model at {where}: check TRANSCRIPTION_BASE_URL "
                f"(it must end in /v1) and TRANSCRIPTION_MODEL ({self.model!r}). It said: {said}"
            )
        return TranscriptionError(
            f"The transcription service rejected the request at {where}: check TRANSCRIPTION_MODEL ({self.model!r}) "
            f"and the language. It said: {said}"
        )

    @staticmethod
    def _language(response: requests.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return ""
        return str(body.get("language") or "") if isinstance(body, dict) else ""

    def _segments(self, response: requests.Response, length: float) -> list[Segment]:
        try:
            body = response.json()
        except ValueError:
            body = {"text": response.text}  # response_format=text from a server that ignored ours
        if not isinstance(body, dict):
            raise TranscriptionError(f"The transcription service answered in an unexpected shape: {str(body)[:200]}")
        raw = body.get("segments")
        if isinstance(raw, list):
            segments = []
            for item in raw:
                try:
                    segments.append(Segment(float(item["start"]), float(item["end"]), str(item.get("text") or "").strip()))
                except (KeyError, TypeError, ValueError) as exc:
                    raise TranscriptionError(
                        f"The transcription service sent a segment without start/end ({type(exc).__name__}): {str(item)[:200]}"
                    ) from exc
            return segments
        text = str(body.get("text") or "").strip()
        # A json-only model: the chunk's text as one segment spanning the chunk.
        return [Segment(0.0, round(length, 3), text)] if text else []


class LocalWhisperTranscriber(Transcriber):
    """faster-whisper on this machine's CPU (int8). It takes the whole file (the model windows the
    audio itself); ``on_chunk(done, total)`` reports seconds of audio done out of the total."""

    name = "local"

    def __init__(self, model_dir: str | Path | None = None) -> None:
        self.model_dir = Path(model_dir or settings.TRANSCRIPTION_MODEL_DIR)

    def load_model(self):
        folder = self.model_dir
        if not folder.is_dir() or not (folder / "model.bin").is_file():
            raise TranscriptionError(
                f"TRANSCRIPTION_MODEL_DIR ({folder}) holds no faster-whisper model: point it at a CTranslate2 "
                "model directory (model.bin, config.json, tokenizer.json), e.g. a copy of Systran/faster-whisper-small, "
                "or clear it to use the transcription API. Models are never downloaded."
            )
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise TranscriptionError(
                "The local transcription engine needs the optional package faster-whisper: "
                "run `pip install faster-whisper` in the worker's environment, or clear TRANSCRIPTION_MODEL_DIR "
                "to use the transcription API."
            ) from exc
        try:
            return WhisperModel(str(folder), device="cpu", compute_type="int8", local_files_only=True)
        except Exception as exc:  # CTranslate2 raises RuntimeError/ValueError for a broken model
            raise TranscriptionError(f"faster-whisper cannot load the model in {folder}: {exc}") from exc

    def transcribe(self, wav, *, language, on_chunk, should_stop) -> Transcript:
        wav = Path(wav)
        info = wav_info(wav)
        language = None if not language or language == "auto" else language
        model = self.load_model()
        pieces, details = model.transcribe(str(wav), language=language, beam_size=5)
        total = max(1, round(info.duration_s))
        segments = []
        for piece in pieces:  # a generator: the model works as we iterate
            if should_stop():
                raise Stopped()
            if piece.text.strip():
                segments.append(Segment(round(piece.start, 3), round(piece.end, 3), piece.text.strip()))
            on_chunk(min(total, round(piece.end)), total)
        on_chunk(total, total)
        return Transcript(language or details.language or "", round(info.duration_s, 3), segments)


def transcriber_from_settings() -> Transcriber:
    """The local engine when TRANSCRIPTION_MODEL_DIR is set, else the API; an error when neither is set up."""
    if settings.TRANSCRIPTION_MODEL_DIR:
        return LocalWhisperTranscriber(settings.TRANSCRIPTION_MODEL_DIR)
    if not settings.TRANSCRIPTION_API_KEY:
        raise TranscriptionError(
            "Transcription is not configured: set TRANSCRIPTION_API_KEY (or OPENAI_API_KEY) for an OpenAI-compatible "
            "API, or TRANSCRIPTION_MODEL_DIR to a local faster-whisper model directory."
        )
    if not settings.TRANSCRIPTION_BASE_URL:
        raise TranscriptionError("TRANSCRIPTION_BASE_URL is empty: set it to the API's base URL, e.g. https://api.openai.com/v1.")
    return ApiTranscriber(settings.TRANSCRIPTION_BASE_URL, settings.TRANSCRIPTION_API_KEY, settings.TRANSCRIPTION_MODEL)
