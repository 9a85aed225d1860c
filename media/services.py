"""Media services.

Upload: the type is sniffed from the bytes, identical content is stored once
per workspace, images are decoded and probed at once; a video is stored
``pending`` and probed by ``media.tasks.probe_asset`` after commit (ready or
failed with the reason).

Renditions: ``profiles_for`` says which profiles a platform needs,
``request_renditions`` creates the pending rows and enqueues one
``media.tasks.render_asset`` per asset (all its pending profiles in one ffmpeg
run), ``rendition_status`` reports ready / pending / failed, and
``media_item_for`` / ``media_items_for`` turn renditions into what adapters
publish. ``media_problems`` and ``planned_media_items`` serve the planner's
preflight before anything is rendered.

Cleanup: ``assets_delete`` deletes assets with their renditions and files; which
ones may go is the caller's decision (``posts.services.media_cleanup``).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from celery import current_app
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from accounts.models import Workspace
from platforms.base import MediaItem

from .ffmpeg import FFmpegMissing
from .models import MEDIA_EXTENSIONS, MediaAsset, MediaKind, MediaStatus, Rendition
from .probe import MediaInfo, ProbeError, probe_image, probe_video
from .profiles import PLATFORM_PROFILES, PROFILES, Profile
from .render import Job, Output, render_image, render_video, video_plan_problem

logger = logging.getLogger(__name__)

COVER_MIME = "image/jpeg"  # video renditions' cover frames (render.video_command)


# --- upload --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sniffed:
    kind: str
    mime: str


def sniff(head: bytes) -> Sniffed | None:
    """Recognise a media type from its first bytes (never from the file name)."""
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed(MediaKind.IMAGE, "image/jpeg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed(MediaKind.IMAGE, "image/png")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed(MediaKind.IMAGE, "image/webp")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return Sniffed(MediaKind.IMAGE, "image/gif")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return Sniffed(MediaKind.VIDEO, "video/quicktime")
        return Sniffed(MediaKind.VIDEO, "video/mp4")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return Sniffed(MediaKind.VIDEO, "video/webm")
    return None


def _hash(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    stream.seek(0)
    for chunk in iter(lambda: stream.read(1024 * 1024), b""):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


def _already_stored(storage, name: str, sha256: str, size: int) -> bool:
    """True when ``name`` holds exactly these bytes: a copy left by a process killed after it
    stored the file and before its transaction committed the row (names are content hashes)."""
    try:
        if not storage.exists(name) or storage.size(name) != size:
            return False
        with storage.open(name, "rb") as stored:
            return _hash(stored) == sha256
    except OSError:
        return False


def media_upload(*, workspace: Workspace, file: UploadedFile, actor=None) -> tuple[MediaAsset, bool]:
    """Store an uploaded photo or video. Returns (asset, created); an identical
    file already in the workspace is returned instead of stored twice.

    Images are decoded here (a bad one is refused with a ValidationError); a
    video is stored ``pending`` and probed by ``probe_asset`` after commit.
    """
    max_bytes = settings.MAX_UPLOAD_SIZE_MB * 1024 * 1024
    if file.size == 0:
        raise ValidationError({"file": "The file is empty (0 bytes)."})
    if file.size > max_bytes:
        raise ValidationError(
            {"file": f"The file is {file.size / 1048576:.1f} MB; the limit is {settings.MAX_UPLOAD_SIZE_MB} MB."}
        )
    file.seek(0)
    kind = sniff(file.read(64))
    file.seek(0)
    if kind is None:
        raise ValidationError({"file": "Unsupported file type: upload a JPEG, PNG, WebP or GIF image, or an MP4/MOV/WebM video."})
    sha256 = _hash(file)
    existing = MediaAsset.objects.filter(workspace=workspace, sha256=sha256).first()
    if existing is not None:
        return existing, False

    fields: dict = {"width": None, "height": None, "codecs": {}}
    if kind.kind == MediaKind.IMAGE:
        try:
            info = probe_image(file)
        except ProbeError as exc:
            raise ValidationError({"file": str(exc)}) from exc
        fields.update(width=info.width, height=info.height, codecs=info.codecs)
        status = MediaStatus.READY
    else:
        status = MediaStatus.PENDING
    asset = MediaAsset(
        workspace=workspace,
        sha256=sha256,
        mime=kind.mime,
        kind=kind.kind,
        size=file.size,
        original_name=(file.name or "")[:255],
        status=status,
        uploaded_by=actor if getattr(actor, "is_authenticated", False) else None,
        **fields,
    )
    # S3 records the ContentType django-storages reads from here before the name: the sniffed type,
    # not the one the client claimed. (Set on the upload itself so a large one is still moved, not copied.)
    file.content_type = kind.mime
    name = asset.file.field.generate_filename(asset, sha256)  # asset_upload_to names it after the sniffed type
    # Taken over rather than stored again under a suffixed name, which would leave it orphaned for good.
    taken_over = _already_stored(asset.file.storage, name, sha256, file.size)
    try:
        with transaction.atomic():
            if taken_over:
                asset.file.name = name
            else:
                asset.file.save(sha256, file, save=False)
            asset.save()
    except IntegrityError:
        # The same file was uploaded concurrently: keep the first copy (a taken-over file is that copy).
        if not taken_over:
            asset.file.delete(save=False)
        return MediaAsset.objects.get(workspace=workspace, sha256=sha256), False
    if status == MediaStatus.PENDING:
        probe_asset = current_app.tasks["media.tasks.probe_asset"]  # by name: tasks import services, not the reverse
        transaction.on_commit(lambda: probe_asset.delay(asset.pk))
    return asset, True


@contextmanager
def local_path(field_file: FieldFile) -> Iterator[Path]:
    """A local filesystem path of a stored file; remote (S3) files are copied to a temporary file."""
    try:
        path = Path(field_file.path)
    except NotImplementedError:  # remote storage
        path = None
    if path is not None:
        yield path
        return
    with tempfile.NamedTemporaryFile(prefix="crosspost-", suffix=Path(field_file.name).suffix) as copy:
        with field_file.storage.open(field_file.name, "rb") as remote:
            shutil.copyfileobj(remote, copy, 1024 * 1024)
        copy.flush()
        yield Path(copy.name)


def asset_probe(*, asset: MediaAsset) -> MediaAsset:
    """Probe and decode-check a stored asset; it becomes ready, or failed with the reason."""
    try:
        with local_path(asset.file) as path:
            if asset.kind == MediaKind.VIDEO:
                info = probe_video(str(path))
            else:
                with path.open("rb") as stream:
                    info = probe_image(stream)
    except ProbeError as exc:
        asset.status, asset.error = MediaStatus.FAILED, str(exc)
    except FileNotFoundError:
        asset.status, asset.error = MediaStatus.FAILED, "The stored file is missing: upload it again."
    else:
        asset.width, asset.height, asset.codecs = info.width, info.height, info.codecs
        if info.duration is not None:
            asset.duration = info.duration
        asset.status, asset.error = MediaStatus.READY, ""
    asset.save(update_fields=["width", "height", "duration", "codecs", "status", "error"])
    return asset


def asset_file_names(asset: MediaAsset) -> list[str]:
    """Every stored file of an asset: the original, its renditions and their covers."""
    names = [asset.file.name] if asset.file else []
    for file, cover in asset.renditions.values_list("file", "cover"):
        names += [name for name in (file, cover) if name]
    return names


# --- renditions ----------------------------------------------------------------------------------


def trim_allowed(options: dict | None, platform: str) -> bool:
    """Whether a post's options let its videos be trimmed to a platform's limit:
    ``{"allow_trim": true}`` for every platform, or ``{"<platform>": {"allow_trim": true}}``."""
    options = options or {}
    per_platform = options.get(platform)
    return bool(options.get("allow_trim") or (isinstance(per_platform, dict) and per_platform.get("allow_trim")))


def profiles_for(platform: str, media_type: str) -> list[str]:
    """The rendition profiles a (platform, post media type) needs; [] when it takes none (text)."""
    return list(PLATFORM_PROFILES.get((platform, media_type), ()))


def profile_for_kind(profiles: Iterable[str], kind: str) -> Profile | None:
    """The first of ``profiles`` that renders media of ``kind`` (image/video)."""
    return next((PROFILES[name] for name in profiles if PROFILES[name].kind == kind), None)


def _known(profiles: Iterable[str]) -> list[str]:
    names = list(dict.fromkeys(profiles))
    unknown = [name for name in names if name not in PROFILES]
    if unknown:
        raise ValueError(f"Unknown rendition profile(s): {', '.join(unknown)}.")
    return names


def request_renditions(*, assets: Iterable[MediaAsset], profiles: Iterable[str], allow_trim: bool = False) -> list[Rendition]:
    """Make sure every asset has a rendition for each of ``profiles`` of its kind.

    Missing rows are created ``pending``; after commit one ``render_asset`` task
    per asset with pending renditions renders them all in one run. Rows that
    exist are returned as they are — except that a video refused for its length
    is queued again when ``allow_trim`` now permits trimming. Idempotent; a
    constant number of queries whatever the number of assets.
    """
    names = _known(profiles)
    assets = list(assets)
    if not assets or not names:
        return []
    asset_ids = [a.pk for a in assets]
    existing = {(r.asset_id, r.profile): r for r in Rendition.objects.filter(asset_id__in=asset_ids, profile__in=names)}
    new, upgrade = [], []
    for asset in assets:
        for name in names:
            profile = PROFILES[name]
            if profile.kind != asset.kind:
                continue
            row = existing.get((asset.pk, name))
            if row is None:
                new.append(Rendition(asset=asset, profile=name, aspect=profile.aspect, allow_trim=allow_trim))
            elif allow_trim and not row.allow_trim:
                upgrade.append(row.pk)
    Rendition.objects.bulk_create(new, ignore_conflicts=True)
    if upgrade:
        Rendition.objects.filter(pk__in=upgrade).update(allow_trim=True, updated_at=timezone.now())
        Rendition.objects.filter(pk__in=upgrade, status=MediaStatus.FAILED).update(
            status=MediaStatus.PENDING, error="", updated_at=timezone.now()
        )
    rows = list(Rendition.objects.filter(asset_id__in=asset_ids, profile__in=names).select_related("asset"))
    _enqueue_renders({r.asset_id for r in rows if r.status == MediaStatus.PENDING})
    order = {asset_id: i for i, asset_id in enumerate(asset_ids)}
    rows.sort(key=lambda r: (order[r.asset_id], names.index(r.profile)))
    return rows


def renditions_retry(*, renditions: Iterable[Rendition]) -> int:
    """Queue failed renditions again (after the operator fixed the cause). Returns how many."""
    ids = [r.pk for r in renditions]
    failed = Rendition.objects.filter(pk__in=ids, status=MediaStatus.FAILED)
    asset_ids = set(failed.values_list("asset_id", flat=True))
    count = failed.update(status=MediaStatus.PENDING, error="", lease_expires_at=None, updated_at=timezone.now())
    _enqueue_renders(asset_ids)
    return count


def _enqueue_renders(asset_ids: Iterable[int]) -> None:
    render_asset = current_app.tasks["media.tasks.render_asset"]  # by name: tasks import services, not the reverse
    for asset_id in sorted(asset_ids):
        transaction.on_commit(lambda asset_id=asset_id: render_asset.delay(asset_id))


def renders_requeue_stale(*, older_than: timedelta = timedelta(minutes=10)) -> int:
    """Enqueue again the renders of pending renditions nobody holds and nothing touched lately.

    A render message lost on the way (broker restart, a worker killed before it
    leased) would otherwise keep its executions pending for ever. A render that
    is still queued is harmless to enqueue twice: the lease lets one run work.
    """
    now = timezone.now()
    stale = Rendition.objects.filter(status=MediaStatus.PENDING, updated_at__lt=now - older_than).filter(
        Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    )
    asset_ids = set(stale.values_list("asset_id", flat=True))
    stale.update(updated_at=now)  # one re-queue per period, not one per sweep
    _enqueue_renders(asset_ids)
    return len(asset_ids)


@dataclass(frozen=True)
class RenditionReport:
    """Readiness of the renditions some executions wait for."""

    status: str  # "ready" | "pending" | "failed"
    reason: str = ""  # why failed, or what is still awaited
    renditions: dict[tuple[int, str], Rendition] = field(default_factory=dict)


def rendition_status(asset_ids: Iterable[int], profiles: Iterable[str]) -> RenditionReport:
    """``failed`` if any needed rendition (or its original) failed, else ``pending`` while any
    is not ready (or not requested yet), else ``ready``. Each asset needs the profiles of its kind."""
    names = _known(profiles)
    fields = ("pk", "kind", "status", "error", "original_name", "sha256")
    assets = {a.pk: a for a in MediaAsset.objects.filter(pk__in=list(asset_ids)).only(*fields)}
    rows = {(r.asset_id, r.profile): r for r in Rendition.objects.filter(asset_id__in=list(assets), profile__in=names)}
    failed, waiting = [], []
    for asset in assets.values():
        for name in names:
            if PROFILES[name].kind != asset.kind:
                continue
            row = rows.get((asset.pk, name))
            if asset.status == MediaStatus.FAILED:
                failed.append(f"{asset}: {asset.error}")
            elif row is None:
                waiting.append(f"{asset} → {name} (not requested)")
            elif row.status == MediaStatus.FAILED:
                failed.append(f"{asset} → {name}: {row.error}")
            elif row.status == MediaStatus.PENDING:
                waiting.append(f"{asset} → {name}")
    if failed:
        return RenditionReport("failed", " ".join(dict.fromkeys(failed)), rows)
    if waiting:
        return RenditionReport("pending", "Waiting for " + ", ".join(waiting) + ".", rows)
    return RenditionReport("ready", "", rows)


def public_url(file: FieldFile) -> str:
    """An absolute URL a platform can fetch: the storage's own (S3: presigned), or
    PUBLIC_MEDIA_BASE_URL + the local URL (left relative when that setting is empty)."""
    url = file.url
    if url.startswith(("http://", "https://")):
        return url
    base = settings.PUBLIC_MEDIA_BASE_URL.rstrip("/")
    return f"{base}/{url.lstrip('/')}" if base else url


def _local_path(file: FieldFile) -> str:
    try:
        return file.path
    except NotImplementedError:  # remote storage: platforms fetch by URL
        return ""


def media_item_for(rendition: Rendition) -> MediaItem:
    """What an adapter publishes for a ready rendition."""
    profile = PROFILES[rendition.profile]
    return MediaItem(
        path=_local_path(rendition.file),
        url=public_url(rendition.file),
        kind=profile.kind,
        mime=profile.mime,
        size=rendition.size or 0,
        width=rendition.width,
        height=rendition.height,
        duration=rendition.duration,
    )


def original_media_item(asset: MediaAsset) -> MediaItem:
    """The original file as a MediaItem (for platforms and media types without a profile)."""
    return MediaItem(
        path=_local_path(asset.file),
        url=public_url(asset.file),
        kind=asset.kind,
        mime=asset.mime,
        size=asset.size,
        width=asset.width,
        height=asset.height,
        duration=asset.duration,
    )


class MediaNotReady(Exception):
    """Some rendition is still pending: try again later."""


class MediaUnavailable(Exception):
    """A rendition or its original failed: the message is the operator-readable reason."""


def media_items_for(*, assets: Sequence[MediaAsset], platform: str, media_type: str) -> tuple[MediaItem, ...]:
    """The items to publish, in the given order: each asset's rendition for the platform
    (the original where the platform/media type has no profile for its kind).

    Raises MediaNotReady while one is pending and MediaUnavailable when one failed.
    """
    if not assets:  # a text post: nothing to look up (building the empty query alone cost 0.8 ms a publish)
        return ()
    names = profiles_for(platform, media_type)
    needed = {a.pk: profile_for_kind(names, a.kind) for a in assets}
    rows = {
        (r.asset_id, r.profile): r
        for r in Rendition.objects.filter(asset_id__in=list(needed), profile__in=names).select_related("asset")
    }
    items = []
    for asset in assets:
        profile = needed[asset.pk]
        if profile is None:
            items.append(original_media_item(asset))
            continue
        row = rows.get((asset.pk, profile.name))
        if asset.status == MediaStatus.FAILED:
            raise MediaUnavailable(f"{asset}: {asset.error}")
        if row is None or row.status == MediaStatus.PENDING:
            raise MediaNotReady(f"{asset} → {profile.name} is not rendered yet.")
        if row.status == MediaStatus.FAILED:
            raise MediaUnavailable(f"{asset} → {profile.name}: {row.error}")
        items.append(media_item_for(row))
    return tuple(items)


def _asset_info(asset: MediaAsset) -> MediaInfo:
    return MediaInfo(width=asset.width or 0, height=asset.height or 0, duration=asset.duration, codecs=asset.codecs or {})


def planned_media_items(*, assets: Sequence[MediaAsset], platform: str, media_type: str) -> tuple[MediaItem, ...]:
    """What will be published once rendered (size, type, duration), for ``validate()``.

    The rendition does not exist yet: ``path`` and ``url`` are the original's, which
    share its storage — enough for an adapter to tell local from public media.
    """
    names = profiles_for(platform, media_type)
    items = []
    for asset in assets:
        profile = profile_for_kind(names, asset.kind)
        if profile is None:
            items.append(original_media_item(asset))
            continue
        duration = asset.duration
        if duration is not None and profile.max_duration:
            duration = min(duration, profile.max_duration)
        size = min(asset.size, profile.max_bytes) if profile.max_bytes else asset.size
        width, height = profile.size
        # The rendition will live in the same storage as its original: where the
        # original is local or public, so will it be (adapters check that).
        original = original_media_item(asset)
        items.append(MediaItem(original.path, original.url, profile.kind, profile.mime, size, width, height, duration))
    return tuple(items)


def media_problems(*, assets: Sequence[MediaAsset], platform: str, media_type: str, allow_trim: bool = False) -> list[str]:
    """Preflight: why the media cannot be rendered for this platform, in an operator's words."""
    names = profiles_for(platform, media_type)
    problems = []
    for asset in assets:
        if asset.status == MediaStatus.FAILED:
            problems.append(f"{asset}: {asset.error}")
            continue
        profile = profile_for_kind(names, asset.kind)
        if profile is None or asset.kind != MediaKind.VIDEO or asset.duration is None:
            continue
        problem = video_plan_problem(Job(profile, allow_trim), _asset_info(asset))
        if problem:
            problems.append(f"{asset}: {problem}")
    return problems


