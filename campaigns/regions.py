"""Yandex regions (geo ids) by name, for the brief's searchable region list.

A minimal list the bot's conversation needs until the full one (Wordstat's regionsTree) lands; the
function's signature is the contract: ``search_regions(query, limit) -> [(geo id, name)]``."""

from __future__ import annotations

REGIONS: list[tuple[int, str, str]] = [
    (225, "Россия", "Russia"),
    (1, "Москва и Московская область", "Moscow and Moscow Oblast"),
    (213, "Москва", "Moscow"),
    (10174, "Санкт-Петербург и Ленинградская область", "Saint Petersburg and Leningrad Oblast"),
    (2, "Санкт-Петербург", "Saint Petersburg"),
]


def _fold(text: str) -> str:
    return " ".join(text.lower().replace("ё", "е").split())


def search_regions(query: str, limit: int = 8) -> list[tuple[int, str]]:
    """Regions whose Russian or English name (or id) contains ``query``, names starting with it
    first; an empty query lists the first ``limit``."""
    wanted = _fold(query or "")
    found = []
    for geo_id, name, english in REGIONS:
        names = (_fold(name), _fold(english))
        if not wanted or wanted == str(geo_id) or any(wanted in n for n in names):
            starts = any(n.startswith(wanted) for n in names) if wanted else True
            found.append((0 if starts else 1, geo_id, name))
    found.sort(key=lambda row: row[0])
    return [(geo_id, name) for _rank, geo_id, name in found[:limit]]
