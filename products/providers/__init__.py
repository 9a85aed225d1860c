"""Marketplace → enrichment provider, imported lazily (like ``platforms.registry``).

Every provider answers ``fetch(article) -> ProductFacts`` or raises
``ProductUnavailable``; caching is the caller's (``products.services``).
"""

from __future__ import annotations

from functools import cache
from importlib import import_module

from ..facts import Failure, Marketplace, ProductUnavailable
from .base import Provider

PROVIDERS: dict[str, str] = {
    Marketplace.WILDBERRIES: "products.providers.wildberries.WildberriesProvider",
    Marketplace.OZON: "products.providers.ozon.OzonProvider",
    Marketplace.YANDEX_MARKET: "products.providers.yandex_market.YandexMarketProvider",
}


@cache
def _provider_class(marketplace: str) -> type[Provider]:
    module, _, name = PROVIDERS[marketplace].rpartition(".")
    return getattr(import_module(module), name)


def get_provider(marketplace: str) -> Provider:
    if marketplace not in PROVIDERS:
        raise ProductUnavailable(f"no provider for {marketplace!r}", permanent=True, code=Failure.UNSUPPORTED)
    return _provider_class(marketplace)()
