"""A loopback emulator of Instagram's private (mobile) API, as instagrapi 3.2.2 calls it.

instagrapi has no base-URL setting: its hosts (``i.instagram.com``,
``b.i.instagram.com``, ``www.instagram.com``) are literal ``https://`` strings.
:meth:`InstagramPrivateEmulator.route` is a client hook (see
``platforms.instagram.private.client_hooks``) that mounts a
URL-rewriting transport for exactly those hosts on both of instagrapi's
sessions; the request keeps its path, query, headers and the account's proxy.

What is served, from instagrapi 3.2.2's source:

* login (``LoginMixin.login`` → Android CAA/Bloks flow): ``/graphql_www`` (USDID
  registration), the ``process_client_data_and_redirect`` Bloks action (the
  ``aac``), ``attestation/create_android_keystore/``, the OAuth token preflight,
  ``qe/sync/`` on the public session (the RSA key the password is encrypted
  with — the emulator decrypts it, so a wrong password is really wrong), and
  ``send_login_request``, which answers with the embedded login response
  (``IG-Set-Authorization``) or, when the login fails, routes the client to the
  legacy ``accounts/login/`` (``CAA_LOGIN_FALLBACK``), which carries the typed
  error (bad_password, two_factor_required, challenge_required, checkpoint …);
  then ``feed/reels_tray/`` and ``feed/timeline/``;
* ``accounts/current_user/``, ``users/{username}/usernameinfo/`` (404 ``User not found``),
  ``feed/user/{id}/`` (pinned posts first, then newest first; ``count`` a page, ``max_id`` /
  ``next_max_id`` + ``more_available``; a private profile the reader does not follow is 400
  ``Not authorized to view user``) and ``feed/user/{id}/story/``;
* uploads: ``rupload_igphoto/…``, ``rupload_igvideo/…`` (GET offset, POST bytes),
  ``upload_settings/…``; configure: ``media/configure/`` (photo; ``?video=1``
  video), ``media/configure_sidecar/``, ``media/configure_to_clips/``,
  ``media/configure_to_story/``.

Every call after login needs ``Authorization: Bearer IGT:2:…`` naming a live
session, else 403 ``login_required``. Failures are injected per endpoint group
with :meth:`fail` (``login``, ``configure``, ``rupload``, ``current_user``,
``feed``), as the JSON bodies instagrapi maps to its exceptions (``FAILURES``).
"""

from __future__ import annotations

import base64
import functools
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from Cryptodome.Cipher import AES, PKCS1_v1_5
from Cryptodome.PublicKey import RSA
from requests.adapters import HTTPAdapter

from .base import Emulator, Recorded, Reply

HOSTS = ("https://i.instagram.com", "https://b.i.instagram.com", "https://www.instagram.com")
PASSWORD_KEY_ID = 41
CDN = "https://scontent.cdninstagram.com"

