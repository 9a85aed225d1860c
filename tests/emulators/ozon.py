"""Loopback Ozon product-page JSON: /api/composer-api.bx/page/json/v2?url=/product/<sku>/
(and the older /api/entrypoint-api.bx/… path).

Answers in the observed shape (see products/providers/ozon.py): ``widgetStates`` maps
``<widget>-<id>-default-1`` keys to JSON *strings*, ``layoutTrackingInfo`` is a JSON
string too. Products come from ``products`` (keyed by sku); the slug form
``/product/<slug>-<sku>/`` is accepted like the real site does; an unknown sku is a 404.
Failures (``fail_next``): ``403`` (anti-bot challenge page), ``429`` (with Retry-After),
``404``, ``500``, ``"garbage"`` (200 with an HTML page), ``"no-heading"`` (200 JSON
without the product heading), ``"out-of-stock"`` (no ``webPrice`` widget), ``("slow", seconds)``.
"""

from __future__ import annotations

import json
import re
import time

from .base import Emulator, Recorded, Reply

CHALLENGE_PAGE = "<html><head><title>Antibot Challenge Page</title></head><body><script>/* challenge */</script></body></html>"
RETRY_AFTER = "120"

SAMPLE_SKU = 1849590918
SAMPLE_PRODUCT = {
    "sku": SAMPLE_SKU,
    "title": "Платье-рубашка из льна, миди",
    "brand": "Linen Lab",
    "category": "Платья",
    "price": "4\u2009990\u00a0₽",
    "card_price": "4\u2009790\u00a0₽",
    "original_price": "7\u2009990\u00a0₽",
    "characteristics": [
        ("Color", "Цвет", ["молочный"]),
        ("Material", "Состав", ["лён 100%"]),
        ("Density", "Плотность", ["180 г/м²"]),
        ("Care", "Уход за вещами", ["ручная стирка", "без отбеливателя"]),
    ],
}


def page_json(product: dict) -> dict:
    """One product page's JSON in Ozon's shape."""
    heading = {"title": product["title"], "textRs": [], "isPreorder": False}
    price = {
        "isAvailable": True,
        "price": product["price"],
        "cardPrice": product.get("card_price", ""),
        "originalPrice": product.get("original_price", ""),
        "showOriginalPrice": True,
    }
    characteristics = {
        "characteristics": [
            {
                "title": "Общие",
                "short": [
                    {"key": key, "name": name, "values": [{"key": key, "text": text} for text in values]}
                    for key, name, values in product.get("characteristics", [])
                ],
            }
        ]
    }
    tracking = {
        "layoutId": 11852,
        "pageType": "pdp",
        "sku": product["sku"],
        "categoryName": product.get("category", ""),
        "brandName": product.get("brand", ""),
        "hierarchy": f"Одежда/Женщинам/{product.get('category', '')}/{product.get('brand', '')}",
        "currentPageUrl": f"https://www.ozon.ru/product/{product['sku']}/",
    }
    return {
        "layout": [{"component": "webProductHeading", "stateId": "webProductHeading-3385933-default-1"}],
        "widgetStates": {
            "webProductHeading-3385933-default-1": json.dumps(heading, ensure_ascii=False),
            "webPrice-3121879-default-1": json.dumps(price, ensure_ascii=False),
            "webCharacteristics-3282540-default-1": json.dumps(characteristics, ensure_ascii=False),
            "webGallery-3311626-default-1": json.dumps({"images": [{"src": "https://cdn1.ozone.ru/s3/1.jpg"}]}),
        },
        "layoutTrackingInfo": json.dumps(tracking, ensure_ascii=False),
        "pageInfo": {"pageType": "pdp", "url": f"/product/{product['sku']}/"},
    }


class OzonEmulator(Emulator):
    def __init__(self, products: dict[int, dict] | None = None) -> None:
        super().__init__()
        self.products = {SAMPLE_SKU: SAMPLE_PRODUCT} if products is None else products

    def handle(self, request: Recorded) -> Reply:
        if request.path not in ("/api/composer-api.bx/page/json/v2", "/api/entrypoint-api.bx/page/json/v2"):
            return Reply(404, "404 page not found")
        failure = self.take_failure()
        if isinstance(failure, tuple) and failure[0] == "slow":
            time.sleep(failure[1])
        if failure == 403:
            return Reply(403, CHALLENGE_PAGE.encode(), {"Content-Type": "text/html; charset=utf-8"})
        if failure == 429:
            return Reply(429, {"error": "Too Many Requests"}, {"Retry-After": RETRY_AFTER})
        if failure in (404, 500):
            return Reply(failure, {"error": "failure"})
        if failure == "garbage":
            return Reply(200, b"<html><body>Something went wrong</body></html>", {"Content-Type": "text/html"})
        match = re.fullmatch(r"/product/(?:[^/]*-)?(\d+)/?", request.param("url") or "")
        product = self.products.get(int(match.group(1))) if match else None
        if product is None:
            return Reply(404, {"error": "not found", "redirect": "/notfound"})
        data = page_json(product)
        if failure == "no-heading":
            data["widgetStates"].pop("webProductHeading-3385933-default-1")
        if failure == "out-of-stock":
            data["widgetStates"].pop("webPrice-3121879-default-1")
        return Reply(200, data)
