"""Keyword phrase text: normalising, lemmatising and minus-word matching (pure functions, no models).

What the clean stage and the clusterer agree on:

- ``normalise`` turns a phrase as Wordstat or an operator wrote it into plain words: lower case,
  ё → е, Wordstat/Direct operators (``+ ! " [ ] ( ) |``) and punctuation removed, an inline minus
  word (``платье -бесплатно``: the ``-`` operator excludes a word, it is not part of the phrase)
  dropped, hyphenated words split (``интернет-магазин`` → ``интернет магазин``, as Direct counts
  them), whitespace collapsed. Operators as documented for Wordstat:
  https://yandex.ru/support2/wordstat/ru/content/operators.md
- ``lemmas`` lemmatises Russian words with pymorphy3 (its most likely parse); Latin words and
  numbers stay as they are.
- ``lemma_key`` is the sorted set of *significant* lemmas, so word order and word form do not
  matter: "купить платье льняное", "льняное платье купить" and "купить льняные платья" share one key.
  Function words (prepositions, conjunctions, particles, interjections) are left out of the key,
  as Wordstat and Direct ignore these stop words unless fixed with ``+`` — except the negations
  "без", "не", "ни", which change the meaning ("шины без шипов" is not "шины с шипами").
- Minus words match by lemma, i.e. every form of the same word, as Direct's minus words do
  ("доставка -цветы" also excludes "доставка цветов"): "бесплатно" drops "платье бесплатно", and
  "бесплатный" drops "бесплатные платья", but "бесплатно" does not drop "бесплатный" — a different
  word (adverb vs adjective), not a form; list both when both are unwanted. ``!слово`` matches that
  exact form only. A minus entry of several words (a minus phrase, "своими руками") drops a phrase
  only when all its words are in it; "-бесплатно -даром" on one line is two minus words.
- ``clean_phrases`` puts it together. Duplicates are phrases with the same lemma key; they merge into
  the most frequent surface form with frequency = the **max** of theirs, not the sum: Wordstat's
  number for a phrase is a broad-match count (every form and order of its words, and longer
  queries containing them), so "купить платье льняное" and "льняное платье купить" count the same
  searches and summing would double them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache, lru_cache

# Word characters we keep: Cyrillic and Latin letters and digits; everything else separates words.
_WORD = re.compile(r"[0-9a-zа-я]+")
# An inline minus word: "-" at the start of a word (after a space or the start), e.g. "платье -бесплатно".
_INLINE_MINUS = re.compile(r"(?:^|\s)-\S+")
STOP_POS = frozenset({"PREP", "CONJ", "PRCL", "INTJ"})
SIGNIFICANT_STOP_WORDS = frozenset({"без", "не", "ни"})


@cache
def morph():
    """The process's one pymorphy3 analyser (loading its dictionaries takes a noticeable moment)."""
    import pymorphy3

    return pymorphy3.MorphAnalyzer(lang="ru")


def _fold(text: str) -> str:
    return text.lower().replace("ё", "е")


def normalise(phrase: str) -> str:
    """The phrase as plain lower-case words separated by single spaces ("" when nothing is left)."""
    text = _INLINE_MINUS.sub(" ", _fold(phrase))
    return " ".join(_WORD.findall(text))


def tokens(phrase: str) -> list[str]:
    """The words of the normalised phrase, in order."""
    return normalise(phrase).split()


@lru_cache(maxsize=200_000)
def _parse(word: str) -> tuple[str, bool]:
    """(lemma, is a stop word) of one normalised word; Latin words and numbers are their own lemma."""
    if not re.search("[а-я]", word):
        return word, False
    parsed = morph().parse(word)[0]
    lemma = _fold(parsed.normal_form)
    stop = parsed.tag.POS in STOP_POS and lemma not in SIGNIFICANT_STOP_WORDS
    return lemma, stop


def lemma(word: str) -> str:
    """The lemma of one normalised word."""
    return _parse(word)[0]


def lemmas(phrase: str) -> list[str]:
    """The lemma of every word of the phrase, in order (stop words included)."""
    return [lemma(word) for word in tokens(phrase)]


