"""Topic, title, description and chapters of a recording, written by the LLM from its transcript.

One chat completion in JSON mode through the product's LLM client (OpenAI, the same one that writes
captions and ads). The model gets the timed transcript as compact "[mm:ss] text" lines — sampled
evenly when it would not fit in about 12k tokens, and told so — and answers
``{"topic", "title", "description", "chapters": [{"start", "title"}]}`` in the spoken language.

The answer is checked, not trusted: the title and chapter titles are cut at a word to 100 characters
(YouTube's limit), the description to 5,000; chapters are sorted, kept inside the recording, the first
moved to 0:00 and any closer than 10 s to the previous one merged into it — the rules YouTube applies
before it recognises chapters in a description (``chapters_text``). An answer that is not that JSON at
all is asked for again once with the problem named; then ``TopicsError``. A rate-limited or failing
LLM is retried with backoff, like the campaigns' ad writer (studio cannot import campaigns: siblings).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings

from translations.exceptions import TranslationError, TranslationQuotaExceeded, TranslationRetryLater
from translations.languages import language_name

from .transcription import Transcript

TITLE_MAX = 100
DESCRIPTION_MAX = 5000
TOPIC_MAX = 80
CHAPTER_TITLE_MAX = 100
CHAPTER_MIN_GAP_S = 10
CHAPTERS_MIN = 3  # YouTube ignores chapters when there are fewer
# ~12k tokens of transcript; a token is 3–4 characters of English, fewer of Russian.
TRANSCRIPT_BUDGET_CHARS = 36_000
LINE_MAX_CHARS = 400
# A 429/5xx/outage of the LLM: this many more tries, waiting its retry-after or a doubling backoff.
RETRIES = 3
BACKOFF_SECONDS = 2.0

SYSTEM = (
    "You write the metadata of a video from its transcript. "
    'The user sends JSON {{"want": "topics", "language", "duration", "transcript", "sampled"}}: the transcript is '
    '"[mm:ss] text" lines (times in seconds from the start of the video){sampled}. '
    'Answer with JSON {{"topic": ..., "title": ..., "description": ..., "chapters": [{{"start": seconds, "title": ...}}]}}: '
    "topic — what the video is about in one short phrase (2–6 words); title — at most {title_max} characters, "
    "specific, no clickbait; description — 2–5 sentences summarising the content, at most {description_max} "
    "characters, no timestamps; chapters — where the subject changes, the first at 0, each at least "
    "{gap} seconds after the previous one, titles of at most {chapter_max} characters, 3 to 15 chapters "
    "(none for a video under a minute). Write everything in {language}. Use only what is said in the transcript."
)


@dataclass
class Chapter:
    start: float
    title: str


@dataclass
class Topics:
    title: str
    description: str
    chapters: list[Chapter] = field(default_factory=list)
    topic: str = ""

    def as_json(self) -> dict:
        return {
            "topic": self.topic,
            "title": self.title,
            "description": self.description,
            "chapters": [{"start": c.start, "title": c.title} for c in self.chapters],
        }


class TopicsError(Exception):
    """The LLM gave no usable topics; ``message`` says why, ``retryable`` whether later may work."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