# --- rendering (the render_asset task) -----------------------------------------------------------


@dataclass
class RenderSummary:
    rendered: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    busy_until: datetime | None = None  # another worker holds some pending renditions until then


def _lease_seconds() -> int:
    return settings.MEDIA_RENDER_TIME_LIMIT_SECONDS + 180


def asset_render(*, asset_id: int) -> RenderSummary:
    """Render every pending rendition of an asset not leased by another worker.

    The asset is probed first when it is still pending. Each rendition ends
    ready, or failed with the reason; one failing output fails only its row.
    """
    summary = RenderSummary()
    asset = MediaAsset.objects.filter(pk=asset_id).first()
    if asset is None:
        return summary
    if asset.status == MediaStatus.PENDING:
        asset = asset_probe(asset=asset)
    if asset.status == MediaStatus.FAILED:
        reason = f"The original cannot be used: {asset.error}"
        for profile in asset.renditions.filter(status=MediaStatus.PENDING).values_list("profile", flat=True):
            summary.failed[profile] = reason
        asset.renditions.filter(status=MediaStatus.PENDING).update(
            status=MediaStatus.FAILED, error=reason, lease_expires_at=None, updated_at=timezone.now()
        )
        return summary
    claimed, summary.busy_until = _claim(asset)
    if not claimed:
        return summary
    jobs, outputs = [], {}
    for row in claimed:
        profile = PROFILES.get(row.profile)
        if profile is None:
            outputs[row.profile] = Output(row.profile, error=f"Unknown rendition profile {row.profile!r}.")
        elif profile.kind != asset.kind:
            outputs[row.profile] = Output(row.profile, error=f"{row.profile} renders {profile.kind}s, not {asset.kind}s.")
        else:
            jobs.append(Job(profile, row.allow_trim))
    with tempfile.TemporaryDirectory(prefix=f"{RENDER_DIR_PREFIX}{asset.pk}-") as workdir:
        if jobs:
            outputs.update(_render(asset, jobs, Path(workdir)))
        for row in claimed:
            output = outputs[row.profile]
            if _store(row, output):
                summary.rendered.append(row.profile)
            else:
                summary.failed[row.profile] = output.error
    return summary


