"""Loopback Yandex Market product pages: /product/<id> and /product--<slug>/<id>.

``/product/<id>`` of a known product redirects (302) to ``/product--<slug>/<id>`` as
the real site does (failures apply to the page it redirects to);
the page is HTML with a schema.org ``Product`` (and a ``BreadcrumbList``) in
``<script type="application/ld+json">``. Products come from ``products`` (keyed by
id); an unknown id is a 404 page. Failures (``fail_next``): ``"captcha"`` (302 to
``/showcaptcha?…``, which answers a 200 page without a product, as Market's anti-bot
does), ``403``, ``429`` (with Retry-After), ``404``, ``500``, ``"garbage"`` (a page with
no JSON-LD), ``("slow", seconds)``.
"""

from __future__ import annotations

import json
import re
import time

from .base import Emulator, Recorded, Reply

RETRY_AFTER = "60"
SAMPLE_ID = 1779425730
SAMPLE_PRODUCT = {
    "id": SAMPLE_ID,
    "slug": "futbolka-khlopkovaia-oversize",
    "name": "Футболка хлопковая оверсайз",
    "brand": "Basic Club",
    "category": "Футболки",
    "price": "1290",
    "color": "чёрный",
    "properties": [("Состав", "хлопок 95%, эластан 5%"), ("Плотность", "200 г/м²"), ("Уход", "стирка при 30°")],
}


def product_page(product: dict) -> str:
    ld = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": product["name"],
        "brand": {"@type": "Brand", "name": product["brand"]},
        "description": f"{product['name']} — описание",
        "image": "https://avatars.mds.yandex.net/get-mpic/1.jpeg",
        "sku": str(product["id"]),
        "color": product.get("color"),
        "additionalProperty": [{"@type": "PropertyValue", "name": n, "value": v} for n, v in product.get("properties", [])],
        "offers": {
            "@type": "AggregateOffer",
            "lowPrice": product["price"],
            "highPrice": product["price"],
            "priceCurrency": "RUR",
            "offerCount": 3,
        },
    }
    crumbs = {
        "@context": "https://schema.org",
        "@type": "BreadcrumbList",
        "itemListElement": [
            {"@type": "ListItem", "position": i + 1, "name": name}
            for i, name in enumerate(["Одежда", product.get("category", ""), product["name"]])
        ],
    }
    return (
        "<!DOCTYPE html><html><head><title>" + product["name"] + " — купить на Яндекс Маркете</title>"
        '<script type="application/ld+json">' + json.dumps(crumbs, ensure_ascii=False) + "</script>"
        '<script type="application/ld+json">' + json.dumps(ld, ensure_ascii=False) + "</script>"
        "</head><body><div id=/content>…</div></body></html>"
    )


class YandexMarketEmulator(Emulator):
    def __init__(self, products: dict[int, dict] | None = None) -> None:
        super().__init__()
        self.products = {SAMPLE_ID: SAMPLE_PRODUCT} if products is None else products

    def handle(self, request: Recorded) -> Reply:
        html = {"Content-Type": "text/html; charset=utf-8"}
        if request.path == "/showcaptcha":
            return Reply(200, "<html><body><form>Вы не робот?</form></body></html>".encode(), html)
        match = re.fullmatch(r"/product(--[^/]+)?/(\d+)/?", request.path)
        product = self.products.get(int(match.group(2))) if match else None
        if match and match.group(1) is None and product is not None:  # the short form: the site adds the slug
            return Reply(302, b"", {"Location": f"/product--{product['slug']}/{product['id']}"})
        failure = self.take_failure()
        if isinstance(failure, tuple) and failure[0] == "slow":
            time.sleep(failure[1])
        if failure == "captcha":
            return Reply(302, b"", {"Location": "/showcaptcha?retpath=" + request.path})
        if failure == 403:
            return Reply(403, b"<html>Forbidden</html>", html)
        if failure == 429:
            return Reply(429, b"<html>Too many requests</html>", {**html, "Retry-After": RETRY_AFTER})
        if failure in (404, 500):
            return Reply(failure, b"<html>error</html>", html)
        if product is None:
            return Reply(404, "<html>Нет такой страницы</html>".encode(), html)
        if failure == "garbage":
            return Reply(200, b"<html><body><script>window.apiary={}</script></body></html>", html)
        return Reply(200, product_page(product).encode(), html)
