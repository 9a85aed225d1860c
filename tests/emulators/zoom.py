"""A loopback Zoom: Server-to-Server OAuth, cloud recordings listing, download and delete.

What it follows (developers.zoom.us):

- "Server-to-Server OAuth" — ``POST /oauth/token?grant_type=account_credentials&account_id=…`` with
  HTTP Basic ``client_id:client_secret`` → ``{"access_token", "token_type": "bearer", "expires_in":
  3599, "scope", "api_url"}``; wrong client credentials → 401 ``{"reason": "Invalid client_id or
  client_secret", "error": "invalid_client"}``; an unknown account → 400 ``{"reason": "Invalid
  account_id", "error": "invalid_request"}``. A new token does not revoke the older ones.
- API v2 "List all recordings" — ``GET /v2/users/{userId}/recordings?from&to&page_size&next_page_token``
  (``page_size`` at most 300, default 30; ``from``/``to`` dates, at most one month apart, else 400
  ``{"code": 300, …}``) → ``{"from", "to", "page_size", "total_records", "next_page_token",
  "meetings": [{"uuid", "id", "account_id", "host_id", "topic", "type", "start_time", "timezone",
  "duration", "total_size", "recording_count", "share_url", "recording_files": [{"id",
  "meeting_id", "recording_start", "recording_end", "file_type", "file_extension", "file_size",
  "play_url", "download_url", "status", "recording_type"}]}]}``; a meeting is listed in the range
  that contains its start date.
- a file's ``download_url`` needs ``Authorization: Bearer <token>`` and answers 302 to a signed
  ``/cdn/…`` link that serves the bytes (no token needed there), like Zoom's CDN redirect.
- "Delete a meeting recording file" — ``DELETE /v2/meetings/{meetingId}/recordings/{recordingId}
  ?action=trash|delete`` → 204; a UUID that starts with "/" or contains "//" must be double-encoded,
  else it is not found; an unknown recording → 404 ``{"code": 3301, "message": "This recording does
  not exist."}``.
- any API call without a valid token → 401 ``{"code": 124, "message": "Invalid access token."}``;
  rate limit → 429 ``{"code": 429, "message": "You have reached the maximum per-second rate limit
  for this API. Try again later."}`` with ``Retry-After``.

Tests add meetings with ``add_meeting(topic, start, files=[(path, "MP4"), …])``; ``revoke_tokens()``
makes every issued token invalid (Zoom's answer to a token a process still holds after it expired);
``fail_next(429)`` / ``fail_next(500)`` / ``fail_next({"status": 429, "retry_after": N})`` fail the
next API call. ``deleted`` records (meeting uuid, file id, action) of each delete."""

from __future__ import annotations

import base64
import itertools
import secrets
import uuid as uuidlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

from .base import Emulator, Recorded, Reply

MAX_RANGE_DAYS = 31  # "one month"


@dataclass
class ZoomFile:
    id: str
    path: Path
    file_type: str
    start: datetime
    end: datetime
    status: str = "completed"


@dataclass
class ZoomMeeting:
    uuid: str
    id: int
    topic: str
    start: datetime
    files: list[ZoomFile] = field(default_factory=list)


