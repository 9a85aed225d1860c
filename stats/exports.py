"""CSV exports of the statistics: one row per publication with its latest numbers.

UTF-8 with a byte-order mark (Excel then reads the Cyrillic right), a header row, numbers as
Python writes them (never localised: "1234.5", not "1 234,5"), an empty cell for a number that
is not available. Rows are read in chunks and written as they come, so a long period streams.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.db.models import QuerySet

from platforms.base import METRICS
from posts.models import Post
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
