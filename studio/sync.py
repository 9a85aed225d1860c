"""Recordings arrive: discovery lists a source and records what is new, exactly once; the download
step fetches a recording's original into storage; an operator's upload or pasted URL becomes a
recording too.

Exactly once: two syncs of one source may run at once (the periodic task and an operator's "sync
now"). The listing happens outside any transaction (it is network time); the writing happens in one
transaction that first writes the source's row — a row lock on PostgreSQL, the database's write lock
on SQLite — so the second sync waits, then sees the first one's rows and creates none of them. The
unique constraint ``studio_recording_once_per_source`` (with ``ignore_conflicts``) backs that up."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

import av
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crosspost.logging import redact
from media.probe import ProbeError, probe_video

from .inputs.base import InputError, RemoteFile, client_for
from .inputs.url import UrlClient, check_host, normalise
from .models import FileKind, InputSource, Recording, RecordingFile, RecordingStatus, Step

logger = logging.getLogger(__name__)


@dataclass
class SyncReport:
    listed: int
    created: list[Recording] = field(default_factory=list)
    error: str = ""


def discover(*, source: InputSource) -> SyncReport:
    """List ``source`` and create a ``discovered`` recording for each file not seen before (once per
    source and remote id, even when two syncs run at once). A source error is kept in
    ``source.last_error`` and returned in the report, never raised."""
    try:
        files = _unique(client_for(source).list())
    except InputError as exc:
        message = redact(exc.message)
        InputSource.objects.filter(pk=source.pk).update(last_synced_at=timezone.now(), last_error=message)
        source.refresh_from_db(fields=["last_synced_at", "last_error"])
        return SyncReport(listed=0, created=[], error=message)

    now = timezone.now()
    newest = max((f.recorded_at for f in files if f.recorded_at), default=None)
    with transaction.atomic():
        # Writing the source's row first serialises concurrent syncs of it (see the module's docstring).
        InputSource.objects.filter(pk=source.pk).update(last_synced_at=now, last_error="")
        known = set(
            Recording.objects.filter(source=source, remote_id__in=[f.remote_id for f in files]).values_list(
                "remote_id", flat=True
            )
        )
        new = [f for f in files if f.remote_id not in known]
        Recording.objects.bulk_create(
            [
                Recording(
                    workspace_id=source.workspace_id,
                    source=source,
                    remote_id=f.remote_id,
                    display_name=f.name[:300],
                    recorded_at=f.recorded_at,
                    duration_s=f.duration_s,
                    size_bytes=f.size,
                    remote=f.extra,
                    status=RecordingStatus.DISCOVERED,
                )
                for f in new
            ],
            ignore_conflicts=True,
        )
        created = list(Recording.objects.filter(source=source, remote_id__in=[f.remote_id for f in new]).order_by("pk"))
        cursor = dict(source.cursor or {})
        cursor["listed"] = len(files)
        if newest is not None:
            cursor["newest_recorded_at"] = max(newest.isoformat(), cursor.get("newest_recorded_at") or "")
        InputSource.objects.filter(pk=source.pk).update(cursor=cursor)
    source.refresh_from_db(fields=["last_synced_at", "last_error", "cursor"])
    return SyncReport(listed=len(files), created=created)


def _unique(files) -> list[RemoteFile]:
    seen: dict[str, RemoteFile] = {}
    for remote in files:
        seen.setdefault(remote.remote_id, remote)
    return list(seen.values())


# --- the original file -----------------------------------------------------------------------------


def temp_dir() -> Path:
    path = Path(settings.VAR_DIR) / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


def media_duration(path: str) -> float:
    """The duration of a video (probed and decode-checked by media.probe) or of an audio-only file
    (Zoom's M4A); raises ProbeError with an operator's message when it is neither."""
    try:
        with av.open(path, metadata_errors="ignore") as container:
            audio_only = not container.streams.video and bool(container.streams.audio)
            if audio_only:
                duration = container.duration / av.time_base if container.duration else None
                if not duration:
                    stream = container.streams.audio[0]
                    duration = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else None
                if not duration or duration <= 0:
                    raise ProbeError(_("The audio file has no duration: the file is damaged. Re-export it as M4A or MP3."))
                return round(duration, 3)
    except av.error.FFmpegError:
        pass  # probe_video explains what is wrong with it
    info = probe_video(path)
    return float(info.duration or 0)


def _extension(name: str, fallback: str = ".mp4") -> str:
    suffix = PurePosixPath(name or "").suffix.lower()
    return suffix if suffix and len(suffix) <= 6 and suffix[1:].isalnum() else fallback


@transaction.atomic
def _store_original(recording: Recording, path: Path, extension: str) -> RecordingFile:
    """Save ``path`` as the recording's original (replacing an older one) and keep its size."""
    size = path.stat().st_size
    existing = RecordingFile.objects.select_for_update().filter(recording=recording, kind=FileKind.ORIGINAL).first()
    old_name = existing.file.name if existing else ""
    stored = existing or RecordingFile(recording=recording, kind=FileKind.ORIGINAL)
    with open(path, "rb") as fh:
        stored.file.save(f"original{extension}", File(fh), save=False)
    stored.size_bytes = size
    stored.save()
    if old_name and old_name != stored.file.name:
        transaction.on_commit(lambda: default_storage.delete(old_name))
    return stored


def fetch_original(
    *, recording: Recording, on_progress: Callable[[float], None], should_stop: Callable[[], bool]
) -> RecordingFile:
    """Download ``recording`` from its source (or its URL) into storage as its original file.

    Fills ``duration_s`` and ``size_bytes`` from the file itself, then asks the source to delete its
    copy when the source's options say so (Zoom's delete_after_download). ``on_progress`` gets 0..1.
    Raises InputError (the message says what to fix; ``retryable``) or ``Stopped``. A recording that
    already has its original and nowhere to download from (an upload) returns the stored file."""
    remote = recording.remote or {}
    if remote.get("url"):
        client = UrlClient()
    elif recording.source_id is not None:
        client = client_for(recording.source)
    else:
        stored = RecordingFile.objects.filter(recording=recording, kind=FileKind.ORIGINAL).first()
        if stored is not None:
            on_progress(1.0)
            return stored
        raise InputError(_("This recording has no source to download it from any more: upload the file again."))

    def progress(done: int, total: int | None) -> None:
        total = total or recording.size_bytes
        on_progress(min(1.0, done / total) if total else 0.0)

    extension = _extension(remote.get("path") or urlsplit(remote.get("url") or "").path or recording.display_name, ".mp4")
    if remote.get("file_extension"):
        extension = "." + str(remote["file_extension"]).lower()
    handle, name = tempfile.mkstemp(prefix=f"recording-{recording.pk}-", suffix=extension, dir=temp_dir())
    os.close(handle)
    path = Path(name)
    try:
        client.download(remote, path, on_progress=progress, should_stop=should_stop)
        try:
            duration = media_duration(str(path))
        except ProbeError as exc:
            raise InputError(_("The downloaded file is not usable: %(reason)s") % {"reason": exc}) from exc
        stored = _store_original(recording, path, extension)
        recording.duration_s = duration
        recording.size_bytes = stored.size_bytes
        recording.save(update_fields=["duration_s", "size_bytes", "updated_at"])
    finally:
        path.unlink(missing_ok=True)
    on_progress(1.0)
    try:
        client.delete(remote)
    except InputError as exc:
        # The file is safe in storage: a failed clean-up at the source is reported, not a failed download.
        logger.warning("Recording %s: deleting it at the source failed: %s", recording.pk, redact(exc.message))
        if recording.source_id is not None:
            message = _("Downloaded “%(name)s” but could not delete it at the source: %(reason)s") % {
                "name": recording.display_name,
                "reason": redact(exc.message),
            }
            InputSource.objects.filter(pk=recording.source_id).update(last_error=message)
    return stored


# --- uploads and URLs --------------------------------------------------------------------------------


def import_upload(*, workspace, file: UploadedFile, author=None) -> Recording:
    """An operator's uploaded video or audio file becomes a recording with its original already stored
    (status downloaded, the download step finished). The same file uploaded again returns the
    recording it already is. A file that is neither video nor audio is refused (ValidationError)."""
    handle, name = tempfile.mkstemp(prefix="upload-", suffix=_extension(file.name), dir=temp_dir())
    path = Path(name)
    digest = hashlib.sha256()
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in file.chunks():
                digest.update(chunk)
                out.write(chunk)
        remote_id = f"upload:{digest.hexdigest()}"
        existing = Recording.objects.filter(workspace=workspace, source__isnull=True, remote_id=remote_id).first()
        if existing is not None:
            return existing
        try:
            duration = media_duration(str(path))
        except ProbeError as exc:
            raise ValidationError(
                {
                    "file": _("%(name)s is not a video or audio file this server can read: %(reason)s")
                    % {"name": file.name, "reason": exc}
                }
            ) from exc
        try:
            with transaction.atomic():
                recording = Recording.objects.create(
                    workspace=workspace,
                    remote_id=remote_id,
                    remote={"upload": file.name},
                    display_name=(PurePosixPath(file.name).stem or file.name)[:300],
                    recorded_at=timezone.now(),
                    duration_s=duration,
                    size_bytes=path.stat().st_size,
                    status=RecordingStatus.DOWNLOADED,
                    finished_step=Step.DOWNLOAD,
                    author=author,
                )
                _store_original(recording, path, _extension(file.name))
        except IntegrityError:
            # The same file uploaded at the same moment by someone else: theirs is the recording.
            return Recording.objects.get(workspace=workspace, source__isnull=True, remote_id=remote_id)
        return recording
    finally:
        path.unlink(missing_ok=True)


def import_url(*, workspace, url: str, author=None) -> Recording:
    """A recording to be fetched from ``url`` later (by the download step). The address is checked now
    (http/https, a public host); the same address again returns the recording it already is."""
    try:
        normalised = normalise(url)
        check_host(normalised)
    except InputError as exc:
        raise ValidationError({"url": exc.message}) from None
    remote_id = f"url:{hashlib.sha256(normalised.encode()).hexdigest()}"
    parts = urlsplit(normalised)
    display = unquote(PurePosixPath(parts.path).name) or parts.hostname or normalised
    try:
        with transaction.atomic():
            recording, _created = Recording.objects.get_or_create(
                workspace=workspace,
                source=None,
                remote_id=remote_id,
                defaults={
                    "remote": {"url": normalised},
                    "display_name": display[:300],
                    "status": RecordingStatus.DISCOVERED,
                    "author": author,
                },
            )
    except IntegrityError:
        recording = Recording.objects.get(workspace=workspace, source__isnull=True, remote_id=remote_id)
    return recording