# A render works in <tmp>/crosspost-render-<asset id>-…; a worker killed mid-render (the hard time
# limit) leaves it behind, outputs and all, until render_leftovers_remove clears it.
RENDER_DIR_PREFIX = "crosspost-render-"


def render_leftovers_remove(*, asset_ids: Iterable[int] | None = None, now: float | None = None) -> int:
    """Delete the work directories killed renders left (of these assets, or of any); returns how many.

    Only directories older than a render's hard time limit go: no live render can own one (the
    worker kills a render at that limit), whichever process or installation made it — another
    worker's fresh directory with the same asset number (a second database on this machine) stays.
    An asset whose rendition is leased right now keeps its directories too.
    """
    limit = settings.MEDIA_RENDER_TIME_LIMIT_SECONDS + 120  # media.tasks.render_asset's time_limit
    cutoff = (now if now is not None else time.time()) - limit
    busy: set[int] = set()
    if asset_ids is not None:
        asset_ids = set(asset_ids)
        busy = set(
            Rendition.objects.filter(asset_id__in=list(asset_ids), lease_expires_at__gt=timezone.now()).values_list(
                "asset_id", flat=True
            )
        )
    patterns = (
        [f"{RENDER_DIR_PREFIX}{a}-*" for a in sorted(asset_ids - busy)] if asset_ids is not None else [f"{RENDER_DIR_PREFIX}*"]
    )
    removed = 0
    for pattern in patterns:
        for path in Path(tempfile.gettempdir()).glob(pattern):
            try:
                old = path.is_dir() and path.stat().st_mtime < cutoff
            except FileNotFoundError:
                continue
            if old:
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
    return removed


