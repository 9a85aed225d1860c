"""Reads of the media pipeline for other apps (the publishing engine)."""

from __future__ import annotations

from django.db.models import Exists, OuterRef

from .models import MediaAsset, MediaStatus, Rendition


def assets_of(post) -> list[MediaAsset]:
    """A post's media assets in publishing order."""
    return [pm.asset for pm in post.media.select_related("asset").order_by("position")]


def renditions_pending(post_field: str = "post") -> Exists:
    """True for rows (executions) whose post has a rendition still pending.

    For the dispatcher: ``due.exclude(renditions_pending())`` keeps such
    executions ``pending`` until the media is rendered. All renditions of an
    asset come from one render task, so they become ready together; waiting for
    any pending one of the post's assets costs nothing and needs no per-platform
    logic in SQL. A *failed* rendition does not hold anything back: the
    publisher fails the executions that need it.
    """
    return Exists(Rendition.objects.filter(asset__post_media__post=OuterRef(post_field), status=MediaStatus.PENDING).values("pk"))
