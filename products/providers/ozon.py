"""Ozon: the page-composer JSON the shop's own web client loads for a product page,
``GET {OZON_BASE_URL}/api/composer-api.bx/page/json/v2?url=/product/<sku>/`` (older clients
call the same page through ``entrypoint-api.bx``).

Why this one: Ozon's documented Seller API (api-seller.ozon.ru, ``/v3/product/info/list``)
needs a seller's Client-Id and Api-Key and only knows that seller's own goods; a
product someone links to is public, and the only open source of its facts is the
page itself. The page JSON is undocumented but widely observed (and stable for
years): ``{"widgetStates": {"<widget>-<id>-default-1": "<JSON string>", …},
"layoutTrackingInfo": "<JSON string>"}``, where

* ``webProductHeading-*`` holds ``{"title": …}``,
* ``webPrice-*`` holds ``{"price": "4 990 ₽", "originalPrice": …, "isAvailable": …}``,
* ``webCharacteristics-*`` holds ``{"characteristics": [{"title": …, "short": [{"key": …,
  "name": "Состав", "values": [{"text": "лён 100%"}]}], "long": [...]}]}``,
* ``layoutTrackingInfo`` holds ``{"sku": …, "categoryName": …, "brandName": …, "hierarchy": …}``.

Ozon's anti-bot answers 403 with an HTML challenge page (or 429); an unknown
product is a 404; a product out of stock has no ``webPrice`` (facts without a price).
Open-source price trackers report that the anti-bot blocks plain HTTP clients more
and more (they drive a real browser now), so in production expect many "refused"
answers: that is what the reason "no product facts: …" is for. The emulator
(tests/emulators/ozon.py) answers in these shapes.
"""

from __future__ import annotations

import json

from django.conf import settings

from ..facts import Marketplace, ProductFacts
from .base import Provider, characteristic_facts, clean, rouble_amount

OZON_PAGE_PATH = "/api/composer-api.bx/page/json/v2"


class OzonProvider(Provider):
    marketplace = Marketplace.OZON
    label = "Ozon"

    def fetch(self, article: int) -> ProductFacts:
        url = settings.OZON_BASE_URL.rstrip("/") + OZON_PAGE_PATH
        response = self.get(url, params={"url": f"/product/{article}/"}, timeout=settings.OZON_TIMEOUT_SECONDS)
        try:
            return parse_ozon(response.json(), article)
        except ValueError as exc:
            raise self.unreadable(str(exc)) from exc


def parse_ozon(data: object, article: int) -> ProductFacts:
    """Facts from a product page's JSON; ValueError when it is not one."""
    if not isinstance(data, dict) or not isinstance(data.get("widgetStates"), dict):
        raise ValueError("the answer has no widgetStates")
    widgets = data["widgetStates"]
    heading = _widget(widgets, "webProductHeading")
    title = clean(heading.get("title"))
    if not title:
        raise ValueError("the page has no product heading")
    price = _widget(widgets, "webPrice")
    pairs = []
    for group in _widget(widgets, "webCharacteristics").get("characteristics") or []:
        for item in (group.get("short") or []) + (group.get("long") or []) if isinstance(group, dict) else []:
            if isinstance(item, dict):
                values = ", ".join(clean(v.get("text")) for v in item.get("values") or [] if isinstance(v, dict))
                pairs.append((str(item.get("name", "")), values))
    found = characteristic_facts(pairs)
    tracking = _json(data.get("layoutTrackingInfo"))
    return ProductFacts(
        marketplace=Marketplace.OZON.value,
        article=article,
        title=title,
        brand=clean(tracking.get("brandName")) or found.get("brand", ""),
        category=clean(tracking.get("categoryName")),
        composition=found.get("composition", ""),
        density=found.get("density", ""),
        care=found.get("care", ""),
        colors=found.get("colors", []),
        price=rouble_amount(price.get("price")) or rouble_amount(price.get("cardPrice")),
        raw={"heading": heading, "price": price, "characteristics": pairs, "tracking": tracking},
    )


def _widget(widgets: dict, name: str) -> dict:
    """The first widget state whose key starts with ``name-`` (keys carry a changing id)."""
    for key, value in widgets.items():
        if str(key).split("-", 1)[0] == name:
            return _json(value)
    return {}


def _json(value: object) -> dict:
    """Widget states are JSON strings inside the JSON; a broken one counts as empty."""
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value) if isinstance(value, str) else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
