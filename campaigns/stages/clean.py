"""Clean: the collected phrases (and the base keywords themselves) become the campaign's keywords —
normalised, without minus words, one per lemma key (campaigns.text explains each rule)."""

from __future__ import annotations

from django.db import transaction

from ..models import CollectedPhrase, Keyword
from ..text import clean_phrases
from . import StageContext, StageError

BATCH = 1000


def run(ctx: StageContext) -> None:
    campaign = ctx.campaign
    pairs = list(CollectedPhrase.objects.filter(campaign=campaign).order_by("pk").values_list("phrase", "frequency"))
    # The base keywords are keywords too, even when Wordstat returned nothing for one of them; when it
    # did, their collected frequency wins (merging keeps the max).
    pairs += [(keyword, 0) for keyword in campaign.base_keywords]
    total = len(pairs)
    ctx.step(0.0, f"Cleaning {total} phrases.")
    result = clean_phrases(
        pairs,
        campaign.minus_words,
        progress=lambda done: ctx.step(0.8 * done / total, f"Cleaned {done} of {total} phrases."),
    )
    ctx.step(0.8, "Saving keywords.")
    with transaction.atomic():  # re-runnable: the previous run's keywords go, all at once with the new ones
        Keyword.objects.filter(campaign=campaign).delete()
        Keyword.objects.bulk_create(
            [
                Keyword(campaign=campaign, phrase=item.phrase[:400], lemmas=item.lemmas[:400], frequency=item.frequency)
                for item in result.phrases
            ],
            batch_size=BATCH,
        )
    if not result.phrases:
        raise StageError("No keyword is left after cleaning: every phrase contains a minus word. Check the minus words.")
    ctx.step(
        1.0,
        f"{len(result.phrases)} keywords: {result.duplicates} duplicates merged, "
        f"{result.dropped_minus} with minus words dropped.",
    )
