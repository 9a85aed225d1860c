"""Products as the marketplaces describe them: the cache of enrichment.

One row per (marketplace, article), shared by every workspace: the facts are
public and the same for everyone, and sharing them means one request to a
marketplace per product a day, not one per workspace. A row remembers a refusal
too (``error_code``, ``retry_at``), so a refusing marketplace is not asked again
before it said we may.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .facts import Failure, Marketplace, ProductFacts


class Product(models.Model):
    marketplace = models.CharField(_("marketplace"), max_length=20, choices=Marketplace.choices)
    article = models.PositiveBigIntegerField(_("article"))
    title = models.CharField(_("title"), max_length=500, blank=True)
    brand = models.CharField(_("brand"), max_length=200, blank=True)
    category = models.CharField(_("category"), max_length=200, blank=True)
    composition = models.CharField(_("composition"), max_length=500, blank=True, help_text=_("Fabric or material."))
    density = models.CharField(_("density"), max_length=100, blank=True)
    care = models.CharField(_("care"), max_length=500, blank=True)
    colors = models.JSONField(_("colours"), default=list, blank=True)
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=2, null=True, blank=True, help_text=_("Roubles."))
    raw = models.JSONField(_("raw data"), default=dict, blank=True, help_text=_("The facts as the provider read them."))
    error_code = models.CharField(_("no facts because"), max_length=20, choices=Failure.choices, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True, help_text=_("The marketplace's answer, for operators."))
    fetched_at = models.DateTimeField(_("fetched at"))
    retry_at = models.DateTimeField(_("ask again after"), null=True, blank=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["-fetched_at"]
        constraints = [models.UniqueConstraint(fields=["marketplace", "article"], name="product_unique_article")]

    def __str__(self) -> str:
        return f"{self.get_marketplace_display()} {self.article}" + (f" · {self.title}" if self.title else "")

    @property
    def has_facts(self) -> bool:
        return bool(self.title)

    def facts(self) -> ProductFacts | None:
        if not self.has_facts:
            return None
        return ProductFacts(
            marketplace=self.marketplace,
            article=self.article,
            title=self.title,
            brand=self.brand,
            category=self.category,
            composition=self.composition,
            density=self.density,
            care=self.care,
            colors=list(self.colors or []),
            price=float(self.price) if self.price is not None else None,
        )
