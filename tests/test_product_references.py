"""Marketplace references in a message's text: product links of Wildberries, Ozon and
Yandex Market and explicit article tags, in text order, each once."""

import pytest

from products.references import ProductRef, find_references, unresolved_links

WB, OZ, YM = "wildberries", "ozon", "yandex_market"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Wildberries links
        ("https://www.wildberries.ru/catalog/123456789/detail.aspx", [(WB, 123456789)]),
        ("смотри wildberries.ru/catalog/123456789/detail.aspx?targetUrl=GP&size=1", [(WB, 123456789)]),
        ("https://www.wildberries.by/catalog/98765432/detail.aspx", [(WB, 98765432)]),
        ("https://global.wildberries.ru/catalog/98765432/detail.aspx", [(WB, 98765432)]),
        ("https://www.wb.ru/catalog/254199845/detail.aspx", [(WB, 254199845)]),
        ("(https://wb.ru/catalog/254199845/feedbacks)", [(WB, 254199845)]),
        ("https://www.wildberries.ru/catalog/zhenshchinam/odezhda/platya", []),
        ("https://www.wildberries.ru/", []),
        ("https://notwb.ru/catalog/254199845/detail.aspx", []),
        # Ozon links
        ("https://www.ozon.ru/product/bio-matritsa-krem-1849590918/", [(OZ, 1849590918)]),
        ("https://www.ozon.ru/product/bio-matritsa-krem-1849590918/?advert=abc&sh=xyz", [(OZ, 1849590918)]),
        ("ozon.ru/product/1849590918", [(OZ, 1849590918)]),
        ("https://ozon.ru/product/plate-2-v-1-161219187/", [(OZ, 161219187)]),
        ("https://www.ozon.ru/context/detail/id/161219187/", [(OZ, 161219187)]),
        ("https://ozon.kz/product/plate-161219187/", [(OZ, 161219187)]),
        ("https://ozon.ru/t/AbC1dEf", []),  # a short link names no article
        ("https://www.ozon.ru/category/platya-7502/", []),
        # Yandex Market links
        ("https://market.yandex.ru/product--futbolka-oversize/1779425730", [(YM, 1779425730)]),
        ("https://market.yandex.ru/product--futbolka/1779425730?sku=101945512345&cpc=x", [(YM, 1779425730)]),
        ("https://market.yandex.ru/product/1779425730/reviews", [(YM, 1779425730)]),
        ("https://market.yandex.ru/card/futbolka-oversize/102345678901", [(YM, 102345678901)]),
        ("https://market.yandex.ru/offer/AbCdEf?sku=101945512345", [(YM, 101945512345)]),
        ("https://market.yandex.ru/catalog--futbolki/54440", []),
        ("https://yandex.ru/product/1779425730", []),
        # Tags
        ("#art 12345678", [(WB, 12345678)]),
        ("#art12345678", [(WB, 12345678)]),
        ("#art_12345678", [(WB, 12345678)]),
        ("#арт 12345678", [(WB, 12345678)]),
        ("#артикул 12345678", [(WB, 12345678)]),
        ("Арт. 12345678", [(WB, 12345678)]),
        ("арт 12345678", [(WB, 12345678)]),
        ("Артикул: 12345678", [(WB, 12345678)]),
        ("артикул №12345678", [(WB, 12345678)]),
        ("Article: 12345678", [(WB, 12345678)]),
        ("art. 12345678", [(WB, 12345678)]),
        ("Артикул WB: 12345678", [(WB, 12345678)]),
        ("артикул ВБ 12345678", [(WB, 12345678)]),
        ("#art ozon 1849590918", [(OZ, 1849590918)]),
        ("Артикул Озон: 1849590918", [(OZ, 1849590918)]),
        ("арт. (ozon) 1849590918", [(OZ, 1849590918)]),
        ("Артикул Яндекс Маркет: 1779425730", [(YM, 1779425730)]),
        ("арт. ЯМ 1779425730", [(YM, 1779425730)]),
        ("арт. 12345678, 87654321", [(WB, 12345678), (WB, 87654321)]),
        ("артикулы не нужны", []),
        ("art 12345678", []),  # bare "art" is a word, not a tag
        ("#artist 12345678", []),
        ("Цена 4990 ₽, арт. 123", []),  # too short to be an article
        ("телефон 89161234567", []),  # a number alone is not an article
        ("партия 12345678", []),  # "арт" inside a word is not a tag
        # Several, in text order, each once
        (
            "Платье #art 12345678\nТоже на Ozon: https://www.ozon.ru/product/plate-1849590918/ и снова арт. 12345678",
            [(WB, 12345678), (OZ, 1849590918)],
        ),
        (
            "https://market.yandex.ru/product--x/1779425730 https://www.wildberries.ru/catalog/12345678/detail.aspx",
            [(YM, 1779425730), (WB, 12345678)],
        ),
        ("https://www.wildberries.ru/catalog/12345678/detail.aspx #art 12345678", [(WB, 12345678)]),
        ("#art ozon 12345678 #art 12345678", [(OZ, 12345678), (WB, 12345678)]),  # different marketplaces
        ("", []),
    ],
)
def test_it_finds_references(text, expected):
    assert [(r.marketplace, r.article) for r in find_references(text)] == expected


def test_a_tag_without_a_marketplace_means_the_configured_default(settings):
    settings.PRODUCT_DEFAULT_MARKETPLACE = "ozon"
    assert find_references("#art 1849590918") == [ProductRef("ozon", 1849590918)]
    assert find_references("арт. 12345678", default_marketplace="yandex_market") == [ProductRef("yandex_market", 12345678)]
    # a tag that names its marketplace is not changed by the default
    assert find_references("артикул WB 12345678") == [ProductRef("wildberries", 12345678)]


def test_a_reference_is_what_a_post_keeps_in_its_options():
    (ref,) = find_references("https://www.ozon.ru/product/plate-1849590918/")
    assert ref.as_option() == {"marketplace": "ozon", "article": 1849590918}
    assert type(ref.marketplace) is str


def test_short_links_are_reported_as_unresolved():
    text = "https://ozon.ru/t/AbC1dEf и https://www.ozon.ru/product/plate-1849590918/"
    assert unresolved_links(text) == ["https://ozon.ru/t/AbC1dEf"]
    assert find_references(text) == [ProductRef("ozon", 1849590918)]


def test_links_hidden_behind_words_count_after_the_text():
    text = "Новое платье, подробнее по ссылке. #art 12345678"
    links = [
        "https://www.ozon.ru/product/plate-1849590918/",
        "https://t.me/channel",
        "https://wb.ru/catalog/12345678/detail.aspx",
    ]
    assert find_references(text, links=links) == [ProductRef("wildberries", 12345678), ProductRef("ozon", 1849590918)]