CHALLENGE = {"url": "https://i.instagram.com/challenge/1/abc/", "api_path": "/challenge/1/abc/", "lock": True}
# kind → (HTTP status, body): what Instagram answers, as instagrapi's PrivateRequestMixin reads it.
FAILURES: dict[str, tuple[int, dict | str]] = {
    "login_required": (
        403,
        {"message": "login_required", "error_title": "You've Been Logged Out", "logout_reason": 8, "status": "fail"},
    ),
    "user_has_logged_out": (403, {"message": "user_has_logged_out", "status": "fail"}),
    "challenge_required": (400, {"message": "challenge_required", "challenge": CHALLENGE, "status": "fail"}),
    "checkpoint": (
        400,
        {
            "message": "checkpoint_required",
            "checkpoint_url": CHALLENGE["url"],
            "lock": True,
            "error_type": "checkpoint_challenge_required",
            "status": "fail",
        },
    ),
    "suspended": (
        400,
        {
            "message": "challenge_required",
            "challenge": {"url": "https://www.instagram.com/accounts/suspended/?next=/", "api_path": "/accounts/suspended/"},
            "status": "fail",
        },
    ),
    "bad_password": (
        400,
        {
            "message": "The password you entered is incorrect. Please try again.",
            "invalid_credentials": True,
            "error_type": "bad_password",
            "status": "fail",
        },
    ),
    "two_factor_required": (
        400,
        {
            "message": "",
            "two_factor_required": True,
            "two_factor_info": {"two_factor_identifier": "2fa-id", "sms_two_factor_on": True, "totp_two_factor_on": False},
            "error_type": "two_factor_required",
            "status": "fail",
        },
    ),
    "feedback_required": (
        400,
        {
            "message": "feedback_required",
            "feedback_title": "Action Blocked",
            "feedback_message": "This action was blocked. Please try again later.",
            "spam": True,
            "status": "fail",
        },
    ),
    "please_wait": (400, {"message": "Please wait a few minutes before you try again.", "status": "fail"}),
    "rate_limit": (400, {"message": "Too many actions", "error_type": "rate_limit_error", "status": "fail"}),
    "throttled": (429, {"message": "rate limited", "status": "fail"}),
    "proxy_blocked": (
        400,
        {
            "message": "The username you entered doesn't appear to belong to an account. Please check your username "
            "and try again.",
            "error_type": "invalid_user",
            "status": "fail",
        },
    ),
    "sentry_block": (
        400,
        {"message": "Sorry, there was a problem with your request.", "error_type": "sentry_block", "status": "fail"},
    ),
    "video_too_long": (400, {"message": "Uploaded video is too long: VideoTooLongException", "status": "fail"}),
    "media_needs_reupload": (
        400,
        {"message": "media_needs_reupload", "error_title": "bad image input extra:{}", "status": "fail"},
    ),
    "upload_error": (400, {"debug_info": {"message": "Invalid file", "type": "ProcessingFailedError"}}),
    "server_error": (500, {"message": "Internal server error", "status": "fail"}),
    # configure only: the post is created, then the answer is lost on the way back.
    "lost_answer": (502, "<html><body>502 Bad Gateway</body></html>"),
}


@functools.cache
def _password_key() -> RSA.RsaKey:
    return RSA.generate(1024)  # noqa: S505 - a throwaway test key; 1024 bits keeps key generation fast


def decrypt_password(enc_password: str) -> str | None:
    """The plain password inside instagrapi's ``#PWD_INSTAGRAM:4:<time>:<base64>`` envelope."""
    try:
        _, _version, timestamp, payload = enc_password.split(":", 3)
        raw = base64.b64decode(payload)
        size = int.from_bytes(raw[14:16], "little")
        iv, encrypted_key = raw[2:14], raw[16 : 16 + size]
        tag, ciphertext = raw[16 + size : 32 + size], raw[32 + size :]
        session_key = PKCS1_v1_5.new(_password_key()).decrypt(encrypted_key, None)
        cipher = AES.new(session_key, AES.MODE_GCM, iv)
        cipher.update(timestamp.encode())
        return cipher.decrypt_and_verify(ciphertext, tag).decode()
    except (ValueError, TypeError):
        return None


class RewriteAdapter(HTTPAdapter):
    """Sends a request for one of Instagram's hosts to ``target`` (path and query kept)."""

    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        super().__init__(max_retries=0)

    def send(self, request, **kwargs):
        parts = urlsplit(request.url)
        request.headers["X-Original-Host"] = parts.hostname or ""
        request.url = self.target + parts.path + (f"?{parts.query}" if parts.query else "")
        return super().send(request, **kwargs)


@dataclass
class User:
    pk: str
    username: str
    password: str
    medias: list[dict] = field(default_factory=list)  # newest first
    stories: list[dict] = field(default_factory=list)
    is_private: bool = False
    followers: set[str] = field(default_factory=set)  # pks of the users who may see a private profile


