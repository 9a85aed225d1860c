"""Loopback OpenAI Chat Completions: POST /v1/chat/completions.

``Authorization: Bearer <key>``; answers are chat.completion objects. The fake
model is deterministic and reads the JSON the app sends as the user message:

- translation (``{"texts", "target", "glossary"}``): every line with words gets
  ``[de] `` in front, glossary terms are replaced by their translation, tags
  (``<x id="0"/>``, ``<br id="1"/>``) are kept verbatim;
- caption (``{"brief", "max_length", "hashtag_min", ...}``): the brief's first
  line as the caption and enough hashtags (the required ones first) to meet the
  minimum — a compliant model;
- Yandex Direct ads (``{"product", "site", "phrases", "ads"}``): ``ads`` ads built
  from the first phrase, within Direct's limits.

- studio topics (``{"want": "topics", "transcript", "duration", "language"}``):
  topic = the transcript's first three words, title = its first line, the
  description = every line, a chapter at every third line (at least 10 s apart).

``reply_next(content)`` queues literal assistant answers (to test repair and
rejection). ``fail_next``: ``401``, ``429`` (rate_limit_exceeded, ``retry-after: 7``;
``retry_after`` on transcriptions), ``"insufficient_quota"`` (429 + ``x-should-retry:
false``), ``500``, ``413`` (transcriptions), ``"drop_tag"``.

POST /v1/audio/transcriptions (multipart/form-data), after OpenAI's API reference
"Create transcription" (platform.openai.com/docs/api-reference/audio/createTranscription)
and the speech-to-text guide (25 MB per file; ``json``, ``text``, ``srt``, ``vtt``,
``verbose_json`` answers; ``timestamp_granularities[]`` ``segment``/``word`` with
verbose_json; the gpt-4o-transcribe models answer json/text only). Fields: ``file``,
``model``, ``language`` (ISO 639-1), ``response_format``. A file over ``max_bytes``
(26,214,400) is refused with 413 as OpenAI does. The fake model decodes WAV only (stdlib
``wave`` + numpy; other formats get 400): speech is where the short-time energy (30 ms
frames) exceeds a tenth of the loudest frame, gaps under 0.4 s are merged, regions under
0.2 s dropped; one segment per region, with its times in this file.

A segment's text: the emulator cannot know where a chunk sits in the whole recording, so
a test that wants to check texts on the whole timeline gives ``reference`` (the whole
WAV, ``set_reference(path)``) and ``script_by_time`` ([(seconds in the whole audio, text)]):
the chunk is found in the reference by its samples, and each region gets the text(s) whose
time falls inside it (±0.3 s; else the nearest). Without a reference a file is taken to
start at 0 s — right for audio sent whole. Without ``script_by_time``, ``script`` texts are
given out in turn; without either, "speech at <start>–<end>". ``delay_s`` holds every
transcription request that long; ``in_flight_max`` is the most requests served at once.
"""

from __future__ import annotations

import io
import json
import re
import time
import wave
from pathlib import Path

import numpy as np

from .base import Emulator, Recorded, Reply

TAG = re.compile(r"<[^>]+>")


def _error(status: int, message: str, type_: str, code: str | None, headers: dict | None = None) -> Reply:
    return Reply(status, {"error": {"message": message, "type": type_, "param": None, "code": code}}, headers or {})


def header(request: Recorded, name: str) -> str | None:
    """A request header, whatever case the client wrote it in (httpx sends lower case)."""
    return next((value for key, value in request.headers.items() if key.lower() == name.lower()), None)


