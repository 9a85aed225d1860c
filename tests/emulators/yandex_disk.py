"""A loopback Yandex Disk REST API (``https://cloud-api.yandex.net/v1/disk``).

What it follows (yandex.ru/dev/disk-api/doc/ru/):

- every call needs ``Authorization: OAuth <token>``; without a valid one → 401
  ``{"message": "Не авторизован.", "description": "Unauthorized", "error": "UnauthorizedError"}``;
- "Метаинформация о файле или папке": ``GET /v1/disk/resources?path=…&limit=20&offset=0&fields=…&sort=…``
  → a folder ``{"name", "path", "type": "dir", "created", "modified", "resource_id", "_embedded":
  {"items": […], "limit", "offset", "total", "path", "sort"}}`` or a file (``type`` "file", with
  ``size``, ``md5``, ``sha256``, ``mime_type``, ``media_type``, ``file``); items are sorted by name
  (the default), ``limit`` and ``offset`` page them; ``fields`` keeps only the listed keys (dotted
  paths into ``_embedded``); an unknown path → 404 ``{"message": "Не удалось найти запрошенный
  ресурс.", "description": "Resource not found.", "error": "DiskNotFoundError"}``;
- "Скачивание файла": ``GET /v1/disk/resources/download?path=…`` → ``{"href", "method": "GET",
  "templated": false}``; the href (here ``/downloader/<signed id>``) serves the bytes without the
  token;
- too many requests → 429 ``{"message": "Слишком много запросов.", "description": "Too Many Requests",
  "error": "TooManyRequestsError"}``; ``fail_next(429)``, ``fail_next(503)`` (``{"error":
  "ServiceUnavailableError"}``) or ``fail_next(500)``.

Tests put files with ``add_file("disk:/Video/a.mp4", local_path)`` (folders are implied by paths;
``add_folder`` makes an empty one)."""

from __future__ import annotations

import hashlib
import mimetypes
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from .base import Emulator, Recorded, Reply

UNAUTHORIZED = {"message": "Не авторизован.", "description": "Unauthorized", "error": "UnauthorizedError"}
NOT_FOUND = {
    "message": "Не удалось найти запрошенный ресурс.",
    "description": "Resource not found.",
    "error": "DiskNotFoundError",
}
TOO_MANY = {"message": "Слишком много запросов.", "description": "Too Many Requests", "error": "TooManyRequestsError"}
UNAVAILABLE = {"message": "Сервис временно недоступен.", "description": "Service Unavailable", "error": "ServiceUnavailableError"}
VIDEO = {".mp4", ".mov", ".mkv", ".webm", ".avi"}


@dataclass
class DiskFile:
    path: str
    local: Path
    created: datetime


def _norm(path: str) -> str:
    if path.startswith("/"):
        path = "disk:" + path
    if not path.startswith("disk:/"):
        path = "disk:/" + path
    return path.rstrip("/") if path != "disk:/" else path


