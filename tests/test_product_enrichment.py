# ruff: noqa: F811 — pytest fixtures imported from translations_support are test arguments here.
"""Product enrichment from Ozon and Yandex Market (and the shared cache), each against a
loopback emulator answering in the marketplace's observed shapes: facts are read and
kept in Product, a second look-up asks nobody, a refusal or a slow marketplace gives
"no product facts: <reason>" and never an exception."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.translation import override

from products.facts import Failure, ProductUnavailable
from products.models import Product
from products.providers import get_provider
from products.references import ProductRef
from products.services import lookup, product_facts
from publishing.planner import post_publish

from .emulators.ozon import SAMPLE_SKU, OzonEmulator
from .emulators.yandex_market import SAMPLE_ID, YandexMarketEmulator
from .factories import PostFactory, SocialAccountFactory, UserFactory
from .translations_support import wb_api  # noqa: F401

pytestmark = pytest.mark.django_db
OZON = {"marketplace": "ozon", "article": SAMPLE_SKU}
MARKET = {"marketplace": "yandex_market", "article": SAMPLE_ID}


@pytest.fixture
def ozon_api(settings):
    with OzonEmulator() as emulator:
        settings.OZON_BASE_URL = emulator.url
        yield emulator


@pytest.fixture
def market_api(settings):
    with YandexMarketEmulator() as emulator:
        settings.YANDEX_MARKET_BASE_URL = emulator.url
        yield emulator


# --- Ozon ----------------------------------------------------------------------------------


def test_ozon_facts_come_from_the_product_page_json(ozon_api):
    facts = product_facts(OZON)

    assert facts.as_dict() == {
        "marketplace": "ozon",
        "article": SAMPLE_SKU,
        "title": "Платье-рубашка из льна, миди",
        "brand": "Linen Lab",
        "category": "Платья",
        "composition": "лён 100%",
        "density": "180 г/м²",
        "care": "ручная стирка, без отбеливателя",
        "colors": ["молочный"],
        "price": 4990.0,
    }
    call = ozon_api.requests[0]
    assert (call.path, call.query["url"]) == ("/api/composer-api.bx/page/json/v2", [f"/product/{SAMPLE_SKU}/"])
    assert "Mozilla" in call.headers["User-Agent"]
    row = Product.objects.get(marketplace="ozon", article=SAMPLE_SKU)
    assert (row.title, row.error_code, row.raw["tracking"]["categoryName"]) == (facts.title, "", "Платья")


def test_an_ozon_product_out_of_stock_has_facts_without_a_price(ozon_api):
    ozon_api.fail_next("out-of-stock")

    facts = product_facts(OZON)

    assert (facts.title, facts.composition, facts.price) == ("Платье-рубашка из льна, миди", "лён 100%", None)
    assert Product.objects.get().price is None


def test_ozon_facts_are_cached_so_a_second_lookup_asks_nobody(ozon_api):
    first = lookup(OZON)
    second = lookup(ProductRef("ozon", SAMPLE_SKU))

    assert second == first and second.facts.price == 4990.0
    assert len(ozon_api.requests) == 1


def test_stale_ozon_facts_are_fetched_again(ozon_api, settings):
    product_facts(OZON)
    Product.objects.update(fetched_at=timezone.now() - timedelta(hours=settings.PRODUCT_CACHE_HOURS, minutes=1))
    ozon_api.products[SAMPLE_SKU] = {**ozon_api.products[SAMPLE_SKU], "price": "3 990 ₽"}

    assert product_facts(OZON).price == 3990.0
    assert len(ozon_api.requests) == 2


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        (403, Failure.REFUSED),
        (429, Failure.RATE_LIMITED),
        (500, Failure.SERVER_ERROR),
        ("garbage", Failure.UNREADABLE),
        ("no-heading", Failure.UNREADABLE),
    ],
)
def test_an_ozon_refusal_is_a_reason_not_an_exception(ozon_api, failure, code, caplog):
    ozon_api.fail_next(failure)

    result = lookup(OZON)

    assert (result.facts, result.code) == (None, code)
    assert result.note == f"no product facts: {code.label}"
    assert "Ozon" in caplog.text
    row = Product.objects.get(marketplace="ozon", article=SAMPLE_SKU)
    assert row.error_code == code and row.retry_at > timezone.now()


def test_ozon_is_not_asked_again_before_its_retry_after(ozon_api):
    ozon_api.fail_next(429)
    before = timezone.now()

    assert lookup(OZON).code == Failure.RATE_LIMITED
    assert lookup(OZON).code == Failure.RATE_LIMITED  # remembered: no second request
    assert len(ozon_api.requests) == 1
    wait = Product.objects.get().retry_at - before
    assert timedelta(seconds=115) < wait <= timedelta(seconds=125)  # the emulator's Retry-After: 120

    Product.objects.update(retry_at=timezone.now() - timedelta(seconds=1))
    assert lookup(OZON).facts.brand == "Linen Lab"
    assert len(ozon_api.requests) == 2


def test_an_unknown_ozon_product_is_not_found_for_a_day(ozon_api, settings):
    result = lookup({"marketplace": "ozon", "article": 123456789})

    assert result.code == Failure.NOT_FOUND
    row = Product.objects.get(article=123456789)
    assert row.retry_at - row.fetched_at == timedelta(hours=settings.PRODUCT_CACHE_HOURS)


def test_a_refusal_keeps_the_facts_we_already_had(ozon_api, settings):
    product_facts(OZON)
    Product.objects.update(fetched_at=timezone.now() - timedelta(days=2))
    ozon_api.fail_next(403)

    result = lookup(OZON)

    assert result.facts.title == "Платье-рубашка из льна, миди" and result.note == ""
    assert Product.objects.get().error_code == Failure.REFUSED


def test_a_slow_ozon_is_given_up_on(ozon_api, settings):
    settings.OZON_TIMEOUT_SECONDS = 0.2
    ozon_api.fail_next(("slow", 0.6))

    assert lookup(OZON).code == Failure.TIMEOUT


def test_an_unreachable_ozon_is_a_reason(settings):
    with OzonEmulator() as emulator:
        settings.OZON_BASE_URL = emulator.url
    assert lookup(OZON).code == Failure.UNREACHABLE  # the emulator is gone: connection refused


# --- Yandex Market -------------------------------------------------------------------------


def test_market_facts_come_from_the_pages_json_ld(market_api):
    facts = product_facts(MARKET)

    assert facts.as_dict() == {
        "marketplace": "yandex_market",
        "article": SAMPLE_ID,
        "title": "Футболка хлопковая оверсайз",
        "brand": "Basic Club",
        "category": "Футболки",
        "composition": "хлопок 95%, эластан 5%",
        "density": "200 г/м²",
        "care": "стирка при 30°",
        "colors": ["чёрный"],
        "price": 1290.0,
    }
    first, second = market_api.requests
    assert (first.path, second.path) == (f"/product/{SAMPLE_ID}", f"/product--futbolka-khlopkovaia-oversize/{SAMPLE_ID}")
    assert "text/html" in first.headers["Accept"]
    assert Product.objects.get(marketplace="yandex_market").raw["@type"] == "Product"


def test_market_facts_are_cached_so_a_second_lookup_asks_nobody(market_api):
    assert lookup(MARKET) == lookup(MARKET)
    assert len(market_api.requests) == 2  # the redirect and the page, once


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        ("captcha", Failure.REFUSED),
        (403, Failure.REFUSED),
        (429, Failure.RATE_LIMITED),
        (500, Failure.SERVER_ERROR),
        ("garbage", Failure.UNREADABLE),
    ],
)
def test_a_market_refusal_is_a_reason_not_an_exception(market_api, failure, code, caplog):
    market_api.fail_next(failure)

    result = lookup(MARKET)

    assert (result.facts, result.code) == (None, code)
    assert result.reason == code.label
    assert "Yandex Market" in caplog.text


def test_the_markets_captcha_is_followed_and_recognised(market_api):
    market_api.fail_next("captcha")
    lookup(MARKET)
    assert [r.path for r in market_api.requests][-1] == "/showcaptcha"


def test_an_unknown_market_product_is_not_found(market_api):
    assert lookup({"marketplace": "yandex_market", "article": 42424242}).code == Failure.NOT_FOUND


def test_a_slow_market_is_given_up_on(market_api, settings):
    settings.YANDEX_MARKET_TIMEOUT_SECONDS = 0.2
    market_api.fail_next(("slow", 0.6))

    assert lookup(MARKET).code == Failure.TIMEOUT


def test_the_reason_is_shown_in_the_operators_language(market_api):
    market_api.fail_next(403)
    result = lookup(MARKET)
    with override("en"):
        assert result.note == "no product facts: the marketplace refused the request (anti-bot check)"


# --- Whatever the marketplace, publishing goes on --------------------------------------------


def test_nothing_referenced_means_no_note_and_an_invalid_reference_says_so(ozon_api):
    assert lookup(None) == lookup({}) and lookup(None).note == ""
    assert lookup({"marketplace": "amazon", "article": 1}).code == Failure.INVALID
    assert lookup({"marketplace": "ozon", "article": "x"}).code == Failure.INVALID
    assert ozon_api.requests == []


@pytest.mark.parametrize("product", [OZON, MARKET])
def test_a_refusing_marketplace_does_not_block_publishing(workspace, ozon_api, market_api, product):
    ozon_api.fail_next(403, times=3)
    market_api.fail_next("captcha", times=3)
    post = PostFactory(workspace=workspace, caption="Linen dress", media_type="text", options={"product": product})
    post.target_accounts.set([SocialAccountFactory(workspace=workspace)])

    assert post_publish(post=post).created == 1
    assert lookup(product).facts is None


def test_the_wildberries_provider_shares_the_cache(wb_api):
    assert lookup({"marketplace": "wildberries", "article": 123456}).facts.brand == "Acme"
    assert Product.objects.get(marketplace="wildberries").raw["id"] == 123456


# --- The provider interface itself -----------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "code", "permanent", "retry_after"),
    [
        (404, Failure.NOT_FOUND, True, None),
        (403, Failure.REFUSED, False, None),
        (429, Failure.RATE_LIMITED, False, "retry"),
        (500, Failure.SERVER_ERROR, False, None),
        ("garbage", Failure.UNREADABLE, False, None),
    ],
)
@pytest.mark.parametrize("marketplace", ["ozon", "yandex_market"])
def test_providers_raise_one_error_saying_whether_to_try_again(
    ozon_api, market_api, marketplace, failure, code, permanent, retry_after
):
    emulator, article = (ozon_api, SAMPLE_SKU) if marketplace == "ozon" else (market_api, SAMPLE_ID)
    emulator.fail_next(failure)

    with pytest.raises(ProductUnavailable) as raised:
        get_provider(marketplace).fetch(article)

    expected_wait = {"ozon": 120, "yandex_market": 60}[marketplace] if retry_after else None
    assert (raised.value.code, raised.value.permanent, raised.value.retry_after) == (code, permanent, expected_wait)
    assert Product.objects.count() == 0  # providers only fetch; the cache is lookup's


def test_an_unknown_marketplace_has_no_provider():
    with pytest.raises(ProductUnavailable) as raised:
        get_provider("amazon")
    assert (raised.value.code, raised.value.permanent) == (Failure.UNSUPPORTED, True)


# --- Admin -----------------------------------------------------------------------------------


def test_the_admin_lists_products_read_only_with_search_and_filters(client, ozon_api, market_api):
    product_facts(OZON)
    market_api.fail_next(403)
    lookup(MARKET)
    client.force_login(UserFactory(username="root", is_superuser=True))

    listing = client.get("/admin/products/product/", {"q": str(SAMPLE_SKU)})
    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == [Product.objects.get(marketplace="ozon")]
    refused = client.get("/admin/products/product/", {"error_code__exact": "refused"})
    assert [p.marketplace for p in refused.context["cl"].result_list] == ["yandex_market"]
    assert client.get("/admin/products/product/add/").status_code == 403
    row = Product.objects.get(marketplace="ozon")
    page = client.get(f"/admin/products/product/{row.pk}/change/")
    assert page.status_code == 200 and "Linen Lab" in page.content.decode()
    assert client.post(f"/admin/products/product/{row.pk}/change/", {"title": "x"}).status_code == 403
