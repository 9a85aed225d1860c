"""Collect: every base keyword's phrases and their frequencies from Wordstat (``CollectedPhrase``).

One ``/v1/topRequests`` call per base keyword — with all the campaign's regions in it, as the API
takes a region list, and ``numPhrases=2000`` (the API has no pages; that is the most it returns).
The answer's ``topRequests`` (queries that contain the keyword) are saved; its ``associations``
(merely similar queries) are not, they drift off the brief. A keyword's rows and its done cursor
are saved in one transaction, so a run stopped anywhere — the daily quota, a cancel, a crash —
keeps every finished keyword and the next run asks Wordstat only for the rest. A cursor counts as
done only for the regions it was collected with and while younger than WORDSTAT_CACHE_DAYS;
keywords no longer in the brief lose their rows.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ..clients.wordstat import AuthError, QuotaExceeded, TopRequests, TransientError, WordstatError
from ..models import CampaignSettings, CollectCursor, CollectedPhrase
from ..wordstat import cached_top_requests, client_for, fresh_since
from . import StageContext, StageError

PHRASE_MAX = CollectedPhrase._meta.get_field("phrase").max_length


def run(ctx: StageContext) -> None:
    campaign = ctx.campaign
    keywords = [k for k in dict.fromkeys(campaign.base_keywords or []) if k.strip()]
    regions = sorted({int(r) for r in campaign.regions or []})
    _forget_stale(campaign, keywords, regions)
    done = set(CollectCursor.objects.filter(campaign=campaign, done=True).values_list("base_keyword", flat=True))
    todo = [k for k in keywords if k not in done]
    if not todo:
        ctx.step(1.0, f"All {len(keywords)} keywords already collected.")
        return
    token = CampaignSettings.objects.filter(workspace_id=campaign.workspace_id).values_list("wordstat_token", flat=True).first()
    if not (token or "").strip():
        raise StageError(
            "No Wordstat OAuth token is set for this workspace: add it in Campaign settings "
            "(admin → Campaigns → Campaign settings), then run the campaign again."
        )
    client = client_for(token)
    for index, keyword in enumerate(keywords):
        ctx.step(index / len(keywords), f"Wordstat: «{keyword}» ({index + 1} of {len(keywords)}).")
        if keyword in done:
            continue
        try:
            answer, cached = cached_top_requests(client, keyword, regions=regions)
        except QuotaExceeded as exc:
            saved = CollectCursor.objects.filter(campaign=campaign, done=True).count()
            hours = f" (refills in about {max(1, round(exc.retry_after / 3600))} h)" if exc.retry_after else ""
            raise StageError(
                f"Wordstat quota used up{hours}: {saved} of {len(keywords)} keywords are collected and kept; "
                "run the campaign again later to resume with the rest.",
                resumable=True,
            ) from exc
        except AuthError as exc:
            raise StageError(exc.message) from exc
        except TransientError as exc:
            raise StageError(
                f"{exc.message} Collected keywords are kept; run the campaign again to resume.", resumable=True
            ) from exc
        except WordstatError as exc:
            raise StageError(f"Wordstat could not take the keyword «{keyword}»: {exc.message}") from exc
        _save(campaign, keyword, regions, TopRequests.from_json(answer), cached=cached)
    ctx.step(1.0, f"Collected {CollectedPhrase.objects.filter(campaign=campaign).count()} phrases.")


@transaction.atomic
def _save(campaign, keyword: str, regions: list[int], answer: TopRequests, *, cached: bool) -> None:
    rows = {}
    for item in answer.top:
        phrase = " ".join(item.phrase.split())
        if phrase and len(phrase) <= PHRASE_MAX and phrase not in rows:
            rows[phrase] = CollectedPhrase(campaign=campaign, base_keyword=keyword, phrase=phrase, frequency=max(0, item.count))
    CollectedPhrase.objects.bulk_create(rows.values(), ignore_conflicts=True)
    CollectCursor.objects.update_or_create(
        campaign=campaign,
        base_keyword=keyword,
        defaults={
            "done": True,
            "state": {
                "regions": regions,
                "phrases": len(rows),
                "total_count": answer.total_count,
                "cached": cached,
                "fetched_at": timezone.now().isoformat(),
            },
        },
    )


@transaction.atomic
def _forget_stale(campaign, keywords: list[str], regions: list[int]) -> None:
    """Drop what no longer matches the brief: removed keywords, other regions, answers past the TTL."""
    CollectedPhrase.objects.filter(campaign=campaign).exclude(base_keyword__in=keywords).delete()
    CollectCursor.objects.filter(campaign=campaign).exclude(base_keyword__in=keywords).delete()
    oldest = fresh_since()
    stale = []
    for cursor in CollectCursor.objects.filter(campaign=campaign):
        fetched = parse_datetime(str(cursor.state.get("fetched_at") or ""))
        if not cursor.done or cursor.state.get("regions") != regions or fetched is None or fetched < oldest:
            stale.append(cursor.base_keyword)
    if stale:
        CollectedPhrase.objects.filter(campaign=campaign, base_keyword__in=stale).delete()
        CollectCursor.objects.filter(campaign=campaign, base_keyword__in=stale).delete()
