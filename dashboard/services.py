"""The composer's review step, put together from the planner and the translation services."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from posts.models import Post
from publishing.planner import post_publish
from publishing.selectors import post_caption_preview

# Rows of the per-account plan a page shows; the summary counts every account.
PREVIEW_ROWS = 200


def post_caption_review(post: Post) -> dict:
    """What publishing ``post`` now would do, without creating anything: the dry-run plan per
    account and the caption of every target language (the operator's override, else the translation).

    Returns ``{"error": …}`` when the post cannot be planned (no targets, cancelled).
    """
    try:
        plan = post_publish(post=post, dry_run=True)
    except ValidationError as exc:
        return {"error": " ".join(exc.messages)}
    languages = post_caption_preview(post=post)
    by_language = {row["language"]: row for row in languages}
    for entry in plan.entries:
        row = by_language.get(entry.language)
        entry.caption_shown = row["caption"] if row and row["caption"] is not None else entry.caption
    counts = plan.as_dict()
    return {
        "plan": plan,
        "planned": counts["planned"],
        "blocked": counts["blocked"],
        "existing": counts["existing"],
        "languages": languages,
        "entries": plan.entries[:PREVIEW_ROWS],
        "more": max(0, len(plan.entries) - PREVIEW_ROWS),
    }
