"""Google Sheets through gspread with a service account: tables in, the spreadsheet's id and URL out
(library-style: no models, no settings beyond the API hosts and the timeout).

The service account's JSON key signs a JWT that its own ``token_uri`` exchanges for an access token
(google-auth); gspread then calls Sheets API v4 and Drive API v3. gspread 6 builds its request URLs
from module constants (``gspread.urls``, imported by value into ``gspread.http_client``), so instead
of patching those process-wide we give the client an HTTP client that swaps the public hosts for
``GOOGLE_SHEETS_BASE_URL`` / ``GOOGLE_DRIVE_BASE_URL`` per request — nothing leaks between callers.

A re-export reuses the spreadsheet (cleared and rewritten tab by tab; tabs no longer written are
removed); a spreadsheet that is gone (404) is created anew. Errors come out as one ``SheetsError``
whose message never contains the key or the token.
"""

from __future__ import annotations

from dataclasses import dataclass

import google.auth.exceptions
import gspread
import requests
from django.conf import settings
from google.oauth2.service_account import Credentials
from gspread.exceptions import APIError, SpreadsheetNotFound
from gspread.http_client import HTTPClient

SCOPES = ["https://www.googleapis.com/auth/spreadsheets", "https://www.googleapis.com/auth/drive"]
SHEETS_HOST = "https://sheets.googleapis.com"
DRIVE_HOST = "https://www.googleapis.com"
REQUIRED_KEYS = ("client_email", "private_key", "token_uri")


class SheetsError(Exception):
    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent  # retrying cannot help (bad key, no access)


@dataclass(frozen=True)
class Sheet:
    id: str
    url: str


class _RoutedHTTPClient(HTTPClient):
    """gspread's HTTP client, with the public API hosts replaced by the configured ones."""

    def request(self, method, endpoint, *args, **kwargs):
        if endpoint.startswith(SHEETS_HOST):
            endpoint = settings.GOOGLE_SHEETS_BASE_URL.rstrip("/") + endpoint[len(SHEETS_HOST) :]
        elif endpoint.startswith(DRIVE_HOST):
            endpoint = settings.GOOGLE_DRIVE_BASE_URL.rstrip("/") + endpoint[len(DRIVE_HOST) :]
        return super().request(method, endpoint, *args, **kwargs)


def check_service_account(info: dict) -> None:
    """Raise a permanent SheetsError unless ``info`` looks like a service account JSON key."""
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise SheetsError('The Google key is not a service account JSON key ("type": "service_account").', permanent=True)
    missing = [k for k in REQUIRED_KEYS if not info.get(k)]
    if missing:
        raise SheetsError(f"The Google service account key lacks {', '.join(missing)}.", permanent=True)


def client_for(info: dict) -> gspread.Client:
    check_service_account(info)
    try:
        credentials = Credentials.from_service_account_info(info, scopes=SCOPES)
    except (ValueError, TypeError) as exc:
        raise SheetsError("The Google service account's private key cannot be read.", permanent=True) from exc
    client = gspread.Client(auth=credentials, http_client=_RoutedHTTPClient)
    client.set_timeout(settings.GOOGLE_SHEETS_TIMEOUT_SECONDS)
    return client


def write_spreadsheet(
    *, service_account: dict, title: str, tables: dict[str, list[list]], sheet_id: str = "", share_with: str = ""
) -> Sheet:
    """Write ``tables`` (tab → rows) into the spreadsheet ``sheet_id`` (or a new one named ``title``),
    share it with ``share_with`` as a writer, and return it."""
    try:
        client = client_for(service_account)
        spreadsheet = None
        if sheet_id:
            try:
                spreadsheet = client.open_by_key(sheet_id)
            except SpreadsheetNotFound:
                spreadsheet = None  # deleted by someone: a new one
        if spreadsheet is None:
            spreadsheet = client.create(title)
        _write_tabs(spreadsheet, tables)
        if share_with:
            spreadsheet.share(share_with, perm_type="user", role="writer", notify=True)
        return Sheet(id=spreadsheet.id, url=spreadsheet.url)
    except APIError as exc:
        raise _api_error(exc) from exc
    except PermissionError as exc:  # gspread's open_by_key turns a 403 into the builtin PermissionError
        raise SheetsError(
            "Google denied the service account access to the campaign's spreadsheet (HTTP 403): share it with "
            f"{service_account.get('client_email')} as an editor, or enable the Sheets and Drive APIs for its project.",
            permanent=True,
        ) from exc
    except google.auth.exceptions.RefreshError as exc:
        raise SheetsError(
            "Google refused the service account's token request: check the key is current and the account enabled.",
            permanent=True,
        ) from exc
    except (requests.RequestException, google.auth.exceptions.TransportError) as exc:
        raise SheetsError(f"Google Sheets cannot be reached ({type(exc).__name__}).") from exc


def _write_tabs(spreadsheet, tables: dict[str, list[list]]) -> None:
    existing = {ws.title: ws for ws in spreadsheet.worksheets()}
    for index, (tab, rows) in enumerate(tables.items()):
        width = max((len(r) for r in rows), default=1)
        height = max(1, len(rows))
        worksheet = existing.get(tab)
        if worksheet is None:
            worksheet = spreadsheet.add_worksheet(tab, rows=height, cols=width, index=index)
        else:
            worksheet.clear()
            # values.update does not grow the grid: make it exactly the table's size.
            worksheet.resize(rows=height, cols=width)
        if rows:
            worksheet.update(rows, "A1")
    for title, worksheet in existing.items():
        if title not in tables:
            spreadsheet.del_worksheet(worksheet)


def _api_error(exc: APIError) -> SheetsError:
    code = exc.code
    message = exc.error.get("message", "") if isinstance(exc.error, dict) else ""
    status = exc.error.get("status", "") if isinstance(exc.error, dict) else ""
    if code in (401, 403):
        return SheetsError(
            f"Google denied the service account access (HTTP {code} {status}): enable the Sheets and Drive APIs "
            f"for its project and give it access. Google said: {message}",
            permanent=True,
        )
    if code == 429 or code >= 500:
        return SheetsError(f"Google Sheets is busy or failing (HTTP {code} {status}); try the export again later.")
    return SheetsError(f"Google Sheets rejected the request (HTTP {code} {status}): {message}", permanent=True)