def stamp(seconds: float, *, brackets: bool = False) -> str:
    """0:00, 12:34, 1:02:03 — the form YouTube recognises."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
    return f"[{text}]" if brackets else text


def cut_at_word(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters, cut at a word boundary when there is one."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0]
    if len(cut) > limit or len(cut) < limit // 2:  # no space in a useful place: cut the word
        cut = text[:limit]
    return cut.rstrip(" ,;:-–—")


def _cut_description(text: str) -> str:
    """At most DESCRIPTION_MAX characters, cut at a word; line breaks kept."""
    if len(text) <= DESCRIPTION_MAX:
        return text
    cut = re.split(r"\s+(?=\S*$)", text[: DESCRIPTION_MAX + 1], maxsplit=1)[0]
    return (cut if len(cut) <= DESCRIPTION_MAX else text[:DESCRIPTION_MAX]).rstrip()


def _clean(text: str) -> str:
    # YouTube rejects "<" and ">" in titles and descriptions.
    return str(text).replace("<", "‹").replace(">", "›")


def transcript_lines(transcript: list[dict] | Transcript) -> list[tuple[float, str]]:
    segments = transcript.as_json() if isinstance(transcript, Transcript) else transcript
    lines = []
    for segment in segments or []:
        text = " ".join(str(segment.get("text") or "").split())
        if text:
            lines.append((float(segment.get("start") or 0), text))
    return lines


def compact_transcript(lines: list[tuple[float, str]], *, budget: int = TRANSCRIPT_BUDGET_CHARS) -> tuple[str, int]:
    """ "[mm:ss] text" lines within ``budget`` characters: every n-th line when all do not fit
    (n returned; 1 = complete). Evenly spread, so every part of a long recording is represented."""
    rendered = [f"{stamp(start, brackets=True)} {cut_at_word(text, LINE_MAX_CHARS)}" for start, text in lines]
    every = 1
    while True:
        chosen = rendered[::every]
        if sum(len(line) + 1 for line in chosen) <= budget or len(chosen) <= 1:
            return "\n".join(chosen), every
        every += 1


def topics_messages(lines: list[tuple[float, str]], *, language: str, duration_s: float) -> list[dict]:
    text, every = compact_transcript(lines)
    try:
        spoken = language_name(language) if language and language != "auto" else "the language of the transcript"
    except TranslationError:
        spoken = "the language of the transcript"
    sampled = f" — too long to send whole, so only every {every}th line is shown" if every > 1 else ""
    system = SYSTEM.format(
        sampled=sampled,
        title_max=TITLE_MAX,
        description_max=DESCRIPTION_MAX,
        gap=CHAPTER_MIN_GAP_S,
        chapter_max=CHAPTER_TITLE_MAX,
        language=spoken,
    )
    user = {
        "want": "topics",
        "language": language or "auto",
        "duration": round(duration_s, 1),
        "transcript": text,
        "sampled": every > 1,
    }
    return [{"role": "system", "content": system}, {"role": "user", "content": json.dumps(user, ensure_ascii=False)}]


def normalise_chapters(chapters: list[Chapter], *, duration_s: float | None = None) -> list[Chapter]:
    """Chapters YouTube accepts: titled, inside [0, duration), sorted, the first at 0, each at least
    10 s after the previous one (a closer one is merged into the one before it)."""
    usable = []
    for chapter in chapters:
        title = cut_at_word(_clean(chapter.title), CHAPTER_TITLE_MAX)
        start = chapter.start
        if not title or not isinstance(start, (int, float)) or not math.isfinite(start) or start < 0:
            continue
        if duration_s is not None and duration_s > 0 and start >= duration_s:
            continue
        usable.append(Chapter(round(float(start), 1), title))
    usable.sort(key=lambda c: c.start)
    if not usable:
        return []
    usable[0].start = 0.0
    kept = [usable[0]]
    for chapter in usable[1:]:
        if chapter.start - kept[-1].start >= CHAPTER_MIN_GAP_S:
            kept.append(chapter)
    return kept


def chapters_text(chapters: list[Chapter]) -> str:
    """The chapters as YouTube recognises them in a description ("0:00 Title" lines), or "" when
    fewer than three remain after its rules (YouTube would ignore them)."""
    kept = normalise_chapters(chapters)
    if len(kept) < CHAPTERS_MIN:
        return ""
    return "\n".join(f"{stamp(c.start)} {c.title}" for c in kept)


def parse_topics(answer: str, *, duration_s: float) -> Topics:
    """The model's JSON as checked ``Topics``; ValueError naming what is wrong with an unusable one."""
    try:
        data = json.loads(answer)
    except ValueError as exc:
        raise ValueError(f"The answer is not JSON ({exc}).") from exc
    if not isinstance(data, dict):
        raise ValueError("The answer must be a JSON object.")
    title = cut_at_word(_clean(data.get("title") or ""), TITLE_MAX) if isinstance(data.get("title"), str) else ""
    if not title:
        raise ValueError('"title" must be a non-empty string.')
    raw_chapters = data.get("chapters")
    if raw_chapters is None:
        raw_chapters = []
    if not isinstance(raw_chapters, list):
        raise ValueError('"chapters" must be a list of {"start": seconds, "title": text}.')
    chapters = []
    for item in raw_chapters:
        if not isinstance(item, dict):
            continue
        start = item.get("start")
        if isinstance(start, str):
            start = _seconds(start)
        if isinstance(start, bool) or not isinstance(start, (int, float)):
            continue
        chapters.append(Chapter(float(start), str(item.get("title") or "")))
    description = data.get("description") if isinstance(data.get("description"), str) else ""
    topic = data.get("topic") if isinstance(data.get("topic"), str) else ""
    return Topics(
        title=title,
        description=_cut_description(_clean(description).strip()),
        chapters=normalise_chapters(chapters, duration_s=duration_s),
        topic=cut_at_word(topic, TOPIC_MAX) or cut_at_word(title, TOPIC_MAX),
    )


