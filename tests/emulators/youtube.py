"""A loopback YouTube Data API v3 with Google's OAuth token endpoint: resumable
videos.insert sessions (``Location``, ``308 Resume Incomplete`` + ``Range``, the
``bytes */TOTAL`` status query), videos / channels / playlistItems lists,
processing states, the ``{"error": {"code", "message", "errors": [{"reason"}]}}``
shape, and failures on demand — including a connection dropped mid-upload after
part of the chunk arrived, which a resuming client must pick up from.

    with YouTubeEmulator() as yt:
        yt.add_channel(refresh_token="1//refresh", client_id="cid", client_secret="secret")
        yt.fail_next("quotaExceeded")                           # the next videos.insert (see FAILURES)
        yt.fail_next({"endpoint": "upload", "status": 503})     # the next chunk PUT
        yt.fail_next({"endpoint": "upload", "drop": True, "keep": 100_000, "at": 262144})  # keep part, hang up
        yt.fail_next({"endpoint": "upload", "drop": True, "after": True})    # store the chunk, lose the answer
        yt.fail_next({"endpoint": "upload", "status": 503, "forget": True})  # and the session expires
        yt.reject_next("rejected", "duplicate")                 # processing ends with this status
        yt.add_upload(channel, "Title", "Description")          # a video uploaded on YouTube itself
        yt.fail_next({"endpoint": "playlistItems", "status": 403, "reason": "quotaExceeded"})  # a list call fails

``channels.list`` takes ``mine=true`` or ``id=`` (any channel; an unknown id gives no items);
``playlistItems.list`` reads any channel's uploads playlist newest first, ``maxResults`` 0–50
(default 5) a page with ``nextPageToken``/``pageToken``; the owner also sees private and unlisted
uploads (``status.privacyStatus``), everyone else only public ones.

Playlists a channel owns (``add_playlist``) take videos through ``playlistItems.insert``
(https://developers.google.com/youtube/v3/docs/playlistItems/insert): ``POST
/youtube/v3/playlistItems?part=snippet`` with ``{"snippet": {"playlistId", "resourceId": {"kind":
"youtube#video", "videoId"}}}`` needs the ``youtube`` or ``youtube.force-ssl`` scope (else 403
insufficientPermissions) and answers 200 with the youtube#playlistItem (snippet with
``position``, ``resourceId``, the video owner's channel). Its documented errors: 404
playlistNotFound (no such playlist), 404 videoNotFound, 403 playlistItemsNotAccessible (another
channel's playlist), 400 invalidResourceId (not a youtube#video), 400 missingRequiredParameter
(no part); failures on demand with ``fail_next({"endpoint": "playlistItems.insert", "status": 403,
"reason": "quotaExceeded"})``. A playlist's items are then listed by ``playlistItems.list``
(in the order they were added; the playlists list in ``playlists``).
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
from datetime import UTC, datetime
from typing import Any

from .base import Emulator, Recorded, Reply

KIB = 1024
CHUNK_UNIT = 256 * KIB
UPLOAD = "/upload/youtube/v3/videos"
SCOPE_UPLOAD = "https://www.googleapis.com/auth/youtube.upload"
SCOPE_READONLY = "https://www.googleapis.com/auth/youtube.readonly"
SCOPE_YOUTUBE = "https://www.googleapis.com/auth/youtube"
SCOPE_FORCE_SSL = "https://www.googleapis.com/auth/youtube.force-ssl"
# Scopes that manage the account: they read it too (https://developers.google.com/youtube/v3/guides/auth/server-side-web-apps).
SCOPES_MANAGE = {SCOPE_YOUTUBE, SCOPE_FORCE_SSL}

# name -> (HTTP status, reason, domain, message); named failures hit the next videos.insert.
FAILURES: dict[str, tuple[int, str, str, str]] = {
    "quotaExceeded": (
        403,
        "quotaExceeded",
        "youtube.quota",
        "The request cannot be completed because you have exceeded your quota.",
    ),
    "uploadLimitExceeded": (
        400,
        "uploadLimitExceeded",
        "youtube.video",
        "The user has exceeded the number of videos they may upload.",
    ),
    "rateLimitExceeded": (403, "rateLimitExceeded", "usageLimits", "The request rate is too high."),
    "userRateLimitExceeded": (429, "userRateLimitExceeded", "usageLimits", "The user rate limit was exceeded."),
    "forbidden": (403, "forbidden", "youtube.video", "The request is not properly authorized."),
    "insufficientPermissions": (403, "insufficientPermissions", "global", "Request had insufficient authentication scopes."),
    "authenticatedUserAccountSuspended": (
        403,
        "authenticatedUserAccountSuspended",
        "youtube.common",
        "The YouTube account used to authorize the API request has been suspended.",
    ),
    "youtubeSignupRequired": (401, "youtubeSignupRequired", "youtube.common", "The user has no YouTube channel."),
    "invalidTitle": (400, "invalidTitle", "youtube.video", "The request metadata specifies an invalid video title."),
    "invalidDescription": (
        400,
        "invalidDescription",
        "youtube.video",
        "The request metadata specifies an invalid video description.",
    ),
    "invalidTags": (400, "invalidTags", "youtube.video", "The request metadata specifies invalid video keywords."),
    "mediaBodyRequired": (400, "mediaBodyRequired", "youtube.video", "The request does not include the video content."),
    "backendError": (500, "backendError", "global", "Backend Error"),
    "serviceUnavailable": (503, "backendError", "global", "The service is currently unavailable."),
}


class DropConnection(BaseException):
    """Raised by ``handle``: close the connection without an answer (not an Exception, so the base server does not reply 500)."""


def _error(status: int, reason: str, message: str, domain: str = "global") -> Reply:
    return Reply(
        status,
        {"error": {"code": status, "message": message, "errors": [{"message": message, "domain": domain, "reason": reason}]}},
    )


class YouTubeEmulator(Emulator):
    def __init__(self) -> None:
        super().__init__()
        self._allow_drops()
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.clients: dict[str, str] = {}  # client_id -> client_secret
        self.refresh_tokens: dict[str, dict] = {}  # refresh token -> channel
        self.access_tokens: dict[str, dict] = {}  # access token -> channel
        self.channels: dict[str, dict] = {}
        self.sessions: dict[str, dict] = {}  # upload_id -> session
        self.videos: dict[str, dict] = {}  # video id -> {"resource", "channel", "polls", "outcome"}
        self.processing_polls = 1  # videos.list answers "processing" this many times per video
        self._outcomes: list[tuple[str, str]] = []
        self.playlists: dict[str, dict] = {}  # playlist id -> {"id", "channel", "title", "items": [playlistItem]}
        self._ids = itertools.count(1)

    def _allow_drops(self) -> None:
        parent = self.server.RequestHandlerClass

        class Handler(parent):  # type: ignore[misc, valid-type]
            def _serve(self) -> None:
                try:
                    parent._serve(self)
                except DropConnection:
                    self.close_connection = True  # hang up: the client sees no answer

            do_GET = do_POST = do_PUT = _serve

        self.server.RequestHandlerClass = Handler

    # --- setup --------------------------------------------------------------------------------

    def add_channel(
        self,
        *,
        refresh_token: str,
        client_id: str,
        client_secret: str,
        title: str = "Crosspost Channel",
        scopes: tuple[str, ...] = (SCOPE_UPLOAD, SCOPE_READONLY),
    ) -> dict:
        number = next(self._ids)
        channel = {"id": f"UCcrosspost{number:012d}", "title": title, "uploads": f"UUcrosspost{number:012d}", "scopes": scopes}
        self.channels[channel["id"]] = channel
        self.clients[client_id] = client_secret
        self.refresh_tokens[refresh_token] = channel
        return channel

    def add_playlist(self, channel: dict, title: str = "Recordings") -> str:
        """A playlist ``channel`` owns; returns its id ("PL" + 32 characters, like YouTube's)."""
        playlist_id = f"PL{next(self._ids):032d}"
        self.playlists[playlist_id] = {"id": playlist_id, "channel": channel, "title": title, "items": []}
        return playlist_id

    def add_upload(
        self,
        channel: dict,
        title: str,
        description: str = "",
        *,
        published_at: datetime | None = None,
        privacy: str = "public",
    ) -> dict:
        """A video on ``channel`` uploaded outside Crosspost (processed, with thumbnails); returns its resource."""
        video_id = f"vid{next(self._ids):08d}"
        when = published_at or datetime.now(UTC)
        base = f"https://i.ytimg.com/vi/{video_id}"
        sizes = {"default": (120, 90), "medium": (320, 180), "high": (480, 360), "standard": (640, 480), "maxres": (1280, 720)}
        resource = {
            "kind": "youtube#video",
            "etag": f"etag{video_id}",
            "id": video_id,
            "snippet": {
                "publishedAt": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "channelId": channel["id"],
                "channelTitle": channel["title"],
                "title": title,
                "description": description,
                "thumbnails": {name: {"url": f"{base}/{name}.jpg", "width": w, "height": h} for name, (w, h) in sizes.items()},
                "liveBroadcastContent": "none",
            },
            "status": {"uploadStatus": "processed", "privacyStatus": privacy, "license": "youtube"},
        }
        self.videos[video_id] = {"resource": resource, "channel": channel, "polls": 0, "outcome": None, "bytes": b""}
        return resource

    def expire_access_tokens(self) -> None:
        self.access_tokens.clear()

    def reject_next(self, upload_status: str, reason: str) -> None:
        """The next uploaded video ends with this ``uploadStatus`` (failed / rejected) and reason."""
        with self.lock:
            self._outcomes.append((upload_status, reason))

    def uploads(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "PUT" and r.path == UPLOAD]

    # --- protocol -----------------------------------------------------------------------------

    def _take_failure_for(self, endpoint: str, at: int | None = None) -> dict | None:
        """The first queued failure for ``endpoint`` (an upload failure with ``at`` only for the chunk starting there)."""
        with self.lock:
            for index, failure in enumerate(self._failures):
                if isinstance(failure, str):
                    status, reason, domain, message = FAILURES[failure]
                    failure = {"endpoint": "insert", "status": status, "reason": reason, "domain": domain, "message": message}
                if failure.get("endpoint", "insert") == endpoint and failure.get("at") in (None, at):
                    del self._failures[index]
                    return failure
        return None

    def _fail(self, failure: dict) -> Reply:
        return _error(
            failure["status"], failure.get("reason", ""), failure.get("message", "Error"), failure.get("domain", "global")
        )

    def handle(self, request: Recorded) -> Reply:
        if request.path == "/token":
            return self._token(request)
        channel = self.access_tokens.get(request.headers.get("Authorization", "").removeprefix("Bearer "))
        if channel is None:
            return Reply(
                401,
                {
                    "error": {
                        "code": 401,
                        "message": "Request had invalid authentication credentials.",
                        "errors": [{"message": "Invalid Credentials", "domain": "global", "reason": "authError"}],
                        "status": "UNAUTHENTICATED",
                    }
                },
                {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
            )
        if request.path == UPLOAD and request.method == "POST":
            return self._insert(channel, request)
        if request.path == UPLOAD and request.method == "PUT":
            return self._put(channel, request)
        if request.method == "POST" and request.path == "/youtube/v3/playlistItems":
            return self._insert_playlist_item(channel, request)
        if request.method == "GET" and request.path.startswith("/youtube/v3/"):
            resource = request.path.removeprefix("/youtube/v3/")
            failure = self._take_failure_for(resource)
            if failure:
                return self._fail(failure)
            if not {SCOPE_READONLY, *SCOPES_MANAGE} & set(channel["scopes"]):
                return _error(403, "insufficientPermissions", "Request had insufficient authentication scopes.")
            handler = getattr(self, f"_list_{resource.lower()}", None)
            if handler:
                return handler(channel, request)
        return _error(404, "notFound", "Not Found")

    def _token(self, request: Recorded) -> Reply:
        if self.clients.get(request.param("client_id") or "") != request.param("client_secret"):
            return Reply(401, {"error": "invalid_client", "error_description": "The OAuth client was not found."})
        if request.param("grant_type") != "refresh_token":
            return Reply(400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type."})
        failure = self._take_failure_for("token")
        if failure:
            return Reply(failure["status"], {"error": failure.get("reason", "server_error")})
        channel = self.refresh_tokens.get(request.param("refresh_token") or "")
        if channel is None:
            return Reply(400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
        token = f"ya29.a0Secret{next(self._ids)}"
        self.access_tokens[token] = channel
        return Reply(
            200, {"access_token": token, "expires_in": 3599, "scope": " ".join(channel["scopes"]), "token_type": "Bearer"}
        )

    def _insert(self, channel: dict, request: Recorded) -> Reply:
        if request.query.get("uploadType") != ["resumable"] or "part" not in request.query:
            return _error(400, "invalidParameter", "uploadType=resumable and part are required.")
        failure = self._take_failure_for("insert")
        if failure:
            return self._fail(failure)
        metadata = request.json or {}
        snippet, status = metadata.get("snippet") or {}, metadata.get("status") or {}
        title, description = snippet.get("title") or "", snippet.get("description") or ""
        if not title or len(title) > 100 or re.search(r"[<>]", title):
            return _error(400, "invalidTitle", "The request metadata specifies an invalid video title.", "youtube.video")
        if len(description.encode()) > 5000 or re.search(r"[<>]", description):
            return _error(
                400, "invalidDescription", "The request metadata specifies an invalid video description.", "youtube.video"
            )
        tags = snippet.get("tags") or []
        if sum(len(t) + (2 if " " in t else 0) for t in tags) + max(len(tags) - 1, 0) > 500:
            return _error(400, "invalidTags", "The request metadata specifies invalid video keywords.", "youtube.video")
        if status.get("privacyStatus") not in ("private", "unlisted", "public"):
            return _error(400, "invalidVideoMetadata", "The request metadata is invalid.", "youtube.video")
        total = int(request.headers.get("X-Upload-Content-Length") or 0)
        upload_id = f"AUpload{next(self._ids)}xyz"
        self.sessions[upload_id] = {
            "channel": channel,
            "metadata": metadata,
            "total": total,
            "mime": request.headers.get("X-Upload-Content-Type", ""),
            "data": bytearray(),
            "video": None,
        }
        location = f"{self.url}{UPLOAD}?uploadType=resumable&upload_id={upload_id}&part={request.query['part'][0]}"
        return Reply(200, b"", {"Location": location})

    def _put(self, channel: dict, request: Recorded) -> Reply:
        session = self.sessions.get((request.query.get("upload_id") or [""])[0])
        if session is None or session["channel"] is not channel:
            return _error(404, "notFound", "The upload session was not found.")
        total = session["total"]
        content_range = request.headers.get("Content-Range", "")
        if content_range == f"bytes */{total}":  # a status query
            return self._progress(session)
        match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", content_range)
        if not match or int(match[3]) != total:
            return _error(400, "badRequest", "Failed to parse Content-Range header.")
        first, last = int(match[1]), int(match[2])
        body = request.body
        if session["video"] is not None:
            return self._progress(session)
        if first != len(session["data"]) or len(body) != last - first + 1:
            return _error(400, "badRequest", "The Content-Range does not continue the upload.")
        if last != total - 1 and len(body) % CHUNK_UNIT:
            return _error(400, "badRequest", "A chunk other than the last must be a multiple of 256 KiB.")
        if request.headers.get("Content-Type") != session["mime"]:
            return _error(400, "badRequest", "Content-Type differs from X-Upload-Content-Type.")
        failure = self._take_failure_for("upload", at=first)
        if failure and not failure.get("after"):
            if failure.get("drop"):
                session["data"] += body[: failure.get("keep", 0)]
                raise DropConnection
            if failure.get("forget"):  # the session expires with this failure
                self.sessions = {k: v for k, v in self.sessions.items() if v is not session}
            return self._fail({"reason": "backendError", "message": "Backend Error", **failure})
        session["data"] += body
        reply = self._progress(session)
        if failure:  # "after": the chunk arrived, its answer is lost
            raise DropConnection
        return reply

    def _progress(self, session: dict) -> Reply:
        received = len(session["data"])
        if received < session["total"]:
            return Reply(308, b"", {"Range": f"bytes=0-{received - 1}"} if received else {})
        if session["video"] is None:
            session["video"] = self._create_video(session)
        return Reply(201, session["video"])

    def _create_video(self, session: dict) -> dict:
        video_id = f"vid{next(self._ids):08d}"
        metadata = session["metadata"]
        status = {"uploadStatus": "uploaded", "license": "youtube", "embeddable": True, "publicStatsViewable": True}
        status.update(metadata.get("status") or {})
        resource = {
            "kind": "youtube#video",
            "etag": f"etag{video_id}",
            "id": video_id,
            "snippet": {
                **(metadata.get("snippet") or {}),
                "publishedAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "channelId": session["channel"]["id"],
                "channelTitle": session["channel"]["title"],
                "liveBroadcastContent": "none",
            },
            "status": status,
        }
        with self.lock:
            outcome = self._outcomes.pop(0) if self._outcomes else None
        self.videos[video_id] = {
            "resource": resource,
            "channel": session["channel"],
            "polls": 0,
            "outcome": outcome,
            "bytes": bytes(session["data"]),
        }
        return resource

    def _list_videos(self, channel: dict, request: Recorded) -> Reply:
        ids = (request.query.get("id") or [""])[0].split(",")
        parts = (request.query.get("part") or [""])[0].split(",")
        items = []
        for video_id in ids:
            video = self.videos.get(video_id)
            if video is None or video["channel"] is not channel:
                continue
            item: dict[str, Any] = {"kind": "youtube#video", "id": video_id}
            resource = video["resource"]
            if "snippet" in parts:
                item["snippet"] = resource["snippet"]
            if "status" in parts or "processingDetails" in parts:
                video["polls"] += 1
                status = dict(resource["status"])
                if video["polls"] <= self.processing_polls:
                    details = {"processingStatus": "processing"}
                elif video["outcome"]:
                    upload_status, reason = video["outcome"]
                    status["uploadStatus"] = upload_status
                    status["rejectionReason" if upload_status == "rejected" else "failureReason"] = reason
                    details = {"processingStatus": "failed" if upload_status == "failed" else "succeeded"}
                else:
                    status["uploadStatus"] = "processed"
                    details = {"processingStatus": "succeeded"}
                if "status" in parts:
                    item["status"] = status
                if "processingDetails" in parts:
                    item["processingDetails"] = details
            if "statistics" in parts:
                item["statistics"] = self._statistics(video)
            items.append(item)
        return Reply(200, {"kind": "youtube#videoListResponse", "items": items, "pageInfo": {"totalResults": len(items)}})

    def _list_channels(self, channel: dict, request: Recorded) -> Reply:
        if request.query.get("id"):
            wanted = [self.channels[i] for i in request.query["id"][0].split(",") if i in self.channels]
            items = [self._channel_item(c) for c in wanted]
            return Reply(200, {"kind": "youtube#channelListResponse", "pageInfo": {"totalResults": len(items)}, "items": items})
        if request.query.get("mine") != ["true"]:
            return _error(400, "missingRequiredParameter", "No filter selected.")
        return Reply(200, {"kind": "youtube#channelListResponse", "items": [self._channel_item(channel)]})

    @staticmethod
    def _channel_item(channel: dict) -> dict:
        return {
            "kind": "youtube#channel",
            "id": channel["id"],
            "snippet": {"title": channel["title"]},
            "contentDetails": {"relatedPlaylists": {"likes": "", "uploads": channel["uploads"]}},
        }

    def _insert_playlist_item(self, channel: dict, request: Recorded) -> Reply:
        if not request.query.get("part"):
            return _error(400, "missingRequiredParameter", "No part parameter specified.", "youtube.parameter")
        failure = self._take_failure_for("playlistItems.insert")
        if failure:
            return self._fail(failure)
        if not SCOPES_MANAGE & set(channel["scopes"]):
            return _error(403, "insufficientPermissions", "Request had insufficient authentication scopes.")
        snippet = (request.json or {}).get("snippet") or {}
        resource = snippet.get("resourceId") or {}
        playlist = self.playlists.get(snippet.get("playlistId") or "")
        if playlist is None:
            return _error(
                404,
                "playlistNotFound",
                "The playlist identified with the request's playlistId parameter cannot be found.",
                "youtube.playlistItem",
            )
        if playlist["channel"] is not channel:
            return _error(
                403,
                "playlistItemsNotAccessible",
                "The request is not properly authorized to insert the specified playlist item.",
                "youtube.playlistItem",
            )
        if resource.get("kind") != "youtube#video":
            return _error(400, "invalidResourceId", "The resource ID is not a video.", "youtube.playlistItem")
        video = self.videos.get(resource.get("videoId") or "")
        if video is None:
            return _error(
                404,
                "videoNotFound",
                "The video that you are trying to add to the playlist cannot be found.",
                "youtube.playlistItem",
            )
        owner, snippet_of = video["channel"], video["resource"]["snippet"]
        item_id = base64.urlsafe_b64encode(f"{playlist['id']}.{next(self._ids)}".encode()).decode().rstrip("=")
        item = {
            "kind": "youtube#playlistItem",
            "etag": f"etag{item_id[:12]}",
            "id": item_id,
            "snippet": {
                "publishedAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "channelId": channel["id"],
                "title": snippet_of.get("title", ""),
                "description": snippet_of.get("description", ""),
                "thumbnails": snippet_of.get("thumbnails", {}),
                "channelTitle": channel["title"],
                "playlistId": playlist["id"],
                "position": len(playlist["items"]),
                "resourceId": {"kind": "youtube#video", "videoId": video["resource"]["id"]},
                "videoOwnerChannelTitle": owner["title"],
                "videoOwnerChannelId": owner["id"],
            },
        }
        playlist["items"].append(item)
        return Reply(200, item)

    def _list_own_playlist(self, playlist: dict, request: Recorded) -> Reply:
        """playlistItems.list of a playlist made with add_playlist: its items in the order they were added."""
        parts = (request.query.get("part") or [""])[0].split(",")
        items = []
        for stored in playlist["items"]:
            item = {"kind": stored["kind"], "etag": stored["etag"], "id": stored["id"]}
            if "snippet" in parts:
                item["snippet"] = stored["snippet"]
            if "contentDetails" in parts:
                item["contentDetails"] = {"videoId": stored["snippet"]["resourceId"]["videoId"]}
            items.append(item)
        return Reply(
            200,
            {
                "kind": "youtube#playlistItemListResponse",
                "pageInfo": {"totalResults": len(items), "resultsPerPage": 50},
                "items": items,
            },
        )

    def _list_playlistitems(self, reader: dict, request: Recorded) -> Reply:
        playlist = (request.query.get("playlistId") or [""])[0]
        if playlist in self.playlists:
            return self._list_own_playlist(self.playlists[playlist], request)
        owner = next((c for c in self.channels.values() if c["uploads"] == playlist), None)
        if owner is None:
            return _error(
                404,
                "playlistNotFound",
                "The playlist identified with the request's playlistId parameter cannot be found.",
                "youtube.playlistItem",
            )
        limit = int((request.query.get("maxResults") or ["5"])[0])
        if not 0 <= limit <= 50:
            return _error(400, "invalidValue", "Invalid value for maxResults: it must be 0 to 50.")
        token = (request.query.get("pageToken") or [""])[0]
        try:
            offset = int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("PT:")) if token else 0
        except ValueError:
            return _error(400, "invalidPageToken", "The request specifies an invalid page token.")
        parts = (request.query.get("part") or [""])[0].split(",")
        videos = [
            v
            for v in reversed(self.videos.values())
            if v["channel"] is owner and (owner is reader or v["resource"]["status"].get("privacyStatus", "public") == "public")
        ]
        # Newest first; the later upload first within one second (a stable sort of the reversed order).
        videos.sort(key=lambda v: v["resource"]["snippet"]["publishedAt"], reverse=True)
        page = videos[offset : offset + limit]
        items = []
        for position, video in enumerate(page, start=offset):
            resource = video["resource"]
            snippet = resource["snippet"]
            item: dict[str, Any] = {"kind": "youtube#playlistItem", "id": f"item{resource['id']}"}
            if "snippet" in parts:
                item["snippet"] = {
                    "publishedAt": snippet["publishedAt"],
                    "channelId": owner["id"],
                    "title": snippet.get("title", ""),
                    "description": snippet.get("description", ""),
                    "thumbnails": snippet.get("thumbnails", {}),
                    "channelTitle": owner["title"],
                    "playlistId": playlist,
                    "position": position,
                    "resourceId": {"kind": "youtube#video", "videoId": resource["id"]},
                }
            if "contentDetails" in parts:
                item["contentDetails"] = {"videoId": resource["id"]}
                if resource["status"].get("privacyStatus", "public") == "public":  # only a public video was published
                    item["contentDetails"]["videoPublishedAt"] = snippet["publishedAt"]
            if "status" in parts:
                item["status"] = {"privacyStatus": resource["status"].get("privacyStatus", "public")}
            items.append(item)
        body = {
            "kind": "youtube#playlistItemListResponse",
            "pageInfo": {"totalResults": len(videos), "resultsPerPage": limit},
            "items": items,
        }
        if offset + limit < len(videos):
            body["nextPageToken"] = base64.urlsafe_b64encode(f"PT:{offset + limit}".encode()).decode()
        return Reply(200, body)

    def video_bytes(self, video_id: str) -> bytes:
        return self.videos[video_id]["bytes"]

    def metadata(self, request: Recorded) -> dict:
        return json.loads(request.body)

    # --- statistics (videos.list part=statistics) ---------------------------------------------

    def set_statistics(self, video_id: str, **counts: int | None) -> None:
        """viewCount / likeCount / commentCount of a video (None: hidden, left out of the answer)."""
        self.videos[video_id]["statistics"] = counts

    def _statistics(self, video: dict) -> dict:
        # YouTube sends counts as strings; favoriteCount is always "0" since dislikes and favourites went.
        counts = {"viewCount": 0, "likeCount": 0, "favoriteCount": 0, "commentCount": 0, **video.get("statistics", {})}
        return {key: str(value) for key, value in counts.items() if value is not None}

    def add_video(self, channel: dict, **statistics: int | None) -> str:
        """A processed video already on ``channel`` (published earlier), with its counts."""
        video_id = f"vid{next(self._ids):08d}"
        resource = {
            "kind": "youtube#video",
            "id": video_id,
            "snippet": {"title": "Earlier", "channelId": channel["id"], "publishedAt": "2026-01-01T00:00:00Z"},
            "status": {"uploadStatus": "processed", "privacyStatus": "public"},
        }
        self.videos[video_id] = {"resource": resource, "channel": channel, "polls": 0, "outcome": None, "bytes": b""}
        self.set_statistics(video_id, **statistics)
        return video_id
