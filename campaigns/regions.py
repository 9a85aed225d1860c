"""The main Yandex regions (geo ids as Wordstat's ``/v1/getRegionsTree`` and Yandex Direct use them),
for the searchable region pickers of the dashboard and the bot. A static list: the tree has
thousands of entries and needs a token; a campaign brief nearly always names one of these. Any
other geo id is still accepted by the brief (campaigns.services) and by Wordstat.
"""

from __future__ import annotations

from django.utils.translation import get_language, gettext

# (geo id, Russian name, English name); countries and federal districts first, then the largest cities.
REGIONS: list[tuple[int, str, str]] = [
    (225, "Россия", "Russia"),
    (1, "Москва и Московская область", "Moscow and Moscow Oblast"),
    (10174, "Санкт-Петербург и Ленинградская область", "Saint Petersburg and Leningrad Oblast"),
    (3, "Центральный федеральный округ", "Central Federal District"),
    (17, "Северо-Западный федеральный округ", "Northwestern Federal District"),
    (26, "Южный федеральный округ", "Southern Federal District"),
    (102444, "Северо-Кавказский федеральный округ", "North Caucasian Federal District"),
    (40, "Приволжский федеральный округ", "Volga Federal District"),
    (52, "Уральский федеральный округ", "Ural Federal District"),
    (59, "Сибирский федеральный округ", "Siberian Federal District"),
    (73, "Дальневосточный федеральный округ", "Far Eastern Federal District"),
    (213, "Москва", "Moscow"),
    (2, "Санкт-Петербург", "Saint Petersburg"),
    (65, "Новосибирск", "Novosibirsk"),
    (54, "Екатеринбург", "Yekaterinburg"),
    (43, "Казань", "Kazan"),
    (47, "Нижний Новгород", "Nizhny Novgorod"),
    (56, "Челябинск", "Chelyabinsk"),
    (51, "Самара", "Samara"),
    (66, "Омск", "Omsk"),
    (39, "Ростов-на-Дону", "Rostov-on-Don"),
    (172, "Уфа", "Ufa"),
    (62, "Красноярск", "Krasnoyarsk"),
    (50, "Пермь", "Perm"),
    (193, "Воронеж", "Voronezh"),
    (38, "Волгоград", "Volgograd"),
    (35, "Краснодар", "Krasnodar"),
    (194, "Саратов", "Saratov"),
    (55, "Тюмень", "Tyumen"),
    (240, "Тольятти", "Tolyatti"),
    (44, "Ижевск", "Izhevsk"),
    (197, "Барнаул", "Barnaul"),
    (195, "Ульяновск", "Ulyanovsk"),
    (63, "Иркутск", "Irkutsk"),
    (76, "Хабаровск", "Khabarovsk"),
    (75, "Владивосток", "Vladivostok"),
    (16, "Ярославль", "Yaroslavl"),
    (11, "Рязань", "Ryazan"),
    (48, "Оренбург", "Orenburg"),
    (64, "Кемерово", "Kemerovo"),
    (237, "Новокузнецк", "Novokuznetsk"),
    (67, "Томск", "Tomsk"),
    (15, "Тула", "Tula"),
    (49, "Пенза", "Penza"),
    (45, "Чебоксары", "Cheboksary"),
    (46, "Киров", "Kirov"),
    (22, "Калининград", "Kaliningrad"),
    (239, "Сочи", "Sochi"),
    (149, "Беларусь", "Belarus"),
    (157, "Минск", "Minsk"),
    (159, "Казахстан", "Kazakhstan"),
    (162, "Алматы", "Almaty"),
    (163, "Астана", "Astana"),
]
_BY_ID = {geo_id: (ru, en) for geo_id, ru, en in REGIONS}


def _russian(language: str | None) -> bool:
    return (language or get_language() or "").lower().startswith("ru")


def region_name(geo_id: int, language: str | None = None) -> str:
    """The region's name in the current (or given) language; an unknown id is shown as «region N»."""
    names = _BY_ID.get(int(geo_id))
    if names is None:
        return gettext("region %(id)s") % {"id": geo_id}
    return names[0] if _russian(language) else names[1]


def search_regions(query: str = "", *, language: str | None = None, limit: int | None = None) -> list[tuple[int, str]]:
    """``(geo id, name)`` of the regions whose Russian or English name contains ``query`` (any case,
    ё = е), or whose id is ``query``; names in the current (or given) language, in list order
    (countries and the biggest cities first). An empty query lists them all."""
    needle = _fold(query)
    found = []
    for geo_id, ru, en in REGIONS:
        if not needle or needle == str(geo_id) or needle in _fold(ru) or needle in _fold(en):
            found.append((geo_id, ru if _russian(language) else en))
    return found[:limit] if limit is not None else found


def _fold(text: str) -> str:
    return " ".join(str(text).lower().replace("ё", "е").replace("-", " ").split())
