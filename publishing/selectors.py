"""Reads of executions shared by the engine, the admin, the API and the dashboard, and the
caption preview of the review screen."""

from collections import Counter

from django.db.models import Count, Q

from posts.models import Post
from posts.options import caption_overrides
from translations.services import captions_for

from .models import OPEN_EXECUTION_STATUSES, ExecutionStatus
from .planner import target_accounts

STOPPED_STATUSES = (ExecutionStatus.CANCELLED, ExecutionStatus.SKIPPED)
# The statuses each outcome of outcome_counts counts (besides ``total`` and ``waiting``, blocked
# executions planned again by themselves: a status and a column).
OUTCOME_STATUSES = {
    "published": (ExecutionStatus.SUCCESS,),
    "open": OPEN_EXECUTION_STATUSES,
    "failed": (ExecutionStatus.FAILED,),
    "stopped": STOPPED_STATUSES,
    "blocked": (ExecutionStatus.BLOCKED,),
    "unconfirmed": (ExecutionStatus.UNCONFIRMED,),
}


def outcome_counts(via: str = "") -> dict[str, Count]:
    """Count expressions of executions by outcome, for ``aggregate``/``annotate``:
    total, published, open, failed, stopped (cancelled or skipped), blocked (of which
    ``waiting``: blocked for a temporary cause, planned again by itself) and unconfirmed
    (open, but waiting for an operator where the platform cannot confirm).

    ``via`` reaches executions through a relation (``"executions__"`` on posts).
    """

    def count(**lookup) -> Count:
        return Count(f"{via}pk", filter=Q(**{f"{via}{k}": v for k, v in lookup.items()}) if lookup else None)

    return {
        "total": count(),
        **{outcome: count(status__in=statuses) for outcome, statuses in OUTCOME_STATUSES.items()},
        "waiting": count(status=ExecutionStatus.BLOCKED, next_attempt_at__isnull=False),
    }


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