class OpenAIEmulator(Emulator):
    def __init__(self, api_key: str = "sk-test-key") -> None:
        super().__init__()
        self.api_key = api_key
        self._replies: list[str] = []
        # Transcriptions (see the module docstring).
        self.max_bytes = 26_214_400
        self.delay_s = 0.0
        self.retry_after = "7"
        self.script: list[str] = []
        self.script_by_time: list[tuple[float, str]] = []
        self.reference: bytes | None = None  # the whole audio's PCM frames
        self.in_flight = 0
        self.in_flight_max = 0
        self._script_next = 0

    def set_reference(self, path: str | Path) -> None:
        with wave.open(str(path), "rb") as reader:
            self.reference = reader.readframes(reader.getnframes())

    @property
    def transcription_calls(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == "/v1/audio/transcriptions"]

    def reply_next(self, *contents: str | dict) -> None:
        with self.lock:
            self._replies.extend(c if isinstance(c, str) else json.dumps(c, ensure_ascii=False) for c in contents)

    @property
    def completion_calls(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == "/v1/chat/completions"]

    @staticmethod
    def user_payload(request: Recorded, index: int = 0) -> dict:
        """The JSON of the ``index``-th user message of a recorded request."""
        users = [m for m in request.json["messages"] if m["role"] == "user"]
        return json.loads(users[index]["content"])

    def handle(self, request: Recorded) -> Reply:
        if header(request, "Authorization") != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        if request.path == "/v1/audio/transcriptions" and request.method == "POST":
            with self.lock:
                self.in_flight += 1
                self.in_flight_max = max(self.in_flight_max, self.in_flight)
            try:
                if self.delay_s:
                    time.sleep(self.delay_s)
                return self.transcription(request)
            finally:
                with self.lock:
                    self.in_flight -= 1
        if request.path != "/v1/chat/completions" or request.method != "POST":
            return _error(404, "Not found", "invalid_request_error", None)
        failure = self.take_failure()
        if failure == 401:
            return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        if failure == 429:
            return _error(
                429,
                "Rate limit reached for gpt-4o-mini on tokens per min (TPM). Please try again in 7s.",
                "tokens",
                "rate_limit_exceeded",
                {"retry-after": "7"},
            )
        if failure == "insufficient_quota":
            return _error(
                429,
                "You exceeded your current quota, please check your plan and billing details.",
                "insufficient_quota",
                "insufficient_quota",
                {"x-should-retry": "false"},
            )
        if failure == 500:
            return _error(500, "The server had an error while processing your request.", "server_error", None)
        body = request.json or {}
        with self.lock:
            content = self._replies.pop(0) if self._replies else None
        if content is None:
            messages = body.get("messages") or []
            users = [m for m in messages if m.get("role") == "user"]
            payload = json.loads(users[0]["content"])
            if payload.get("want") == "topics":
                answer = self.topics(payload)
            elif "texts" in payload:
                answer = self.translate(payload, failure)
            elif "phrases" in payload:
                answer = self.direct_ads(payload)
            else:
                answer = self.caption(payload)
            content = json.dumps(answer, ensure_ascii=False)
        return Reply(
            200,
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "gpt-4o-mini"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": None},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
            },
        )

    @staticmethod
    def translate(payload: dict, failure) -> dict:
        target = payload["target"].split("-")[0].lower()
        out = []
        for text in payload["texts"]:
            for term, translation in (payload.get("glossary") or {}).items():
                text = re.sub(rf"(?<!\w){re.escape(term)}(?!\w)", translation, text)
            parts = re.split(r'(<br id="\d+"\s*/>)', text)
            text = "".join(
                f"[{target}] {part}" if re.search(r"[^\W\d_]", TAG.sub("", part)) and not part.startswith("<br") else part
                for part in parts
            )
            if failure == "drop_tag":
                text = re.sub(r'<x id="\d+"\s*/>', "", text, count=1)
            out.append(text)
        return {"translations": out}

    @staticmethod
    def caption(payload: dict) -> dict:
        first = (payload.get("brief") or payload.get("title") or "").strip().split("\n")[0]
        first = re.sub(r"(?<![\w#])#\w[\w-]*", "", first).strip()
        tags = list(payload.get("required_hashtags") or [])
        n = 0
        while len(tags) < payload.get("hashtag_min", 0):
            n += 1
            tags.append(f"#tag{'abcdefghij'[n % 10]}{n}")
        tags = tags[: max(payload.get("hashtag_max", 30), len(payload.get("required_hashtags") or []))]
        room = payload.get("max_length", 2200) - len(" ".join(tags)) - 2
        return {"caption": f"[{payload['language']}] {first}"[:room], "hashtags": tags}

    @staticmethod
    def direct_ads(payload: dict) -> dict:
        phrase = (payload.get("phrases") or ["товар"])[0]
        words = phrase.split()
        title1 = ""
        for word in words:
            if len(f"{title1} {word}".strip()) > 50:
                break
            title1 = f"{title1} {word}".strip()
        path = "-".join(re.sub(r"[^\w-]", "", w) for w in words[:2])[:20].strip("-")
        site = (payload.get("site") or "")[:30]
        short = " ".join(words[:3])[:30].capitalize()
        return {
            "ads": [
                {
                    "title1": title1.capitalize(),
                    "title2": f"Вариант {n + 1}",
                    "text": f"{short} на {site}. Заказывайте онлайн!",
                    "display_path": path,
                }
                for n in range(payload.get("ads", 1))
            ]
        }

    @staticmethod
    def topics(payload: dict) -> dict:
        lines = []
        for line in payload["transcript"].splitlines():
            match = re.match(r"\[(?:(\d+):)?(\d+):(\d\d)\]\s*(.*)", line)
            if match:
                hours, minutes, seconds, text = match.groups()
                lines.append((int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds), text.strip()))
        if not lines:
            return {"topic": "", "title": "", "description": "", "chapters": []}
        chapters: list[dict] = []
        for n, (start, text) in enumerate(lines):
            if n % 3 == 0 and (not chapters or start - chapters[-1]["start"] >= 10):
                chapters.append({"start": start, "title": text})
        return {
            "topic": " ".join(lines[0][1].split()[:3]),
            "title": lines[0][1],
            "description": "\n".join(text for _, text in lines),
            "chapters": chapters,
        }

    # --- /v1/audio/transcriptions --------------------------------------------------------

    LANGUAGE_NAMES = {"en": "english", "ru": "russian", "de": "german", "fr": "french", "es": "spanish", "it": "italian"}
    FORMATS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")

    def transcription(self, request: Recorded) -> Reply:
        failure = self.take_failure()
        if failure == 401:
            return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        if failure == 429:
            return _error(
                429,
                "Rate limit reached for whisper-1 on requests per min (RPM). Please try again later.",
                "requests",
                "rate_limit_exceeded",
                {"retry-after": self.retry_after},
            )
        if failure == "insufficient_quota":
            return _error(
                429,
                "You exceeded your current quota, please check your plan and billing details.",
                "insufficient_quota",
                "insufficient_quota",
                {"x-should-retry": "false"},
            )
        if failure == 500:
            return _error(500, "The server had an error while processing your request.", "server_error", None)
        if failure == 413 or len(request.body) > self.max_bytes:
            message = f"Maximum content size limit ({self.max_bytes}) exceeded ({len(request.body)} bytes read)"
            return _error(413, message, "server_error", None)
        if "file" not in request.files:
            return _error(400, "you must provide a file", "invalid_request_error", None)
        if not request.param("model"):
            return _error(400, "you must provide a model parameter", "invalid_request_error", None)
        filename, _ctype, data = request.files["file"]
        extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        if extension not in self.FORMATS:
            return _error(400, f"Invalid file format. Supported formats: {list(self.FORMATS)}", "invalid_request_error", None)
        response_format = request.param("response_format", "json")
        model = request.param("model")
        if model.startswith(("gpt-4o-transcribe", "gpt-4o-mini-transcribe")) and response_format not in ("json", "text"):
            return _error(
                400,
                f"response_format '{response_format}' is not compatible with model '{model}'. Use 'json' or 'text'.",
                "invalid_request_error",
                "unsupported_value",
            )
        try:
            duration, regions = self.speech_regions(data)
        except (wave.Error, EOFError, ValueError) as exc:
            return _error(400, f"Audio file might be corrupted or unsupported ({exc})", "invalid_request_error", None)
        texts = self.region_texts(data, regions)
        segments = [
            {
                "id": n,
                "seek": int(start * 100),
                "start": round(start, 2),
                "end": round(end, 2),
                "text": f" {text}",
                "tokens": [],
                "temperature": 0.0,
                "avg_logprob": -0.25,
                "compression_ratio": 1.2,
                "no_speech_prob": 0.01,
            }
            for n, ((start, end), text) in enumerate(zip(regions, texts, strict=True))
        ]
        full = " ".join(texts)
        if response_format == "text":
            return Reply(200, full + "\n")
        if response_format in ("srt", "vtt"):
            return Reply(200, self.subtitles(segments, response_format))
        if response_format != "verbose_json":
            return Reply(200, {"text": full})
        language = request.param("language") or "en"
        body = {
            "task": "transcribe",
            "language": self.LANGUAGE_NAMES.get(language, language),
            "duration": round(duration, 2),
            "text": full,
            "segments": segments,
        }
        granularities = request.form.get("timestamp_granularities[]") or ["segment"]
        if "word" in granularities:
            body["words"] = [word for seg in segments for word in self.words(seg)]
            if "segment" not in granularities:
                del body["segments"]
        return Reply(200, body)

    @staticmethod
    def speech_regions(data: bytes) -> tuple[float, list[tuple[float, float]]]:
        with wave.open(io.BytesIO(data), "rb") as reader:
            rate, channels, width = reader.getframerate(), reader.getnchannels(), reader.getsampwidth()
            if width != 2:
                raise ValueError("only 16-bit PCM is decoded")
            samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2").astype(np.float64)
        samples = samples.reshape(-1, channels).mean(axis=1)
        duration = len(samples) / rate
        frame = int(rate * 0.03)
        count = len(samples) // frame
        if count == 0:
            return duration, []
        rms = np.sqrt((samples[: count * frame].reshape(count, frame) ** 2).mean(axis=1))
        loud = rms > max(rms.max() / 10, 30.0)
        regions: list[list[float]] = []
        for n in np.flatnonzero(loud):
            start, end = n * 0.03, (n + 1) * 0.03
            if regions and start - regions[-1][1] < 0.4:
                regions[-1][1] = end
            else:
                regions.append([start, end])
        return duration, [(float(start), float(min(end, duration))) for start, end in regions if end - start >= 0.2]

    def region_texts(self, data: bytes, regions: list[tuple[float, float]]) -> list[str]:
        offset = self.offset_in_reference(data)
        texts = []
        for start, end in regions:
            start, end = start + offset, end + offset
            if self.script_by_time:
                inside = [text for at, text in self.script_by_time if start - 0.3 <= at <= end + 0.3]
                if not inside:
                    middle = (start + end) / 2
                    inside = [min(self.script_by_time, key=lambda item: abs(item[0] - middle))[1]]
                texts.append(" ".join(inside))
            elif self.script:
                with self.lock:
                    texts.append(self.script[self._script_next % len(self.script)])
                    self._script_next += 1
            else:
                texts.append(f"speech at {start:.1f}–{end:.1f}")
        return texts

    def offset_in_reference(self, data: bytes) -> float:
        """Where this file's samples start in ``reference`` (seconds); 0 when there is none."""
        if self.reference is None:
            return 0.0
        with wave.open(io.BytesIO(data), "rb") as reader:
            rate, block = reader.getframerate(), reader.getnchannels() * reader.getsampwidth()
            frames = reader.readframes(reader.getnframes())
        at = self.reference.find(frames)
        while at > 0 and at % block:
            at = self.reference.find(frames, at + 1)
        return max(at, 0) / block / rate

    @staticmethod
    def words(segment: dict) -> list[dict]:
        words = segment["text"].split()
        step = (segment["end"] - segment["start"]) / max(1, len(words))
        return [
            {"word": word, "start": round(segment["start"] + n * step, 2), "end": round(segment["start"] + (n + 1) * step, 2)}
            for n, word in enumerate(words)
        ]

    @staticmethod
    def subtitles(segments: list[dict], kind: str) -> str:
        def stamp(seconds: float) -> str:
            ms = round(seconds * 1000)
            text = f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}"
            return f"{text},{ms % 1000:03d}" if kind == "srt" else f"{text}.{ms % 1000:03d}"

        blocks = [
            (f"{n + 1}\n" if kind == "srt" else "") + f"{stamp(s['start'])} --> {stamp(s['end'])}\n{s['text'].strip()}\n"
            for n, s in enumerate(segments)
        ]
        return ("WEBVTT\n\n" if kind == "vtt" else "") + "\n".join(blocks)
