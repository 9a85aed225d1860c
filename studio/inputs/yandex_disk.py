"""A Yandex Disk folder, read through the Disk REST API with an OAuth token.

The protocol (yandex.ru/dev/disk-api/doc/ru/): every call carries ``Authorization: OAuth <token>``;

- "Метаинформация о файле или папке": ``GET /v1/disk/resources?path=…&limit=…&offset=…&fields=…`` →
  the folder with ``_embedded: {items, limit, offset, total, path}``; each item has ``name``, ``path``,
  ``type`` (file/dir), ``size``, ``created``, ``modified``, ``md5``, ``media_type``, ``mime_type``,
  ``resource_id``. Pages are walked by offset until ``total``.
- "Скачивание файла": ``GET /v1/disk/resources/download?path=…`` → ``{"href", "method", "templated"}``;
  the href (a pre-signed link to Yandex's downloader) serves the bytes without the token.
- errors: ``{"message", "description", "error"}`` — UnauthorizedError 401, DiskNotFoundError 404,
  TooManyRequestsError 429, server errors 5xx.

A file's identity is its path and MD5, so a file replaced under the same name is a new recording."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from .base import (
    InputClient,
    InputError,
    ProgressCallback,
    RemoteFile,
    StopCallback,
    http_session,
    json_object,
    keep_secret,
    network_error,
    retry_after,
    stream_to_file,
    timeout,
)

EXTENSIONS = ["mp4", "mov", "mkv", "webm", "m4a", "avi"]
PAGE = 100
FIELDS = ",".join(
    ["type", "path", "_embedded.total", "_embedded.limit", "_embedded.offset"]
    + [
        f"_embedded.items.{name}"
        for name in ("name", "path", "type", "size", "created", "md5", "media_type", "mime_type", "resource_id")
    ]
)


def clean(options: dict, secret: dict, existing_secret: dict) -> tuple[dict, dict]:
    path = str(options.get("path") or "").strip()
    if not path:
        raise ValidationError({"options": _("Give the folder's path on the Disk, for example disk:/Video/Zoom.")})
    if not path.startswith(("disk:/", "/", "app:/")):
        path = "disk:/" + path
    if path.startswith("/"):
        path = "disk:" + path
    if len(path) > 1 and path.endswith("/") and not path.endswith(":/"):
        path = path.rstrip("/")
    extensions = options.get("extensions") or EXTENSIONS
    if isinstance(extensions, str):
        extensions = extensions.replace(",", " ").split()
    if not isinstance(extensions, list):
        raise ValidationError({"options": _('extensions must be a list such as ["mp4", "mov"].')})
    extensions = [str(ext).strip().lower().lstrip(".") for ext in extensions if str(ext).strip()]
    cleaned_secret, missing = keep_secret(secret, existing_secret, ["token"])
    if missing:
        raise ValidationError(
            {"secret": _("Fill in token: an OAuth token of a Yandex ID app with the cloud_api:disk.read permission.")}
        )
    return {
        "path": path,
        "extensions": extensions or EXTENSIONS,
        "recursive": bool(options.get("recursive", False)),
    }, cleaned_secret


def client(source) -> YandexDiskClient:
    return YandexDiskClient(source.options or {}, source.secret or {})


class YandexDiskClient(InputClient):
    def __init__(self, options: dict, secret: dict) -> None:
        self.options = options
        self.session = http_session()
        self.session.headers["Authorization"] = f"OAuth {secret.get('token', '')}"

    def _get(self, path: str, params: dict, *, what: str) -> dict:
        try:
            response = self.session.get(f"{settings.YANDEX_DISK_API_BASE_URL}{path}", params=params, timeout=timeout())
        except requests.RequestException as exc:
            raise network_error("Yandex Disk", exc) from exc
        if response.status_code != 200:
            raise _error(response, what)
        return json_object(response, "Yandex Disk")

    def list(self) -> Iterator[RemoteFile]:
        wanted = {ext.lower() for ext in self.options.get("extensions") or EXTENSIONS}
        folders = [self.options.get("path") or "disk:/"]
        while folders:
            folder = folders.pop(0)
            offset = 0
            while True:
                body = self._get("/resources", {"path": folder, "limit": PAGE, "offset": offset, "fields": FIELDS}, what=folder)
                if body.get("type") == "file":
                    raise InputError(
                        _("%(path)s on Yandex Disk is a file, not a folder: give the folder's path.") % {"path": folder}
                    )
                embedded = body.get("_embedded") or {}
                items = embedded.get("items") or []
                for item in items:
                    if item.get("type") == "dir":
                        if self.options.get("recursive"):
                            folders.append(item["path"])
                        continue
                    remote = _remote_file(item, wanted)
                    if remote is not None:
                        yield remote
                offset += len(items)
                if not items or offset >= int(embedded.get("total") or 0):
                    break

    def download(self, remote: dict, dest: Path, *, on_progress: ProgressCallback, should_stop: StopCallback) -> int:
        path = remote.get("path")
        if not path:
            raise InputError(_("This recording has no Yandex Disk path: sync the source again."))
        link = self._get("/resources/download", {"path": path}, what=path)
        if not link.get("href"):
            raise InputError(
                _("Yandex Disk gave no download link for %(path)s; the next attempt retries.") % {"path": path}, retryable=True
            )
        try:
            # The href is pre-signed: it is fetched without the token.
            response = requests.request(
                link.get("method") or "GET",
                link["href"],
                stream=True,
                timeout=timeout(),
                headers={"User-Agent": "Crosspost-Studio/1.0"},
            )
        except requests.RequestException as exc:
            raise network_error("Yandex Disk", exc) from exc
        if response.status_code != 200:
            response.close()
            raise _error(response, path)
        length = response.headers.get("Content-Length")
        return stream_to_file(
            response,
            dest,
            total=int(length) if length and length.isdigit() else remote.get("size"),
            on_progress=on_progress,
            should_stop=should_stop,
        )


def _error(response: requests.Response, what: str) -> InputError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    kind = str(body.get("error") or "")
    said = str(body.get("description") or body.get("message") or response.reason or "").strip()
    status = response.status_code
    if status == 401 or kind == "UnauthorizedError":
        return InputError(
            _(
                "Yandex Disk refused the OAuth token (%(said)s): get a new token with the cloud_api:disk.read "
                "permission and save it in the source."
            )
            % {"said": said}
        )
    if status == 403:
        return InputError(
            _("Yandex Disk denied access to %(path)s (%(said)s): check the token's permissions.") % {"path": what, "said": said}
        )
    if status == 404 or kind == "DiskNotFoundError":
        return InputError(_("Yandex Disk has no %(path)s: check the source's path (for example disk:/Video).") % {"path": what})
    if status == 429 or kind == "TooManyRequestsError":
        return InputError(
            _("Yandex Disk's rate limit was reached (%(said)s); the next attempt waits and retries.") % {"said": said},
            retryable=True,
            retry_after=retry_after(response),
        )
    if status >= 500 or status == 423:
        return InputError(
            _("Yandex Disk failed (HTTP %(status)s: %(said)s); the next attempt retries.") % {"status": status, "said": said},
            retryable=True,
            retry_after=retry_after(response),
        )
    return InputError(
        _("Yandex Disk refused the request for %(path)s (HTTP %(status)s: %(said)s).")
        % {"path": what, "status": status, "said": said}
    )


def _remote_file(item: dict, wanted: set[str]) -> RemoteFile | None:
    name = str(item.get("name") or "")
    extension = PurePosixPath(name).suffix.lower().lstrip(".")
    if item.get("media_type") != "video" and extension not in wanted:
        return None
    created = parse_datetime(item["created"]) if item.get("created") else None
    if created is not None and timezone.is_naive(created):
        created = timezone.make_aware(created, timezone.UTC)
    path = str(item.get("path") or "")
    md5 = item.get("md5")
    return RemoteFile(
        remote_id=f"{path}:{md5}" if md5 else str(item.get("resource_id") or path),
        name=name,
        size=item.get("size"),
        recorded_at=created,
        duration_s=None,
        extra={"path": path, "md5": md5 or "", "mime_type": item.get("mime_type") or "", "size": item.get("size")},
    )
