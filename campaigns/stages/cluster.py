"""Cluster: the campaign's keywords grouped into ad groups (campaigns.cluster), saved as Cluster rows
with each Keyword pointing at its cluster. The previous clusters are deleted first, and their ads
with them: ads are written per cluster, so new clusters get new ads.

An ad group is one base keyword's one intent. Every phrase Wordstat answers for «диван» contains
«диван», and buyer words (купить, цена, недорого, Москва…) run through all of them: compared whole,
«угловой диван» and «диван кровать» look alike and everything collapses into one group per base
keyword. So phrases are grouped under the first base keyword whose lemmas they contain, and within
it are clustered on what they add — their lemmas without the base keyword's and without buyer
words. A phrase that adds nothing (the base keyword, «купить диван») forms the base keyword's own
group. Phrases under no base keyword are clustered whole, together."""

from __future__ import annotations

from django.db import transaction

from ..cluster import cluster_name, cluster_phrases
from ..models import Cluster, Keyword
from ..text import lemmas as lemmas_of
from . import StageContext, StageError

BATCH = 1000


def run(ctx: StageContext) -> None:
    campaign = ctx.campaign
    keywords = list(Keyword.objects.filter(campaign=campaign).order_by("pk"))
    if not keywords:
        raise StageError("The campaign has no keywords to cluster; run it from the clean stage.")
    ctx.step(0.05, f"Clustering {len(keywords)} keywords.")
    items = [(keyword.phrase, keyword.lemmas, keyword.frequency) for keyword in keywords]
    groups = intent_groups(campaign.base_keywords, items, lambda done: ctx.step(0.05 + 0.65 * done, "Clustering."))
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


# Words every buyer adds whatever they look for: they say nothing about which ad fits.
BUYER_WORDS = frozenset(
    "купить цена стоимость недорого недорогой дешево дешёвый дешевый заказать заказ магазин интернет "
    "москва мск спб петербург санкт доставка отзыв распродажа скидка акция каталог".split()
)


def intent_groups(base_keywords, items, progress) -> list[list[int]]:
    """Index groups of ``items`` ((phrase, lemmas, frequency), lemmas space-separated): per base
    keyword, its own group plus clusters of what its phrases add; the rest clustered whole. Ordered
    by total frequency (then name), as cluster_phrases orders its clusters."""
    bases = [(base, set(lemmas_of(base))) for base in base_keywords]
    blocks: dict[int, list[int]] = {}
    for index, (_phrase, lemmas, _frequency) in enumerate(items):
        words = set(lemmas.split())
        owner = next((n for n, (_base, own) in enumerate(bases) if own and own <= words), -1)
        blocks.setdefault(owner, []).append(index)
    groups: list[list[int]] = []
    done_blocks = 0
    for owner, members in sorted(blocks.items()):
        if owner < 0:
            parts = cluster_phrases([items[i] for i in members])
            groups += [[members[i] for i in part] for part in parts]
        else:
            own = bases[owner][1] | BUYER_WORDS
            head, tails = [], []
            for i in members:
                rest = " ".join(w for w in items[i][1].split() if w not in own)
                (tails if rest else head).append((i, rest))
            if head:
                groups.append([i for i, _ in head])
            if tails:
                parts = cluster_phrases([(items[i][0], rest, items[i][2]) for i, rest in tails])
                groups += [[tails[j][0] for j in part] for part in parts]
        done_blocks += 1
        progress(done_blocks / len(blocks))
    total = {id(g): sum(items[i][2] for i in g) for g in groups}
    return sorted(groups, key=lambda g: (-total[id(g)], cluster_name(items, g)))