class ZoomEmulator(Emulator):
    def __init__(self, *, account_id: str = "acc-1", client_id: str = "cid", client_secret: str = "csecret") -> None:  # noqa: S107 — a test fixture
        super().__init__()
        self.account_id, self.client_id, self.client_secret = account_id, client_id, client_secret
        self.tokens: set[str] = set()
        self.meetings: list[ZoomMeeting] = []
        self.deleted: list[tuple[str, str, str]] = []
        self.cdn: dict[str, Path] = {}
        self._ids = itertools.count(81000000001)
        self.max_page_size = 300  # Zoom's cap; a test lowers it to see paging without 300 meetings

    # --- test helpers ---

    def add_meeting(
        self, topic: str, start: datetime, files: list[tuple[Path, str]], *, uuid: str | None = None, status="completed"
    ):
        meeting = ZoomMeeting(
            uuid=uuid or base64.b64encode(uuidlib.uuid4().bytes).decode(), id=next(self._ids), topic=topic, start=start
        )
        for index, (path, file_type) in enumerate(files):
            meeting.files.append(
                ZoomFile(
                    id=uuidlib.uuid4().hex,
                    path=Path(path),
                    file_type=file_type,
                    start=start + timedelta(seconds=index),
                    end=start + timedelta(seconds=index + 3),
                    status=status,
                )
            )
        with self.lock:
            self.meetings.append(meeting)
        return meeting

    def revoke_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    @property
    def api_base(self) -> str:
        return f"{self.url}/v2"

    @property
    def oauth_url(self) -> str:
        return f"{self.url}/oauth/token"

    def list_calls(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "GET" and r.path.endswith("/recordings")]

    # --- protocol ---

    def handle(self, request: Recorded) -> Reply:
        if request.path == "/oauth/token":
            return self._token(request)
        if request.path.startswith("/cdn/"):
            path = self.cdn.get(request.path.removeprefix("/cdn/"))
            if path is None or request.method != "GET":
                return Reply(404, {"code": 1001, "message": "File does not exist."})
            return Reply(200, path.read_bytes(), {"Content-Type": "video/mp4"})
        auth = next((v for k, v in request.headers.items() if k.lower() == "authorization"), "")
        with self.lock:
            valid = auth.startswith("Bearer ") and auth.removeprefix("Bearer ") in self.tokens
        if not valid:
            return Reply(401, {"code": 124, "message": "Invalid access token."})
        failure = self.take_failure()
        if failure == 429 or (isinstance(failure, dict) and failure.get("status") == 429):
            after = str(failure.get("retry_after", 1)) if isinstance(failure, dict) else "1"
            message = "You have reached the maximum per-second rate limit for this API. Try again later."
            return Reply(429, {"code": 429, "message": message}, {"Retry-After": after})
        if failure in (500, 502, 503):
            return Reply(failure, {"code": failure, "message": "Internal Error"})
        parts = request.path.split("/")
        # /v2/users/{user}/recordings
        if request.method == "GET" and len(parts) == 5 and parts[1:3] == ["v2", "users"] and parts[4] == "recordings":
            return self._list(request)
        # /v2/recording/download/{file id}
        if request.method == "GET" and request.path.startswith("/v2/recording/download/"):
            return self._download(request.path.rsplit("/", 1)[1])
        # /v2/meetings/{meeting uuid}/recordings/{file id}
        if request.method == "DELETE" and len(parts) == 6 and parts[1:3] == ["v2", "meetings"] and parts[4] == "recordings":
            return self._delete(parts[3], parts[5], request.param("action", "trash"))
        return Reply(404, {"code": 404, "message": "Not found"})

    def _token(self, request: Recorded) -> Reply:
        if request.method != "POST" or request.param("grant_type") != "account_credentials":
            return Reply(400, {"reason": "Unsupported grant type", "error": "unsupported_grant_type"})
        auth = next((v for k, v in request.headers.items() if k.lower() == "authorization"), "")
        try:
            client_id, _, client_secret = base64.b64decode(auth.removeprefix("Basic ")).decode().partition(":")
        except ValueError:
            client_id = client_secret = ""
        if (client_id, client_secret) != (self.client_id, self.client_secret):
            return Reply(401, {"reason": "Invalid client_id or client_secret", "error": "invalid_client"})
        if request.param("account_id") != self.account_id:
            return Reply(400, {"reason": "Invalid account_id", "error": "invalid_request"})
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.tokens.add(token)
        scope = "cloud_recording:read:list_user_recordings:admin cloud_recording:delete:recording_file:admin"
        body = {"access_token": token, "token_type": "bearer", "expires_in": 3599, "scope": scope, "api_url": self.url}
        return Reply(200, body)

    def _list(self, request: Recorded) -> Reply:
        try:
            first = date.fromisoformat(request.param("from") or "")
            last = date.fromisoformat(request.param("to") or "")
        except ValueError:
            return Reply(400, {"code": 300, "message": "Invalid parameter: from/to (yyyy-mm-dd)."})
        if last < first or (last - first).days > MAX_RANGE_DAYS:
            return Reply(400, {"code": 300, "message": "The date range must not exceed one month."})
        page_size = min(int(request.param("page_size") or 30), self.max_page_size)
        page_token = request.param("next_page_token") or ""
        if page_token and not page_token.isdigit():
            return Reply(400, {"code": 300, "message": "The next page token is invalid or expired."})
        offset = int(page_token or 0)
        with self.lock:
            meetings = sorted(
                (m for m in self.meetings if first <= m.start.date() <= last and m.files), key=lambda m: m.start, reverse=True
            )
        page = meetings[offset : offset + page_size]
        following = offset + page_size
        return Reply(
            200,
            {
                "from": first.isoformat(),
                "to": last.isoformat(),
                "page_size": page_size,
                "total_records": len(meetings),
                "next_page_token": str(following) if following < len(meetings) else "",
                "meetings": [self._meeting(m) for m in page],
            },
        )

    def _meeting(self, meeting: ZoomMeeting) -> dict:
        def stamp(moment: datetime) -> str:
            return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

        files = [
            {
                "id": f.id,
                "meeting_id": meeting.uuid,
                "recording_start": stamp(f.start),
                "recording_end": stamp(f.end),
                "file_type": f.file_type,
                "file_extension": f.file_type,
                "file_size": f.path.stat().st_size if f.path.exists() else 0,
                "play_url": f"{self.url}/rec/play/{f.id}",
                "download_url": f"{self.url}/v2/recording/download/{f.id}",
                "status": f.status,
                "recording_type": "audio_only" if f.file_type == "M4A" else "shared_screen_with_speaker_view",
            }
            for f in meeting.files
        ]
        return {
            "uuid": meeting.uuid,
            "id": meeting.id,
            "account_id": self.account_id,
            "host_id": "host-1",
            "topic": meeting.topic,
            "type": 2,
            "start_time": stamp(meeting.start),
            "timezone": "UTC",
            "duration": 1,
            "total_size": sum(f["file_size"] for f in files),
            "recording_count": len(files),
            "share_url": f"{self.url}/rec/share/{meeting.id}",
            "recording_files": files,
        }

    def _find(self, file_id: str) -> tuple[ZoomMeeting, ZoomFile] | None:
        with self.lock:
            for meeting in self.meetings:
                for item in meeting.files:
                    if item.id == file_id:
                        return meeting, item
        return None

    def _download(self, file_id: str) -> Reply:
        found = self._find(file_id)
        if found is None:
            return Reply(404, {"code": 3301, "message": "This recording does not exist."})
        signed = f"{file_id}-{secrets.token_hex(8)}"
        with self.lock:
            self.cdn[signed] = found[1].path
        return Reply(302, b"", {"Location": f"{self.url}/cdn/{signed}"})

    def _delete(self, raw_uuid: str, file_id: str, action: str) -> Reply:
        once = unquote(raw_uuid)  # what the HTTP layer decodes
        meeting_uuid = unquote(once) if "%" in once else once
        # Zoom's routing: a "/"-leading or "//" UUID only arrives intact when it was encoded twice.
        needs_double = meeting_uuid.startswith("/") or "//" in meeting_uuid
        if needs_double and "%" not in once:
            return Reply(404, {"code": 3301, "message": "This recording does not exist."})
        with self.lock:
            for meeting in self.meetings:
                if meeting.uuid != meeting_uuid:
                    continue
                for item in meeting.files:
                    if item.id == file_id:
                        meeting.files.remove(item)
                        self.deleted.append((meeting_uuid, file_id, action))
                        return Reply(204, b"")
        return Reply(404, {"code": 3301, "message": "This recording does not exist."})
