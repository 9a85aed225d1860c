"""Product facts from a marketplace, for AI captions and caption templates.

A product is named by a reference such as
``{"marketplace": "wildberries", "article": 123456}`` (a post keeps it in
``Post.options["product"]``; the caller passes it in). Facts come from
Wildberries' public (undocumented) card API and are cached. A marketplace that
refuses (anti-bot 403, 429, 5xx, timeout) or knows no such card never blocks
publishing: the facts are simply missing (``None``) and the reason is logged.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

import requests
from django.conf import settings
from django.core.cache import cache
from requests.adapters import HTTPAdapter

logger = logging.getLogger(__name__)

MARKETPLACES = ("wildberries",)
# WB filters clients by fingerprint; a browser's user agent is what works.
BROWSER_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
WB_DETAIL_PATH = "/cards/v4/detail"
WB_DEST_MOSCOW = -1257786
COMPOSITION_OPTIONS = ("состав", "composition")
CARE_OPTIONS = ("уход за вещами", "уход", "care")


@dataclass(frozen=True)
class ProductFacts:
    marketplace: str
    article: int
    title: str
    brand: str = ""
    composition: str = ""
    care: str = ""
    colors: list[str] = field(default_factory=list)
    price: float | None = None  # roubles, after the marketplace's discounts

    def as_dict(self) -> dict:
        """The facts a prompt may use: only those we have."""
        return {k: v for k, v in asdict(self).items() if v not in ("", None, [])}


def product_reference(product: object) -> tuple[str, int] | None:
    """(marketplace, article) from a product reference, or None when it names no (valid) product."""
    if not isinstance(product, dict):
        return None
    marketplace = str(product.get("marketplace", "")).lower()
    article = product.get("article")
    if marketplace not in MARKETPLACES or isinstance(article, bool):
        return None
    try:
        article = int(article)
    except (TypeError, ValueError):
        return None
    return (marketplace, article) if article > 0 else None


def product_facts(product: object) -> ProductFacts | None:
    """The facts of the referenced product (e.g. a post's ``options["product"]``), or None
    (no valid reference, or the marketplace failed)."""
    reference = product_reference(product)
    if reference is None:
        return None
    return wildberries_facts(reference[1])


def wildberries_facts(article: int) -> ProductFacts | None:
    """Facts of one Wildberries card (cached for WB_CARD_CACHE_SECONDS), or None with the reason logged."""
    key = f"products:wildberries:{article}"
    cached = cache.get(key)
    if cached is not None:
        return ProductFacts(**cached)
    url = settings.WB_CARD_BASE_URL.rstrip("/") + WB_DETAIL_PATH
    params = {"appType": 1, "curr": "rub", "dest": WB_DEST_MOSCOW, "nm": article}
    session = _session()
    try:
        response = session.get(url, params=params, timeout=settings.WB_TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        logger.warning("Wildberries card %s unavailable: network error (%s)", article, exc.__class__.__name__)
        return None
    finally:
        session.close()
    if response.status_code != 200:
        reason = "anti-bot refusal" if response.status_code == 403 else "rate limited" if response.status_code == 429 else "error"
        logger.warning("Wildberries card %s unavailable: HTTP %s (%s)", article, response.status_code, reason)
        return None
    try:
        facts = parse_wildberries(response.json(), article)
    except ValueError as exc:
        logger.warning("Wildberries card %s unreadable: %s", article, exc)
        return None
    if facts is None:
        logger.info("Wildberries has no card %s", article)
        return None
    cache.set(key, asdict(facts), settings.WB_CARD_CACHE_SECONDS)
    return facts


def _session() -> requests.Session:
    """A plain session: no machine-wide proxy, no retries (a failure only means no facts)."""
    session = requests.Session()
    session.trust_env = False
    session.mount("http://", HTTPAdapter(max_retries=0))
    session.mount("https://", HTTPAdapter(max_retries=0))
    session.headers["User-Agent"] = BROWSER_USER_AGENT
    session.headers["Accept"] = "application/json"
    return session


def parse_wildberries(data: object, article: int) -> ProductFacts | None:
    """Facts from a card answer: v4 ``{"products": [...]}`` or v2 ``{"data": {"products": [...]}}``."""
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
    options = {
        str(o.get("name", "")).strip().lower(): str(o.get("value", "")).strip()
        for o in product.get("options") or []
        if isinstance(o, dict)
    }
    compositions = ", ".join(str(c.get("name", "")).strip() for c in product.get("compositions") or [] if isinstance(c, dict))
    return ProductFacts(
        marketplace="wildberries",
        article=article,
        title=str(product.get("name", "")).strip(),
        brand=str(product.get("brand", "")).strip(),
        composition=compositions or next((options[k] for k in COMPOSITION_OPTIONS if options.get(k)), ""),
        care=next((options[k] for k in CARE_OPTIONS if options.get(k)), ""),
        colors=[str(c.get("name")).strip() for c in product.get("colors") or [] if isinstance(c, dict) and c.get("name")],
        price=_price(product),
    )


def _price(product: dict) -> float | None:
    """Price in roubles: ``sizes[].price.product`` (kopecks), else the old ``salePriceU``."""
    for size in product.get("sizes") or []:
        price = (size.get("price") or {}).get("product") if isinstance(size, dict) else None
        if isinstance(price, int | float) and price > 0:
            return price / 100
    sale = product.get("salePriceU")
    return sale / 100 if isinstance(sale, int | float) and sale > 0 else None
