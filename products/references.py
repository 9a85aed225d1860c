"""Marketplace references in a message: product links and explicit article tags.

``find_references(text)`` answers every product a text names, in text order, each
once:

* Wildberries links: ``wildberries.ru/catalog/<article>/detail.aspx`` (and the
  .by/.kz/… shops), ``wb.ru/catalog/<article>/…``;
* Ozon links: ``ozon.ru/product/<slug>-<sku>/``, ``ozon.ru/product/<sku>``,
  ``ozon.ru/context/detail/id/<sku>/``. Short links (``ozon.ru/t/<code>``) name
  no article; resolving them means asking Ozon, so they are left out
  (``unresolved_links`` lists them);
* Yandex Market links: ``market.yandex.ru/product--<slug>/<id>``,
  ``market.yandex.ru/product/<id>``, ``market.yandex.ru/card/<slug>/<id>``, or any
  Market link with ``?sku=<sku>`` when its path holds no id;
* tags: ``#art 12345``, ``#арт12345``, ``арт. 12345``, ``артикул: 12345``,
  ``article 12345``, optionally naming the marketplace (``артикул WB 12345``,
  ``#art ozon 12345``, ``арт. ЯМ 12345``); several articles may follow one tag
  (``арт. 12345, 67890``). Without a marketplace a tag means
  PRODUCT_DEFAULT_MARKETPLACE (Wildberries unless configured).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from django.conf import settings

from .facts import Marketplace


@dataclass(frozen=True)
class ProductRef:
    marketplace: str
    article: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "marketplace", str(getattr(self.marketplace, "value", self.marketplace)))

    def as_option(self) -> dict:
        """The shape a post keeps in ``options["product"]``."""
        return {"marketplace": self.marketplace, "article": self.article}


ARTICLE = r"\d{5,13}"
# A link to one of the marketplaces, with or without a scheme; stops at spaces, quotes and closing brackets.
LINK = re.compile(
    r"(?<![\w.@-])(?:https?://)?(?:[\w-]+\.)*(?:wildberries\.[a-z]{2,3}|wb\.ru|ozon\.[a-z]{2,3}|market\.yandex\.[a-z]{2,3})"
    r"(?:/[^\s<>\"'»)\]]*)?",
    re.IGNORECASE,
)
WB_PATH = re.compile(r"^/catalog/(\d+)(?:/|$)")
OZON_PATH = re.compile(r"^/(?:product/(?:[^/]*-)?|context/detail/id/)(\d+)(?:/|$)")
OZON_SHORT_PATH = re.compile(r"^/t/[\w-]+")
MARKET_PATH = re.compile(r"^/(?:product(?:--[^/]*)?|card/[^/]+)/(\d+)(?:/|$)")

MARKETPLACE_WORDS = {
    Marketplace.WILDBERRIES: ("wb", "вб", "wildberries", "вайлдберриз", "вайлдбериз", "валдберис"),
    Marketplace.OZON: ("ozon", "озон"),
    Marketplace.YANDEX_MARKET: ("ym", "ям", "яндекс маркет", "яндекс.маркет", "yandex market", "market", "маркет"),
}
_WORD_TO_MARKETPLACE = {word: mp for mp, words in MARKETPLACE_WORDS.items() for word in words}
_WORDS = "|".join(sorted((re.escape(w).replace(r"\ ", r"\s*") for w in _WORD_TO_MARKETPLACE), key=len, reverse=True))
TAG = re.compile(
    r"(?:#(?:art|article|арт|артикул)_?|(?<![\w#])(?:art\.|article|арт\.?|артикул)(?!\w))"
    rf"\s*(?:\(?(?P<market>{_WORDS})\)?)?\s*[:#№.-]?\s*"
    rf"(?P<articles>{ARTICLE}(?:\s*[,;/]\s*{ARTICLE})*)(?!\d)",
    re.IGNORECASE,
)


def find_references(text: str, *, links: Iterable[str] = (), default_marketplace: str | None = None) -> list[ProductRef]:
    """Every product the text names, in text order, each once; then those of ``links``
    (URLs a message hides behind its words, e.g. Telegram's ``text_link`` entities)."""
    default = default_marketplace or settings.PRODUCT_DEFAULT_MARKETPLACE
    text = text or ""
    found: list[tuple[int, ProductRef]] = []
    for match in LINK.finditer(text):
        ref = _link_reference(match.group(0))
        if ref is not None:
            found.append((match.start(), ref))
    for position, link in enumerate(links, start=len(text) + 1):
        ref = _link_reference(str(link).strip())
        if ref is not None:
            found.append((position, ref))
    for match in TAG.finditer(text):
        word = re.sub(r"\s+", " ", (match.group("market") or "").lower())
        marketplace = _WORD_TO_MARKETPLACE.get(word, default)
        for offset, article in _articles(match):
            found.append((offset, ProductRef(marketplace, int(article))))
    seen: set[ProductRef] = set()
    ordered = []
    for _, ref in sorted(found, key=lambda pair: pair[0]):
        if ref not in seen:
            seen.add(ref)
            ordered.append(ref)
    return ordered


def unresolved_links(text: str) -> list[str]:
    """Marketplace links that name a product without its article (Ozon short links)."""
    return [m.group(0) for m in LINK.finditer(text or "") if OZON_SHORT_PATH.match(_split(m.group(0)).path)]


def _articles(match: re.Match) -> list[tuple[int, str]]:
    start = match.start("articles")
    return [(start + m.start(), m.group(0)) for m in re.finditer(r"\d+", match.group("articles"))]


def _split(link: str):
    return urlsplit(link if "://" in link else "https://" + link)


def _link_reference(link: str) -> ProductRef | None:
    parts = _split(link.rstrip(".,;:!?"))
    host = (parts.hostname or "").lower()
    path = parts.path
    if re.search(r"(^|\.)(wb\.ru|wildberries\.[a-z]{2,3})$", host):
        match = WB_PATH.match(path)
        return ProductRef(Marketplace.WILDBERRIES, int(match.group(1))) if match else None
    if re.search(r"(^|\.)ozon\.[a-z]{2,3}$", host):
        match = OZON_PATH.match(path)
        return ProductRef(Marketplace.OZON, int(match.group(1))) if match else None
    if re.search(r"(^|\.)market\.yandex\.[a-z]{2,3}$", host):
        match = MARKET_PATH.match(path)
        if match:
            return ProductRef(Marketplace.YANDEX_MARKET, int(match.group(1)))
        sku = (parse_qs(parts.query).get("sku") or [""])[0]
        return ProductRef(Marketplace.YANDEX_MARKET, int(sku)) if sku.isdigit() else None
    return None
