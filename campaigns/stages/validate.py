"""Validate: every ad — generated or edited by hand — checked again against Yandex Direct's limits
(``direct.check_ad``), its status and problems saved.

A FLAGGED ad is never exported as an ad: the export writes only VALID ads to the Ads tab (the
Direct Commander upload) and lists the flagged ones, with their problems, on a separate "Flagged"
tab so the operator fixes them by hand. A campaign whose ads are all flagged is still exported
(keywords and clusters are useful on their own); the job's result counts the flagged ads.
"""

from __future__ import annotations

from ..direct import FIELDS, check_ad
from ..models import Ad, AdStatus
from . import StageContext

STEP = 50  # ads per progress step


def run(ctx: StageContext) -> None:
    ads = list(Ad.objects.filter(campaign=ctx.campaign).order_by("pk"))
    flagged = 0
    for index, ad in enumerate(ads):
        if index % STEP == 0:
            ctx.step(index / max(1, len(ads)), f"Checking ads {index + 1}–{min(index + STEP, len(ads))} of {len(ads)}.")
        problems = [p.as_dict() for p in check_ad({f: getattr(ad, f) for f in FIELDS})]
        status = AdStatus.FLAGGED if problems else AdStatus.VALID
        flagged += bool(problems)
        if status != ad.status or problems != ad.problems:
            Ad.objects.filter(pk=ad.pk).update(status=status, problems=problems)
    ctx.step(1.0, f"{len(ads) - flagged} ad(s) within Direct's limits, {flagged} flagged.")
