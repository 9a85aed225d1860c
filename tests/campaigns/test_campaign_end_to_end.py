"""A brief becomes a campaign, end to end, against the Wordstat, OpenAI and Google emulators: collect
→ clean → cluster → ads → validate → export (Google Sheet + XLSX read back); the cache, the daily
quota midway, and a cancel — each run resumes after the last finished stage."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from campaigns.exports import campaign_xlsx
from campaigns.models import AdStatus, Campaign, CampaignSettings, CampaignStatus, CollectedPhrase
from campaigns.runner import campaign_run, run_all, run_stage
from campaigns.services import campaign_create
from crosspost.jobs import job_request_cancel
from crosspost.models import Job, JobStatus
from tests.emulators.wordstat import WordstatEmulator

from .test_ads_export import google, llm, rsa_key, service_account  # noqa: F401  (fixtures)

TOKEN = "wordstat-e2e-token"
DATASET = {
    "диван": [
        ("диван", 90000),
        ("угловой диван", 30000),
        ("диван угловой купить", 9000),
        ("угловые диваны недорого", 5000),
        ("диван кровать", 25000),
        ("диван кровать купить", 8000),
        ("диваны кровати недорого", 4000),
        ("кожаный диван", 7000),
        ("диван из кожи купить", 2000),
    ],
    "кресло": [
        ("кресло", 60000),
        ("кресло качалка", 15000),
        ("кресла качалки купить", 4000),
        ("компьютерное кресло", 20000),
        ("кресло компьютерное игровое", 6000),
        ("кресло мешок", 9000),
        ("кресла мешки купить", 3000),
    ],
    "матрас": [
        ("матрас", 70000),
        ("ортопедический матрас", 22000),
        ("матрас ортопедический 160х200", 8000),
        ("детский матрас", 11000),
        ("матрас детский в кроватку", 5000),
        ("матрас бесплатно", 900),  # a minus word drops it
    ],
}


@pytest.fixture
def wordstat(settings):
    with WordstatEmulator(TOKEN, limit_per_second=1000) as emulator:
        emulator.dataset.update(DATASET)
        settings.WORDSTAT_BASE_URL = emulator.url
        settings.WORDSTAT_RPS = 1000
        yield emulator


@pytest.fixture
def configured(workspace, google, rsa_key):  # noqa: F811
    CampaignSettings.objects.create(
        workspace=workspace,
        wordstat_token=TOKEN,
        google_service_account=service_account(google, rsa_key),
        share_with="olga@example.com",
    )
    return workspace


def brief(workspace, author, keywords=("диван", "кресло", "матрас")) -> Campaign:
    return campaign_create(
        workspace=workspace,
        author=author,
        name="Мебель",
        product_description="Мягкая мебель и матрасы от фабрики, доставка по Москве",
        target_url="https://mebel.example/catalog",
        base_keywords=list(keywords),
        regions=[213],
        minus_words=["бесплатно"],
    )


def run(campaign: Campaign) -> Job:
    job = campaign_run(campaign=campaign)
    run_all(campaign.pk, job.pk, job.stage)
    campaign.refresh_from_db()
    return Job.objects.get(pk=job.pk)


@pytest.mark.django_db(transaction=True)
def test_a_brief_becomes_clusters_valid_ads_a_shared_sheet_and_an_xlsx(configured, member, wordstat, llm, google):  # noqa: F811
    author = member(email="olga@example.com")
    campaign = brief(configured, author)

    job = run(campaign)

    assert (job.status, job.progress, campaign.status) == (JobStatus.COMPLETED, 100, CampaignStatus.COMPLETED)
    assert len(wordstat.top_calls) == 3  # one call per base keyword
    clusters = list(campaign.clusters.order_by("position"))
    assert len(clusters) >= 5, [c.name for c in clusters]
    for cluster in clusters:
        ads = list(cluster.ads.all())
        assert len(ads) == 2 and all(ad.status == AdStatus.VALID for ad in ads), (cluster.name, [a.problems for a in ads])
    assert not campaign.keywords.filter(phrase__contains="бесплатно").exists()
    assert job.result["clusters"] == len(clusters) and job.result["ads"] == 2 * len(clusters)

    # The Google Sheet: three tabs, shared with the member, every valid ad in it.
    assert campaign.sheet_id and campaign.sheet_url
    assert google.titles(campaign.sheet_id) == ["Keywords", "Clusters", "Ads"]
    assert len(google.values(campaign.sheet_id, "Clusters")) == len(clusters) + 1
    sheet_ads = google.values(campaign.sheet_id, "Ads")
    titles = {ad.title1 for ad in campaign.ads.all()}
    assert titles <= {cell for row in sheet_ads for cell in row}
    assert [(p["emailAddress"], p["role"]) for p in google.permissions] == [("olga@example.com", "writer")]

    # The same in an XLSX, read back cell by cell.
    book = load_workbook(io.BytesIO(campaign_xlsx(campaign)))
    assert book.sheetnames[:3] == ["Keywords", "Clusters", "Ads"]
    xlsx_cells = {cell for row in book["Ads"].iter_rows(values_only=True) for cell in row}
    assert titles <= xlsx_cells
    assert {row[1] for row in book["Clusters"].iter_rows(min_row=2, values_only=True)} == {c.name for c in clusters}

    # A second run of the same brief asks Wordstat nothing: every answer is cached.
    calls = len(wordstat.top_calls)
    again = run(campaign)
    assert again.status == JobStatus.COMPLETED
    assert len(wordstat.top_calls) == calls


@pytest.mark.django_db(transaction=True)
def test_a_run_that_hits_the_quota_midway_resumes_and_finishes(configured, member, wordstat, llm, google):  # noqa: F811
    campaign = brief(configured, member())
    wordstat.daily_limit = 2  # the third keyword's call hits the daily quota

    job = run(campaign)
    assert (job.status, job.stage, campaign.status) == (JobStatus.FAILED, "collect", CampaignStatus.FAILED)
    assert "quota" in job.error.lower() and "resume" in job.message.lower()
    kept = set(CollectedPhrase.objects.filter(campaign=campaign).values_list("base_keyword", flat=True))
    assert len(kept) == 2  # what came before the quota is kept

    wordstat.daily_limit, wordstat.used_today = 1000, 0  # a new day
    asked = len(wordstat.top_calls)
    job = run(campaign)
    assert job.status == JobStatus.COMPLETED
    assert len(wordstat.top_calls) == asked + 1  # the resumed run asked only the keyword left
    assert campaign.clusters.count() >= 5 and not campaign.ads.exclude(status=AdStatus.VALID).exists()


@pytest.mark.django_db(transaction=True)
def test_a_cancelled_run_stops_within_one_step_and_resumes(configured, member, wordstat, llm, google):  # noqa: F811
    campaign = brief(configured, member())
    job = campaign_run(campaign=campaign)
    assert run_stage(campaign.pk, job.pk, "collect", chain=False) == "clean"
    job_request_cancel(job=Job.objects.get(pk=job.pk))

    assert run_stage(campaign.pk, job.pk, "clean", chain=False) is None  # stopped at its first step
    campaign.refresh_from_db()
    job.refresh_from_db()
    assert (job.status, campaign.status, campaign.finished_stage) == (JobStatus.CANCELLED, CampaignStatus.CANCELLED, "collect")
    assert not campaign.keywords.exists()

    resumed = campaign_run(campaign=campaign)
    assert resumed.stage == "clean"  # after the last finished stage
    run_all(campaign.pk, resumed.pk, resumed.stage)
    assert Job.objects.get(pk=resumed.pk).status == JobStatus.COMPLETED
    assert len(wordstat.top_calls) == 3  # collect was not redone
