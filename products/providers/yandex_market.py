"""Yandex Market: the public product page, ``GET {YANDEX_MARKET_BASE_URL}/product/<id>``
(the site redirects it to ``/product--<slug>/<id>``), read through its schema.org
``Product`` in ``<script type="application/ld+json">``.

Why this one: Market's JSON APIs are not open — the Partner API (api.partner.market.yandex.ru)
needs a seller's token and knows only that seller's offers, and the old Content API
was closed to new clients. The page's JSON-LD is documented (schema.org Product:
``name``, ``brand``, ``description``, ``category``, ``color``, ``offers.price`` or an
``AggregateOffer``'s ``lowPrice``, ``additionalProperty`` name/value pairs), is what
search engines read, and so changes far less than the page's markup.

Market's anti-bot redirects to ``/showcaptcha?…`` (an HTML page with no product)
or answers 403/429; an unknown product is a 404. The emulator
(tests/emulators/yandex_market.py) answers in these shapes.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from urllib.parse import urlsplit

from django.conf import settings

from ..facts import Failure, Marketplace, ProductFacts, ProductUnavailable
from .base import Provider, characteristic_facts, clean, rouble_amount


class YandexMarketProvider(Provider):
    marketplace = Marketplace.YANDEX_MARKET
    label = "Yandex Market"
    accept = "text/html,application/xhtml+xml"

    def fetch(self, article: int) -> ProductFacts:
        url = f"{settings.YANDEX_MARKET_BASE_URL.rstrip('/')}/product/{article}"
        response = self.get(url, timeout=settings.YANDEX_MARKET_TIMEOUT_SECONDS)
        if "showcaptcha" in urlsplit(response.url).path:
            raise ProductUnavailable("Yandex Market: captcha", permanent=False, code=Failure.REFUSED)
        try:
            return parse_yandex_market(response.text, article)
        except ValueError as exc:
            raise self.unreadable(str(exc)) from exc


def parse_yandex_market(html: str, article: int) -> ProductFacts:
    """Facts from a product page's JSON-LD; ValueError when it holds no Product."""
    product, breadcrumbs = None, []
    for node in _ld_nodes(html):
        kinds = node.get("@type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if "Product" in kinds and product is None:
            product = node
        elif "BreadcrumbList" in kinds:
            breadcrumbs = [_crumb(item) for item in node.get("itemListElement") or [] if isinstance(item, dict)]
    if product is None or not clean(product.get("name")):
        raise ValueError("the page has no schema.org Product")
    brand = product.get("brand")
    properties = [
        (str(p.get("name", "")), str(p.get("value", ""))) for p in product.get("additionalProperty") or [] if isinstance(p, dict)
    ]
    found = characteristic_facts(properties)
    color = product.get("color")
    colors = [clean(c) for c in (color if isinstance(color, list) else [color]) if clean(c)] if color else found.get("colors", [])
    return ProductFacts(
        marketplace=Marketplace.YANDEX_MARKET.value,
        article=article,
        title=clean(product.get("name")),
        brand=clean(brand.get("name") if isinstance(brand, dict) else brand) or found.get("brand", ""),
        category=clean(product.get("category")) or next((b for b in reversed(breadcrumbs[:-1]) if b), ""),
        composition=found.get("composition", ""),
        density=found.get("density", ""),
        care=found.get("care", ""),
        colors=colors,
        price=_offer_price(product.get("offers")),
        raw=product,
    )


def _crumb(item: dict) -> str:
    """A ListItem's name, given directly or on its ``item``."""
    inner = item.get("item")
    return clean(item.get("name") or (inner.get("name") if isinstance(inner, dict) else ""))


def _offer_price(offers: object) -> float | None:
    for offer in offers if isinstance(offers, list) else [offers]:
        if isinstance(offer, dict):
            price = rouble_amount(offer.get("price")) or rouble_amount(offer.get("lowPrice"))
            if price:
                return price
    return None


def _ld_nodes(html: str) -> list[dict]:
    """Every JSON object in the page's ld+json scripts, ``@graph`` and lists flattened."""
    collector = _LdJson()
    collector.feed(html)
    collector.close()
    nodes: list[dict] = []
    for text in collector.scripts:
        try:
            data = json.loads(text)
        except ValueError:
            continue
        stack = data if isinstance(data, list) else [data]
        for item in stack:
            if isinstance(item, dict):
                nodes.append(item)
                nodes.extend(n for n in item.get("@graph") or [] if isinstance(n, dict))
    return nodes


class _LdJson(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[str] = []
        self._inside = False

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "script" and (dict(attrs).get("type") or "").lower() == "application/ld+json":
            self._inside = True
            self.scripts.append("")

    def handle_endtag(self, tag) -> None:
        if tag == "script":
            self._inside = False

    def handle_data(self, data) -> None:
        if self._inside:
            self.scripts[-1] += data
