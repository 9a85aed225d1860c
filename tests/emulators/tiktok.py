"""A loopback TikTok Content Posting API (v2): creator_info, Direct Post video and
photo init, chunked FILE_UPLOAD to an ``upload_url`` it serves itself, async
status (``PROCESSING_*`` → ``PUBLISH_COMPLETE`` / ``FAILED``), OAuth refresh with
rotating refresh tokens, the ``{"data", "error": {"code", "message", "log_id"}}``
envelope and failures on demand.

    with TikTokEmulator() as tt:
        tt.add_creator("act.token", refresh_token="rft.token", username="crosspost")
        tt.fail_next("spam_risk_too_many_posts")            # the next init call (see FAILURES)
        tt.fail_next({"endpoint": "creator_info", "status": 200, "code": "spam_risk_too_many_posts"})
        tt.fail_next({"endpoint": "upload", "status": 503})  # the next chunk PUT
        tt.fail_publish("duration_check_failed")             # the next publish ends FAILED
        tt.expire("act.token")                               # 401 access_token_invalid from now on
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from typing import Any

from .base import Emulator, Recorded, Reply

MB = 1024 * 1024
API = "/v2/post/publish/"
ENDPOINTS = {
    f"{API}creator_info/query/": "creator_info",
    f"{API}video/init/": "video/init",
    f"{API}content/init/": "content/init",
    f"{API}status/fetch/": "status/fetch",
    "/v2/video/query/": "video/query",
}
PRIVACY_PUBLIC = ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
PRIVACY_PRIVATE = ["FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]

# name -> (HTTP status, error.code, message); named failures hit the next init call.
FAILURES: dict[str, tuple[int, str, str]] = {
    "invalid_param": (400, "invalid_param", "The chunk_size is invalid."),
    "scope_not_authorized": (401, "scope_not_authorized", "The user did not authorize the scope required."),
    "spam_risk_too_many_posts": (403, "spam_risk_too_many_posts", "The daily post cap from the API is reached."),
    "spam_risk_too_many_pending_share": (403, "spam_risk_too_many_pending_share", "Too many pending shares."),
    "reached_active_user_cap": (403, "reached_active_user_cap", "The daily quota of active publishing users is reached."),
    "spam_risk_user_banned_from_posting": (403, "spam_risk_user_banned_from_posting", "The user is banned from posting."),
    "unaudited_client_can_only_post_to_private_accounts": (
        403,
        "unaudited_client_can_only_post_to_private_accounts",
        "Please review our integration guidelines.",
    ),
    "url_ownership_unverified": (403, "url_ownership_unverified", "The URL prefix or domain is not verified."),
    "spam_risk_text": (403, "spam_risk_text", "The text is considered risky."),
    "rate_limit_exceeded": (429, "rate_limit_exceeded", "API rate limit was exceeded."),
    "internal_error": (500, "internal_error", "Something went wrong."),
}


class TikTokEmulator(Emulator):
    def __init__(self) -> None:
        super().__init__()
        # A short poll interval: shutting the server down waits for one (the default is 0.5 s per test).
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.creators: dict[str, dict] = {}  # access token -> creator
        self.refresh_tokens: dict[str, dict] = {}  # refresh token -> creator
        self.clients: dict[str, str] = {"client-key-1": "client-secret-1"}
        self.publishes: dict[str, dict] = {}
        self.posts: list[dict] = []  # every post that reached PUBLISH_COMPLETE
        self.audited = True
        # Media Transfer Guide: chunks 5–64 MB, the last up to 128 MB. Tests lower these.
        self.min_chunk = 5 * MB
        self.max_chunk = 64 * MB
        self.max_final_chunk = 128 * MB
        self.processing_polls = 1  # status fetches answered PROCESSING_* before the outcome
        self._outcomes: list[str] = []  # fail reasons for the next publishes
        self._ids = itertools.count(1)

    # --- setup --------------------------------------------------------------------------------

    def add_creator(
        self,
        access_token: str,
        *,
        refresh_token: str | None = None,
        username: str = "crosspost",
        private: bool = False,
        max_video_post_duration_sec: int = 600,
        comment_disabled: bool = False,
        duet_disabled: bool = False,
        stitch_disabled: bool = False,
    ) -> dict:
        creator = {
            "open_id": f"open-{next(self._ids)}",
            "creator_username": username,
            "creator_nickname": username.title(),
            "creator_avatar_url": f"https://p16.tiktokcdn.test/{username}.jpeg",
            "privacy_level_options": list(PRIVACY_PRIVATE if private else PRIVACY_PUBLIC),
            "comment_disabled": comment_disabled,
            "duet_disabled": duet_disabled,
            "stitch_disabled": stitch_disabled,
            "max_video_post_duration_sec": max_video_post_duration_sec,
        }
        self.creators[access_token] = creator
        if refresh_token:
            self.refresh_tokens[refresh_token] = creator
        return creator

    def expire(self, access_token: str) -> None:
        """The access token stops working (401 access_token_invalid); refreshing still works."""
        self.creators.pop(access_token, None)

    def fail_publish(self, reason: str) -> None:
        """The next publish ends FAILED with this ``fail_reason``."""
        with self.lock:
            self._outcomes.append(reason)

    def uploads(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == "/upload/video/"]

    def calls(self, endpoint: str) -> list[Recorded]:
        return [r for r in self.requests if ENDPOINTS.get(r.path) == endpoint]

    # --- protocol -----------------------------------------------------------------------------

    def _log_id(self) -> str:
        return f"20261121{next(self._ids):012d}"

    def _ok(self, data: dict) -> Reply:
        return Reply(200, {"data": data, "error": {"code": "ok", "message": "", "log_id": self._log_id()}})

    def _error(self, status: int, code: str, message: str, headers: dict | None = None) -> Reply:
        return Reply(status, {"error": {"code": code, "message": message, "log_id": self._log_id()}}, headers or {})

    def _take_failure_for(self, endpoint: str) -> dict | None:
        with self.lock:
            for index, failure in enumerate(self._failures):
                if isinstance(failure, str):
                    status, code, message = FAILURES[failure]
                    failure = {"endpoint": "init", "status": status, "code": code, "message": message}
                wanted = failure.get("endpoint")
                if wanted is None or wanted == endpoint or (wanted == "init" and endpoint.endswith("/init")):
                    del self._failures[index]
                    return failure
        return None

    def handle(self, request: Recorded) -> Reply:
        if request.path == "/v2/oauth/token/":
            return self._token(request)
        if request.path == "/upload/video/":
            return self._upload(request)
        endpoint = ENDPOINTS.get(request.path)
        if endpoint is None:
            return self._error(404, "not_found", "Not found.")
        creator = self.creators.get(request.headers.get("Authorization", "").removeprefix("Bearer "))
        if creator is None:
            return self._error(401, "access_token_invalid", "The access token is invalid or not found in the request.")
        failure = self._take_failure_for(endpoint)
        if failure:
            if endpoint == "creator_info" and failure.get("status") == 200:
                return Reply(200, {"data": {}, "error": {"code": failure["code"], "message": failure.get("message", "")}})
            return self._error(failure["status"], failure.get("code", "internal_error"), failure.get("message", ""))
        return getattr(self, "_" + endpoint.replace("/", "_"))(creator, request)

    def _token(self, request: Recorded) -> Reply:
        if request.param("grant_type") != "refresh_token":
            return Reply(
                400, {"error": "invalid_request", "error_description": "Unsupported grant_type.", "log_id": self._log_id()}
            )
        if self.clients.get(request.param("client_key") or "") != request.param("client_secret"):
            return Reply(401, {"error": "invalid_client", "error_description": "Client key or secret is invalid."})
        creator = self.refresh_tokens.pop(request.param("refresh_token") or "", None)
        if creator is None:
            return Reply(400, {"error": "invalid_grant", "error_description": "Refresh token is invalid or expired."})
        n = next(self._ids)
        access, refresh = f"act.renewed{n}", f"rft.renewed{n}"
        for token, owner in list(self.creators.items()):
            if owner is creator:
                del self.creators[token]
        self.creators[access] = creator
        self.refresh_tokens[refresh] = creator  # refresh tokens rotate: the old one is gone
        return Reply(
            200,
            {
                "access_token": access,
                "expires_in": 86400,
                "open_id": creator["open_id"],
                "refresh_expires_in": 31536000,
                "refresh_token": refresh,
                "scope": "user.info.basic,video.publish",
                "token_type": "Bearer",
            },
        )

    def _creator_info(self, creator: dict, request: Recorded) -> Reply:
        return self._ok(dict(creator))

    def _post_info_error(self, creator: dict, post_info: dict) -> Reply | None:
        privacy = post_info.get("privacy_level")
        if privacy not in creator["privacy_level_options"]:
            return self._error(403, "privacy_level_option_mismatch", "privacy_level is not in the creator's options.")
        if not self.audited and privacy != "SELF_ONLY":
            return self._error(
                403, "unaudited_client_can_only_post_to_private_accounts", "Please review our integration guidelines."
            )
        return None

    def _new_publish(self, creator: dict, kind: str, prefix: str, **fields: Any) -> dict:
        publish_id = f"{prefix}~v2.{next(self._ids)}"
        publish = {"publish_id": publish_id, "creator": creator, "kind": kind, "polls": 0, **fields}
        with self.lock:
            publish["outcome"] = self._outcomes.pop(0) if self._outcomes else None
        self.publishes[publish_id] = publish
        return publish

    def _video_init(self, creator: dict, request: Recorded) -> Reply:
        body = request.json or {}
        post_info, source = body.get("post_info") or {}, body.get("source_info") or {}
        if len((post_info.get("title") or "").encode("utf-16-le")) // 2 > 2200:
            return self._error(400, "invalid_param", "The title is too long.")
        refused = self._post_info_error(creator, post_info)
        if refused:
            return refused
        if source.get("source") == "PULL_FROM_URL":
            url = source.get("video_url") or ""
            if not url.startswith("https://"):
                return self._error(400, "invalid_param", "video_url must be an https URL.")
            publish = self._new_publish(creator, "video", "v_pub_url", post_info=post_info, video_url=url, complete=True)
            return self._ok({"publish_id": publish["publish_id"]})
        if source.get("source") != "FILE_UPLOAD":
            return self._error(400, "invalid_param", "source must be FILE_UPLOAD or PULL_FROM_URL.")
        size, chunk, count = (int(source.get(k) or 0) for k in ("video_size", "chunk_size", "total_chunk_count"))
        problem = self._chunk_problem(size, chunk, count)
        if problem:
            return self._error(400, "invalid_param", problem)
        publish = self._new_publish(
            creator,
            "video",
            "v_pub_file",
            post_info=post_info,
            size=size,
            chunk=chunk,
            count=count,
            data=bytearray(),
            ranges=[],
            complete=False,
            upload_id=str(next(self._ids)),
            upload_token=f"upl-token-{next(self._ids)}",
        )
        upload_url = f"{self.url}/upload/video/?upload_id={publish['upload_id']}&upload_token={publish['upload_token']}"
        return self._ok({"publish_id": publish["publish_id"], "upload_url": upload_url})

    def _chunk_problem(self, size: int, chunk: int, count: int) -> str:
        if size <= 0 or chunk <= 0 or count <= 0:
            return "video_size, chunk_size and total_chunk_count are required for FILE_UPLOAD."
        if size > self.max_chunk and count == 1:
            return "A video larger than the maximum chunk must be uploaded in chunks."
        if (chunk, count) == (size, 1):
            return ""
        if size < self.min_chunk:
            return "A video smaller than the minimum chunk is uploaded as one chunk."
        if not self.min_chunk <= chunk <= self.max_chunk:
            return "chunk_size must be between the minimum and maximum chunk sizes."
        if count != size // chunk or not 1 <= count <= 1000:
            return "total_chunk_count must be floor(video_size / chunk_size)."
        if size - (count - 1) * chunk > self.max_final_chunk:
            return "The final chunk is too large."
        return ""

    def _upload(self, request: Recorded) -> Reply:
        upload_id, token = request.param("upload_id"), request.param("upload_token")
        publish = next((p for p in self.publishes.values() if p.get("upload_id") == upload_id), None)
        if publish is None or publish["upload_token"] != token:
            return Reply(404, "")
        failure = self._take_failure_for("upload")
        if failure:
            return Reply(failure.get("status", 500), "")
        match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", request.headers.get("Content-Range", ""))
        if not match or request.headers.get("Content-Type") not in ("video/mp4", "video/quicktime", "video/webm"):
            return Reply(400, "")
        first, last, total = (int(g) for g in match.groups())
        received = len(publish["data"])
        index = len(publish["ranges"])
        expected_last = publish["size"] - 1 if index == publish["count"] - 1 else received + publish["chunk"] - 1
        if total != publish["size"] or first != received or last != expected_last or len(request.body) != last - first + 1:
            return Reply(416, "", {"Content-Range": f"bytes 0-{received - 1}/{publish['size']}"})
        publish["data"] += request.body
        publish["ranges"].append((first, last))
        headers = {"Content-Range": f"bytes 0-{last}/{total}"}
        if len(publish["ranges"]) == publish["count"]:
            publish["complete"] = True
            return Reply(201, "", headers)
        return Reply(206, "", headers)

    def _content_init(self, creator: dict, request: Recorded) -> Reply:
        body = request.json or {}
        post_info, source = body.get("post_info") or {}, body.get("source_info") or {}
        if body.get("media_type") != "PHOTO" or body.get("post_mode") not in ("DIRECT_POST", "MEDIA_UPLOAD"):
            return self._error(400, "invalid_param", "media_type must be PHOTO and post_mode DIRECT_POST or MEDIA_UPLOAD.")
        images = source.get("photo_images") or []
        if source.get("source") != "PULL_FROM_URL" or not 1 <= len(images) <= 35:
            return self._error(400, "invalid_param", "photo_images takes 1 to 35 URLs pulled from a verified domain.")
        if len(post_info.get("title") or "") > 90 or len(post_info.get("description") or "") > 4000:
            return self._error(400, "invalid_param", "The title or description is too long.")
        if body["post_mode"] == "DIRECT_POST":
            refused = self._post_info_error(creator, post_info)
            if refused:
                return refused
        publish = self._new_publish(creator, "photo", "p_pub_url", post_info=post_info, photo_images=images, complete=True)
        return self._ok({"publish_id": publish["publish_id"]})

    def _status_fetch(self, creator: dict, request: Recorded) -> Reply:
        publish = self.publishes.get((request.json or {}).get("publish_id") or "")
        if publish is None:
            return self._error(400, "invalid_publish_id", "The publish_id does not exist.")
        if publish["creator"] is not creator:
            return self._error(400, "token_not_authorized_for_specified_publish_id", "Not this user's publish_id.")
        status: dict[str, Any] = {"publicaly_available_post_id": []}
        if "size" in publish:
            status["uploaded_bytes"] = len(publish["data"])
        if not publish["complete"]:
            return self._ok({"status": "PROCESSING_UPLOAD", **status})
        publish["polls"] += 1
        if publish["polls"] <= self.processing_polls:
            waiting = "PROCESSING_DOWNLOAD" if "size" not in publish else "PROCESSING_UPLOAD"
            return self._ok({"status": waiting, **status})
        if publish["outcome"]:
            return self._ok({"status": "FAILED", "fail_reason": publish["outcome"], **status})
        if "post" not in publish:
            post = {
                "id": 7300000000000000000 + next(self._ids),
                "publish_id": publish["publish_id"],
                "kind": publish["kind"],
                "creator": publish["creator"]["creator_username"],
                "post_info": publish["post_info"],
                "created_at": time.time(),
            }
            publish["post"] = post
            self.posts.append(post)
        public = publish["post_info"].get("privacy_level") != "SELF_ONLY"
        ids = [publish["post"]["id"]] if public else []
        return self._ok({"status": "PUBLISH_COMPLETE", **status, "publicaly_available_post_id": ids})

    # --- statistics (Display API: POST /v2/video/query/) ----------------------------------------

    def add_post(self, creator: dict, *, public: bool = True, **counts: int) -> dict:
        """A post published earlier (status/fetch answers PUBLISH_COMPLETE), with its counts."""
        publish = self._new_publish(
            creator, "video", "v_pub_file", post_info={"privacy_level": "PUBLIC_TO_EVERYONE" if public else "SELF_ONLY"}
        )
        post = {
            "id": 7300000000000000000 + next(self._ids),
            "publish_id": publish["publish_id"],
            "kind": "video",
            "creator": creator["creator_username"],
            "post_info": publish["post_info"],
            "created_at": time.time(),
            "counts": {"view_count": 0, "like_count": 0, "comment_count": 0, "share_count": 0, **counts},
        }
        publish.update(complete=True, polls=self.processing_polls, post=post)
        self.posts.append(post)
        return post

    def _video_query(self, creator: dict, request: Recorded) -> Reply:
        if creator.get("no_video_list"):
            return self._error(
                401, "scope_not_authorized", "The user did not authorize the scope required for completing this request."
            )
        fields = [f for f in (request.query.get("fields") or [""])[0].split(",") if f]
        if not fields:
            return self._error(400, "invalid_params", "fields is required.")
        ids = [str(i) for i in ((request.json or {}).get("filters") or {}).get("video_ids") or []]
        if len(ids) > 20:
            return self._error(400, "invalid_params", "At most 20 video_ids.")
        videos = []
        for post in self.posts:
            public = post["post_info"].get("privacy_level") != "SELF_ONLY"
            if str(post["id"]) in ids and post["creator"] == creator["creator_username"] and public:
                values = {"id": str(post["id"]), **post.get("counts", {})}
                videos.append({k: v for k, v in values.items() if k in fields})
        return self._ok({"videos": videos, "cursor": 0, "has_more": False})
