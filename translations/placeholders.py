"""Protect what a translation must not touch, and check it came back intact.

Hashtags, @mentions, URLs, emoji, line breaks, the characters ``& < >`` and
glossary terms become self-closing XML tags — ``<x id="3"/>`` inline,
``<br id="4"/>`` for line breaks — that DeepL (``tag_handling="xml"``) and the
LLM prompt keep verbatim. :func:`restore` puts the originals back and raises
:class:`PlaceholderLost` when a tag is missing, repeated or invented: a caption
with a lost hashtag or link is never posted.
"""

import re
from dataclasses import dataclass

from .exceptions import PlaceholderLost

URL = r"(?:https?://|www\.)[^\s<>\"]+[^\s<>\".,;:!?)\]}'»…]"
MENTION = r"(?<![\w@])@[A-Za-z0-9_](?:[\w.]*\w)?"
HASHTAG = r"(?<![\w#&])#\w[\w-]*"
# Pictographs with their joiners, variation selectors, skin tones and flags, as one run.
EMOJI = (
    r"(?:[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\u2300-\u23FF\u2190-\u21FF\u3030\u303D\u3297\u3299"
    r"\u00A9\u00AE\u203C\u2049\u2122\u2139]"
    r"[\uFE0E\uFE0F\u20E3\U0001F3FB-\U0001F3FF\U000E0020-\U000E007F]*"
    r"(?:\u200D[\U0001F000-\U0001FAFF\u2600-\u27BF\u2640\u2642\u2695][\uFE0F\U0001F3FB-\U0001F3FF]*)*)+"
)
LINE_BREAK = r"[ \t]*(?:\r\n|\r|\n)(?:[ \t]*(?:\r\n|\r|\n))*[ \t]*"
SPECIAL = r"[&<>]"
TOKEN = re.compile(
    "|".join(
        f"(?P<{name}>{rx})"
        for name, rx in [
            ("url", URL),
            ("mention", MENTION),
            ("hashtag", HASHTAG),
            ("emoji", EMOJI),
            ("br", LINE_BREAK),
            ("special", SPECIAL),
        ]
    )
)
TAG = re.compile(r'<(x|br) id="(\d+)"\s*/>')


@dataclass(frozen=True)
class Protected:
    """A text ready for a provider: ``text`` with tags, ``tokens[i]`` what tag ``i`` stands for."""

    text: str
    tokens: tuple[str, ...]


def _term_pattern(terms: dict[str, str]) -> re.Pattern | None:
    if not terms:
        return None
    # Longest first so "Acme Pro" wins over "Acme"; whole words only.
    alternatives = "|".join(re.escape(term) for term in sorted(terms, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


def protect(text: str, terms: dict[str, str] | None = None) -> Protected:
    """Replace protected pieces of ``text`` with tags.

    ``terms`` maps a glossary term to what it must become in the translation
    (itself for brand names); each occurrence becomes a tag restored as that.
    """
    terms = terms or {}
    term_rx = _term_pattern(terms)
    tokens: list[str] = []
    out: list[str] = []

    def tag(kind: str, original: str) -> str:
        tokens.append(original)
        return f'<{kind} id="{len(tokens) - 1}"/>'

    def plain(segment: str) -> str:
        if term_rx is None:
            return segment
        return term_rx.sub(lambda m: tag("x", terms[m.group(0)]), segment)

    position = 0
    for match in TOKEN.finditer(text):
        out.append(plain(text[position : match.start()]))
        out.append(tag("br" if match.lastgroup == "br" else "x", match.group(0)))
        position = match.end()
    out.append(plain(text[position:]))
    return Protected("".join(out), tuple(tokens))


def restore(translated: str, protected: Protected) -> str:
    """The translation with every tag replaced by its original; PlaceholderLost if any is missing or extra."""
    seen = [int(m.group(2)) for m in TAG.finditer(translated)]
    expected = list(range(len(protected.tokens)))
    if sorted(seen) != expected:
        missing = [protected.tokens[i] for i in expected if i not in seen]
        extra = sorted({i for i in seen if seen.count(i) > 1 or i >= len(protected.tokens)})
        shown = ", ".join(repr(t) for t in missing[:5])
        raise PlaceholderLost(
            "The translation lost protected text"
            + (f" ({shown})" if shown else "")
            + (f" and repeated or invented tag(s) {extra}" if extra else "")
            + "; nothing was changed. Edit this language's caption by hand or try again."
        )
    leftover = re.search(r"</?(?:x|br)\b[^>]*>", TAG.sub("", translated))
    if leftover:
        raise PlaceholderLost(f"The translation came back with a damaged tag {leftover.group(0)!r}; edit this caption by hand.")
    return TAG.sub(lambda m: protected.tokens[int(m.group(2))], translated)
