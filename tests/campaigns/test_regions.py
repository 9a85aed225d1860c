"""The searchable list of main Yandex regions the dashboard and the bot offer."""

from django.utils import translation

from campaigns.regions import REGIONS, region_name, search_regions


def test_it_finds_regions_by_russian_or_english_name_or_id():
    assert search_regions("моск", language="ru")[:2] == [(1, "Москва и Московская область"), (213, "Москва")]
    assert (2, "Saint Petersburg") in search_regions("PETERSBURG", language="en")
    assert search_regions("213", language="en") == [(213, "Moscow")]
    assert search_regions("ростов на дону", language="ru") == [(39, "Ростов-на-Дону")]
    assert search_regions("nowhere at all") == []


def test_it_lists_every_region_once_for_an_empty_query_in_the_current_language():
    with translation.override("ru"):
        everything = search_regions("")
        assert everything[0] == (225, "Россия")
        assert region_name(54) == "Екатеринбург"
    assert len(everything) == len(REGIONS) == len({geo_id for geo_id, _, _ in REGIONS}) >= 40
    assert search_regions("", language="en", limit=3) == [
        (225, "Russia"),
        (1, "Moscow and Moscow Oblast"),
        (10174, "Saint Petersburg and Leningrad Oblast"),
    ]
    with translation.override("en"):
        assert region_name(99999) == "region 99999"
