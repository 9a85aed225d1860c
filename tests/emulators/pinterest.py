"""A loopback Pinterest API v5 (``/v5``): pins (every ``media_source`` type the
adapter sends, validated against the OpenAPI description's limits), video media
registration with an S3-style upload form served by the emulator itself, media
status transitions (registered → processing → succeeded / failed), boards and
their pins, user_account, OAuth refresh with HTTP Basic client authentication,
the ``{"code", "message"}`` error shape and failures on demand.

    with PinterestEmulator() as pin:
        pin.add_user("pina_token", refresh_token="pinr_token", username="crosspost")
        board = pin.add_board("pina_token", name="Launches")
        pin.fail_next("rate_limited")                                # the next pins/create (see FAILURES)
        pin.fail_next({"endpoint": "media/create", "status": 500, "code": 1, "message": "Internal"})
        pin.fail_next({"endpoint": "pins/create", "drop": True})     # create the Pin, lose the answer
        pin.fail_media("Video is too short")                         # the next video upload ends failed
"""

from __future__ import annotations

import base64
import binascii
import itertools
import re
import threading
from datetime import UTC, datetime

from .base import Emulator, Recorded, Reply

LIMITS = {"title": 100, "description": 800, "alt_text": 500, "link": 2048}
CONTENT_TYPES = ("image/jpeg", "image/png")

# name -> (HTTP status, code, message, extra headers); named failures hit the next pins/create.
FAILURES: dict[str, tuple[int, int, str, dict]] = {
    "unauthorized": (401, 2, "Authentication failed.", {}),
    "forbidden": (403, 29, "You are not permitted to access the resource", {}),
    "board_not_found": (404, 40, "Board not found.", {}),
    "rate_limited": (429, 8, "This request exceeded a rate limit.", {"X-RateLimit-Reset": "120"}),
    "invalid_image": (400, 1, "Sorry, the image you sent could not be fetched.", {}),
    "spam_link": (400, 1, "Your request was blocked because the link is not allowed.", {}),
    "server_error": (500, 1, "Internal error.", {}),
    "unavailable": (503, 1, "Service unavailable.", {}),
}


class DropConnection(BaseException):
    """Raised by ``handle``: hang up without an answer (a BaseException, so the base server does not reply 500)."""


def _fail(status: int, code: int, message: str, headers: dict | None = None) -> Reply:
    return Reply(status, {"code": code, "message": message}, headers or {})


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")