def _claim(asset: MediaAsset) -> tuple[list[Rendition], datetime | None]:
    """Lease the asset's pending renditions no live worker holds; also when the others' lease ends."""
    now = timezone.now()
    with transaction.atomic():
        # Serialises claims of one asset (a no-op on SQLite, whose writers are serialised anyway).
        list(MediaAsset.objects.select_for_update().filter(pk=asset.pk).values_list("pk"))
        pending = Rendition.objects.filter(asset=asset, status=MediaStatus.PENDING)
        free = list(pending.filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)).values_list("pk", flat=True))
        Rendition.objects.filter(pk__in=free).update(lease_expires_at=now + timedelta(seconds=_lease_seconds()), updated_at=now)
        held = pending.exclude(pk__in=free).order_by("lease_expires_at").values_list("lease_expires_at", flat=True).last()
    return list(Rendition.objects.filter(pk__in=free).select_related("asset")), held


def _render(asset: MediaAsset, jobs: list[Job], workdir: Path) -> dict[str, Output]:
    def all_failed(reason: str) -> dict[str, Output]:
        return {job.profile.name: Output(job.profile.name, error=reason) for job in jobs}

    try:
        with local_path(asset.file) as source:
            if asset.kind == MediaKind.VIDEO:
                return render_video(source, _asset_info(asset), jobs, workdir)
            return render_image(source, jobs, workdir)
    except FFmpegMissing as exc:
        return all_failed(str(exc))
    except FileNotFoundError:
        return all_failed("The original file is missing from storage: upload it again.")
    except Exception as exc:
        # Anything unexpected fails these renditions visibly instead of retrying forever.
        logger.exception("Rendering asset %s failed", asset.pk)
        return all_failed(f"Rendering crashed: {type(exc).__name__}: {exc}")


