"""Collect against the loopback Wordstat API: phrases saved per base keyword, the cache, the daily
quota (stop, keep, resume), retries, a wrong or missing token, and the cross-worker rate limit."""

from __future__ import annotations

import itertools
import logging
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

import campaigns.tasks  # noqa: F401  (campaign_run enqueues the stage task by its registered name)
from accounts.models import Workspace
from campaigns.clients.wordstat import AuthError, QuotaExceeded, TransientError, WordstatClient
from campaigns.limiter import wordstat_throttle
from campaigns.models import Campaign, CampaignSettings, CampaignStatus, CollectCursor, CollectedPhrase, WordstatCache
from campaigns.runner import campaign_run, run_stage
from crosspost.jobs import job_completed
from crosspost.models import Job, JobStatus
from tests.emulators.wordstat import SUFFIXES, WordstatEmulator

TOKEN = "wordstat-token"


@pytest.fixture
def wordstat(settings):
    with WordstatEmulator(TOKEN, limit_per_second=1000) as emulator:
        settings.WORDSTAT_BASE_URL = emulator.url
        settings.WORDSTAT_RPS = 1000
        yield emulator


def make_campaign(workspace: Workspace, keywords: list[str], regions: list[int] | None = None, token: str = TOKEN) -> Campaign:
    if token is not None:
        CampaignSettings.objects.update_or_create(workspace=workspace, defaults={"wordstat_token": token})
    return Campaign.objects.create(
        workspace=workspace,
        name="Sofas",
        product_description="Sofas made to order",
        target_url="https://example.com/sofas",
        base_keywords=keywords,
        regions=regions if regions is not None else [213, 2],
    )


def collect(campaign: Campaign) -> Job:
    """One run's collect stage, as the Celery task runs it; returns the job as it ended up."""
    job = campaign_run(campaign=campaign)
    run_stage(campaign.pk, job.pk, "collect", chain=False)
    campaign.refresh_from_db()
    return Job.objects.get(pk=job.pk)


def finish(campaign: Campaign) -> None:
    """The rest of the run (the later stages) ends, so the campaign can run again."""
    job_completed(campaign.job_id)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.COMPLETED)
    campaign.refresh_from_db()


def phrases(campaign: Campaign, keyword: str) -> dict[str, int]:
    return dict(CollectedPhrase.objects.filter(campaign=campaign, base_keyword=keyword).values_list("phrase", "frequency"))


def test_it_saves_every_keywords_phrases_with_their_frequencies(workspace, wordstat):
    wordstat.dataset["диван"] = [("диван", 90000), ("диван купить", 40000), ("угловой диван", 12000)]
    campaign = make_campaign(workspace, ["диван", "кресло"], regions=[213, 2])

    job = collect(campaign)

    assert job.status == JobStatus.RUNNING and job.stage == "clean"  # collect finished, the next stage is queued
    assert campaign.finished_stage == "collect"
    assert phrases(campaign, "диван") == {"диван": 90000, "диван купить": 40000, "угловой диван": 12000}
    armchair = phrases(campaign, "кресло")
    assert set(armchair) == {"кресло"} | {f"кресло {suffix}" for suffix in SUFFIXES}
    assert all(count > 0 for count in armchair.values())
    assert not CollectedPhrase.objects.filter(phrase__startswith="похожий запрос").exists()  # associations are not kept
    # One request per keyword, with every region in it and the most phrases the API gives.
    assert [call.json for call in wordstat.top_calls] == [
        {"phrase": "диван", "numPhrases": 2000, "regions": [2, 213]},
        {"phrase": "кресло", "numPhrases": 2000, "regions": [2, 213]},
    ]
    assert all(call.headers["Authorization"] == f"Bearer {TOKEN}" for call in wordstat.top_calls)
    assert set(CollectCursor.objects.filter(campaign=campaign).values_list("base_keyword", "done")) == {
        ("диван", True),
        ("кресло", True),
    }


