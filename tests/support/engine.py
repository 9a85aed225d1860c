"""Running the publishing engine in-process, the way a worker would."""

from datetime import timedelta

from django.utils import timezone

from media.models import MediaStatus, Rendition
from media.services import asset_render
from publishing.dispatcher import claim_due
from publishing.publisher import execution_publish


def render_pending() -> int:
    """Render every pending rendition with the real pipeline (what the render_asset task does)."""
    asset_ids = set(Rendition.objects.filter(status=MediaStatus.PENDING).values_list("asset_id", flat=True))
    for asset_id in sorted(asset_ids):
        asset_render(asset_id=asset_id)
    return len(asset_ids)


def drain(now=None, limit: int = 500) -> dict[int, str]:
    """Render pending media, run the dispatcher once (far in the future by default, so pacing
    does not wait), and publish every claimed execution; returns {execution id: outcome}."""
    render_pending()
    results = {}
    for claim in claim_due(now=now or timezone.now() + timedelta(days=30), limit=limit):
        results[claim.execution_id] = execution_publish(claim.execution_id, claim.token)
    return results


def publish_one(post):
    """Plan ``post`` (to exactly one target account) and run the engine once; returns its execution."""
    from publishing.models import Execution
    from publishing.planner import post_publish

    plan = post_publish(post=post)
    assert plan.created == 1, plan.as_dict()
    drain()
    return Execution.objects.get(post=post)
