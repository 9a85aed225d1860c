"""Reads of recurring and evergreen posts: a post's rule and its repetitions with how each went."""

from __future__ import annotations

from django.db.models import QuerySet

from posts.models import Post
from publishing.selectors import outcome_counts

from .models import Recurrence


def recurrence_of(post: Post) -> Recurrence | None:
    return Recurrence.objects.filter(post=post).first()


def repetitions_of(post: Post) -> QuerySet[Post]:
    """The repetitions of ``post``, the latest occurrence first, each annotated with its
    executions' outcome counts (``total``, ``published``, ``open``, ``failed``, ``stopped``,
    ``blocked``… as ``publishing.selectors.outcome_counts``) in one query."""
    return Post.objects.filter(parent=post).annotate(**outcome_counts(via="executions__")).order_by("-occurrence_at", "-pk")
