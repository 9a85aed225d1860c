"""Campaign rows for the front-end tests, made directly (the stages are tested on their own): a brief
through the service, and the clusters, keywords and ads a finished run leaves."""

from campaigns.models import Ad, AdStatus, Cluster, Keyword
from campaigns.services import campaign_create

BRIEF = {
    "name": "Linen dresses",
    "product_description": "Linen summer dresses, sewn in Ivanovo.",
    "target_url": "https://shop.example/linen",
    "base_keywords": ["льняное платье", "платье из льна"],
    "regions": [213],
}


def make_campaign(workspace, **fields):
    return campaign_create(workspace=workspace, **{**BRIEF, **fields})


def add_output(campaign, clusters: int = 2) -> list[Cluster]:
    made = []
    for position in range(clusters):
        cluster = Cluster.objects.create(
            campaign=campaign, position=position, name=f"платье лен {position}", size=2, total_frequency=300 + position
        )
        for n in range(2):
            Keyword.objects.create(
                campaign=campaign, phrase=f"платье лен {position} {n}", lemmas="платье лён", frequency=150 + n, cluster=cluster
            )
        Ad.objects.create(
            campaign=campaign, cluster=cluster, position=0, title1="Льняные платья", text="Лёгкие платья из льна. Доставка."
        )
        Ad.objects.create(
            campaign=campaign,
            cluster=cluster,
            position=1,
            title1="Платья из льна с доставкой по всей России и СНГ прямо сейчас",
            text="Текст",
            status=AdStatus.FLAGGED,
            problems=["title1: 60 characters, at most 56"],
        )
        made.append(cluster)
    return made
