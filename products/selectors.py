"""Reads of product facts for pages: what enrichment stored, never a marketplace call."""

from __future__ import annotations

from .facts import Failure
from .models import Product
from .services import ProductLookup, product_reference


def product_cached(product: object) -> ProductLookup | None:
    """The facts (or the reason there are none) that the last look-up of the referenced product
    stored in ``Product`` — stale or not, since a page shows what publishing last knew. None when
    nothing is referenced or the product was never looked up."""
    if product in (None, {}, ""):
        return None
    reference = product_reference(product)
    if reference is None:
        return ProductLookup(None, Failure.INVALID)
    marketplace, article = reference
    row = Product.objects.filter(marketplace=marketplace, article=article).first()
    if row is None:
        return None
    return ProductLookup(row.facts(), "" if row.has_facts else row.error_code or Failure.UNREADABLE)


def product_summary(product: object) -> dict | None:
    """What a post shows about the product it names (``Post.options["product"]``), from the cache:
    ``marketplace``, ``article``, ``fetched`` (whether it was ever looked up), ``facts`` (a dict of
    the facts we have, or None) and ``note`` ("no product facts: <reason>", or "")."""
    if product in (None, {}, ""):
        return None
    reference = product_reference(product)
    cached = product_cached(product)
    return {
        "marketplace": reference[0] if reference else "",
        "article": reference[1] if reference else None,
        "fetched": cached is not None,
        "facts": cached.facts.as_dict() if cached is not None and cached.facts is not None else None,
        "note": cached.note if cached is not None else "",
    }
