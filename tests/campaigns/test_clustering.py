"""Cleaning and clustering keyword phrases: the text rules, the clusterer's quality on a fixed
Russian keyword list with known groups (tests/campaigns/data/keywords_ru.csv), its determinism,
and the clean and cluster stages saving Keyword and Cluster rows."""

import csv
import random
from collections import Counter
from pathlib import Path

import pytest

from campaigns.cluster import cluster_name, cluster_phrases
from campaigns.models import Ad, Campaign, Cluster, CollectedPhrase, Keyword, Stage
from campaigns.runner import campaign_run, run_stage
from campaigns.stages import StageContext
from campaigns.stages import clean as clean_stage
from campaigns.stages import cluster as cluster_stage
from campaigns.text import clean_phrases, lemma_key, minus_word_in, normalise, parse_minus_words
from crosspost.jobs import JobCancelled, job_cancelled
from crosspost.models import Job, JobStatus

DATA = Path(__file__).parent / "data" / "keywords_ru.csv"


def known_keywords() -> tuple[list[tuple[str, str, int]], list[str]]:
    """(items for cluster_phrases, expected group of each), cleaned as the clean stage does."""
    with DATA.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    items = [(normalise(row["phrase"]), lemma_key(row["phrase"]), int(row["frequency"])) for row in rows]
    return items, [row["expected_group"] for row in rows]


def purity(clusters: list[list[int]], groups: list[str]) -> float:
    """Σ over clusters of its majority group's count, over all phrases."""
    return sum(Counter(groups[i] for i in members).most_common(1)[0][1] for members in clusters) / len(groups)


def as_phrases(items, clusters) -> list[list[str]]:
    return [[items[i][0] for i in members] for members in clusters]


# --- text ---------------------------------------------------------------------------------------


def test_it_normalises_case_yo_punctuation_and_wordstat_operators():
    assert normalise("  Купить «Ёлку»,   недорого!! ") == "купить елку недорого"
    assert normalise('+в "[Москве]" (!купить|заказать) ёлку') == "в москве купить заказать елку"
    assert normalise("платье -бесплатно -даром") == "платье"  # an inline minus word is not part of the phrase
    assert normalise("интернет-магазин iPhone 15 Pro") == "интернет магазин iphone 15 pro"
    assert normalise("?!…") == ""


def test_it_groups_word_order_and_word_forms_under_one_lemma_key():
    key = lemma_key("купить платье льняное")
    assert key == lemma_key("льняное платье купить") == lemma_key("купить льняные платья") == lemma_key("Купить ЛЬНЯНЫЕ платья!")
    assert lemma_key("купить ёлку") == lemma_key("купить елки")
    assert lemma_key("ремонт iphone 13") == "13 iphone ремонт"  # Latin words and numbers stay as they are
    assert lemma_key("доставка цветов в москве") == lemma_key("доставка цветов москва")  # prepositions are stop words
    assert lemma_key("шины без шипов") != lemma_key("шины с шипами")  # …but a negation is not


def test_it_matches_minus_words_in_every_form_but_not_other_words():
    minus = parse_minus_words(["бесплатно", "-Б/у", "!даром", "своими руками", " "])
    assert [m.source for m in minus] == ["бесплатно", "-Б/у", "!даром", "своими руками"]
    assert minus_word_in("платье бесплатно", minus).source == "бесплатно"
    assert minus_word_in("платье б у", minus).source == "-Б/у"
    assert minus_word_in("платье своими руками", minus).source == "своими руками"
    assert minus_word_in("платье сшить своей рукой", minus).source == "своими руками"  # every form of each word
    assert minus_word_in("платье руками", minus) is None  # a minus phrase needs all its words
    assert minus_word_in("платье даром", minus).source == "!даром"
    assert minus_word_in("бесплатные платья", minus) is None  # "бесплатный" is another word than "бесплатно"
    adjective = parse_minus_words(["бесплатный"])
    assert minus_word_in("бесплатные платья", adjective) is not None
    assert minus_word_in("платье бесплатное", adjective) is not None
    one_line = parse_minus_words(["-бесплатно -даром", "-своими руками -б/у"])
    assert [m.source for m in one_line] == ["-бесплатно", "-даром", "-своими руками", "-б/у"]
    assert minus_word_in("платья даром", one_line).source == "-даром"
    exact = parse_minus_words(["!платье"])
    assert minus_word_in("льняные платья", exact) is None  # "!" fixes the form
    assert minus_word_in("льняное платье", exact) is not None


def test_it_cleans_duplicates_keeping_the_most_frequent_form_and_the_max_frequency():
    result = clean_phrases(
        [
            ("Купить льняное платье", 300),
            ("льняное платье купить", 500),
            ("купить льняные платья!", 200),
            ("купить льняное платье", 100),  # same normalised phrase as the first
            ("льняное платье бесплатно", 9000),
            ("ёлка", 7),
            ("елка", 9),
            ("+!", 50),
        ],
        ["бесплатно"],
    )
    assert [(item.phrase, item.frequency, item.variants) for item in result.phrases] == [
        ("льняное платье купить", 500, 4),  # max, not the sum: Wordstat counts are broad match
        ("елка", 9, 2),
    ]
    assert result.phrases[0].lemmas == "купить льняной платье"
    assert (result.duplicates, result.dropped_minus, result.dropped_empty) == (4, 1, 1)


