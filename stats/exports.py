"""Exports: the statistics as CSV (one row per publication with its latest numbers), and the posts
of a date range with their executions and latest numbers as CSV or JSON (``posts_csv``,
``posts_json``; the dashboard's Export form and ``GET /api/v1/export/posts/``).

CSV is UTF-8 with a byte-order mark (Excel then reads the Cyrillic right), a header row, numbers as
Python writes them (never localised: "1234.5", not "1 234,5"), an empty cell for a number that
is not available, and text that starts like a formula made plain text (``_text``). Rows are read
in chunks and written as they come, so a long period streams in constant memory.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from itertools import islice

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.api_base import DateTimeField
from accounts.selectors import scope
from platforms.base import METRICS
from posts.models import Post, PostStatus
from publishing.models import Execution

from .models import MetricSnapshot
from .selectors import Period, latest_snapshots, period_executions, publications

BOM = "\ufeff"
HEADER = (
    "post_id",
    "post_title",
    "account_id",
    "account_handle",
    "platform",
    "language",
    "published_at",
    "url",
    "slot",
    "taken_at",
    *METRICS,
)
CHUNK = 2000


class _Echo:
    """A file-like object whose write returns the line, for csv.writer to stream through."""

    def write(self, value: str) -> str:
        return value


def _cell(value) -> str | int | float:
    return "" if value is None else value


def _text(value: str) -> str:
    """Text as text: a title or handle starting like a formula (=, +, -, @) would run as one in
    Excel, so it gets a leading apostrophe, which Excel shows as plain text."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _rows(snapshots: QuerySet[MetricSnapshot]) -> Iterator[tuple]:
    for snapshot in snapshots.iterator(chunk_size=CHUNK):
        execution = snapshot.execution
        yield (
            execution.post_id,
            _text(str(execution.post)),
            str(execution.account_id),
            _text(execution.account.handle),
            execution.account.platform,
            execution.language,
            execution.finished_at.isoformat() if execution.finished_at else "",
            _text(execution.remote_url),
            snapshot.slot,
            snapshot.taken_at.isoformat(),
            *(_cell(getattr(snapshot, metric)) for metric in METRICS),
        )


