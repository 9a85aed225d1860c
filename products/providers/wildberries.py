"""Wildberries: the public (undocumented) card API the shop's own pages call,
``GET {WB_CARD_BASE_URL}/cards/v4/detail?appType=1&curr=rub&dest=…&nm=<article>``,
answering ``{"products": [...]}`` (v4) or ``{"data": {"products": [...]}}`` (v2).
An unknown article is an empty list, not a 404."""

from __future__ import annotations

from django.conf import settings

from ..facts import Failure, Marketplace, ProductFacts, ProductUnavailable
from .base import Provider, characteristic_facts, clean

WB_DETAIL_PATH = "/cards/v4/detail"
WB_DEST_MOSCOW = -1257786


class WildberriesProvider(Provider):
    marketplace = Marketplace.WILDBERRIES
    label = "Wildberries"

    def fetch(self, article: int) -> ProductFacts:
        url = settings.WB_CARD_BASE_URL.rstrip("/") + WB_DETAIL_PATH
        params = {"appType": 1, "curr": "rub", "dest": WB_DEST_MOSCOW, "nm": article}
        response = self.get(url, params=params, timeout=settings.WB_TIMEOUT_SECONDS)
        try:
            facts = parse_wildberries(response.json(), article)
        except ValueError as exc:  # JSONDecodeError is a ValueError
            raise self.unreadable(str(exc)) from exc
        if facts is None:
            raise ProductUnavailable(f"Wildberries has no card {article}", permanent=True, code=Failure.NOT_FOUND)
        if not facts.title:  # a card without a name is no card we can describe
            raise self.unreadable(f"card {article} has no name")
        return facts


def parse_wildberries(data: object, article: int) -> ProductFacts | None:
    """Facts from a card answer: v4 ``{"products": [...]}`` or v2 ``{"data": {"products": [...]}}``;
    None when the list has no such card; ValueError when the answer is not a card answer."""
    if not isinstance(data, dict):
        raise ValueError("the answer is not a JSON object")
    products = data.get("products")
    if products is None and isinstance(data.get("data"), dict):
        products = data["data"].get("products")
    if not isinstance(products, list):
        raise ValueError("the answer has no product list")
    product = next((p for p in products if isinstance(p, dict) and p.get("id") == article), None)
    if product is None:
        return None
    options = characteristic_facts(
        [(str(o.get("name", "")), str(o.get("value", ""))) for o in product.get("options") or [] if isinstance(o, dict)]
    )
    compositions = ", ".join(clean(c.get("name", "")) for c in product.get("compositions") or [] if isinstance(c, dict))
    return ProductFacts(
        marketplace=Marketplace.WILDBERRIES.value,
        article=article,
        title=clean(product.get("name", "")),
        brand=clean(product.get("brand", "")),
        category=clean(product.get("entity") or product.get("subjectName") or ""),
        composition=compositions or options.get("composition", ""),
        density=options.get("density", ""),
        care=options.get("care", ""),
        colors=[clean(c.get("name")) for c in product.get("colors") or [] if isinstance(c, dict) and c.get("name")],
        price=_price(product),
        raw=product,
    )


def _price(product: dict) -> float | None:
    """Price in roubles: ``sizes[].price.product`` (kopecks), else the old ``salePriceU``."""
    for size in product.get("sizes") or []:
        price = (size.get("price") or {}).get("product") if isinstance(size, dict) else None
        if isinstance(price, int | float) and price > 0:
            return price / 100
    sale = product.get("salePriceU")
    return sale / 100 if isinstance(sale, int | float) and sale > 0 else None