class PinterestEmulator(Emulator):
    def __init__(self) -> None:
        super().__init__()
        self._allow_drops()
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.clients: dict[str, str] = {"1500001": "pinterest-client-secret"}
        self.users: dict[str, dict] = {}  # access token -> user
        self.refresh_tokens: dict[str, dict] = {}
        self.boards: dict[str, dict] = {}
        self.pins: list[dict] = []
        self.media: dict[str, dict] = {}
        self.processing_polls = 1  # GET /media/{id} answers "processing" this many times after the upload
        self._media_outcomes: list[str] = []
        self._ids = itertools.count(1)

    def _allow_drops(self) -> None:
        parent = self.server.RequestHandlerClass

        class Handler(parent):  # type: ignore[misc, valid-type]
            def _serve(self) -> None:
                try:
                    parent._serve(self)
                except DropConnection:
                    self.close_connection = True

            do_GET = do_POST = _serve

        self.server.RequestHandlerClass = Handler

    # --- setup --------------------------------------------------------------------------------

    def add_user(self, access_token: str, *, refresh_token: str | None = None, username: str = "crosspost") -> dict:
        user = {"id": str(2783136121146311000 + next(self._ids)), "username": username, "account_type": "BUSINESS"}
        self.users[access_token] = user
        if refresh_token:
            self.refresh_tokens[refresh_token] = user
        return user

    def add_board(self, access_token: str, *, name: str = "Launches", privacy: str = "PUBLIC") -> dict:
        owner = self.users[access_token]
        board = {
            "id": str(549755885000 + next(self._ids)),
            "name": name,
            "description": "",
            "privacy": privacy,
            "owner": {"username": owner["username"]},
            "created_at": _now(),
            "pin_count": 0,
        }
        self.boards[board["id"]] = board
        return board

    def expire(self, access_token: str) -> None:
        self.users.pop(access_token, None)

    def fail_media(self, reason: str = "Video failed to process") -> None:
        with self.lock:
            self._media_outcomes.append(reason)

    def calls(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path == path]

    # --- protocol -----------------------------------------------------------------------------

    def _take_failure_for(self, endpoint: str) -> dict | None:
        with self.lock:
            for index, failure in enumerate(self._failures):
                if isinstance(failure, str):
                    status, code, message, headers = FAILURES[failure]
                    failure = {"endpoint": "pins/create", "status": status, "code": code, "message": message, "headers": headers}
                if failure.get("endpoint", "pins/create") == endpoint:
                    del self._failures[index]
                    return failure
        return None

    def handle(self, request: Recorded) -> Reply:
        if request.path == "/v5/oauth/token":
            return self._token(request)
        if request.path == "/media-upload/":
            return self._storage_upload(request)
        user = self.users.get(request.headers.get("Authorization", "").removeprefix("Bearer "))
        if user is None:
            return _fail(401, 2, "Authentication failed.")
        routes = [
            ("POST", r"/v5/pins", "pins/create"),
            ("POST", r"/v5/media", "media/create"),
            ("GET", r"/v5/media/(?P<id>\d+)", "media/get"),
            ("GET", r"/v5/boards/(?P<id>\d+)/pins", "boards/list_pins"),
            ("GET", r"/v5/boards/(?P<id>\d+)", "boards/get"),
            ("GET", r"/v5/user_account", "user_account/get"),
            ("GET", r"/v5/pins/(?P<id>\d+)/analytics", "pins/analytics"),
        ]
        for method, pattern, endpoint in routes:
            match = re.fullmatch(pattern, request.path)
            if request.method == method and match:
                failure = self._take_failure_for(endpoint)
                if failure and not failure.get("drop"):
                    return _fail(failure["status"], failure.get("code", 1), failure.get("message", ""), failure.get("headers"))
                handler = getattr(self, "_" + endpoint.replace("/", "_"))
                reply = handler(user, request, *match.groups())
                if failure:  # "drop": it took effect, the answer is lost
                    raise DropConnection
                return reply
        return _fail(404, 404, "Not found.")

    def _token(self, request: Recorded) -> Reply:
        auth = request.headers.get("Authorization", "")
        try:
            client_id, _, secret = base64.b64decode(auth.removeprefix("Basic ")).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            client_id, secret = "", ""
        if not auth.startswith("Basic ") or self.clients.get(client_id) != secret:
            return _fail(401, 2, "Authentication failed.")
        if request.param("grant_type") != "refresh_token":
            return _fail(400, 1, "Invalid grant_type.")
        user = self.refresh_tokens.pop(request.param("refresh_token") or "", None)
        if user is None:
            return _fail(400, 1, "Invalid refresh token.")
        n = next(self._ids)
        access, refresh = f"pina_renewed{n}", f"pinr_renewed{n}"
        for token, owner in list(self.users.items()):
            if owner is user:
                del self.users[token]
        self.users[access] = user
        self.refresh_tokens[refresh] = user
        return Reply(
            200,
            {
                "access_token": access,
                "refresh_token": refresh,
                "response_type": "refresh_token",
                "token_type": "bearer",
                "expires_in": 2592000,
                "refresh_token_expires_in": 5184000,
                "refresh_token_expires_at": 1900000000,
                "scope": "boards:read,boards:write,pins:read,pins:write",
            },
        )

    def _user_account_get(self, user: dict, request: Recorded) -> Reply:
        return Reply(
            200, {**user, "board_count": sum(1 for b in self.boards.values() if b["owner"]["username"] == user["username"])}
        )

    def _board(self, user: dict, board_id: str) -> dict | Reply:
        board = self.boards.get(board_id)
        if board is None:
            return _fail(404, 40, "Board not found.")
        if board["owner"]["username"] != user["username"] and board["privacy"] == "SECRET":
            return _fail(403, 29, "You are not permitted to access the resource")
        return board

    def _boards_get(self, user: dict, request: Recorded, board_id: str) -> Reply:
        board = self._board(user, board_id)
        return board if isinstance(board, Reply) else Reply(200, board)

    def _boards_list_pins(self, user: dict, request: Recorded, board_id: str) -> Reply:
        board = self._board(user, board_id)
        if isinstance(board, Reply):
            return board
        size = int(request.param("page_size") or 25)
        if not 1 <= size <= 250:
            return _fail(400, 1, "page_size must be 1 to 250.")
        items = [p for p in reversed(self.pins) if p["board_id"] == board_id][:size]
        return Reply(200, {"items": items, "bookmark": None})

    def _media_create(self, user: dict, request: Recorded) -> Reply:
        if (request.json or {}).get("media_type") != "video":
            return _fail(400, 1, "media_type must be video.")
        media_id = str(5212123920968240000 + next(self._ids))
        key = f"uploads/11/aa/22/3:video:{media_id}"
        with self.lock:
            outcome = self._media_outcomes.pop(0) if self._media_outcomes else None
        self.media[media_id] = {"user": user, "status": "registered", "key": key, "polls": 0, "outcome": outcome, "file": None}
        parameters = {
            "x-amz-date": "20261121T060000Z",
            "x-amz-signature": f"sig{media_id}",
            "x-amz-security-token": f"sts{media_id}",
            "x-amz-algorithm": "AWS4-HMAC-SHA256",
            "key": key,
            "policy": "eyJleHBpcmF0aW9uIjoiMjAyNi0xMS0yMVQwNzowMDowMFoifQ==",
            "x-amz-credential": "ASIA6QZJ64OPIKV7FRVX/20261121/us-east-1/s3/aws4_request",
            "Content-Type": "multipart/form-data",
        }
        return Reply(
            201,
            {
                "media_id": media_id,
                "media_type": "video",
                "upload_url": f"{self.url}/media-upload/",
                "upload_parameters": parameters,
            },
        )

    def _storage_upload(self, request: Recorded) -> Reply:
        """The S3 side: a POST-policy form with the key and signature fields, then ``file`` (answers 204)."""
        failure = self._take_failure_for("storage")
        if failure:
            return Reply(failure["status"], b"<Error><Code>InternalError</Code></Error>")
        key = (request.form.get("key") or [""])[0]
        media = next((m for m in self.media.values() if m["key"] == key), None)
        if media is None or request.form.get("x-amz-signature") is None or "file" not in request.files:
            return Reply(403, b"<Error><Code>AccessDenied</Code></Error>")
        last_field = max(request.body.rfind(f'name="{name}"'.encode()) for name in request.form)
        if request.body.find(b'name="file"') < last_field:
            return Reply(400, b"<Error><Code>InvalidArgument</Code><Message>file must be the last field</Message></Error>")
        media["file"] = request.files["file"]
        media["status"] = "processing"
        return Reply(204, b"")

    def _media_get(self, user: dict, request: Recorded, media_id: str) -> Reply:
        media = self.media.get(media_id)
        if media is None or media["user"] is not user:
            return _fail(404, 50, "Media not found.")
        if media["status"] == "processing":
            media["polls"] += 1
            if media["polls"] > self.processing_polls:
                media["status"] = "failed" if media["outcome"] else "succeeded"
        return Reply(200, {"media_id": media_id, "media_type": "video", "status": media["status"]})

    def _pins_create(self, user: dict, request: Recorded) -> Reply:
        body = request.json or {}
        board = self._board(user, str(body.get("board_id") or "0"))
        if isinstance(board, Reply):
            return board
        if board["owner"]["username"] != user["username"]:
            return _fail(403, 29, "You are not permitted to access the resource")
        for name, limit in LIMITS.items():
            if len(body.get(name) or "") > limit:
                return _fail(400, 1, f"Invalid parameters: {name} is longer than {limit} characters.")
        media = self._pin_media(user, body.get("media_source") or {})
        if isinstance(media, Reply):
            return media
        pin = {
            "id": str(813744226420795000 + next(self._ids)),
            "created_at": _now(),
            "board_id": board["id"],
            "board_section_id": body.get("board_section_id"),
            "board_owner": {"username": board["owner"]["username"]},
            "title": body.get("title"),
            "description": body.get("description"),
            "link": body.get("link"),
            "alt_text": body.get("alt_text"),
            "dominant_color": "#6E7874",
            "is_owner": True,
            "is_standard": True,
            "has_been_promoted": False,
            "creative_type": "VIDEO" if media["media_type"] == "video" else "REGULAR",
            "media": media,
            "media_source": body.get("media_source"),
        }
        self.pins.append(pin)
        board["pin_count"] += 1
        return Reply(201, {k: v for k, v in pin.items() if k != "media_source"})

    def _pin_media(self, user: dict, source: dict) -> dict | Reply:
        kind = source.get("source_type")
        if kind == "image_url":
            if not str(source.get("url") or "").startswith(("http://", "https://")):
                return _fail(400, 1, "Invalid image url.")
            return {"media_type": "image", "images": {"originals": {"url": source["url"]}}}
        if kind in ("image_base64", "multiple_image_base64", "multiple_image_urls"):
            items = [source] if kind == "image_base64" else source.get("items") or []
            if kind != "image_base64" and not 2 <= len(items) <= 5:
                return _fail(400, 1, "Invalid parameters: a multi-image Pin takes 2 to 5 images.")
            for item in items:
                if kind == "multiple_image_urls":
                    if not str(item.get("url") or "").startswith(("http://", "https://")):
                        return _fail(400, 1, "Invalid image url.")
                    continue
                if item.get("content_type") not in CONTENT_TYPES:
                    return _fail(400, 1, "Invalid image content_type.")
                try:
                    base64.b64decode(item.get("data") or "", validate=True)
                except binascii.Error:
                    return _fail(400, 1, "Invalid image data.")
            return {"media_type": "image" if kind == "image_base64" else "multiple_images", "images": {}}
        if kind == "video_id":
            media = self.media.get(str(source.get("media_id") or ""))
            if media is None or media["user"] is not user:
                return _fail(400, 1, "Invalid media_id.")
            if media["status"] != "succeeded":
                return _fail(400, 1, "The video media is not ready.")
            if not source.get("cover_image_url") and source.get("cover_image_key_frame_time") is None:
                return _fail(400, 1, "A video Pin needs a cover image.")
            return {"media_type": "video", "cover_image_url": source.get("cover_image_url"), "duration": None}
        return _fail(400, 1, f"Invalid media_source source_type {kind!r}.")

    # --- statistics (GET /v5/pins/{id}/analytics) ----------------------------------------------

    def set_analytics(self, pin_id: str, **values: float) -> None:
        """A Pin's metrics over its life (IMPRESSION, SAVE, TOTAL_REACTIONS, …); left out: not reported yet."""
        next(pin for pin in self.pins if pin["id"] == pin_id)["analytics"] = values

    def add_pin(self, access_token: str, *, video: bool = False, **values: float) -> dict:
        """A Pin published earlier on the user's first board."""
        user = self.users[access_token]
        board = next(b for b in self.boards.values() if b["owner"]["username"] == user["username"])
        pin = {
            "id": str(813744226420795000 + next(self._ids)),
            "created_at": _now(),
            "board_id": board["id"],
            "board_owner": {"username": user["username"]},
            "creative_type": "VIDEO" if video else "REGULAR",
            "media": {"media_type": "video" if video else "image"},
            "analytics": values,
        }
        self.pins.append(pin)
        return pin

    def _pins_analytics(self, user: dict, request: Recorded, pin_id: str) -> Reply:
        pin = next((p for p in self.pins if p["id"] == pin_id), None)
        if pin is None:
            return _fail(404, 50, "Pin not found.")
        if pin["board_owner"]["username"] != user["username"]:
            return _fail(403, 29, "Not authorized to access board or Pin.")
        query = {k: v[0] for k, v in request.query.items()}
        try:
            start, end = (datetime.strptime(query[k], "%Y-%m-%d").date() for k in ("start_date", "end_date"))
        except (KeyError, ValueError):
            return _fail(400, 1, "Invalid pins analytics parameters.")
        today = datetime.now(UTC).date()
        if (today - start).days > 90 or (end - start).days > 90 or end < start:
            return _fail(400, 1, "Invalid pins analytics parameters.")
        types = [t for t in query.get("metric_types", "").split(",") if t]
        if not types or any(t not in PIN_METRIC_TYPES | VIDEO_PIN_METRIC_TYPES for t in types):
            return _fail(400, 1, "Invalid pins analytics parameters.")
        if pin["creative_type"] != "VIDEO" and any(t in VIDEO_PIN_METRIC_TYPES - PIN_METRIC_TYPES for t in types):
            return _fail(400, 1, "Invalid pins analytics parameters.")
        values = pin.get("analytics", {})
        lifetime = {t: values[t] for t in types if t in LIFETIME_TYPES and t in values}
        summary = {t: values[t] for t in types if t not in LIFETIME_TYPES and t in values}
        daily = [{"date": end.isoformat(), "data_status": "READY", "metrics": summary}]
        return Reply(200, {"all": {"daily_metrics": daily, "summary_metrics": summary, "lifetime_metrics": lifetime}})


PIN_METRIC_TYPES = {
    "IMPRESSION", "OUTBOUND_CLICK", "PIN_CLICK", "SAVE", "SAVE_RATE", "TOTAL_COMMENTS", "TOTAL_REACTIONS", "USER_FOLLOW",
    "PROFILE_VISIT",
}  # fmt: skip
VIDEO_PIN_METRIC_TYPES = {
    "IMPRESSION", "OUTBOUND_CLICK", "PIN_CLICK", "SAVE", "SAVE_RATE", "VIDEO_MRC_VIEW", "VIDEO_10S_VIEW",
    "QUARTILE_95_PERCENT_VIEW", "VIDEO_V50_WATCH_TIME", "VIDEO_START", "VIDEO_AVG_WATCH_TIME", "TOTAL_COMMENTS",
    "TOTAL_REACTIONS",
}  # fmt: skip
LIFETIME_TYPES = {"TOTAL_COMMENTS", "TOTAL_REACTIONS"}
