"""Reads of product facts for pages: what enrichment stored, never a marketplace call."""

from __future__ import annotations

from django.db.models import Q

from .facts import Failure
from .models import Product
from .services import ProductLookup, product_reference


def products_cached(products: list[object]) -> dict[tuple[str, int], Product]:
    """The stored rows of every product ``products`` name, in one query (a list of posts)."""
    references = {ref for ref in map(product_reference, products) if ref is not None}
    if not references:
        return {}
    match = Q()
    for marketplace, article in references:
        match |= Q(marketplace=marketplace, article=article)
    return {(row.marketplace, row.article): row for row in Product.objects.filter(match)}


def product_cached(product: object, rows: dict[tuple[str, int], Product] | None = None) -> ProductLookup | None:
    """The facts (or the reason there are none) that the last look-up of the referenced product
    stored in ``Product`` — stale or not, since a page shows what publishing last knew. None when
    nothing is referenced or the product was never looked up. ``rows``: preloaded by
    ``products_cached``, so a list of posts reads them once."""
    if product in (None, {}, ""):
        return None
    reference = product_reference(product)
    if reference is None:
        return ProductLookup(None, Failure.INVALID)
    marketplace, article = reference
    if rows is not None:
        row = rows.get(reference)
    else:
        row = Product.objects.filter(marketplace=marketplace, article=article).first()
    if row is None:
        return None
    return ProductLookup(row.facts(), "" if row.has_facts else row.error_code or Failure.UNREADABLE)


def product_summary(product: object, rows: dict[tuple[str, int], Product] | None = None) -> dict | None:
    """What a post shows about the product it names (``Post.options["product"]``), from the cache:
    ``marketplace``, ``article``, ``fetched`` (whether it was ever looked up), ``facts`` (a dict of
    the facts we have, or None) and ``note`` ("no product facts: <reason>", or "")."""
    if product in (None, {}, ""):
        return None
    reference = product_reference(product)
    cached = product_cached(product, rows)
    return {
        "marketplace": reference[0] if reference else "",
        "article": reference[1] if reference else None,
        "fetched": cached is not None,
        "facts": cached.facts.as_dict() if cached is not None and cached.facts is not None else None,
        "note": cached.note if cached is not None else "",
    }