def _seconds(text: str) -> float | None:
    """ "75", "1:15" or "0:01:15" as seconds; None when it is none of these."""
    parts = text.strip().split(":")
    if not 1 <= len(parts) <= 3 or not all(re.fullmatch(r"\d+(\.\d+)?", p) for p in parts):
        return None
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + float(part)
    return seconds


def default_completer() -> Callable[[list[dict]], str]:
    if not settings.OPENAI_API_KEY:
        raise TopicsError("Topics and chapters need the LLM: set OPENAI_API_KEY (and OPENAI_MODEL if not gpt-4o-mini).")
    from translations.providers.openai import OpenAIProvider

    return OpenAIProvider.from_settings().complete


def _complete(complete: Callable[[list[dict]], str], messages: list[dict]) -> str:
    """One completion; a 429/5xx/outage is retried with backoff, then a retryable TopicsError."""
    retry = 0
    while True:
        try:
            return complete(messages)
        except TranslationRetryLater as exc:
            if retry >= RETRIES:
                raise TopicsError(f"The LLM is still unavailable after {retry + 1} tries: {exc}", retryable=True) from exc
            # Its retry-after when it gave one, else a doubling backoff; never beyond 30 × the base.
            time.sleep(min(max(exc.retry_after or 0, BACKOFF_SECONDS * 2**retry), BACKOFF_SECONDS * 30))
            retry += 1
        except TranslationQuotaExceeded as exc:
            raise TopicsError(str(exc)) from exc
        except TranslationError as exc:
            raise TopicsError(f"The LLM could not write the topics: {exc}") from exc


def extract_topics(
    transcript: list[dict] | Transcript,
    *,
    language: str,
    duration_s: float,
    complete: Callable[[list[dict]], str] | None = None,
) -> Topics:
    """Topic, title, description and chapters of a recording from its timed transcript."""
    lines = transcript_lines(transcript)
    if not lines:
        raise TopicsError("The transcript is empty: there is nothing to take a title or chapters from.")
    complete = complete or default_completer()
    messages = topics_messages(lines, language=language, duration_s=duration_s)
    answer = _complete(complete, messages)
    try:
        return parse_topics(answer, duration_s=duration_s)
    except ValueError as exc:
        problem = str(exc)
    # Once more, with the problem named (as the caption and ad writers do).
    messages = [
        *messages,
        {"role": "assistant", "content": answer},
        {"role": "user", "content": f"{problem} Answer again with exactly the JSON object asked for."},
    ]
    answer = _complete(complete, messages)
    try:
        return parse_topics(answer, duration_s=duration_s)
    except ValueError as exc:
        raise TopicsError(f"The LLM answered twice without usable topics: {exc}") from exc