def _store(row: Rendition, output: Output) -> bool:
    """Save a rendered output to storage and mark the row ready, or mark it failed. True when ready."""
    now = timezone.now()
    current = Rendition.objects.filter(pk=row.pk, status=MediaStatus.PENDING)
    if not output.ok or output.path is None:
        current.update(status=MediaStatus.FAILED, error=output.error or "No output.", lease_expires_at=None, updated_at=now)
        return False
    old = [name for name in (row.file.name, row.cover.name) if name]
    storage = row.file.storage
    for name in old:
        storage.delete(name)  # a re-render replaces the previous files under the same names
    profile = PROFILES[row.profile]
    with output.path.open("rb") as fh:
        row.file.save(f"{row.profile}{profile.extension}", _typed(fh, profile.mime), save=False)
    if output.cover is not None:
        with output.cover.open("rb") as fh:
            row.cover.save(f"{row.profile}{MEDIA_EXTENSIONS[COVER_MIME]}", _typed(fh, COVER_MIME), save=False)
    updated = current.update(
        file=row.file.name,
        cover=row.cover.name if output.cover is not None else "",
        width=output.width,
        height=output.height,
        size=output.size,
        duration=output.duration,
        status=MediaStatus.READY,
        error="",
        lease_expires_at=None,
        updated_at=now,
    )
    if not updated:  # deleted or reset meanwhile: do not leave orphan files
        for name in (row.file.name, row.cover.name if output.cover is not None else ""):
            if name:
                storage.delete(name)
        return False
    return True


def _typed(stream: BinaryIO, mime: str) -> File:
    """A file to store with its type: S3 records it as the object's ContentType."""
    file = File(stream)
    file.content_type = mime
    return file


# --- cleanup -------------------------------------------------------------------------------------


def assets_delete(assets: Sequence[MediaAsset]) -> int:
    """Delete ``assets`` and their renditions now and their stored files after commit (call it in a
    transaction, once nothing uses them); the number of files. ProtectedError while something still does."""
    names = [name for asset in assets for name in asset_file_names(asset)]
    MediaAsset.objects.filter(pk__in=[a.pk for a in assets]).delete()
    storage = MediaAsset._meta.get_field("file").storage
    transaction.on_commit(lambda names=names, storage=storage: _delete_files(storage, names))
    return len(names)


def _delete_files(storage, names: list[str]) -> None:
    for name in names:
        try:
            storage.delete(name)
        except OSError:
            logger.warning("Could not delete media file %s", name, exc_info=True)