def significant_lemmas(phrase: str) -> list[str]:
    """The lemmas without stop words, in order; all of them when the phrase has nothing else."""
    words = tokens(phrase)
    found = [_parse(word)[0] for word in words if not _parse(word)[1]]
    return found or [lemma(word) for word in words]


def lemma_key(phrase: str) -> str:
    """Word-order and word-form independent key: the sorted distinct significant lemmas."""
    return " ".join(sorted(set(significant_lemmas(phrase))))


@dataclass(frozen=True)
class MinusWord:
    """One minus entry: the words (lemmas, or exact forms for ``!`` words) that must all be present."""

    source: str
    lemmas: frozenset[str]
    exact: frozenset[str]

    def matches(self, phrase_words: set[str], phrase_lemmas: set[str]) -> bool:
        return self.lemmas <= phrase_lemmas and self.exact <= phrase_words


def parse_minus_words(entries: list[str]) -> list[MinusWord]:
    """The campaign's minus words as matchers; an entry may start with "-" (several "-word"s on one
    line are separate minus words), a word with "!"; empty entries are skipped."""
    parsed = []
    # "-бесплатно -даром" on one line is two minus words, as Direct reads it: split before each "-word".
    split = [part for entry in entries for part in re.split(r"\s+(?=-)", entry.strip())]
    for entry in split:
        text = _fold(entry).strip().lstrip("-")
        words_lemmas: set[str] = set()
        exact: set[str] = set()
        for raw in text.split():
            words = _WORD.findall(raw)
            if raw.startswith("!"):
                exact.update(words)
            else:
                words_lemmas.update(lemma(word) for word in words)
        if words_lemmas or exact:
            parsed.append(MinusWord(source=entry.strip(), lemmas=frozenset(words_lemmas), exact=frozenset(exact)))
    return parsed


def minus_word_in(phrase: str, minus_words: list[MinusWord]) -> MinusWord | None:
    """The first minus entry the phrase contains (by lemma, or by exact form for ``!`` words), or None."""
    if not minus_words:
        return None
    words = tokens(phrase)
    word_set, lemma_set = set(words), {lemma(word) for word in words}
    return next((minus for minus in minus_words if minus.matches(word_set, lemma_set)), None)


@dataclass
class CleanPhrase:
    phrase: str  # normalised surface form (the most frequent of its variants)
    lemmas: str  # lemma_key(phrase)
    frequency: int
    variants: int = 1  # how many input phrases merged into this one


@dataclass
class CleanResult:
    phrases: list[CleanPhrase] = field(default_factory=list)  # by (−frequency, phrase)
    duplicates: int = 0  # input phrases merged into another (same lemma key)
    dropped_minus: int = 0  # input phrases containing a minus word
    dropped_empty: int = 0  # nothing left after normalising


def clean_phrases(
    pairs: Iterable[tuple[str, int]],
    minus_words: list[str],
    *,
    progress: Callable[[int], None] | None = None,
    every: int = 500,
) -> CleanResult:
    """Normalise (phrase, frequency) pairs, drop empty ones and those with minus words, and merge
    those sharing a lemma key (see the module docstring). ``progress(done)`` is called every
    ``every`` input phrases (the stage reports and checks for cancel there)."""
    minus = parse_minus_words(minus_words)
    result = CleanResult()
    by_key: dict[str, CleanPhrase] = {}
    for done, (raw, frequency) in enumerate(pairs, start=1):
        if progress is not None and done % every == 0:
            progress(done)
        phrase = normalise(raw)
        if not phrase:
            result.dropped_empty += 1
            continue
        if minus_word_in(phrase, minus) is not None:
            result.dropped_minus += 1
            continue
        key = lemma_key(phrase)
        frequency = max(0, int(frequency or 0))
        kept = by_key.get(key)
        if kept is None:
            by_key[key] = CleanPhrase(phrase=phrase, lemmas=key, frequency=frequency)
            continue
        result.duplicates += 1
        kept.variants += 1
        if (-frequency, phrase) < (-kept.frequency, kept.phrase):
            kept.phrase = phrase
        kept.frequency = max(kept.frequency, frequency)
    result.phrases = sorted(by_key.values(), key=lambda item: (-item.frequency, item.phrase))
    return result
