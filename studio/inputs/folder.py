"""A local or mounted folder (an SMB/NFS share, a sync client's directory) that recordings are dropped into.

Only directories inside ``settings.STUDIO_FOLDER_ROOTS`` may be read: an operator types a path into a
form, and without that fence the server's own files (``/etc``, the database) would be one source away.
Paths are compared after resolving symlinks, so a link pointing out of a root is refused too.

A file still being copied in must not be taken half-written: a file whose mtime is within the last
``settle_seconds`` (default 10) is not listed yet; the next sync lists it once it has settled."""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .base import CHUNK_BYTES, InputClient, InputError, ProgressCallback, RemoteFile, StopCallback, copy_stream, int_option

PATTERN = "*.mp4,*.mov,*.mkv,*.webm,*.m4a"


def roots() -> list[Path]:
    return [Path(root).resolve() for root in settings.STUDIO_FOLDER_ROOTS]


def _inside(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def allowed_folder(raw: str) -> Path:
    """``raw`` resolved, if it is an absolute directory inside an allowed root; else a message saying which roots are allowed."""
    allowed = roots()
    names = ", ".join(str(root) for root in allowed)
    path = Path(raw)
    if not path.is_absolute():
        raise ValueError(_("The folder must be an absolute path inside %(roots)s.") % {"roots": names})
    resolved = path.resolve()
    if not any(_inside(resolved, root) for root in allowed):
        raise ValueError(
            _(
                "%(path)s is outside the folders the studio may read (%(roots)s): move the recordings there "
                "or ask the administrator to add the folder to STUDIO_FOLDER_ROOTS."
            )
            % {"path": raw, "roots": names}
        )
    if not resolved.is_dir():
        raise ValueError(_("%(path)s is not an existing folder.") % {"path": raw})
    return resolved


def clean(options: dict, secret: dict, existing_secret: dict) -> tuple[dict, dict]:
    raw = str(options.get("path") or "").strip()
    if not raw:
        raise ValidationError({"options": _("Give the folder's absolute path.")})
    try:
        allowed_folder(raw)
    except ValueError as exc:
        raise ValidationError({"options": str(exc)}) from None
    pattern = options.get("pattern") or PATTERN
    if isinstance(pattern, list):
        pattern = ",".join(str(part) for part in pattern)
    patterns = [part.strip() for part in str(pattern).split(",") if part.strip()]
    if not patterns or any("/" in part for part in patterns):
        raise ValidationError({"options": _("pattern is a comma-separated list of file name patterns such as *.mp4,*.mov.")})
    settle = int_option(options, "settle_seconds", 10, 0, 3600)
    return {"path": raw, "pattern": ",".join(patterns), "settle_seconds": settle}, {}


def client(source) -> FolderClient:
    return FolderClient(source.options or {})


class FolderClient(InputClient):
    def __init__(self, options: dict) -> None:
        self.options = options

    def folder(self) -> Path:
        try:
            return allowed_folder(str(self.options.get("path") or ""))
        except ValueError as exc:
            raise InputError(str(exc)) from None

    def list(self) -> Iterator[RemoteFile]:
        folder = self.folder()
        patterns = [part.strip().lower() for part in str(self.options.get("pattern") or PATTERN).split(",") if part.strip()]
        settle = float(self.options.get("settle_seconds", 10))
        now = time.time()
        for entry in sorted(folder.iterdir()):
            if not any(fnmatch.fnmatchcase(entry.name.lower(), pattern) for pattern in patterns):
                continue
            resolved = entry.resolve()
            if not _inside(resolved, folder) or not resolved.is_file():
                continue  # a link out of the folder, or not a regular file
            stat = resolved.stat()
            if now - stat.st_mtime < settle:
                continue  # still being written
            yield RemoteFile(
                remote_id=entry.name,
                name=entry.name,
                size=stat.st_size,
                recorded_at=datetime.fromtimestamp(stat.st_mtime, tz=UTC),
                duration_s=None,
                extra={"path": entry.name, "size": stat.st_size},
            )

    def download(self, remote: dict, dest: Path, *, on_progress: ProgressCallback, should_stop: StopCallback) -> int:
        folder = self.folder()
        source = (folder / str(remote.get("path") or "")).resolve()
        if not _inside(source, folder) or source == folder:
            raise InputError(_("%(name)s is not inside the source's folder.") % {"name": remote.get("path")})
        if not source.is_file():
            raise InputError(
                _("%(name)s is no longer in the folder %(folder)s.") % {"name": remote.get("path"), "folder": folder}
            )
        total = source.stat().st_size
        try:
            with open(source, "rb") as src, open(dest, "wb") as out:
                return copy_stream(
                    iter(lambda: src.read(CHUNK_BYTES), b""), out, total=total, on_progress=on_progress, should_stop=should_stop
                )
        except OSError as exc:
            dest.unlink(missing_ok=True)
            raise InputError(
                _("%(name)s could not be read (%(reason)s).") % {"name": remote.get("path"), "reason": exc.strerror},
                retryable=True,
            ) from exc
        except BaseException:
            dest.unlink(missing_ok=True)
            raise
