"""The composer's review step, put together from the planner and the translation services."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from posts.models import CaptionMode, Post
from publishing.models import PostCaption
from publishing.planner import post_publish
from publishing.selectors import post_caption_preview
from translations.services import CaptionResult, captions_for

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
        return {"error": " ".join(exc.messages), "ai_captions": ai_captions_of(post)}
    if post.caption_mode == CaptionMode.AI:
        # The dry run wrote (or kept) the captions per platform: they are what the accounts get.
        for entry in plan.entries:
            entry.caption_shown = entry.caption
        return {**_summary(plan), "languages": [], "ai_captions": ai_captions_of(post)}
    languages = post_caption_preview(post=post)
    # What "Use the translation" would bring back for each caption written by hand; the button is
    # offered only where there is one (a provider is configured and can translate that language).
    fallback = translations_of(post, [row["language"] for row in languages if row["overridden"]])
    for row in languages:
        result = fallback.get(row["language"])
        row["translation"] = result.caption if result else None
        row["translation_problem"] = result.problem if result and result.caption is None else ""
    by_language = {row["language"]: row for row in languages}
    for entry in plan.entries:
        row = by_language.get(entry.language)
        entry.caption_shown = row["caption"] if row and row["caption"] is not None else entry.caption
    return {**_summary(plan), "languages": languages}


def _summary(plan) -> dict:
    counts = plan.as_dict()
    return {
        "plan": plan,
        "planned": counts["planned"],
        "blocked": counts["blocked"],
        "existing": counts["existing"],
        "entries": plan.entries[:PREVIEW_ROWS],
        "warnings": [warning for entry in plan.entries for warning in entry.warnings][:PREVIEW_ROWS],
        "more": max(0, len(plan.entries) - PREVIEW_ROWS),
    }


def ai_captions_of(post: Post) -> list[PostCaption]:
    """The post's stored AI captions for the review (none unless it is in the AI caption mode)."""
    if post.caption_mode != CaptionMode.AI:
        return []
    return list(PostCaption.objects.filter(post=post).order_by("platform", "language"))


def translations_of(post: Post, languages: list[str]) -> dict[str, CaptionResult]:
    """The captions ``languages`` would get from the post's own caption, ignoring the operator's
    hand-written ones: the original for its language, else the configured providers' translation
    (``caption=None`` and the problem when none can translate it)."""
    if not languages:
        return {}
    return captions_for(text=post.caption, source=post.language, targets=languages, workspace=post.workspace_id, title=post.title)
