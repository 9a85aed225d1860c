"""Cluster: the campaign's keywords grouped into ad groups (campaigns.cluster), saved as Cluster rows
with each Keyword pointing at its cluster. The previous clusters are deleted first, and their ads
with them: ads are written per cluster, so new clusters get new ads."""

from __future__ import annotations

from django.db import transaction

from ..cluster import cluster_name, cluster_phrases
from ..models import Cluster, Keyword
from . import StageContext, StageError

BATCH = 1000


def run(ctx: StageContext) -> None:
    campaign = ctx.campaign
    keywords = list(Keyword.objects.filter(campaign=campaign).order_by("pk"))
    if not keywords:
        raise StageError("The campaign has no keywords to cluster; run it from the clean stage.")
    ctx.step(0.05, f"Clustering {len(keywords)} keywords.")
    items = [(keyword.phrase, keyword.lemmas, keyword.frequency) for keyword in keywords]
    groups = cluster_phrases(items, progress=lambda done: ctx.step(0.05 + 0.65 * done, "Clustering."))
    ctx.step(0.7, f"{len(groups)} clusters; saving.")
    with transaction.atomic():
        Cluster.objects.filter(campaign=campaign).delete()  # CASCADE: their ads; keywords' cluster → NULL
        clusters = Cluster.objects.bulk_create(
            [
                Cluster(
                    campaign=campaign,
                    position=position,
                    name=cluster_name(items, members)[:400],
                    size=len(members),
                    total_frequency=sum(items[i][2] for i in members),
                )
                for position, members in enumerate(groups)
            ]
        )
        for cluster, members in zip(clusters, groups, strict=True):
            for i in members:
                keywords[i].cluster = cluster
        Keyword.objects.bulk_update(keywords, ["cluster"], batch_size=BATCH)
    ctx.step(1.0, f"{len(groups)} clusters from {len(keywords)} keywords.")
