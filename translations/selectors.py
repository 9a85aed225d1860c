"""Reads for the review screen: every target language of a post with its caption."""

from collections import Counter

from posts.models import Post
from publishing.planner import target_accounts

from .services import caption_overrides, captions_for


def post_caption_preview(*, post: Post) -> list[dict]:
    """Per target language: the caption the planner would use (override, cache or provider), its
    provider, any problem and how many accounts read it. Translates (and caches); publishes nothing."""
    languages = Counter(target_accounts(post).values_list("language", flat=True))
    overrides = caption_overrides(post)
    results = captions_for(
        text=post.caption,
        source=post.language,
        targets=set(languages),
        workspace=post.workspace_id,
        overrides=overrides,
        title=post.title,
    )
    return [
        {
            "language": language,
            "accounts": languages[language],
            "caption": result.caption,
            "title": result.title,
            "provider": result.provider,
            "overridden": result.provider == "override",
            "problem": result.problem,
        }
        for language, result in sorted(results.items())
    ]