def test_it_asks_wordstat_nothing_for_the_same_brief_again(workspace, wordstat):
    first = make_campaign(workspace, ["диван", "кресло"])
    collect(first)
    assert len(wordstat.top_calls) == 2

    # Another campaign (another workspace, another token even) with the same brief: all from the cache.
    other = make_campaign(Workspace.objects.create(name="Other"), ["Диван ", "кресло"], token="another-token")
    job = collect(other)
    assert job.status == JobStatus.RUNNING and other.finished_stage == "collect"
    assert len(wordstat.top_calls) == 2
    assert phrases(other, "кресло") == phrases(first, "кресло")

    # The same campaign run again from collect: nothing asked either.
    finish(first)
    job = campaign_run(campaign=first, from_stage="collect")
    run_stage(first.pk, job.pk, "collect", chain=False)
    assert len(wordstat.top_calls) == 2

    # Past WORDSTAT_CACHE_DAYS the answer is asked for again.
    WordstatCache.objects.update(fetched_at=timezone.now() - timedelta(days=8))
    third = make_campaign(workspace, ["кресло"])
    collect(third)
    assert [call.json["phrase"] for call in wordstat.top_calls[2:]] == ["кресло"]


def test_it_stops_resumably_when_the_daily_quota_runs_out_and_resumes_with_the_rest(workspace, wordstat):
    wordstat.daily_limit = 2
    keywords = ["диван", "кресло", "пуф", "софа"]
    campaign = make_campaign(workspace, keywords)

    job = collect(campaign)

    assert job.status == JobStatus.FAILED and campaign.status == CampaignStatus.FAILED
    assert "quota used up" in job.error and "2 of 4 keywords" in job.error and "run the campaign again later" in job.error
    assert "resume" in job.message.lower()
    assert campaign.finished_stage == ""
    assert set(CollectedPhrase.objects.filter(campaign=campaign).values_list("base_keyword", flat=True)) == {"диван", "кресло"}
    assert wordstat.refused == [429]  # the daily quota is not retried: one refused call, no hammering

    wordstat.used_today = 0  # a new day
    job = collect(campaign)

    assert job.status == JobStatus.RUNNING and campaign.finished_stage == "collect"
    assert wordstat.asked == ["диван", "кресло", "пуф", "софа"]  # the resumed run asked only for the rest
    assert set(CollectedPhrase.objects.filter(campaign=campaign).values_list("base_keyword", flat=True)) == set(keywords)


def test_it_retries_the_per_second_quota_and_an_outage(workspace, wordstat):
    wordstat.fail_next(429)
    wordstat.fail_next(503)
    campaign = make_campaign(workspace, ["диван"])

    job = collect(campaign)

    assert job.status == JobStatus.RUNNING and campaign.finished_stage == "collect"
    assert wordstat.refused == [429, 503]
    assert len(wordstat.top_calls) == 3
    assert len(phrases(campaign, "диван")) == 1 + len(SUFFIXES)


def test_it_gives_up_after_bounded_retries(wordstat):
    client = WordstatClient(TOKEN, attempts=3, backoff_seconds=0.01)
    wordstat.fail_next(503, times=3)
    with pytest.raises(TransientError, match="unavailable"):
        client.top_requests("диван")
    assert len(wordstat.top_calls) == 3

    wordstat.fail_next(429, times=3)
    with pytest.raises(QuotaExceeded, match="after 3 tries"):
        client.top_requests("диван")
    assert len(wordstat.top_calls) == 6


def test_it_backs_off_exponentially_with_jitter_and_waits_as_long_as_asked(wordstat):
    waits: list[float] = []
    client = WordstatClient(TOKEN, attempts=4, backoff_seconds=1.0, sleep=waits.append)
    wordstat.fail_next(503, times=3)
    client.top_requests("диван")
    # Half of each doubling step is fixed, half random: 0.5–1 s, 1–2 s, 2–4 s.
    assert [0.5 <= waits[0] <= 1.0, 1.0 <= waits[1] <= 2.0, 2.0 <= waits[2] <= 4.0] == [True, True, True]

    waits.clear()
    wordstat.fail_next({"status": 429, "retry_after": 7})
    client.top_requests("кресло")
    assert waits[0] >= 7  # the server's Retry-After wins over a shorter backoff

    waits.clear()
    wordstat.fail_next("daily")
    with pytest.raises(QuotaExceeded) as raised:
        client.top_requests("пуф")
    assert waits == [] and raised.value.retry_after > 60  # the daily quota is not waited for


def test_it_says_the_token_is_wrong_and_never_shows_it(workspace, wordstat, caplog):
    caplog.set_level(logging.DEBUG)
    campaign = make_campaign(workspace, ["диван"], token="y0_wrong-secret-token")

    job = collect(campaign)

    assert job.status == JobStatus.FAILED
    assert "OAuth token" in job.error and "campaign settings" in job.error
    assert "y0_wrong-secret-token" not in job.error + job.message + caplog.text
    assert wordstat.refused == [401]  # not retried
    with pytest.raises(AuthError):
        WordstatClient("y0_wrong-secret-token").user_info()