def _lines(snapshots: QuerySet[MetricSnapshot]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield BOM + writer.writerow(HEADER)
    for row in _rows(snapshots):
        yield writer.writerow(row)


def post_csv(post: Post) -> Iterator[str]:
    """The post's publications with their latest numbers, by platform and handle."""
    snapshots = latest_snapshots(Execution.objects.filter(post=post)).order_by(
        "execution__account__platform", "execution__account__handle", "pk"
    )
    return _lines(publications(snapshots))


def period_csv(user, period: Period, workspace_id: int | None = None) -> Iterator[str]:
    """The user's publications finished within ``period``, with their latest numbers, oldest first."""
    snapshots = latest_snapshots(period_executions(user, period, workspace_id)).order_by("execution__finished_at", "pk")
    return _lines(publications(snapshots))


def csv_filename(stem: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in stem) + ".csv"


# --- posts of a date range, with their executions and latest numbers ---------------------------------

EXPORT_FORMATS = ("csv", "json")
MAX_EXPORT_DAYS = 366
POST_CHUNK = 500
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
POST_HEADER = (
    "post_id",
    "workspace",
    "post_title",
    "post_caption",
    "post_status",
    "media_type",
    "approval_status",
    "post_scheduled_at",
    "post_created_at",
    "execution_id",
    "account_id",
    "account_handle",
    "platform",
    "language",
    "execution_status",
    "execution_scheduled_for",
    "published_at",
    "url",
    "error",
    "attempts",
    "metrics_taken_at",
    *METRICS,
)


@dataclass(frozen=True)
class ExportRange:
    """Local days ``start``..``end``, both included, in ``tz`` (the member's time zone), which
    also writes the export's times: the file streams after the request, its zone long gone."""

    start: date
    end: date
    tz: tzinfo

    @property
    def since(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.start, time.min), self.tz)

    @property
    def until(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.end + timedelta(days=1), time.min), self.tz)

    @property
    def key(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


def export_range(start: str | None, end: str | None, tz: tzinfo | None = None) -> ExportRange:
    """Parse the two days of an export, in ``tz`` (default: the current time zone, which the
    API and the dashboard set to the member's); a ValidationError per parameter says what to fix."""
    errors: dict[str, str] = {}
    days: dict[str, date] = {}
    for name, value in (("start", start), ("end", end)):
        if not value:
            errors[name] = _("Give the day as YYYY-MM-DD.")
            continue
        try:
            if not ISO_DATE.match(value):
                raise ValueError
            days[name] = date.fromisoformat(value)
        except ValueError:
            errors[name] = _("%(value)r is not a day: write it as YYYY-MM-DD, e.g. 2026-12-01.") % {"value": value[:40]}
    if errors:
        raise ValidationError(errors)
    if days["end"] < days["start"]:
        raise ValidationError({"end": _("The range ends before it starts: put the end on or after the start.")})
    if (days["end"] - days["start"]).days >= MAX_EXPORT_DAYS:
        raise ValidationError(
            {"end": _("An export spans at most %(days)d days: export a longer time in parts.") % {"days": MAX_EXPORT_DAYS}}
        )
    return ExportRange(days["start"], days["end"], tz or timezone.get_current_timezone())


def export_posts(user, period: ExportRange, *, workspace_id: int | None = None, status: str | None = None) -> QuerySet[Post]:
    """The user's posts (every workspace they belong to, or ``workspace_id``) whose scheduled time
    falls in ``period`` — or, for a post never scheduled, whose creation does — oldest first."""
    if status is not None and status not in PostStatus.values:
        raise ValidationError({"status": _("Choose one of %(values)s.") % {"values": ", ".join(PostStatus.values)}})
    posts = scope(Post.objects.all(), user).filter(
        Q(scheduled_at__gte=period.since, scheduled_at__lt=period.until)
        | Q(scheduled_at__isnull=True, created_at__gte=period.since, created_at__lt=period.until)
    )
    if workspace_id is not None:
        posts = posts.filter(workspace_id=workspace_id)
    if status is not None:
        posts = posts.filter(status=status)
    return posts.select_related("workspace").annotate(moment=Coalesce("scheduled_at", "created_at")).order_by("moment", "pk")


def _chunks(posts: QuerySet[Post]) -> Iterator[list[tuple[Post, list[tuple[Execution, MetricSnapshot | None]]]]]:
    """The posts POST_CHUNK at a time, each with its executions (by platform, handle) and their
    latest snapshots: three queries a chunk, whatever the number of executions."""
    rows = posts.iterator(chunk_size=POST_CHUNK)
    while chunk := list(islice(rows, POST_CHUNK)):
        ids = [post.pk for post in chunk]
        executions = list(
            Execution.objects.filter(post_id__in=ids)
            .select_related("account")
            .order_by("post_id", "account__platform", "account__handle", "pk")
        )
        latest = {
            snapshot.execution_id: snapshot
            for snapshot in latest_snapshots(Execution.objects.filter(post_id__in=ids)).only(
                "execution_id", "slot", "taken_at", *METRICS
            )
        }
        by_post: dict[int, list] = {}
        for execution in executions:
            by_post.setdefault(execution.post_id, []).append((execution, latest.get(execution.pk)))
        yield [(post, by_post.get(post.pk, [])) for post in chunk]


class _Times:
    """Times in RFC 3339 in the export's zone, as the API writes every time ('' for none)."""

    def __init__(self, tz: tzinfo) -> None:
        self.field = DateTimeField(default_timezone=tz)

    def __call__(self, value: datetime | None) -> str:
        return self.field.to_representation(value) if value else ""


def _post_cells(post: Post, when: _Times) -> tuple:
    return (
        post.pk,
        _text(post.workspace.name),
        _text(post.title),
        _text(post.caption),
        post.status,
        post.media_type,
        post.approval_status,
        when(post.scheduled_at),
        when(post.created_at),
    )


def _execution_cells(execution: Execution, snapshot: MetricSnapshot | None, when: _Times) -> tuple:
    return (
        execution.pk,
        str(execution.account_id),
        _text(execution.account.handle),
        execution.account.platform,
        execution.language,
        execution.status,
        when(execution.scheduled_for),
        when(execution.finished_at),
        _text(execution.remote_url),
        _text(execution.error_message),
        execution.attempts,
        when(snapshot.taken_at) if snapshot else "",
        *(_cell(getattr(snapshot, metric)) if snapshot else "" for metric in METRICS),
    )


def posts_csv(posts: QuerySet[Post], period: ExportRange) -> Iterator[str]:
    """One row per execution with its post's columns repeated; a post without executions gets one
    row with the execution's columns empty. Metrics are the execution's latest snapshot."""
    writer, when = csv.writer(_Echo()), _Times(period.tz)
    yield BOM + writer.writerow(POST_HEADER)
    empty = ("",) * (len(POST_HEADER) - 9)
    for chunk in _chunks(posts):
        for post, executions in chunk:
            cells = _post_cells(post, when)
            if not executions:
                yield writer.writerow((*cells, *empty))
            for execution, snapshot in executions:
                yield writer.writerow((*cells, *_execution_cells(execution, snapshot, when)))


def _post_object(post: Post, executions: Iterable[tuple[Execution, MetricSnapshot | None]], when: _Times) -> dict:
    return {
        "id": post.pk,
        "workspace": {"id": post.workspace_id, "name": post.workspace.name},
        "title": post.title,
        "caption": post.caption,
        "status": post.status,
        "media_type": post.media_type,
        "approval_status": post.approval_status,
        "scheduled_at": when(post.scheduled_at) or None,
        "created_at": when(post.created_at),
        "executions": [
            {
                "id": execution.pk,
                "account": {
                    "id": str(execution.account_id),
                    "handle": execution.account.handle,
                    "platform": execution.account.platform,
                },
                "language": execution.language,
                "status": execution.status,
                "scheduled_for": when(execution.scheduled_for) or None,
                "published_at": when(execution.finished_at) or None,
                "url": execution.remote_url,
                "error": execution.error_message,
                "attempts": execution.attempts,
                "metrics": None
                if snapshot is None
                else {
                    "slot": snapshot.slot,
                    "taken_at": when(snapshot.taken_at),
                    **{metric: getattr(snapshot, metric) for metric in METRICS},
                },
            }
            for execution, snapshot in executions
        ],
    }


def posts_json(posts: QuerySet[Post], period: ExportRange) -> Iterator[str]:
    """``{"start", "end", "posts": [post with its "executions", …]}``, written post by post."""
    head = json.dumps({"start": period.start.isoformat(), "end": period.end.isoformat()})
    yield head[:-1] + ', "posts": ['  # the object stays open for the posts
    separator, when = "", _Times(period.tz)
    for chunk in _chunks(posts):
        for post, executions in chunk:
            yield separator + json.dumps(_post_object(post, executions, when), ensure_ascii=False)
            separator = ", "
    yield "]}"


def export_filename(period: ExportRange, extension: str) -> str:
    return f"posts-{period.start.isoformat()}-{period.end.isoformat()}.{extension}"
