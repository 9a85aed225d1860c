"""What a marketplace tells us about a product, and the one way it can refuse.

Plain values shared by the providers (``products.providers``), the cache
(``products.models.Product``) and the callers (``products.services``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from django.db import models
from django.utils.translation import gettext_lazy as _


class Marketplace(models.TextChoices):
    WILDBERRIES = "wildberries", _("Wildberries")
    OZON = "ozon", _("Ozon")
    YANDEX_MARKET = "yandex_market", _("Yandex Market")


class Failure(models.TextChoices):
    """Why a marketplace gave no facts; the label is what a post shows after "no product facts:"."""

    NOT_FOUND = "not_found", _("the marketplace has no such product")
    REFUSED = "refused", _("the marketplace refused the request (anti-bot check)")
    RATE_LIMITED = "rate_limited", _("the marketplace asked us to slow down")
    TIMEOUT = "timeout", _("the marketplace did not answer in time")
    UNREACHABLE = "unreachable", _("the marketplace could not be reached")
    SERVER_ERROR = "server_error", _("the marketplace answered with an error")
    UNREADABLE = "unreadable", _("the marketplace's answer could not be read")
    UNSUPPORTED = "unsupported", _("this marketplace is not supported")
    INVALID = "invalid", _("the product reference is not valid")


class ProductUnavailable(Exception):
    """A provider's only error. ``permanent``: asking again will not help (no such product);
    otherwise it may after ``retry_after`` seconds (the marketplace's Retry-After, when it sent one)."""

    def __init__(self, message: str, *, permanent: bool, code: str = Failure.UNREADABLE, retry_after: int | None = None):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.code = code
        self.retry_after = retry_after


@dataclass(frozen=True)
class ProductFacts:
    marketplace: str
    article: int
    title: str
    brand: str = ""
    category: str = ""
    composition: str = ""  # fabric
    density: str = ""
    care: str = ""
    colors: list[str] = field(default_factory=list)
    price: float | None = None  # roubles, after the marketplace's discounts
    # What the provider read them from (kept as Product.raw); never a fact for a prompt.
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    def as_dict(self) -> dict:
        """The facts a prompt may use: only those we have."""
        return {k: v for k, v in asdict(self).items() if k != "raw" and v not in ("", None, [])}
