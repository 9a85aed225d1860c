"""Generate: ``campaign.ads_per_cluster`` Yandex Direct ads per cluster, written by the LLM.

Clusters go largest first (by total frequency), so a run stopped midway has the ads that matter
most. For each cluster the model gets the product description, the target URL's host and the
cluster's top phrases, and answers JSON; every ad is checked with ``direct.check_ad``:

1. an ad over a limit (or a non-JSON answer) is asked for again with the problems listed —
   ``MAX_TRIES`` answers per cluster in all;
2. still over: trimmed at a word boundary when that makes it valid;
3. else saved FLAGGED with its problems, so it is never exported silently (``validate``/``export``).

Re-running the stage replaces every ad that was not edited by hand (edited ads stay and count
towards the cluster's number). Resuming after a failed or cancelled generate keeps the clusters
that already have all their ads and writes only the rest. A 429/5xx from the LLM is retried with
backoff (``CAMPAIGN_AI_RETRIES``); then the stage stops resumable, keeping what it wrote.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Q

from crosspost.models import Job, JobStatus
from translations.exceptions import TranslationError, TranslationQuotaExceeded, TranslationRetryLater
from translations.services import ai_completer, ai_configured

from .. import prompts
from ..direct import FIELDS, check_ad, trim_ad
from ..models import Ad, AdStatus, Campaign, Cluster, Stage
from . import StageContext, StageError

MAX_TRIES = 3  # answers per cluster: the first and two repairs
TOP_PHRASES = 10  # phrases of the cluster the model sees, most frequent first


def run(ctx: StageContext) -> None:
    campaign = ctx.campaign
    if not ai_configured():
        raise StageError("Writing ads needs an LLM: set OPENAI_API_KEY (and OPENAI_BASE_URL / OPENAI_MODEL if not OpenAI's).")
    wanted = max(1, campaign.ads_per_cluster)
    if not _resuming(campaign, ctx.job_id):
        Ad.objects.filter(campaign=campaign, edited=False).delete()
    clusters = list(
        Cluster.objects.filter(campaign=campaign)
        .annotate(have=Count("ads"), edited_ads=Count("ads", filter=Q(ads__edited=True)))
        .order_by("-total_frequency", "position")
    )
    complete = ai_completer()
    site = urlsplit(campaign.target_url).hostname or campaign.target_url
    for index, cluster in enumerate(clusters):
        ctx.step(index / max(1, len(clusters)), f"Writing ads for «{cluster.name}» ({index + 1}/{len(clusters)}).")
        if cluster.have >= wanted:
            continue  # written before this run was resumed, or edited by hand
        # A cluster the earlier run left half done starts over (its generated ads are replaced).
        Ad.objects.filter(cluster=cluster, edited=False).delete()
        count = wanted - cluster.edited_ads
        phrases = list(cluster.keywords.order_by("-frequency", "phrase").values_list("phrase", flat=True)[:TOP_PHRASES])
        ads = write_ads(complete, product=campaign.product_description, site=site, phrases=phrases or [cluster.name], count=count)
        with transaction.atomic():
            # After the ads kept from hand edits, whatever positions they have.
            start = (cluster.ads.aggregate(last=Max("position"))["last"] + 1) if cluster.edited_ads else 0
            for offset, ad in enumerate(ads):
                Ad.objects.create(campaign=campaign, cluster=cluster, position=start + offset, **ad)
    ctx.step(1.0, f"Ads written for {len(clusters)} cluster(s).")


def _resuming(campaign: Campaign, job_id: int) -> bool:
    """Whether this run picks up a generate that stopped (failed or cancelled) in the previous run."""
    jobs = Job.objects.filter(subject=f"campaigns.campaign:{campaign.pk}", pk__lt=job_id)
    previous = jobs.order_by("-pk").only("status", "stage").first()
    return (
        previous is not None and previous.stage == Stage.GENERATE and previous.status in (JobStatus.FAILED, JobStatus.CANCELLED)
    )


def write_ads(complete, *, product: str, site: str, phrases: list[str], count: int) -> list[dict]:
    """``count`` ads as Ad field dicts (title1…display_path, status, problems, attempts)."""
    messages = prompts.ad_messages(product=product, site=site, phrases=phrases, count=count)
    accepted: list[dict] = []
    rejected: list[tuple[dict, list]] = []  # the last answer's ads that broke a limit
    for attempt in range(1, MAX_TRIES + 1):
        answer = _complete(complete, messages)
        candidates, problem = parse_ads(answer)
        if problem:
            feedback = [problem]
        else:
            rejected = []
            for fields in candidates[: count - len(accepted)]:
                problems = check_ad(fields)
                if problems:
                    rejected.append((fields, problems))
                else:
                    accepted.append(_ad(fields, AdStatus.VALID, [], attempt))
            if len(accepted) >= count:
                return accepted
            feedback = [f"Ad «{fields['title1']}»: {p.message}" for fields, problems in rejected for p in problems]
            if not rejected:
                feedback = [f"Too few ads: {count - len(accepted)} more are needed."]
        if attempt < MAX_TRIES:
            messages = prompts.repair_messages(messages, answer, feedback, count - len(accepted))
    for fields, problems in rejected[: count - len(accepted)]:
        trimmed = trim_ad(fields)
        if trimmed is not None:
            accepted.append(_ad(trimmed, AdStatus.VALID, [], MAX_TRIES))
        else:
            accepted.append(_ad(fields, AdStatus.FLAGGED, [p.as_dict() for p in problems], MAX_TRIES))
    return accepted


def _ad(fields: dict, status: str, problems: list, attempts: int) -> dict:
    return {**{f: fields.get(f, "") for f in FIELDS}, "status": status, "problems": problems, "attempts": attempts}


def parse_ads(answer: str) -> tuple[list[dict], str | None]:
    """The ads of a JSON answer (``{"ads": [...]}`` or a bare list), strings only; or a problem."""
    answer = answer.strip()
    if answer.startswith("```"):  # a fenced block despite JSON mode: take what is inside
        answer = answer.strip("`").removeprefix("json").strip()
    try:
        data = json.loads(answer)
    except ValueError:
        return [], 'The answer was not JSON; answer with {"ads": [...]} only.'
    items = data.get("ads") if isinstance(data, dict) else data
    if not isinstance(items, list) or not items:
        return [], 'The answer had no "ads" list.'
    ads = []
    for item in items:
        if isinstance(item, dict):
            ads.append({f: " ".join(str(item.get(f) or "").split()) for f in FIELDS})
    if not ads:
        return [], 'Each ad must be an object with "title1", "title2", "text" and "display_path".'
    return ads, None


def _complete(complete, messages: list[dict]) -> str:
    """One completion; a 429/5xx/outage is retried with backoff, then stops the stage resumable."""
    base = settings.CAMPAIGN_AI_BACKOFF_SECONDS
    retry = 0
    while True:
        try:
            return complete(messages)
        except TranslationRetryLater as exc:
            if retry >= settings.CAMPAIGN_AI_RETRIES:
                raise StageError(f"The LLM is still unavailable: {exc} Ads written so far are kept.", resumable=True) from exc
            # The provider's retry-after when it gave one, else a doubling backoff; never beyond 30 × base.
            time.sleep(min(max(exc.retry_after or 0, base * 2**retry), base * 30))
            retry += 1
        except TranslationQuotaExceeded as exc:
            raise StageError(f"{exc} Ads written so far are kept.", resumable=True) from exc
        except TranslationError as exc:
            raise StageError(str(exc)) from exc