# --- clustering ---------------------------------------------------------------------------------


def test_it_clusters_the_known_keyword_list_with_purity_of_at_least_0_8():
    items, groups = known_keywords()
    clusters = cluster_phrases(items)
    assert purity(clusters, groups) >= 0.8
    group_count = len(set(groups))
    assert group_count <= len(clusters) <= 2 * group_count  # neither one blob nor a pile of singletons
    # Each known group is mostly in one cluster. (The weakest: "ремонт iphone" splits by script into
    # iphone / айфон phrases — character n-grams cannot see they are the same word.)
    for group in set(groups):
        members = [i for i, g in enumerate(groups) if g == group]
        biggest = max(sum(1 for i in members if i in set(cluster)) for cluster in clusters)
        assert biggest >= 0.4 * len(members), group
    # Order variants and forms of a phrase land together.
    by_phrase = {items[i][0]: k for k, cluster in enumerate(clusters) for i in cluster}
    assert by_phrase["купить льняное платье"] == by_phrase["льняное платье купить"] == by_phrase["купить льняные платья"]
    assert by_phrase["шины зимние"] == by_phrase["зимние шины"] == by_phrase["зимняя резина"]
    assert by_phrase["ремонт пластиковых окон"] == by_phrase["пластиковые окна"] != by_phrase["ремонт айфона"]


def test_it_orders_clusters_by_total_frequency_and_names_them_by_their_most_frequent_phrase():
    items, _ = known_keywords()
    clusters = cluster_phrases(items)
    totals = [sum(items[i][2] for i in cluster) for cluster in clusters]
    assert totals == sorted(totals, reverse=True)
    for cluster in clusters:
        frequencies = [items[i][2] for i in cluster]
        assert frequencies == sorted(frequencies, reverse=True)
        assert cluster_name(items, cluster) == items[cluster[0]][0]
    assert sorted(i for cluster in clusters for i in cluster) == list(range(len(items)))  # each phrase once


def test_it_gives_the_same_clusters_for_the_same_phrases_in_any_order():
    items, _ = known_keywords()
    first = as_phrases(items, cluster_phrases(items))
    assert as_phrases(items, cluster_phrases(items)) == first
    for seed in (1, 2):
        shuffled = items[:]
        random.Random(seed).shuffle(shuffled)
        assert as_phrases(shuffled, cluster_phrases(shuffled)) == first


def test_it_keeps_quality_and_determinism_when_a_large_component_is_split_in_blocks():
    items, groups = known_keywords()
    clusters = cluster_phrases(items, max_block=40)  # the two-level path, as for thousands of phrases
    assert purity(clusters, groups) >= 0.8
    shuffled = items[::-1]
    assert as_phrases(shuffled, cluster_phrases(shuffled, max_block=40)) == as_phrases(items, clusters)


def test_it_handles_no_phrase_one_phrase_and_identical_phrases():
    assert cluster_phrases([]) == []
    assert cluster_phrases([("платье", "платье", 5)]) == [[0]]
    same = [("платья", "платье", 5), ("платье", "платье", 9), ("платьев", "платье", 1)]
    assert cluster_phrases(same) == [[1, 0, 2]]
    apart = [("купальник", "купальник", 5), ("зимние шины", "зимний шина", 9)]
    assert cluster_phrases(apart) == [[1], [0]]


# --- the stages ---------------------------------------------------------------------------------


@pytest.fixture
def collected(workspace):
    """A campaign whose collect stage finished, with the known keyword list as its collected phrases."""
    campaign = Campaign.objects.create(
        workspace=workspace,
        name="Summer",
        product_description="Linen dresses and more.",
        target_url="https://shop.example/",
        base_keywords=["льняное платье", "купальник", "новогодние елки"],
        minus_words=["бесплатно", "!даром"],
        finished_stage=Stage.COLLECT,
    )
    with DATA.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    CollectedPhrase.objects.bulk_create(
        [
            CollectedPhrase(campaign=campaign, base_keyword="купальник", phrase=row["phrase"], frequency=row["frequency"])
            for row in rows
        ]
        + [
            CollectedPhrase(campaign=campaign, base_keyword="льняное платье", phrase="Льняное платье!", frequency=99),
            CollectedPhrase(campaign=campaign, base_keyword="льняное платье", phrase="платье льняное бесплатно", frequency=5000),
            CollectedPhrase(campaign=campaign, base_keyword="льняное платье", phrase="платья даром", frequency=400),
            CollectedPhrase(campaign=campaign, base_keyword="льняное платье", phrase="платье даров", frequency=40),
        ]
    )
    return campaign


