"""Yandex Direct's limits for a text ad, and the check every generated or hand-edited ad goes through.

Sources (looked up December 2026):

- Yandex Direct Help, "Technical limitations" — https://yandex.com/support/direct/en/moderation/technical-restrictions
  (ru: …/support/direct/ru/moderation/technical-restrictions): title 56 characters *including* spaces and
  punctuation, at most 22 characters a word; second title 30 characters plus 15 punctuation marks, 22 a word;
  ad text 81 characters plus 15 punctuation marks, 23 a word; display link 20 characters (without the domain).
- Yandex Direct Help, "Title and text" — https://yandex.com/support/direct/en/efficiency/text-and-title (the
  same numbers) and the Direct API blog "Added support for second ad title" (Title2; text up to 81).
- Yandex Direct Help on the display link: letters, digits and the characters ``- № / % #`` only.

"Narrow" characters — ``. , ! : ; "`` (and the typographic quotes) — are not counted in the second title and the
text, up to 15 of them per field; beyond 15 they count like any other character. In the first title every
character counts (the 56 include punctuation).

``check_ad`` returns one :class:`Problem` per broken limit (naming the field and the limit), so the generate
stage can tell the model exactly what to fix and the operator sees why an ad was flagged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NARROW = frozenset('.,!:;"«»„“”')
NARROW_FREE = 15  # narrow characters per field that are not counted (title 2, text)


@dataclass(frozen=True)
class Limit:
    label: str  # how the field is named to the model and to the operator
    length: int
    word: int | None  # longest word
    narrow_free: int  # narrow characters not counted
    required: bool


LIMITS: dict[str, Limit] = {
    "title1": Limit("Title 1", 56, 22, 0, True),
    "title2": Limit("Title 2", 30, 22, NARROW_FREE, False),
    "text": Limit("Text", 81, 23, NARROW_FREE, True),
    "display_path": Limit("Display link", 20, None, 0, False),
}
FIELDS = tuple(LIMITS)
# Letters (any script), digits, and - № / % # — nothing else, not even a space.
DISPLAY_PATH = re.compile(r"^(?:[^\W_]|[-№/%#])*$")


@dataclass(frozen=True)
class Problem:
    field: str
    message: str

    def as_dict(self) -> dict:
        return {"field": self.field, "message": self.message}


def counted_length(value: str, limit: Limit) -> int:
    """The length Direct counts: every character, less up to ``narrow_free`` narrow ones."""
    narrow = sum(1 for char in value if char in NARROW)
    return len(value) - min(narrow, limit.narrow_free)


def _words(value: str) -> list[str]:
    return re.findall(r"[^\s]+", value)


def check_field(field: str, value: str) -> list[Problem]:
    limit = LIMITS[field]
    value = value or ""
    problems: list[Problem] = []
    if not value.strip():
        if limit.required:
            problems.append(Problem(field, f"{limit.label} is empty; it is required."))
        return problems
    length = counted_length(value, limit)
    if length > limit.length:
        extra = f' (up to {limit.narrow_free} of . , ! : ; " are not counted)' if limit.narrow_free else ""
        problems.append(Problem(field, f"{limit.label} has {length} characters; Direct allows {limit.length}{extra}."))
    if limit.word is not None:
        long_words = [w for w in _words(value) if len(w.strip('.,!:;"«»„“”()')) > limit.word]
        if long_words:
            problems.append(Problem(field, f"{limit.label}: the word «{long_words[0]}» is longer than {limit.word} characters."))
    if field == "display_path" and not DISPLAY_PATH.match(value):
        problems.append(Problem(field, f"{limit.label} may hold only letters, digits and - № / % # (no spaces or dots)."))
    return problems


def check_ad(fields: dict[str, str]) -> list[Problem]:
    """Every limit the ad (``title1``, ``title2``, ``text``, ``display_path``) breaks; [] = valid."""
    problems: list[Problem] = []
    for field in FIELDS:
        problems.extend(check_field(field, fields.get(field) or ""))
    return problems


def trim_at_word(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters at a word boundary, without trailing punctuation
    that dangles (a comma, a dash); the text itself when it fits. A single word longer than the limit
    gives "" (cutting inside a word makes a typo, which moderation rejects)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit + 1]
    space = cut.rfind(" ")
    if space <= 0:
        return ""
    return text[:space].rstrip(" ,;:-–—")


def trim_ad(fields: dict[str, str]) -> dict[str, str] | None:
    """The ad with its over-long fields trimmed at a word boundary, when that makes it valid; None when
    trimming cannot help (a long word, a bad display link, an empty required field)."""
    trimmed = dict(fields)
    for field in FIELDS:
        value = trimmed.get(field) or ""
        limit = LIMITS[field]
        if field != "display_path" and counted_length(value, limit) > limit.length:
            # The longest cut whose *counted* length fits (free narrow characters let it exceed the limit).
            candidate = next(
                (
                    cut
                    for allowed in range(len(value), limit.length - 1, -1)
                    if counted_length(cut := trim_at_word(value, allowed), limit) <= limit.length
                ),
                "",
            )
            if not candidate:
                return None  # one word longer than the field: cutting it would make a typo
            trimmed[field] = candidate
    return trimmed if not check_ad(trimmed) else None
