"""Zoom cloud recordings, read with a Server-to-Server OAuth app.

The protocol (Zoom's developer documentation):

- token: ``POST {ZOOM_OAUTH_URL}`` with ``grant_type=account_credentials&account_id=…`` (form body;
  Zoom's pages also show them in the query string, which some accounts now refuse with 400) and
  HTTP Basic ``client_id:client_secret`` → ``{"access_token", "token_type": "bearer", "expires_in": 3599, …}``
  ("Server-to-Server OAuth"); there is no refresh token — a new one is asked for. A token is kept in
  this process until a minute before it expires; a 401 from the API (Zoom revoked it, or another
  process asked for a new one) asks for a new one once.
- listing: ``GET /users/{userId}/recordings?from=YYYY-MM-DD&to=YYYY-MM-DD&page_size=300&next_page_token=…``
  ("List all recordings"); one request covers at most one month, so the lookback window is walked in
  30-day slices, each page by page. A meeting's ``recording_files`` with ``status`` "completed" and a
  wanted ``file_type`` become files; each file's ``id`` is its identity.
- download: ``GET download_url`` with ``Authorization: Bearer <token>``; Zoom answers with a redirect
  to its CDN.
- delete: ``DELETE /meetings/{meetingUUID}/recordings/{recordingId}?action=trash`` ("Delete a meeting
  recording file"; to the trash, restorable for 30 days). A UUID that starts with "/" or contains "//"
  must be URL-encoded twice.

Errors: ``{"code", "message"}`` bodies; 401 (code 124 "Invalid access token.") and the token
endpoint's ``invalid_client`` mean the credentials are wrong; 429 (with Retry-After) and 5xx are
retried later; 404 is final."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

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
    int_option,
    json_object,
    keep_secret,
    network_error,
    retry_after,
    stream_to_file,
    timeout,
)

FILE_TYPES = ("MP4", "M4A")
SECRET_FIELDS = ["account_id", "client_id", "client_secret"]
SLICE_DAYS = 30  # Zoom lists at most one month per request
PAGE_SIZE = 300  # Zoom's maximum
TOKEN_MARGIN_S = 60

# (oauth url, account id, client id) → (access token, monotonic expiry); shared by the process's clients.
_tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
_tokens_lock = threading.Lock()


def clean(options: dict, secret: dict, existing_secret: dict) -> tuple[dict, dict]:
    user_id = str(options.get("user_id") or "me").strip()
    lookback = int_option(options, "lookback_days", 7, 1, 180)
    types = options.get("file_types") or ["MP4"]
    if isinstance(types, str):
        types = [part for part in types.replace(",", " ").split()]
    if not isinstance(types, list):
        raise ValidationError({"options": _('file_types must be a list such as ["MP4", "M4A"].')})
    types = [str(kind).strip().upper() for kind in types]
    unknown = [kind for kind in types if kind not in FILE_TYPES]
    if unknown or not types:
        raise ValidationError(
            {
                "options": _("file_types may hold MP4 (video) and M4A (audio only); not %(bad)s.")
                % {"bad": ", ".join(unknown) or "nothing"}
            }
        )
    cleaned_secret, missing = keep_secret(secret, existing_secret, SECRET_FIELDS)
    if missing:
        raise ValidationError(
            {
                "secret": _(
                    "Fill in %(fields)s: copy them from your Server-to-Server OAuth app "
                    "in the Zoom App Marketplace (App Credentials)."
                )
                % {"fields": ", ".join(missing)}
            }
        )
    cleaned_options = {
        "user_id": user_id,
        "lookback_days": lookback,
        "file_types": list(dict.fromkeys(types)),
        "delete_after_download": bool(options.get("delete_after_download", False)),
    }
    return cleaned_options, cleaned_secret


def client(source) -> ZoomClient:
    return ZoomClient(source.options or {}, source.secret or {})


def encode_uuid(uuid: str) -> str:
    """A meeting UUID for a URL path: encoded twice when it starts with "/" or contains "//" (Zoom's rule)."""
    once = quote(uuid, safe="")
    return quote(once, safe="") if uuid.startswith("/") or "//" in uuid else once


class ZoomClient(InputClient):
    def __init__(self, options: dict, secret: dict) -> None:
        self.options = options
        self.secret = secret
        self.session = http_session()

    # --- token ---

    def _token_key(self) -> tuple[str, str, str]:
        return (settings.ZOOM_OAUTH_URL, self.secret.get("account_id", ""), self.secret.get("client_id", ""))

    def token(self, *, fresh: bool = False) -> str:
        key = self._token_key()
        with _tokens_lock:
            cached = _tokens.get(key)
            if cached and not fresh and cached[1] > time.monotonic():
                return cached[0]
        try:
            response = self.session.post(
                settings.ZOOM_OAUTH_URL,
                # In the form body, as OAuth 2.0 has it: Zoom refuses query-string parameters for some accounts.
                data={"grant_type": "account_credentials", "account_id": self.secret.get("account_id", "")},
                auth=(self.secret.get("client_id", ""), self.secret.get("client_secret", "")),
                timeout=timeout(),
            )
        except requests.RequestException as exc:
            raise network_error("Zoom", exc) from exc
        if response.status_code != 200:
            raise self._error(response, during_token=True)
        body = json_object(response, "Zoom")
        if not body.get("access_token"):
            raise InputError(_("Zoom's token endpoint answered without a token: check ZOOM_OAUTH_URL."), retryable=True)
        token = body["access_token"]
        lifetime = float(body.get("expires_in") or 3600)
        with _tokens_lock:
            _tokens[key] = (token, time.monotonic() + max(0.0, lifetime - TOKEN_MARGIN_S))
        return token

    def _call(self, method: str, url: str, **kwargs) -> requests.Response:
        """An authorised API call; a 401 asks for a new token and tries once more."""
        extra_headers = kwargs.pop("headers", {})
        for attempt in range(2):
            headers = {"Authorization": f"Bearer {self.token(fresh=attempt > 0)}", **extra_headers}
            try:
                response = self.session.request(method, url, headers=headers, timeout=timeout(), **kwargs)
            except requests.RequestException as exc:
                raise network_error("Zoom", exc) from exc
            if response.status_code != 401:
                break
            response.close()
        if response.status_code >= 400:
            raise self._error(response)
        return response

    # --- listing ---

    def list(self) -> Iterator[RemoteFile]:
        user = quote(self.options.get("user_id") or "me", safe="")
        wanted = set(self.options.get("file_types") or ["MP4"])
        today = timezone.now().date()
        start = today - timedelta(days=int(self.options.get("lookback_days") or 7))
        seen: set[str] = set()
        for first, last in slices(start, today):
            page_token = ""
            while True:
                params = {"from": first.isoformat(), "to": last.isoformat(), "page_size": PAGE_SIZE}
                if page_token:
                    params["next_page_token"] = page_token
                body = json_object(
                    self._call("GET", f"{settings.ZOOM_API_BASE_URL}/users/{user}/recordings", params=params), "Zoom"
                )
                for meeting in body.get("meetings") or []:
                    for item in meeting.get("recording_files") or []:
                        remote = _remote_file(meeting, item, wanted)
                        if remote is not None and remote.remote_id not in seen:
                            seen.add(remote.remote_id)
                            yield remote
                page_token = body.get("next_page_token") or ""
                if not page_token:
                    break

    # --- download and delete ---

    def download(self, remote: dict, dest: Path, *, on_progress: ProgressCallback, should_stop: StopCallback) -> int:
        url = remote.get("download_url")
        if not url:
            raise InputError(_("This Zoom recording has no download link: sync the source again."))
        response = self._call("GET", url, stream=True, allow_redirects=True)
        length = response.headers.get("Content-Length")
        return stream_to_file(
            response,
            dest,
            total=int(length) if length and length.isdigit() else remote.get("size"),
            on_progress=on_progress,
            should_stop=should_stop,
        )

    def delete(self, remote: dict) -> None:
        if not self.options.get("delete_after_download"):
            return
        uuid, file_id = remote.get("meeting_uuid"), remote.get("recording_id")
        if not uuid or not file_id:
            return
        url = f"{settings.ZOOM_API_BASE_URL}/meetings/{encode_uuid(uuid)}/recordings/{quote(file_id, safe='')}"
        self._call("DELETE", url, params={"action": "trash"}).close()

    # --- errors ---

    def _error(self, response: requests.Response, *, during_token: bool = False) -> InputError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        said = str(body.get("message") or body.get("reason") or body.get("error") or response.reason or "").strip()
        status = response.status_code
        if status == 401 or body.get("error") in ("invalid_client", "invalid_request") or (during_token and status == 400):
            return InputError(
                _(
                    "Zoom refused the credentials (%(said)s). Check the account ID, client ID and client secret of the "
                    "Server-to-Server OAuth app and that the app is activated."
                )
                % {"said": said}
            )
        if status == 429:
            return InputError(
                _("Zoom's rate limit was reached (%(said)s); the next attempt waits and retries.") % {"said": said},
                retryable=True,
                retry_after=retry_after(response),
            )
        if status >= 500:
            return InputError(
                _("Zoom failed (HTTP %(status)s: %(said)s); the next attempt retries.") % {"status": status, "said": said},
                retryable=True,
            )
        if status == 404:
            return InputError(
                _("Zoom has no such user or recording (%(said)s): check the source's user_id, or the recording was deleted.")
                % {"said": said}
            )
        if status == 403 or body.get("code") == 4711:
            return InputError(
                _(
                    "Zoom denied access (%(said)s): give the Server-to-Server OAuth app the cloud recording scopes "
                    "(view and delete recordings)."
                )
                % {"said": said}
            )
        return InputError(_("Zoom refused the request (HTTP %(status)s: %(said)s).") % {"status": status, "said": said})


def slices(start: date, end: date) -> Iterator[tuple[date, date]]:
    """[start, end] in inclusive slices of at most SLICE_DAYS days (Zoom: one month per request)."""
    first = start
    while first <= end:
        last = min(first + timedelta(days=SLICE_DAYS - 1), end)
        yield first, last
        first = last + timedelta(days=1)


def _parse(value) -> datetime | None:
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.UTC)
    return parsed


def _remote_file(meeting: dict, item: dict, wanted: set[str]) -> RemoteFile | None:
    file_type = str(item.get("file_type") or "").upper()
    if item.get("status") != "completed" or file_type not in wanted or not item.get("id"):
        return None
    started, ended = _parse(item.get("recording_start")), _parse(item.get("recording_end"))
    topic = str(meeting.get("topic") or _("Zoom meeting"))
    return RemoteFile(
        remote_id=str(item["id"]),
        name=f"{topic} (audio)" if file_type == "M4A" else topic,
        size=item.get("file_size"),
        recorded_at=started,
        duration_s=(ended - started).total_seconds() if started and ended else None,
        extra={
            "download_url": item.get("download_url") or "",
            "file_type": file_type,
            "file_extension": str(item.get("file_extension") or file_type).lower(),
            "meeting_uuid": meeting.get("uuid") or "",
            "meeting_id": meeting.get("id"),
            "recording_id": str(item["id"]),
            "size": item.get("file_size"),
        },
    )
