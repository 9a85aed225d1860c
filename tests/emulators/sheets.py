"""Loopback Google: the OAuth 2.0 token endpoint for service accounts, Sheets API v4 and the Drive API v3
calls gspread makes to create and share a spreadsheet.

Protocols followed:

- "Using OAuth 2.0 for Server to Server Applications" (developers.google.com/identity/protocols/oauth2/
  service-account): ``POST token_uri`` form-encoded ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer``
  and ``assertion=<JWT>`` — an RS256 JWT ``{header}.{claims}.{signature}`` whose claims hold ``iss`` (the
  service account's email), ``scope``, ``aud`` ("When making an access token request this value is always
  https://oauth2.googleapis.com/token" — google-auth sends it whatever the key's token_uri), ``iat``, ``exp``. The answer is
  ``{"access_token", "expires_in", "token_type": "Bearer"}``; a bad assertion is HTTP 400
  ``{"error": "invalid_grant", "error_description": …}``. Here the signature is verified with the
  public key of the test's key pair.
- Sheets API v4 reference (developers.google.com/sheets/api/reference/rest): ``spreadsheets.get``,
  ``spreadsheets.batchUpdate`` (``addSheet``, ``deleteSheet``, ``updateSheetProperties`` with a
  ``fields`` mask; ``replies`` one per request), ``spreadsheets.values.update`` (``PUT …/values/{range}``,
  ``valueInputOption`` required; a write past the grid is 400 "exceeds grid limits", as the real API
  answers — see gspread/pygsheets issues on "exceeds grid limits") and ``values.clear``. Errors use
  Google's JSON envelope ``{"error": {"code", "message", "status"}}`` (cloud.google.com/apis/design/errors).
- Drive API v3: ``files.create`` with ``mimeType: application/vnd.google-apps.spreadsheet`` (what
  ``gspread.Client.create`` sends) and ``permissions.create`` (``type``, ``role``, ``emailAddress``;
  ``sendNotificationEmail`` in the query).

``fail_next``: ``"invalid_grant"`` (the next token request), ``403``, ``404``, ``429``, ``500`` (the next API
call). Tests read ``spreadsheets[id]`` (title, sheets → {"properties", "cells"}) and ``permissions``.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from urllib.parse import unquote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from .base import Emulator, Recorded, Reply
from .openai import header

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
AUDIENCE = "https://oauth2.googleapis.com/token"
SPREADSHEET_MIME = "application/vnd.google-apps.spreadsheet"
STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED"}
STATUS[500] = "INTERNAL"
CELL = re.compile(r"^([A-Z]+)(\d+)$")


def _error(code: int, message: str) -> Reply:
    return Reply(code, {"error": {"code": code, "message": message, "status": STATUS.get(code, "UNKNOWN")}})


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _column_index(letters: str) -> int:
    index = 0
    for char in letters:
        index = index * 26 + ord(char) - 64
    return index - 1


def _column_letters(count: int) -> str:
    letters = ""
    while count:
        count, rest = divmod(count - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _split_range(a1: str) -> tuple[str, str]:
    """``'My ''tab'''!A1:B2`` → ("My 'tab'", "A1:B2"); a bare title → (title, "")."""
    if a1.startswith("'"):
        end = a1.index("'!") if "'!" in a1 else len(a1) - 1
        return a1[1:end].replace("''", "'"), a1[end + 2 :]
    title, _, cells = a1.partition("!")
    return title, cells


class GoogleSheetsEmulator(Emulator):
    def __init__(self, *, client_email: str = "crosspost@test-project.iam.gserviceaccount.com", public_key=None) -> None:
        super().__init__()
        self.client_email = client_email
        self.public_key = public_key  # verifies the JWT assertion's signature when given
        self.tokens: set[str] = set()
        self.spreadsheets: dict[str, dict] = {}
        self.permissions: list[dict] = []  # {"file", "type", "role", "emailAddress", "notify"}
        self._ids = itertools.count(1)

    @property
    def token_uri(self) -> str:
        return self.url + "/token"

    # ----- what tests read -----------------------------------------------------------------
    def values(self, spreadsheet_id: str, title: str) -> list[list]:
        """The tab's cells as rows, trailing empty rows and cells dropped."""
        sheet = self._sheet(self.spreadsheets[spreadsheet_id], title)
        cells = sheet["cells"]
        if not cells:
            return []
        rows = [[""] * (max(c for _, c in cells) + 1) for _ in range(max(r for r, _ in cells) + 1)]
        for (r, c), value in cells.items():
            rows[r][c] = value
        return [row[: max((i + 1 for i, v in enumerate(row) if v != ""), default=0)] for row in rows]

    def titles(self, spreadsheet_id: str) -> list[str]:
        sheets = sorted(self.spreadsheets[spreadsheet_id]["sheets"], key=lambda s: s["properties"]["index"])
        return [s["properties"]["title"] for s in sheets]

    # ----- routing ----------------------------------------------------------------------------
    def handle(self, request: Recorded) -> Reply:
        if request.path == "/token":
            return self._token(request)
        auth = header(request, "Authorization") or ""
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return _error(401, "Request had invalid authentication credentials. Expected OAuth 2 access token.")
        failure = self.take_failure()
        if isinstance(failure, int):
            messages = {403: "The caller does not have permission", 404: "Requested entity was not found."}
            messages[429] = "Quota exceeded for quota metric 'Write requests' of service 'sheets.googleapis.com'."
            return _error(failure, messages.get(failure, "Internal error encountered."))
        path = unquote(request.path)
        if path == "/drive/v3/files" and request.method == "POST":
            return self._create_file(request)
        match = re.fullmatch(r"/drive/v3/files/([^/]+)/permissions", path)
        if match and request.method == "POST":
            return self._share(request, match.group(1))
        match = re.fullmatch(r"/v4/spreadsheets/([^/:]+)(:batchUpdate|/values/(.+))?", path)
        if not match:
            return _error(404, f"Method not found: {request.method} {path}")
        spreadsheet = self.spreadsheets.get(match.group(1))
        if spreadsheet is None:
            return _error(404, "Requested entity was not found.")
        if match.group(2) is None and request.method == "GET":
            return Reply(200, self._metadata(spreadsheet))
        if match.group(2) == ":batchUpdate" and request.method == "POST":
            return self._batch_update(spreadsheet, request.json or {})
        a1 = match.group(3)
        if a1 and a1.endswith(":clear") and request.method == "POST":
            return self._clear(spreadsheet, a1[: -len(":clear")])
        if a1 and request.method == "PUT":
            return self._update(spreadsheet, a1, request)
        return _error(404, f"Method not found: {request.method} {path}")

    # ----- OAuth ------------------------------------------------------------------------------
    def _token(self, request: Recorded) -> Reply:
        def invalid(description: str) -> Reply:
            return Reply(400, {"error": "invalid_grant", "error_description": description})

        if request.param("grant_type") != JWT_BEARER:
            return Reply(400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type."})
        assertion = request.param("assertion") or ""
        with self.lock:  # only a token failure is taken here; API failures wait for the API call
            refused = bool(self._failures) and self._failures[0] == "invalid_grant"
            if refused:
                self._failures.pop(0)
        if refused:
            return invalid("Invalid JWT Signature.")
        parts = assertion.split(".")
        if len(parts) != 3:
            return invalid("Invalid JWT: Token must be a short-lived token and in a reasonable timeframe.")
        try:
            head = json.loads(_b64decode(parts[0]))
            claims = json.loads(_b64decode(parts[1]))
        except ValueError:
            return invalid("Invalid JWT: the header or the claims are not JSON.")
        if head.get("alg") != "RS256" or claims.get("iss") != self.client_email or claims.get("aud") != AUDIENCE:
            return invalid("Invalid JWT: alg, iss or aud does not match the service account.")
        if "spreadsheets" not in claims.get("scope", ""):
            return invalid("Invalid JWT: no scope for Google Sheets.")
        if not isinstance(claims.get("exp"), int) or not 0 < claims["exp"] - claims.get("iat", 0) <= 3600:
            return invalid("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.")
        if self.public_key is not None:
            try:
                self.public_key.verify(
                    _b64decode(parts[2]), f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256()
                )
            except InvalidSignature:
                return invalid("Invalid JWT Signature.")
        token = f"ya29.emulated-{next(self._ids)}"
        with self.lock:
            self.tokens.add(token)
        return Reply(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    # ----- Drive ------------------------------------------------------------------------------
    def _create_file(self, request: Recorded) -> Reply:
        body = request.json or {}
        if body.get("mimeType") != SPREADSHEET_MIME:
            return _error(400, "Only spreadsheets are emulated.")
        spreadsheet_id = f"sheet{next(self._ids)}"
        with self.lock:
            self.spreadsheets[spreadsheet_id] = {
                "id": spreadsheet_id,
                "title": body.get("name") or "Untitled spreadsheet",
                "sheets": [self._new_sheet(0, "Sheet1", 0, 1000, 26)],
                "next_sheet_id": 1,
            }
        return Reply(200, {"kind": "drive#file", "id": spreadsheet_id, "name": body.get("name"), "mimeType": SPREADSHEET_MIME})

    def _share(self, request: Recorded, file_id: str) -> Reply:
        if file_id not in self.spreadsheets:
            return _error(404, f"File not found: {file_id}.")
        body = request.json or {}
        if body.get("type") not in {"user", "group", "domain", "anyone"} or body.get("role") not in {
            "owner",
            "organizer",
            "fileOrganizer",
            "writer",
            "commenter",
            "reader",
        }:
            return _error(400, "The permission type or role is invalid.")
        if body["type"] in {"user", "group"} and not body.get("emailAddress"):
            return _error(400, "An email address must be supplied.")
        permission = {
            "file": file_id,
            "type": body["type"],
            "role": body["role"],
            "emailAddress": body.get("emailAddress"),
            "notify": (request.query.get("sendNotificationEmail") or ["True"])[0].lower() == "true",
        }
        with self.lock:
            self.permissions.append(permission)
        return Reply(
            200, {"kind": "drive#permission", "id": f"perm{next(self._ids)}", "type": body["type"], "role": body["role"]}
        )

    # ----- Sheets -----------------------------------------------------------------------------
    @staticmethod
    def _new_sheet(sheet_id: int, title: str, index: int, rows: int, cols: int) -> dict:
        properties = {
            "sheetId": sheet_id,
            "title": title,
            "index": index,
            "sheetType": "GRID",
            "gridProperties": {"rowCount": rows, "columnCount": cols},
        }
        return {"properties": properties, "cells": {}}

    @staticmethod
    def _sheet(spreadsheet: dict, title: str) -> dict | None:
        return next((s for s in spreadsheet["sheets"] if s["properties"]["title"] == title), None)

    def _metadata(self, spreadsheet: dict) -> dict:
        return {
            "spreadsheetId": spreadsheet["id"],
            "properties": {"title": spreadsheet["title"], "locale": "ru_RU", "timeZone": "Europe/Moscow"},
            "sheets": [
                {"properties": json.loads(json.dumps(s["properties"]))}
                for s in sorted(spreadsheet["sheets"], key=lambda s: s["properties"]["index"])
            ],
            "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{spreadsheet['id']}/edit",
        }

    def _batch_update(self, spreadsheet: dict, body: dict) -> Reply:
        replies = []
        with self.lock:
            for number, item in enumerate(body.get("requests") or []):
                if "addSheet" in item:
                    props = item["addSheet"].get("properties") or {}
                    title = props.get("title") or f"Sheet{spreadsheet['next_sheet_id'] + 1}"
                    if self._sheet(spreadsheet, title) is not None:
                        return _error(
                            400,
                            f'Invalid requests[{number}].addSheet: A sheet with the name "{title}" already exists. '
                            "Please enter another name.",
                        )
                    grid = props.get("gridProperties") or {}
                    index = props.get("index", len(spreadsheet["sheets"]))
                    for other in spreadsheet["sheets"]:
                        if other["properties"]["index"] >= index:
                            other["properties"]["index"] += 1
                    sheet = self._new_sheet(
                        spreadsheet["next_sheet_id"], title, index, grid.get("rowCount", 1000), grid.get("columnCount", 26)
                    )
                    spreadsheet["next_sheet_id"] += 1
                    spreadsheet["sheets"].append(sheet)
                    replies.append({"addSheet": {"properties": sheet["properties"]}})
                elif "deleteSheet" in item:
                    sheet_id = item["deleteSheet"].get("sheetId")
                    sheet = next((s for s in spreadsheet["sheets"] if s["properties"]["sheetId"] == sheet_id), None)
                    if sheet is None:
                        return _error(400, f"Invalid requests[{number}].deleteSheet: No grid with id: {sheet_id}")
                    if len(spreadsheet["sheets"]) == 1:
                        return _error(
                            400, f"Invalid requests[{number}].deleteSheet: You can't remove all the sheets in a document."
                        )
                    spreadsheet["sheets"].remove(sheet)
                    for position, other in enumerate(sorted(spreadsheet["sheets"], key=lambda s: s["properties"]["index"])):
                        other["properties"]["index"] = position
                    replies.append({})
                elif "updateSheetProperties" in item:
                    update = item["updateSheetProperties"]
                    props = update.get("properties") or {}
                    sheet = next((s for s in spreadsheet["sheets"] if s["properties"]["sheetId"] == props.get("sheetId")), None)
                    if sheet is None or not update.get("fields"):
                        return _error(
                            400, f"Invalid requests[{number}].updateSheetProperties: a sheetId and fields are required."
                        )
                    for field in update["fields"].split(","):
                        source, target = props, sheet["properties"]
                        *parents, leaf = field.strip().split("/")
                        for parent in parents:
                            source, target = source.get(parent, {}), target.setdefault(parent, {})
                        if leaf in source:
                            target[leaf] = source[leaf]
                    grid = sheet["properties"]["gridProperties"]
                    sheet["cells"] = {
                        (r, c): v for (r, c), v in sheet["cells"].items() if r < grid["rowCount"] and c < grid["columnCount"]
                    }
                    replies.append({})
                else:
                    return _error(400, f"Invalid requests[{number}]: this request kind is not emulated: {sorted(item)}.")
        return Reply(200, {"spreadsheetId": spreadsheet["id"], "replies": replies})

    def _clear(self, spreadsheet: dict, a1: str) -> Reply:
        title, cells = _split_range(a1)
        sheet = self._sheet(spreadsheet, title)
        if sheet is None:
            return _error(400, f"Unable to parse range: {a1}")
        if cells:
            return _error(400, "Only whole-tab clears are emulated.")
        with self.lock:
            sheet["cells"] = {}
        grid = sheet["properties"]["gridProperties"]
        return Reply(
            200, {"spreadsheetId": spreadsheet["id"], "clearedRange": f"'{title}'!A1:{grid['columnCount']}{grid['rowCount']}"}
        )

    def _update(self, spreadsheet: dict, a1: str, request: Recorded) -> Reply:
        option = (request.query.get("valueInputOption") or [""])[0]
        if option not in {"RAW", "USER_ENTERED"}:
            return _error(400, "'valueInputOption' is required but not specified")
        title, cells = _split_range(a1)
        sheet = self._sheet(spreadsheet, title)
        start = CELL.match((cells or "A1").split(":")[0])
        if sheet is None or start is None:
            return _error(400, f"Unable to parse range: {a1}")
        row0, col0 = int(start.group(2)) - 1, _column_index(start.group(1))
        values = (request.json or {}).get("values") or []
        grid = sheet["properties"]["gridProperties"]
        height, width = len(values), max((len(r) for r in values), default=0)
        if row0 + height > grid["rowCount"] or col0 + width > grid["columnCount"]:
            return _error(
                400,
                f"Range ({a1}) exceeds grid limits. Max rows: {grid['rowCount']}, max columns: {grid['columnCount']}",
            )
        with self.lock:
            for r, row in enumerate(values):
                for c, value in enumerate(row):
                    if value is None or value == "":
                        sheet["cells"].pop((row0 + r, col0 + c), None)
                    else:
                        sheet["cells"][(row0 + r, col0 + c)] = value
        return Reply(
            200,
            {
                "spreadsheetId": spreadsheet["id"],
                "updatedRange": a1,
                "updatedRows": height,
                "updatedColumns": width,
                "updatedCells": sum(len(r) for r in values),
            },
        )
