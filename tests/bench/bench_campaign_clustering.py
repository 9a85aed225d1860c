"""Campaign keywords: 5,000 synthetic Russian keyword phrases cleaned (normalise, lemmatise, merge,
minus words) and clustered in-process — the pure functions the clean and cluster stages run, no
database. Reports wall time (goal ≤ 10 s on the 2-core machine) and peak memory (tracemalloc, in a
second identical run: the Python and NumPy allocations of a run, pymorphy3's dictionaries loaded
beforehand as a worker has them).

The phrases are generated deterministically from word lists: 30 products (adjective + noun, in
several cases and numbers, both word orders) and 12 services × modifiers (intent, place, price,
audience…), so the set has real duplicates by lemma, shared filler words across products and a
long tail. As each phrase's product is known, the clusters' purity is reported too (the share of
phrases in their cluster's majority product)."""

import random
import time
import tracemalloc
from collections import Counter

from common import report

PHRASES = 5_000
# (adjective forms, noun forms): nominative sg/pl and an oblique case, as searchers type them.
PRODUCTS = [
    (("льняное", "льняные", "льняного"), ("платье", "платья", "платьев")),
    (("женский", "женские", "женского"), ("купальник", "купальники", "купальников")),
    (("детские", "детских", "детский"), ("кроссовки", "кроссовок", "кроссовками")),
    (("зимние", "зимних", "зимняя"), ("шины", "шин", "шина")),
    (("пластиковые", "пластиковых", "пластиковое"), ("окна", "окон", "окно")),
    (("натяжные", "натяжных", "натяжной"), ("потолки", "потолков", "потолок")),
    (("кожаная", "кожаные", "кожаных"), ("куртка", "куртки", "курток")),
    (("ортопедический", "ортопедические", "ортопедических"), ("матрас", "матрасы", "матрасов")),
    (("беспроводные", "беспроводных", "беспроводной"), ("наушники", "наушников", "наушник")),
    (("электрический", "электрические", "электрических"), ("самокат", "самокаты", "самокатов")),
    (("деревянные", "деревянных", "деревянная"), ("двери", "дверей", "дверь")),
    (("угловой", "угловые", "угловых"), ("диван", "диваны", "диванов")),
    (("стиральная", "стиральные", "стиральных"), ("машина", "машины", "машин")),
    (("газовый", "газовые", "газовых"), ("котел", "котлы", "котлов")),
    (("садовые", "садовых", "садовый"), ("качели", "качелей", "качелями")),
    (("шерстяной", "шерстяные", "шерстяных"), ("свитер", "свитеры", "свитеров")),
    (("свадебное", "свадебные", "свадебных"), ("платье", "платья", "платьев")),
    (("офисное", "офисные", "офисных"), ("кресло", "кресла", "кресел")),
    (("керамическая", "керамические", "керамической"), ("плитка", "плитки", "плиткой")),
    (("ламинированный", "ламинированные", "ламинированного"), ("паркет", "паркета", "паркетом")),
    (("солнцезащитные", "солнцезащитных", "солнцезащитный"), ("очки", "очков", "очками")),
    (("горный", "горные", "горных"), ("велосипед", "велосипеды", "велосипедов")),
    (("детская", "детские", "детских"), ("коляска", "коляски", "колясок")),
    (("туристическая", "туристические", "туристических"), ("палатка", "палатки", "палаток")),
    (("мужские", "мужских", "мужской"), ("часы", "часов", "часами")),
    (("кухонный", "кухонные", "кухонных"), ("гарнитур", "гарнитуры", "гарнитуров")),
    (("металлическая", "металлические", "металлической"), ("черепица", "черепицы", "черепицей")),
    (("межкомнатные", "межкомнатных", "межкомнатная"), ("перегородки", "перегородок", "перегородка")),
    (("вязаная", "вязаные", "вязаных"), ("шапка", "шапки", "шапок")),
    (("светодиодная", "светодиодные", "светодиодных"), ("лента", "ленты", "лент")),
]
SERVICES = [
    ("ремонт", ("iphone", "айфона", "айфонов")),
    ("ремонт", ("холодильника", "холодильников", "холодильник")),
    ("доставка", ("цветов", "цветы", "букетов")),
    ("доставка", ("суши", "роллов", "пиццы")),
    ("курсы", ("английского", "английского языка", "английский")),
    ("курсы", ("вождения", "водителей", "автошколы")),
    ("установка", ("кондиционера", "кондиционеров", "сплит системы")),
    ("уборка", ("квартиры", "квартир", "квартирах")),
    ("аренда", ("квартиры", "квартир", "жилья")),
    ("эвакуатор", ("недорого", "круглосуточно", "легковой")),
    ("химчистка", ("диванов", "ковров", "мебели")),
    ("стоматология", ("имплантация зубов", "лечение зубов", "отбеливание зубов")),
]
MODIFIERS = [
    "купить", "цена", "цены", "недорого", "москва", "в москве", "спб", "в санкт петербурге", "интернет магазин",
    "отзывы", "с доставкой", "каталог", "распродажа", "скидки", "фото", "лучшие", "рейтинг", "как выбрать",
    "заказать", "под ключ", "для дома", "для детей", "оптом", "б у", "бесплатно", "2026", "своими руками", "акция",
    "екатеринбург", "новосибирск", "казань", "в кредит", "официальный сайт", "размеры", "белый", "черные",
]  # fmt: skip
MINUS_WORDS = ["бесплатно", "своими руками", "б/у"]