class InstagramPrivateEmulator(Emulator):
    def __init__(self) -> None:
        super().__init__()
        # Headers and body leave in two writes: without this, every answer waits for a delayed ACK (40 ms).
        self.server.RequestHandlerClass.disable_nagle_algorithm = True
        self.users: dict[str, User] = {}
        self.sessions: dict[str, str] = {}  # sessionid → user pk
        self.uploads: dict[str, dict[str, int]] = {}  # upload_id → {"photo": bytes, "video": bytes}
        self.clients: list[Any] = []  # every client routed here, for assertions
        self._ids = itertools.count(3_100_000_000_000_000_001)
        self._injected: list[tuple[str, str]] = []

    def __enter__(self):
        # A short poll interval: shutting down waits for it (0.5 s by default, on every test).
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        return super().__enter__()

    # --- setup and inspection

    def add_user(self, username: str, password: str) -> User:
        user = User(pk=str(50_000_000 + len(self.users) + 1), username=username, password=password)
        self.users[username] = user
        return user

    def add_media(
        self,
        username: str,
        caption: str = "",
        *,
        kind: str = "photo",
        children: tuple[str, ...] = ("photo", "photo"),
        taken_at: int | None = None,
        pinned: bool = False,
        product_type: str | None = None,
    ) -> dict:
        """A post made in the app: ``kind`` photo, video or carousel (of ``children``), kept newest first."""
        user = self.users[username]
        media_type = {"photo": 1, "video": 2, "carousel": 8}[kind]
        product = product_type or {"photo": "feed", "video": "clips", "carousel": "carousel_container"}[kind]
        items = None
        if kind == "carousel":
            items = [self._media(user, 2 if child == "video" else 1, "", "carousel_item") for child in children]
        media = self._media(user, media_type, caption, product, carousel=items)
        media["taken_at"] = int(time.time()) if taken_at is None else taken_at
        if pinned:
            media["timeline_pinned_user_ids"] = [int(user.pk)]
        with self.lock:
            user.medias.append(media)
            user.medias.sort(key=lambda m: m["taken_at"], reverse=True)
        return media

    def route(self, client, account=None) -> None:
        """The client hook: Instagram's hosts → this emulator, on both of instagrapi's sessions."""
        self.clients.append(client)
        for session in (client.private, client.public):
            for host in HOSTS:
                session.mount(host, RewriteAdapter(self.url))

    def fail(self, where: str, kind: str, times: int = 1) -> None:
        """The next ``times`` calls of endpoint group ``where`` answer like ``FAILURES[kind]``."""
        assert kind in FAILURES, kind
        with self.lock:
            self._injected.extend([(where, kind)] * times)

    def expire_sessions(self) -> None:
        """Instagram logs every session out: the next call gets 403 login_required."""
        with self.lock:
            self.sessions.clear()

    def calls(self, fragment: str) -> list[Recorded]:
        return [r for r in self.requests if fragment in r.path]

    @property
    def login_calls(self) -> list[Recorded]:
        return [r for r in self.requests if "send_login_request" in r.path or r.path.endswith("/accounts/login/")]

    # --- dispatch

    def _take(self, where: str) -> str | None:
        with self.lock:
            for index, (group, kind) in enumerate(self._injected):
                if group == where:
                    del self._injected[index]
                    return kind
        return None

    def _pending(self, where: str) -> bool:
        with self.lock:
            return any(group == where for group, _ in self._injected)

    def _failure(self, where: str) -> Reply | None:
        kind = self._take(where)
        if kind is None:
            return None
        status, body = FAILURES[kind]
        return Reply(status, body)

    def handle(self, request: Recorded) -> Reply:
        path = request.path
        if path == "/graphql_www":
            return Reply(200, {"data": {"xig_usdid_registration": {"success": True}}, "extensions": {}})
        if path == "/api/v1/qe/sync/":
            pem = _password_key().publickey().export_key()
            headers = {
                "ig-set-password-encryption-key-id": str(PASSWORD_KEY_ID),
                "ig-set-password-encryption-pub-key": base64.b64encode(pem).decode(),
            }
            return Reply(200, {"status": "ok"}, headers=headers)
        if path.startswith("/api/v1/bloks/async_action/"):
            return self._bloks(request, path.removeprefix("/api/v1/bloks/async_action/").strip("/"))
        if path == "/api/v1/attestation/create_android_keystore/":
            return Reply(200, {"challenge_nonce": "nonce-c", "key_nonce": "nonce-k", "status": "ok"})
        if path == "/api/v1/launcher/sync/":
            return Reply(200, {"configs": {}, "status": "ok"})
        if path == "/api/v1/accounts/login/":
            return self._legacy_login(request)

        user = self._user_of(request)
        if user is None:
            return Reply(*FAILURES["login_required"])
        if path in ("/api/v1/feed/reels_tray/", "/api/v1/feed/timeline/"):
            return Reply(200, {"tray": [], "feed_items": [], "more_available": False, "status": "ok"})
        if path == "/api/v1/accounts/current_user/":
            return self._failure("current_user") or Reply(200, {"user": self._profile(user), "status": "ok"})
        if path.startswith("/api/v1/feed/user/"):
            return self._failure("feed") or self._feed(request, user)
        if path.startswith("/api/v1/users/") and path.endswith("/usernameinfo/"):
            found = self.users.get(path.removeprefix("/api/v1/users/").removesuffix("/usernameinfo/"))
            if found is None:
                return Reply(404, {"message": "User not found", "status": "fail"})
            counts = {"media_count": len(found.medias), "follower_count": len(found.followers), "following_count": 0}
            return Reply(200, {"user": {**self._profile(found), "is_private": found.is_private, **counts}, "status": "ok"})
        if path.startswith(("/rupload_igphoto/", "/rupload_igvideo/", "/upload_settings/")):
            return self._failure("rupload") or self._rupload(request)
        if path.startswith("/api/v1/media/configure"):
            kind = self._take("configure")
            if kind == "lost_answer":
                self._configure(request, user)
            return Reply(*FAILURES[kind]) if kind else self._configure(request, user)
        if path.startswith("/api/v1/media/") and path.endswith("/info/"):
            return self._failure("media_info") or self._media_info(path)
        return Reply(404, {"message": f"emulator: no route for {request.method} {path}", "status": "fail"})

    # --- login

    def _bloks(self, request: Recorded, action: str) -> Reply:
        if action.endswith("process_client_data_and_redirect"):
            aac = {"data": {"key": "CAA_ACCOUNT_ACCESS_CONTEXT:aac", "initial": "aac-token"}}
            return Reply(200, {"layout": {"bloks_payload": {"data": [aac]}}, "status": "ok"})
        if action.endswith("oauth.token.fetch.async"):
            return Reply(200, {"layout": {"bloks_payload": {"data": []}}, "status": "ok"})
        if action.endswith("send_login_request"):
            params = json.loads(request.param("params") or "{}").get("client_input_params", {})
            user = self.users.get(params.get("contact_point", ""))
            password = decrypt_password(params.get("password", ""))
            if user is None or password != user.password or self._pending("login"):
                # The CAA screen sends the client to the legacy endpoint, which names the failure.
                fallback = {"data": {"key": "CAA_LOGIN_FALLBACK:accounts_login", "initial": ""}}
                return Reply(200, {"layout": {"bloks_payload": {"data": [fallback], "action": ""}}, "status": "ok"})
            return Reply(200, {"layout": {"bloks_payload": {"data": [], "action": self._login_action(user)}}, "status": "ok"})
        return Reply(404, {"message": f"emulator: unknown Bloks action {action}", "status": "fail"})

    def _new_session(self, user: User) -> str:
        sessionid = f"{user.pk}%3A{next(self._ids)}%3A1"
        with self.lock:
            self.sessions[sessionid] = user.pk
        authorization = {"ds_user_id": user.pk, "sessionid": sessionid, "should_use_header_over_cookies": True}
        return "Bearer IGT:2:" + base64.b64encode(json.dumps(authorization).encode()).decode()

    def _login_action(self, user: User) -> str:
        embedded = {
            "login_response": json.dumps({"logged_in_user": self._profile(user), "status": "ok"}),
            "headers": json.dumps({"IG-Set-Authorization": self._new_session(user)}),
            "cookies": "",
        }
        return f"(bk.action.caa.HandleLoginResponse, {json.dumps(json.dumps(embedded))})"

    def _legacy_login(self, request: Recorded) -> Reply:
        data = _signed(request)
        failure = self._failure("login")
        if failure is not None:
            return failure
        user = self.users.get(data.get("username", ""))
        if user is None:
            return Reply(*FAILURES["proxy_blocked"])
        if decrypt_password(data.get("enc_password", "")) != user.password:
            return Reply(*FAILURES["bad_password"])
        headers = {"ig-set-authorization": self._new_session(user)}
        return Reply(200, {"logged_in_user": self._profile(user), "status": "ok"}, headers=headers)

    def _user_of(self, request: Recorded) -> User | None:
        authorization = request.headers.get("Authorization", "")
        try:
            data = json.loads(base64.b64decode(authorization.rsplit(":", 1)[-1]))
        except ValueError:
            return None
        with self.lock:
            pk = self.sessions.get(data.get("sessionid", "")) if isinstance(data, dict) else None
        return next((u for u in self.users.values() if u.pk == pk), None) if pk else None

    # --- reading

    @staticmethod
    def _profile(user: User) -> dict:
        return {
            "pk": user.pk,
            "pk_id": user.pk,
            "username": user.username,
            "full_name": user.username.title(),
            "is_private": False,
            "profile_pic_url": "https://scontent.cdninstagram.com/profile.jpg",
            "is_verified": False,
            "is_business": False,
            "biography": "",
        }

    def _feed(self, request: Recorded, reader: User) -> Reply:
        parts = request.path.strip("/").split("/")  # api v1 feed user <pk> [story]
        user = next((u for u in self.users.values() if u.pk == parts[4]), None)
        if user is None:
            return Reply(404, {"message": "User not found", "status": "fail"})
        if user.is_private and reader is not user and reader.pk not in user.followers:
            return Reply(400, {"message": "Not authorized to view user", "status": "fail"})
        if parts[-1] == "story":
            return Reply(200, {"reel": {"id": user.pk, "items": list(user.stories)}, "status": "ok"})
        with self.lock:
            medias = sorted(user.medias, key=lambda m: not m.get("timeline_pinned_user_ids"))  # pinned first, stable
        count = int(request.param("count") or 12)
        max_id = request.param("max_id") or ""
        start = next((i + 1 for i, m in enumerate(medias) if m["id"] == max_id), 0) if max_id else 0
        page = medias[start : start + count]
        more = start + count < len(medias)
        body = {"items": page, "num_results": len(page), "more_available": more, "status": "ok"}
        if more and page:
            body["next_max_id"] = page[-1]["id"]
        return Reply(200, body)

    # --- uploads and configure

    def _rupload(self, request: Recorded) -> Reply:
        if request.path.startswith("/upload_settings/"):
            return Reply(200, {"status": "ok"})
        params = json.loads(request.headers.get("X-Instagram-Rupload-Params") or "{}")
        upload_id = str(params.get("upload_id") or "")
        if request.method == "GET":
            return Reply(200, {"offset": 0})
        kind = "photo" if request.path.startswith("/rupload_igphoto/") else "video"
        body = request.body
        valid = body[:3] == b"\xff\xd8\xff" or body[:8] == b"\x89PNG\r\n\x1a\n" if kind == "photo" else body[4:8] == b"ftyp"
        if not valid or int(request.headers.get("X-Entity-Length") or -1) != len(body):
            return Reply(*FAILURES["upload_error"])
        with self.lock:
            self.uploads.setdefault(upload_id, {})[kind] = len(body)
        return Reply(200, {"upload_id": upload_id, "xsharing_nonces": {}, "status": "ok"})

    def _uploaded(self, upload_id: str, *kinds: str) -> bool:
        with self.lock:
            have = self.uploads.get(str(upload_id), {})
        return all(kind in have for kind in kinds)

    def _configure(self, request: Recorded, user: User) -> Reply:
        data = _signed(request)
        endpoint = request.path.removeprefix("/api/v1/media/").strip("/")
        is_video = request.query.get("video") == ["1"]
        caption = data.get("caption", "")
        # Feed videos and reels come with a cover photo under the same upload id; a story video's
        # cover is cut by Instagram (``extract_cover_frame``).
        needs = ("photo",) if not is_video else ("video",) if endpoint == "configure_to_story" else ("video", "photo")
        if endpoint == "configure_sidecar":
            children = data.get("children_metadata") or []
            if not 2 <= len(children) <= 10:
                return Reply(400, {"message": "Invalid number of children", "status": "fail"})
            for child in children:
                if not self._uploaded(child["upload_id"], *(("video", "photo") if "clips" in child else ("photo",))):
                    return Reply(*FAILURES["media_needs_reupload"])
            items = [self._media(user, 2 if "clips" in c else 1, "", "carousel_item") for c in children]
            media = self._media(user, 8, caption, "carousel_container", carousel=items)
        else:
            if not self._uploaded(data.get("upload_id", ""), *needs):
                return Reply(*FAILURES["media_needs_reupload"])
            product = {"configure": "feed", "configure_to_clips": "clips", "configure_to_story": "story"}[endpoint]
            media = self._media(user, 2 if is_video else 1, caption, product)
        with self.lock:
            (user.stories if endpoint == "configure_to_story" else user.medias).insert(0, media)
        return Reply(200, {"media": media, "upload_id": data.get("upload_id"), "status": "ok"})

    def _media(self, user: User, media_type: int, caption: str, product_type: str, carousel: list | None = None) -> dict:
        pk = str(next(self._ids))
        media = {
            "pk": pk,
            "id": f"{pk}_{user.pk}",
            "code": base64.urlsafe_b64encode(pk.encode()).decode()[:11],
            "taken_at": int(time.time()),
            "media_type": media_type,
            "product_type": product_type,
            "user": {"pk": user.pk, "username": user.username},
            "caption": {"text": caption} if caption else None,
            "like_count": 0,
            "image_versions2": {
                "candidates": [
                    {"url": f"https://scontent.cdninstagram.com/{pk}.jpg", "width": 1080, "height": 1080},
                    {"url": f"https://scontent.cdninstagram.com/{pk}_s320.jpg", "width": 320, "height": 320},
                ]
            },
        }
        if media_type == 2:
            media["video_versions"] = [
                {"type": 101, "url": f"{CDN}/{pk}_480.mp4", "width": 480, "height": 854},
                {"type": 102, "url": f"{CDN}/{pk}.mp4", "width": 720, "height": 1280},
            ]
            media["video_duration"] = 3.0
        if carousel is not None:
            media["carousel_media"] = carousel
            media.pop("image_versions2")
        return media

    # --- statistics (media/{pk}/info/, instagrapi's media_info) --------------------------------

    def _find_media(self, pk: str) -> dict | None:
        for user in self.users.values():
            for media in [*user.medias, *user.stories]:
                if media["pk"] == pk:
                    return media
        return None

    def _media_info(self, path: str) -> Reply:
        media = self._find_media(path.removeprefix("/api/v1/media/").removesuffix("/info/"))
        if media is None:
            return Reply(400, {"message": "Media not found or unavailable", "status": "fail"})
        return Reply(200, {"items": [media], "num_results": 1, "more_available": False, "status": "ok"})

    def set_counts(self, pk: str, **counts: Any) -> None:
        """like_count, comment_count, play_count (reels), view_count, like_and_view_counts_disabled."""
        self._find_media(pk).update(counts)


def _signed(request: Recorded) -> dict:
    """The JSON inside instagrapi's ``signed_body=SIGNATURE.<json>`` form field."""
    signed = request.param("signed_body") or ""
    try:
        return json.loads(signed.removeprefix("SIGNATURE."))
    except ValueError:
        return {}
