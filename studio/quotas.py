"""Who may do what in the studio, and how much a workspace may use — checked before any work starts.

Permissions: a member's role gives the baseline (viewers read; editors process, transcribe and
publish; admins and owners also delete); a ``StudioPermission`` row for the member replaces the
baseline flags — it narrows an editor, or lets an editor delete — but never lets a viewer write.

Quotas (``StudioQuota``, else the STUDIO_* settings): storage (every kept file of the workspace's
recordings), recordings imported per calendar month (UTC), and studio jobs running at once.
A refusal is a ``QuotaExceeded`` (the API answers 429 for jobs, 403 for the rest) whose message
says what is used, what the limit is and what to do; nothing has been written when it is raised."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Role, role_at_least
from accounts.selectors import role_in
from crosspost.models import JOB_FINISHED_STATUSES, Job

from .models import Recording, RecordingFile, StudioPermission, StudioQuota

JOB_KIND = "studio.pipeline"
PERMISSIONS = ("can_process", "can_transcribe", "can_publish", "can_delete")
GB = 1024**3


class QuotaExceeded(ValidationError):
    """A workspace limit would be passed; ``code`` names which (storage, recordings, jobs)."""


def permissions_for(user, workspace_id: int) -> dict[str, bool]:
    role = role_in(user, workspace_id)
    if not role_at_least(role, Role.EDITOR):
        return dict.fromkeys(PERMISSIONS, False)
    baseline = {
        "can_process": True,
        "can_transcribe": True,
        "can_publish": True,
        "can_delete": role_at_least(role, Role.ADMIN),
    }
    if getattr(user, "is_superuser", False):
        return dict.fromkeys(PERMISSIONS, True)
    row = StudioPermission.objects.filter(workspace_id=workspace_id, user=user).first()
    if row is None:
        return baseline
    return {name: getattr(row, name) for name in PERMISSIONS}


NEEDED = {
    "can_process": gettext_lazy("process recordings"),
    "can_transcribe": gettext_lazy("transcribe recordings"),
    "can_publish": gettext_lazy("publish recordings"),
    "can_delete": gettext_lazy("delete recordings"),
}


def require(user, workspace_id: int, *needed: str) -> None:
    """PermissionDenied naming the first missing permission (a system actor — None — may do anything)."""
    if user is None:
        return
    granted = permissions_for(user, workspace_id)
    for name in needed:
        if not granted.get(name):
            raise PermissionDenied(
                _("You may not %(what)s in this workspace; a workspace admin can allow it (studio permissions).")
                % {"what": NEEDED[name]}
            )


@dataclass(frozen=True)
class Limits:
    storage_bytes: int
    recordings_per_month: int
    concurrent_jobs: int


@dataclass(frozen=True)
class Usage:
    limits: Limits
    storage_bytes: int
    recordings_this_month: int
    jobs_running: int

    @property
    def storage_gb(self) -> float:
        return self.storage_bytes / GB

    @property
    def storage_limit_gb(self) -> float:
        return self.limits.storage_bytes / GB

    def percent(self, used: float, limit: float) -> int:
        return 100 if limit <= 0 else min(100, round(100 * used / limit))

    @property
    def storage_percent(self) -> int:
        return self.percent(self.storage_bytes, self.limits.storage_bytes)

    @property
    def recordings_percent(self) -> int:
        return self.percent(self.recordings_this_month, self.limits.recordings_per_month)

    def as_json(self) -> dict:
        return {
            "storage_bytes": self.storage_bytes,
            "storage_limit_bytes": self.limits.storage_bytes,
            "recordings_this_month": self.recordings_this_month,
            "recordings_per_month": self.limits.recordings_per_month,
            "jobs_running": self.jobs_running,
            "concurrent_jobs": self.limits.concurrent_jobs,
        }


def limits_for(workspace_id: int) -> Limits:
    row = StudioQuota.objects.filter(workspace_id=workspace_id).first()
    if row is None:
        return Limits(
            storage_bytes=int(settings.STUDIO_STORAGE_GB * GB),
            recordings_per_month=settings.STUDIO_RECORDINGS_PER_MONTH,
            concurrent_jobs=settings.STUDIO_CONCURRENT_JOBS,
        )
    return Limits(
        storage_bytes=int(row.storage_gb * GB),
        recordings_per_month=row.recordings_per_month,
        concurrent_jobs=row.concurrent_jobs,
    )


def month_start():
    now = timezone.now()
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def stored_bytes(workspace_id: int) -> int:
    return RecordingFile.objects.filter(recording__workspace_id=workspace_id).aggregate(total=Sum("size_bytes"))["total"] or 0


def recordings_this_month(workspace_id: int) -> int:
    return Recording.objects.filter(workspace_id=workspace_id, created_at__gte=month_start()).count()


def usage_for(workspace_id: int) -> Usage:
    return Usage(
        limits=limits_for(workspace_id),
        storage_bytes=stored_bytes(workspace_id),
        recordings_this_month=recordings_this_month(workspace_id),
        jobs_running=running_jobs(workspace_id),
    )


def running_jobs(workspace_id: int) -> int:
    return Job.objects.filter(workspace_id=workspace_id, kind=JOB_KIND).exclude(status__in=JOB_FINISHED_STATUSES).count()


def _size(value: int) -> str:
    return f"{value / GB:.2f} GB"


def check_storage(workspace_id: int, *, adding_bytes: int = 0) -> None:
    stored, limit = stored_bytes(workspace_id), limits_for(workspace_id).storage_bytes
    if stored + max(adding_bytes, 0) > limit:
        raise QuotaExceeded(
            _(
                "The studio's storage quota is used up: %(used)s of %(limit)s stored%(adding)s. "
                "Delete recordings you no longer need or ask for a larger quota."
            )
            % {
                "used": _size(stored),
                "limit": _size(limit),
                "adding": (_(", %(size)s more needed") % {"size": _size(adding_bytes)}) if adding_bytes else "",
            },
            code="storage",
        )


def recordings_left(workspace_id: int) -> int:
    return max(limits_for(workspace_id).recordings_per_month - recordings_this_month(workspace_id), 0)


def check_recordings(workspace_id: int, *, adding: int = 1) -> None:
    used, limit = recordings_this_month(workspace_id), limits_for(workspace_id).recordings_per_month
    if used + adding > limit:
        raise QuotaExceeded(
            _(
                "This month's quota of %(limit)d recordings is used up (%(used)d imported). "
                "New recordings wait for next month, or ask for a larger quota."
            )
            % {"limit": limit, "used": used},
            code="recordings",
        )


def check_jobs(workspace_id: int, *, adding: int = 1) -> None:
    limits = limits_for(workspace_id)
    running = running_jobs(workspace_id)
    if running + adding > limits.concurrent_jobs:
        raise QuotaExceeded(
            _(
                "%(running)d studio jobs are running and the workspace may run %(limit)d at once; "
                "wait for one to finish or cancel one."
            )
            % {"running": running, "limit": limits.concurrent_jobs},
            code="jobs",
        )