def run_stages(campaign, *stages):
    job = campaign_run(campaign=campaign)  # its Celery task is enqueued on commit, which never comes here
    for stage in stages:
        run_stage(campaign.pk, job.pk, stage, chain=False)
    return Job.objects.get(pk=job.pk)


def test_it_cleans_collected_phrases_into_keywords(collected):
    job = run_stages(collected, Stage.CLEAN)
    collected.refresh_from_db()
    assert collected.finished_stage == Stage.CLEAN
    assert job.status == JobStatus.RUNNING and job.stage == Stage.CLUSTER
    keywords = {k.phrase: k for k in Keyword.objects.filter(campaign=collected)}
    assert keywords["льняное платье"].frequency == 12400  # "Льняное платье!" (99) merged into it
    assert keywords["льняное платье"].lemmas == "льняной платье"
    assert "платье льняное бесплатно" not in keywords and "платья даром" not in keywords
    assert "платье даров" in keywords  # "!даром" is that exact form only
    assert keywords["новогодние елки"].frequency == 0  # a base keyword Wordstat had nothing for
    assert "купить льняные платья" not in keywords  # a form/order variant of "купить льняное платье"
    assert keywords["купить льняное платье"].frequency == 5300
    assert len(keywords) == Keyword.objects.filter(campaign=collected).count() < 128 + 3


def test_it_clusters_keywords_and_saves_clusters_replacing_the_previous_ones(collected):
    first_run = run_stages(collected, Stage.CLEAN, Stage.CLUSTER)
    collected.refresh_from_db()
    assert collected.finished_stage == Stage.CLUSTER
    clusters = list(Cluster.objects.filter(campaign=collected))
    # Ten products; within each, its intents (what phrases add to the product) are ad groups of their own.
    assert 10 <= len(clusters) <= 40
    assert [c.position for c in clusters] == list(range(len(clusters)))
    assert clusters[0].total_frequency >= clusters[-1].total_frequency
    keywords = Keyword.objects.filter(campaign=collected)
    assert not keywords.filter(cluster=None).exists()
    for cluster in clusters:
        members = keywords.filter(cluster=cluster)
        assert cluster.size == members.count()
        assert cluster.total_frequency == sum(k.frequency for k in members)
        assert cluster.name == members.order_by("-frequency", "phrase").first().phrase
    dresses = Cluster.objects.get(keywords__phrase="купить льняное платье")
    assert dresses.name == "льняное платье"
    # «купить …» adds only a buyer word: the product's own group; a colour is an intent of its own.
    white = keywords.get(phrase="белое льняное платье").cluster
    assert white != dresses and white.name == "белое льняное платье"

    # A re-run replaces the clusters (their ads go with them) and gives the same grouping.
    Ad.objects.create(campaign=collected, cluster=dresses, title1="Льняные платья", text="Из чистого льна.")
    before = [(c.name, c.size, c.total_frequency) for c in clusters]
    job_cancelled(first_run.pk)  # the first run stops before writing ads; the operator re-runs clustering
    job = campaign_run(campaign=collected, from_stage=Stage.CLUSTER)
    run_stage(collected.pk, job.pk, Stage.CLUSTER, chain=False)
    after = list(Cluster.objects.filter(campaign=collected))
    assert [(c.name, c.size, c.total_frequency) for c in after] == before
    assert not {c.pk for c in after} & {c.pk for c in clusters}
    assert not Ad.objects.filter(campaign=collected).exists()


def test_it_stops_clean_with_a_clear_error_when_minus_words_drop_everything(workspace):
    campaign = Campaign.objects.create(
        workspace=workspace,
        name="Nothing left",
        product_description="-",
        target_url="https://shop.example/",
        base_keywords=["платье бесплатно"],
        minus_words=["бесплатный", "бесплатно"],
        finished_stage=Stage.COLLECT,
    )
    job = run_stages(campaign, Stage.CLEAN)
    assert job.status == JobStatus.FAILED
    assert "minus word" in job.error
    campaign.refresh_from_db()
    assert campaign.finished_stage == Stage.COLLECT


@pytest.mark.parametrize("stage", [Stage.CLEAN, Stage.CLUSTER])
def test_a_cancel_stops_the_stage_at_its_first_step_before_it_saves_anything(collected, stage):
    run_stages(collected, Stage.CLEAN)  # keywords exist; the job now waits for cluster
    collected.refresh_from_db()
    job = Job.objects.get(pk=collected.job_id)
    before = list(Keyword.objects.filter(campaign=collected).values_list("phrase", "cluster"))
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    context = StageContext(campaign=collected, job_id=job.pk, stage=stage, start=35, span=5)
    module = clean_stage if stage == Stage.CLEAN else cluster_stage
    with pytest.raises(JobCancelled):
        module.run(context)
    assert list(Keyword.objects.filter(campaign=collected).values_list("phrase", "cluster")) == before
    assert not Cluster.objects.filter(campaign=collected).exists()