def test_it_says_where_to_set_a_missing_token(workspace, wordstat):
    campaign = make_campaign(workspace, ["диван"], token="")

    job = collect(campaign)

    assert job.status == JobStatus.FAILED
    assert "No Wordstat OAuth token" in job.error and "Campaign settings" in job.error
    assert wordstat.requests == []


def test_it_forgets_keywords_and_regions_the_brief_no_longer_has(workspace, wordstat):
    campaign = make_campaign(workspace, ["диван", "кресло"], regions=[213])
    collect(campaign)
    finish(campaign)

    campaign.base_keywords = ["диван"]
    campaign.regions = [2]
    campaign.save()
    collect(campaign)

    assert set(CollectedPhrase.objects.filter(campaign=campaign).values_list("base_keyword", flat=True)) == {"диван"}
    assert wordstat.top_calls[-1].json == {"phrase": "диван", "numPhrases": 2000, "regions": [2]}
    assert CollectCursor.objects.get(campaign=campaign).state["regions"] == [2]


@pytest.mark.django_db(transaction=True)
def test_it_spaces_calls_from_two_workers_under_the_rate_limit(settings):
    rps, per_worker = 10, 8  # 16 calls: well over one second's worth, so a limiter that leaks shows up
    # Wordstat's own per-second limit, with one call of slack for delivery jitter on a busy machine.
    with WordstatEmulator(TOKEN, limit_per_second=rps + 1) as emulator:
        settings.WORDSTAT_BASE_URL = emulator.url
        settings.WORDSTAT_RPS = rps
        errors: list[BaseException] = []

        def worker(name: str) -> None:
            # Each thread is a worker of its own: its own client, its own database connection.
            try:
                client = WordstatClient(TOKEN, throttle=wordstat_throttle(TOKEN), attempts=1)
                for n in range(per_worker):
                    client.top_requests(f"{name} {n}")
            except BaseException as exc:
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=worker, args=(name,)) for name in ("диван", "кресло")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert errors == []
    assert emulator.refused == []  # the emulator never saw more than its per-second limit
    arrivals = sorted(emulator.arrivals)
    assert len(arrivals) == 2 * per_worker
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    # Unthrottled, the two workers' calls arrive a few milliseconds apart; throttled, 1/rps apart
    # (tolerance: half an interval of delivery jitter).
    assert min(gaps) >= 0.5 / rps
    assert arrivals[-1] - arrivals[0] >= (len(arrivals) - 1) / rps - 0.5 / rps


@pytest.mark.django_db(transaction=True)
def test_it_stops_at_the_next_keyword_when_cancelled_and_keeps_what_it_saved(settings):
    class CancelledDuringFirstCall(WordstatEmulator):
        """Someone presses Cancel while Wordstat answers the first keyword."""

        def top_requests(self, phrase, num, regions):
            if len(self.asked) == 1:  # the first keyword is being answered
                try:
                    Job.objects.filter(pk=campaign.job_id).update(cancel_requested=True)
                finally:
                    connection.close()  # this server thread's own connection
            return super().top_requests(phrase, num, regions)

    workspace = Workspace.objects.create(name="Cancelling")
    campaign = make_campaign(workspace, ["диван", "кресло", "пуф"])
    with CancelledDuringFirstCall(TOKEN, limit_per_second=1000) as emulator:
        settings.WORDSTAT_BASE_URL = emulator.url
        settings.WORDSTAT_RPS = 1000
        job = campaign_run(campaign=campaign)
        campaign.refresh_from_db()
        run_stage(campaign.pk, job.pk, "collect", chain=False)

        job.refresh_from_db()
        campaign.refresh_from_db()
        assert job.status == JobStatus.CANCELLED and campaign.status == CampaignStatus.CANCELLED
        assert emulator.asked == ["диван"]
        assert set(CollectedPhrase.objects.filter(campaign=campaign).values_list("base_keyword", flat=True)) == {"диван"}

        job = collect(campaign)  # a new run resumes with the rest
        assert job.status == JobStatus.RUNNING and campaign.finished_stage == "collect"
        assert emulator.asked == ["диван", "кресло", "пуф"]