class YandexDiskEmulator(Emulator):
    def __init__(self, token: str = "disk-token") -> None:  # noqa: S107 — a test fixture
        super().__init__()
        self.token = token
        self.files: dict[str, DiskFile] = {}
        self.folders: set[str] = {"disk:/"}
        self.links: dict[str, Path] = {}

    @property
    def api_base(self) -> str:
        return f"{self.url}/v1/disk"

    def add_folder(self, path: str) -> None:
        path = _norm(path)
        with self.lock:
            while path != "disk:/":
                self.folders.add(path)
                path = str(PurePosixPath(path.removeprefix("disk:")).parent)
                path = _norm(path)

    def add_file(self, path: str, local: Path, created: datetime | None = None) -> None:
        path = _norm(path)
        self.add_folder(str(PurePosixPath(path.removeprefix("disk:")).parent))
        with self.lock:
            self.files[path] = DiskFile(path, Path(local), created or datetime.now(UTC).replace(microsecond=0))

    def listing_calls(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == "/v1/disk/resources"]

    def handle(self, request: Recorded) -> Reply:
        if request.path.startswith("/downloader/"):
            local = self.links.get(request.path.removeprefix("/downloader/"))
            if local is None:
                return Reply(404, NOT_FOUND)
            return Reply(
                200, local.read_bytes(), {"Content-Type": mimetypes.guess_type(local.name)[0] or "application/octet-stream"}
            )
        auth = next((v for k, v in request.headers.items() if k.lower() == "authorization"), "")
        if auth != f"OAuth {self.token}":
            return Reply(401, UNAUTHORIZED)
        failure = self.take_failure()
        if failure == 429:
            return Reply(429, TOO_MANY)
        if failure in (500, 503):
            return Reply(failure, UNAVAILABLE if failure == 503 else {**UNAVAILABLE, "error": "InternalServerError"})
        if request.method != "GET":
            return Reply(
                405,
                {"message": "Метод не поддерживается.", "description": "Method Not Allowed", "error": "MethodNotAllowedError"},
            )
        path = _norm(request.param("path") or "")
        if request.path == "/v1/disk/resources":
            return self._resources(request, path)
        if request.path == "/v1/disk/resources/download":
            with self.lock:
                found = self.files.get(path)
            if found is None:
                return Reply(404, NOT_FOUND)
            signed = secrets.token_hex(12)
            with self.lock:
                self.links[signed] = found.local
            return Reply(200, {"href": f"{self.url}/downloader/{signed}", "method": "GET", "templated": False})
        return Reply(404, NOT_FOUND)

    def _file(self, item: DiskFile) -> dict:
        data = item.local.read_bytes()
        suffix = PurePosixPath(item.path).suffix.lower()
        stamp = item.created.isoformat()
        return {
            "name": PurePosixPath(item.path).name,
            "path": item.path,
            "type": "file",
            "created": stamp,
            "modified": stamp,
            "size": len(data),
            "md5": hashlib.md5(data, usedforsecurity=False).hexdigest(),
            "sha256": hashlib.sha256(data).hexdigest(),
            "mime_type": mimetypes.guess_type(item.path)[0] or "application/octet-stream",
            "media_type": "video" if suffix in VIDEO else ("audio" if suffix in (".m4a", ".mp3") else "document"),
            "resource_id": "1:" + hashlib.sha1(item.path.encode(), usedforsecurity=False).hexdigest(),
            "file": f"{self.url}/downloader/direct",
        }

    def _dir(self, path: str) -> dict:
        return {
            "name": PurePosixPath(path.removeprefix("disk:")).name or "disk",
            "path": path,
            "type": "dir",
            "created": "2026-01-01T00:00:00+00:00",
            "modified": "2026-01-01T00:00:00+00:00",
            "resource_id": "1:" + hashlib.sha1(path.encode(), usedforsecurity=False).hexdigest(),
        }

    def _resources(self, request: Recorded, path: str) -> Reply:
        with self.lock:
            if path in self.files:
                return Reply(200, _only(self._file(self.files[path]), request.param("fields")))
            if path not in self.folders:
                return Reply(404, NOT_FOUND)
            prefix = path if path.endswith("/") else path + "/"
            children = [self._dir(f) for f in self.folders if f.startswith(prefix) and "/" not in f[len(prefix) :]]
            children += [self._file(f) for p, f in self.files.items() if p.startswith(prefix) and "/" not in p[len(prefix) :]]
        children.sort(key=lambda item: item["name"])
        limit = int(request.param("limit") or 20)
        offset = int(request.param("offset") or 0)
        body = {
            **self._dir(path),
            "_embedded": {
                "items": children[offset : offset + limit],
                "limit": limit,
                "offset": offset,
                "total": len(children),
                "path": path,
                "sort": "",
            },
        }
        return Reply(200, _only(body, request.param("fields")))


def _only(body: dict, fields: str | None) -> dict:
    """``fields``: keep only these keys (dotted paths; ``_embedded.items.name`` keeps that key of each item)."""
    if not fields:
        return body
    wanted = [name.strip().split(".") for name in fields.split(",") if name.strip()]

    def pick(value, paths):
        if isinstance(value, list):
            return [pick(item, paths) for item in value]
        if not isinstance(value, dict):
            return value
        kept = {}
        for key in dict.fromkeys(p[0] for p in paths):
            if key not in value:
                continue
            rest = [p[1:] for p in paths if p[0] == key and len(p) > 1]
            whole = any(p[0] == key and len(p) == 1 for p in paths)
            kept[key] = value[key] if whole or not rest else pick(value[key], rest)
        return kept

    return pick(body, wanted)