def synthetic_phrases(
    count: int = PHRASES, seed: int = 2026, duplicates: float = 0.1
) -> tuple[list[tuple[str, int]], dict[str, int]]:
    """``count`` (phrase, frequency) pairs, the same for the same seed: ``count × (1 − duplicates)``
    distinct keywords (lemma keys) plus word-order/form/punctuation variants of them, so the
    clusterer gets about 4,500 of the 5,000; and the product (group number) of each lemma key."""
    from campaigns.text import lemma_key

    rng = random.Random(seed)
    heads = [(a, n, g) for g, (adjectives, nouns) in enumerate(PRODUCTS) for a, n in zip(adjectives, nouns, strict=True)]
    heads += [(verb, obj, len(PRODUCTS) + g) for g, (verb, objects) in enumerate(SERVICES) for obj in objects]
    phrases: dict[str, int] = {}
    keys: dict[str, int] = {}
    while len(phrases) < count:
        first, second, group = rng.choice(heads)
        words = [first, second] if rng.random() < 0.7 else [second, first]
        for modifier in rng.sample(MODIFIERS, k=rng.choice((0, 1, 1, 2, 2, 3))):
            words.insert(rng.randrange(len(words) + 1), modifier)
        phrase = " ".join(words)
        if rng.random() < 0.1:
            phrase = phrase.capitalize() + rng.choice(("!", "?", ",", ""))
        key = lemma_key(phrase)
        if key in keys and rng.random() > duplicates * count / max(1, len(phrases)) / 2:
            continue  # a variant of a keyword we have: keep only some, so most phrases are distinct
        keys.setdefault(key, group)
        phrases.setdefault(phrase, int(rng.paretovariate(1.2) * 50))
    return list(phrases.items()), keys


def clean_and_cluster(pairs: list[tuple[str, int]]) -> tuple[list[str], list[list[int]]]:
    """(the keywords' lemma keys, clusters of their indexes) — what the two stages compute."""
    from campaigns.cluster import cluster_phrases
    from campaigns.text import clean_phrases

    cleaned = clean_phrases(pairs, MINUS_WORDS)
    clusters = cluster_phrases([(item.phrase, item.lemmas, item.frequency) for item in cleaned.phrases])
    return [item.lemmas for item in cleaned.phrases], clusters


def purity(keys: list[str], clusters: list[list[int]], groups: dict[str, int]) -> float:
    majority = sum(Counter(groups[keys[i]] for i in members).most_common(1)[0][1] for members in clusters)
    return majority / len(keys)


def main() -> None:
    from campaigns.text import _parse, morph

    pairs, groups = synthetic_phrases()
    morph()  # dictionaries load once per worker process; not part of a run
    _parse.cache_clear()  # the generator lemmatised these words already: start the run cold
    started = time.perf_counter()
    keys, clusters = clean_and_cluster(pairs)
    elapsed = time.perf_counter() - started
    counts = {"keywords": len(keys), "clusters": len(clusters)}
    report("campaign_cluster_5000_seconds", elapsed, "s", **counts)
    report("campaign_cluster_5000_purity", purity(keys, clusters, groups), "ratio", **counts, products=len(set(groups.values())))
    # Memory in a second, identical run: tracemalloc slows allocation-heavy code down a lot, so it
    # must not be on while timing.
    _parse.cache_clear()
    tracemalloc.start()
    clean_and_cluster(pairs)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    report("campaign_cluster_5000_peak_mb", peak / 2**20, "MB", **counts)


if __name__ == "__main__":
    main()
