"""Reads of executions shared by the engine, the admin, the API and the dashboard."""

from django.db.models import Count, Q

from .models import OPEN_EXECUTION_STATUSES, ExecutionStatus

STOPPED_STATUSES = (ExecutionStatus.CANCELLED, ExecutionStatus.SKIPPED)


def outcome_counts(via: str = "") -> dict[str, Count]:
    """Count expressions of executions by outcome, for ``aggregate``/``annotate``:
    total, published, open, failed and stopped (cancelled or skipped).

    ``via`` reaches executions through a relation (``"executions__"`` on posts).
    """

    def count(**lookup) -> Count:
        return Count(f"{via}pk", filter=Q(**{f"{via}{k}": v for k, v in lookup.items()}) if lookup else None)

    return {
        "total": count(),
        "published": count(status=ExecutionStatus.SUCCESS),
        "open": count(status__in=OPEN_EXECUTION_STATUSES),
        "failed": count(status=ExecutionStatus.FAILED),
        "stopped": count(status__in=STOPPED_STATUSES),
    }
