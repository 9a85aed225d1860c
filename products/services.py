"""Product facts from a marketplace, for AI captions and caption templates.

A product is named by a reference such as ``{"marketplace": "wildberries",
"article": 123456}`` (a post keeps it in ``Post.options["product"]``;
``products.references.find_references`` finds them in a message's text) or a
``ProductRef``. ``lookup`` asks the marketplace's provider (``products.providers``)
and keeps the answer in ``Product``: facts stay fresh for PRODUCT_CACHE_HOURS; a
refusal (anti-bot 403, 429, 5xx, timeout) is remembered until the marketplace's
Retry-After or PRODUCT_RETRY_MINUTES, and a product the marketplace does not know
for PRODUCT_CACHE_HOURS. A marketplace that refuses never blocks publishing:
``lookup`` never raises for a marketplace's sake, it answers the facts or the
reason there are none ("no product facts: <reason>").
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext

from .facts import Failure, Marketplace, ProductFacts, ProductUnavailable
from .models import Product
from .providers import get_provider
from .references import ProductRef

logger = logging.getLogger(__name__)

MARKETPLACES = tuple(Marketplace.values)
__all__ = ["MARKETPLACES", "ProductFacts", "ProductLookup", "lookup", "product_facts", "product_reference"]


@dataclass(frozen=True)
class ProductLookup:
    """The facts of a referenced product, or why there are none (``code``, a ``Failure``;
    empty when nothing was referenced)."""

    facts: ProductFacts | None
    code: str = ""

    @property
    def reason(self) -> str:
        """Why there are no facts, in the active language ("" when there are facts or no reference)."""
        return str(Failure(self.code).label) if self.code and self.facts is None else ""

    @property
    def note(self) -> str:
        """What a post shows when a referenced product brought no facts."""
        return gettext("no product facts: %(reason)s") % {"reason": self.reason} if self.reason else ""


def product_reference(product: object) -> tuple[str, int] | None:
    """(marketplace, article) from a product reference, or None when it names no (valid) product."""
    if isinstance(product, ProductRef):
        return (product.marketplace, product.article)
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
    (no valid reference, or the marketplace gave none: ``lookup`` says why)."""
    return lookup(product).facts


def lookup(product: object) -> ProductLookup:
    """The referenced product's facts, from ``Product`` while fresh, else from its marketplace."""
    if product in (None, {}, ""):
        return ProductLookup(None)
    reference = product_reference(product)
    if reference is None:
        return ProductLookup(None, Failure.INVALID)
    marketplace, article = reference
    now = timezone.now()
    row = Product.objects.filter(marketplace=marketplace, article=article).first()
    if row is not None and now < _fresh_until(row):
        return ProductLookup(row.facts(), "" if row.has_facts else row.error_code or Failure.UNREADABLE)
    try:
        facts = get_provider(marketplace).fetch(article)
    except ProductUnavailable as exc:
        logger.warning("Product %s %s: no facts (%s)", marketplace, article, exc.message)
        return _remember_failure(row, marketplace, article, exc, now)
    except Exception:  # a provider bug must not block publishing either
        logger.exception("Product %s %s: the provider failed", marketplace, article)
        exc = ProductUnavailable("provider error", permanent=False, code=Failure.UNREADABLE)
        return _remember_failure(row, marketplace, article, exc, now)
    Product.objects.update_or_create(
        marketplace=marketplace,
        article=article,
        defaults={
            **{k: v for k, v in asdict(facts).items() if k not in ("marketplace", "article")},
            "error_code": "",
            "error": "",
            "fetched_at": now,
            "retry_at": None,
        },
    )
    return ProductLookup(facts)


def wildberries_facts(article: int) -> ProductFacts | None:
    """Facts of one Wildberries card, or None (the reason is logged)."""
    return product_facts({"marketplace": Marketplace.WILDBERRIES, "article": article})


def _fresh_until(row: Product):
    return row.retry_at or row.fetched_at + timedelta(hours=settings.PRODUCT_CACHE_HOURS)


def _remember_failure(row: Product | None, marketplace: str, article: int, exc: ProductUnavailable, now) -> ProductLookup:
    """Remember why there are no facts until it is worth asking again. Facts we had stay
    (a product that was there a moment ago is still better described by them) unless the
    marketplace says the product is gone."""
    if exc.permanent:
        wait = timedelta(hours=settings.PRODUCT_CACHE_HOURS)
    else:
        wait = timedelta(seconds=exc.retry_after) if exc.retry_after else timedelta(minutes=settings.PRODUCT_RETRY_MINUTES)
    failure = {"error_code": exc.code, "error": exc.message[:500], "retry_at": now + wait}
    if row is not None and row.has_facts and not exc.permanent:
        Product.objects.filter(pk=row.pk).update(**failure)
        return ProductLookup(row.facts())
    blank = {name: "" for name in ("title", "brand", "category", "composition", "density", "care")}
    blank |= {"colors": [], "price": None, "raw": {}}
    Product.objects.update_or_create(marketplace=marketplace, article=article, defaults={**blank, **failure, "fetched_at": now})
    return ProductLookup(None, exc.code)
