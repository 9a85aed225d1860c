"""The duplicate warning: the same caption and media going to the same account twice within the
workspace's window (``Workspace.duplicate_window_hours``, 0 = off).

It warns and never blocks: an operator may mean to repeat a post (a reminder, a fixed typo on a
platform that deleted the first one), so the planner still plans the execution and only carries
the warning in its plan. "The same" is ``Post.content_hash`` (``posts.services.hash_content``):
the caption as a reader sees it and the media's own bytes, so re-uploading the same picture or
retyping the caption with other spacing is still the same post.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from django.db.models import Q
from django.db.models.functions import Substr
from django.utils.translation import gettext as _

from posts.models import Post

from .models import OPEN_EXECUTION_STATUSES, Execution, ExecutionStatus

# Enough of a caption to recognise a post that has no title.
LABEL_CHARS = 60


def duplicates_for(
    post: Post,
    account_ids: Iterable,
    *,
    now: datetime,
    planned: Mapping | None = None,
    window_hours: int | None = None,
    fingerprint: str | None = None,
    among=None,
) -> dict[object, list[dict]]:
    """Other posts with ``post``'s content that went (successfully) or will go (an open execution)
    to one of ``account_ids`` within ± the window of the time planned there.

    ``planned`` maps an account id to its planned time; an account missing from it is taken at
    the post's start (its scheduled time, or ``now``). ``window_hours`` defaults to the post's
    workspace's; ``fingerprint`` to ``post.content_hash`` (the planner passes the hash of what it
    is about to publish). Repetitions of one post (``Post.parent``) are not each other's
    duplicates: they repeat on purpose. Answers ``{account_id: [{"post", "title", "handle", "at", "published"}]}``
    with the accounts that have a duplicate, each list by time. One query whatever the number of
    accounts; none when the window is 0 or the post has no hash. ``among``, a query of account ids
    that holds all of ``account_ids`` (the planner's: the post's targets), is sent instead of the
    list of ids — a plan to 100,000 accounts sends no list of 100,000 ids.
    """
    hours = post.workspace.duplicate_window_hours if window_hours is None else window_hours
    fingerprint = post.content_hash if fingerprint is None else fingerprint
    account_ids = list(account_ids)
    if not hours or not fingerprint or not account_ids:
        return {}
    window = timedelta(hours=hours)
    start = max(now, post.scheduled_at) if post.scheduled_at else now
    times = {account_id: (planned or {}).get(account_id) or start for account_id in account_ids}
    low, high = min(times.values()) - window, max(times.values()) + window
    rows = (
        Execution.objects.filter(account_id__in=account_ids if among is None else among)
        .filter(post__workspace_id=post.workspace_id, post__content_hash=fingerprint)
        .exclude(post_id=post.pk)
        .exclude(_family(post))
        .filter(
            Q(status=ExecutionStatus.SUCCESS, finished_at__gte=low, finished_at__lte=high)
            | Q(status__in=OPEN_EXECUTION_STATUSES, scheduled_for__gte=low, scheduled_for__lte=high)
        )
        .annotate(caption_start=Substr("post__caption", 1, LABEL_CHARS))
        .values_list(
            "account_id", "post_id", "post__title", "caption_start", "account__handle", "status", "scheduled_for", "finished_at"
        )
    )
    found: dict[object, list[dict]] = {}
    for account_id, post_id, title, caption, handle, status, scheduled_for, finished_at in rows:
        published = status == ExecutionStatus.SUCCESS
        at = (finished_at or scheduled_for) if published else scheduled_for
        if account_id not in times or abs(at - times[account_id]) > window:
            continue  # inside the common range, outside this account's own window
        found.setdefault(account_id, []).append(
            {"post": post_id, "title": title or caption, "handle": handle, "at": at, "published": published}
        )
    for items in found.values():
        items.sort(key=lambda item: (item["at"], item["post"]))
    return found


def _family(post: Post) -> Q:
    """The repetitions of ``post``'s parent (recurring or evergreen) and the parent itself: they
    repeat it on purpose, so they are not duplicates of each other."""
    family = Q(post__parent_id=post.pk)
    if post.parent_id is not None:
        family |= Q(post_id=post.parent_id) | Q(post__parent_id=post.parent_id)
    return family


def duplicate_warning(item: dict, tz: str) -> str:
    """One duplicate (an item of ``duplicates_for``) as the sentence the plan carries, its time in ``tz``."""
    local = item["at"].astimezone(zoneinfo.ZoneInfo(tz))
    params = {"handle": item["handle"], "at": f"{local:%Y-%m-%d %H:%M} ({tz})", "post": item["post"]}
    if item["published"]:
        return _("The same caption and media went to %(handle)s at %(at)s (post #%(post)d); planned anyway.") % params
    return _("The same caption and media are planned for %(handle)s at %(at)s (post #%(post)d); planned anyway.") % params


def post_duplicate_warnings(post: Post, *, now: datetime) -> list[str]:
    """The warnings of a post already published or planned: for each of its executions that went
    or will go out, the other posts with the same content near it on the same account. Two queries."""
    planned: dict[object, datetime] = {}
    rows = Execution.objects.filter(post=post, status__in=(ExecutionStatus.SUCCESS, *OPEN_EXECUTION_STATUSES))
    for account_id, status, scheduled_for, finished_at in rows.values_list(
        "account_id", "status", "scheduled_for", "finished_at"
    ):
        planned[account_id] = (finished_at or scheduled_for) if status == ExecutionStatus.SUCCESS else scheduled_for
    found = duplicates_for(post, planned, now=now, planned=planned)
    tz = post.workspace.timezone
    return [duplicate_warning(item, tz) for items in found.values() for item in items]
