"""A loopback VK API (5.199): ``/method/<name>`` with the ``{"response": …}`` and
``{"error": {error_code, error_msg, request_params}}`` envelopes (HTTP 200),
user and community tokens, communities with their managers, upload servers on
the emulator itself (photo field ``photo``, video field ``video_file``), walls
for wall.get, ``guid`` idempotency, and failures on demand.

    with VkEmulator() as vk:
        vk.add_user(100, "user-token")
        vk.add_group(1, "Crosspost", admins={100: 3})
        vk.fail_next(14)                                   # any method: captcha needed
        vk.fail_next({"code": 214, "method": "wall.post"})
        vk.fail_next({"http": 500, "method": "photos.saveWallPhoto"})
        vk.fail_next({"stall": 1.0, "after": True, "method": "wall.post"})  # post, then answer late
        vk.fail_next({"reject": True, "method": "upload.photo"})            # the upload server refuses the file
        vk.add_wall_post(-1, "Hello", photos=2, is_pinned=True)             # a post made on VK, for wall.get
        vk.close_wall(-1)                                    # members only: wall.get answers error 15

wall.get takes ``owner_id`` or ``domain`` (a community's screen_name, a user's ``id<N>`` or
screen_name), ``offset``, ``count`` (at most 100) and ``filter`` (``owner``: the owner's posts
only); a pinned post comes first, the rest newest first. A closed community's wall is error 15,
a private profile's error 30, a deleted user's error 18, an unknown domain error 100.

video.save (https://dev.vk.com/method/video.save; the parameters and errors of the 5.199 schema,
VKCOM/vk-api-schema video/methods.json) takes ``name``, ``description``, ``wallpost``, ``group_id``,
``album_id`` (int32 ≥ 0) and ``privacy_view`` (privacy categories, comma-separated). An
``album_id`` that is not a number is error 100; one the owner (the user, or the community with
``group_id``) has no such album of (``vk.add_video_album(owner_id, title)``) is error 204, Access
denied — the one access error the schema lists for video.save. ``privacy_view`` for a community
video is ignored, as VK documents it for videos on the user's own page only. The saved video
keeps ``album_ids`` and ``privacy_view`` (``vk.videos``), and the album its videos
(``vk.video_albums[owner][album]["videos"]``).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from collections import defaultdict
from typing import Any

from .base import Emulator, Recorded, Reply

ERROR_MESSAGES = {
    1: "Unknown error occurred",
    3: "Unknown method passed",
    5: "User authorization failed: invalid access_token (4).",
    6: "Too many requests per second",
    7: "Permission to perform this action is denied",
    8: "Invalid request: v (version) is required",
    9: "Flood control",
    10: "Internal server error",
    14: "Captcha needed",
    15: "Access denied",
    17: "Validation required: please open redirect_uri in browser",
    18: "User was deleted or banned",
    22: "Upload error",
    27: "Group authorization failed: method is unavailable with group auth.",
    29: "Rate limit reached",
    30: "This profile is private",
    100: "One of the parameters specified was missing or invalid",
    121: "Invalid hash",
    129: "Invalid photo",
    200: "Access to album denied",
    203: "Access to group denied",
    214: "Access to adding post denied",
}
# Methods the 5.199 schema allows with user tokens only.
USER_ONLY = {"wall.post", "photos.getWallUploadServer", "photos.saveWallPhoto", "video.save"}


class VkApiError(Exception):
    def __init__(self, code: int, message: str | None = None, **extra: Any) -> None:
        super().__init__(code)
        self.code, self.message, self.extra = code, message or ERROR_MESSAGES.get(code, "Error"), extra


class VkEmulator(Emulator):
    def __init__(self) -> None:
        super().__init__()
        self.users: dict[int, dict] = {}
        self.tokens: dict[str, dict] = {}  # token -> {"type": "user", "user_id"} | {"type": "group", "group_id"}
        self.groups: dict[int, dict] = {}  # id -> group (+ "managers": {user id: admin_level})
        self.walls: dict[int, list[dict]] = defaultdict(list)  # owner id -> posts, oldest first
        self.photos: dict[str, dict] = {}  # "<owner>_<id>" -> photo
        self.videos: dict[str, dict] = {}  # "<owner>_<id>" -> video
        self.files: dict[str, bytes] = {}  # served at GET /files/<name> (media in remote storage)
        self.uploaded: list[tuple[str, str, bytes]] = []  # (field, filename, bytes) the upload servers received
        self.next_id = {"photo": 457239017, "video": 456239017, "post": 1}
        self._guids: dict[tuple[int, str], int] = {}
        self._upload_servers: dict[str, dict] = {}  # key -> what the upload is for
        self.video_albums: dict[int, dict[int, dict]] = defaultdict(dict)  # owner id -> album id -> album
        self._pending_photos: dict[str, dict] = {}  # uploaded "photo" string -> upload info

    # --- setup --------------------------------------------------------------------------------

    def add_user(
        self, user_id: int, token: str = "", *, first_name: str = "Ivan", last_name: str = "Petrov", open_wall=False, **extra
    ):
        """A user; ``token`` (if any) is theirs; ``extra``: ``screen_name``, ``is_closed``, ``deactivated``."""
        self.users[user_id] = {
            "id": user_id,
            "first_name": first_name,
            "last_name": last_name,
            "open_wall": open_wall,
            **extra,
        }
        if not token:
            return self.users[user_id]
        self.tokens[token] = {"type": "user", "user_id": user_id}
        return self.users[user_id]

    def add_group(self, group_id: int, name: str = "Crosspost", screen_name: str | None = None, *, admins=None) -> dict:
        """A community; ``admins`` maps user ids to admin_level (1 moderator, 2 editor, 3 administrator)."""
        self.groups[group_id] = {
            "id": group_id,
            "name": name,
            "screen_name": screen_name or f"club{group_id}",
            "is_closed": 0,
            "type": "page",
            "managers": dict(admins or {}),
        }
        return self.groups[group_id]

    def close_wall(self, group_id: int, members: tuple[int, ...] = ()) -> None:
        """A closed community: only ``members`` (and its managers) may read its wall."""
        group = self.groups[group_id]
        group.update(is_closed=1, members=set(members))

    def add_wall_post(
        self,
        owner_id: int,
        text: str = "",
        *,
        photos: int = 0,
        links: tuple[str, ...] = (),
        copy_history: list[dict] | None = None,
        marked_as_ads: bool = False,
        is_pinned: bool = False,
        from_id: int | None = None,
        date: int | None = None,
    ) -> dict:
        """A post made on VK (not through wall.post); ``photos``: how many, each with several sizes."""
        post_id = self._new_id("post")
        attachments = [{"type": "photo", "photo": self._wall_photo(owner_id)} for _ in range(photos)]
        attachments += [{"type": "link", "link": {"url": url, "title": url, "caption": "", "description": ""}} for url in links]
        post = {
            "id": post_id,
            "owner_id": owner_id,
            "from_id": owner_id if from_id is None else from_id,
            "date": int(time.time()) if date is None else date,
            "text": text,
            "attachments": attachments,
            "post_type": "copy" if copy_history else "post",
            "marked_as_ads": int(marked_as_ads),
            "comments": {"count": 0, "can_post": 1},
            "likes": {"count": 0, "user_likes": 0, "can_like": 1},
            "reposts": {"count": 0, "user_reposted": 0},
            "views": {"count": 1},
        }
        if copy_history:
            post["copy_history"] = copy_history
        if is_pinned:
            for other in self.walls[owner_id]:
                other.pop("is_pinned", None)
            post["is_pinned"] = 1
        self.walls[owner_id].append(post)
        return post

    def _wall_photo(self, owner_id: int) -> dict:
        photo_id = self._new_id("photo")
        base = f"{self.url}/photos/{owner_id}_{photo_id}"
        # VK lists sizes by type letter, not by size: the largest is not last.
        sizes = [
            {"type": "s", "url": f"{base}_s.jpg", "width": 75, "height": 50},
            {"type": "w", "url": f"{base}_w.jpg", "width": 2560, "height": 1707},
            {"type": "x", "url": f"{base}_x.jpg", "width": 604, "height": 403},
        ]
        photo = {"id": photo_id, "album_id": -7, "owner_id": owner_id, "date": int(time.time()), "sizes": sizes, "text": ""}
        photo["has_tags"] = False
        self.photos[f"{owner_id}_{photo_id}"] = photo
        return photo

    def add_video_album(self, owner_id: int, title: str = "Recordings") -> int:
        """A video album of ``owner_id`` (a user, or minus a community id); returns its id."""
        album_id = len(self.video_albums[owner_id]) + 50
        self.video_albums[owner_id][album_id] = {"id": album_id, "owner_id": owner_id, "title": title, "videos": []}
        return album_id

    def add_group_token(self, token: str, group_id: int) -> None:
        self.tokens[token] = {"type": "group", "group_id": group_id}

    def _new_id(self, kind: str) -> int:
        value = self.next_id[kind]
        self.next_id[kind] += 1
        return value

    # --- protocol -----------------------------------------------------------------------------

    def _take_failure_for(self, method: str) -> dict | None:
        with self.lock:
            for index, failure in enumerate(self._failures):
                failure = {"code": failure} if isinstance(failure, int) else failure
                if failure.get("method") in (None, method):
                    del self._failures[index]
                    return failure
        return None

    def handle(self, request: Recorded) -> Reply:
        if request.method == "GET" and request.path.startswith("/files/"):
            name = request.path.removeprefix("/files/")
            return Reply(200, self.files[name]) if name in self.files else Reply(404, "not found")
        if request.path.startswith("/upload/"):
            return self._upload(request)
        match = re.fullmatch(r"/method/(?P<name>[\w.]+)", request.path)
        if not match:
            return Reply(404, "not found")
        method = match["name"]
        params = {k: v[0] for k, v in request.query.items()}
        params.update({k: v[0] for k, v in request.form.items()})
        try:
            identity = self._identity(params, request)
            failure = self._take_failure_for(method)
            if failure and not failure.get("after"):
                if failure.get("stall"):
                    time.sleep(failure["stall"])
                if failure.get("http"):
                    return Reply(failure["http"], "<html><body>502 Bad Gateway</body></html>")
                raise VkApiError(failure["code"], failure.get("message"), **failure.get("extra", {}))
            handler = getattr(self, "_" + method.replace(".", "_"), None)
            if handler is None:
                raise VkApiError(3)
            if method in USER_ONLY and identity["type"] != "user":
                raise VkApiError(27)
            response = handler(identity, params)
        except VkApiError as error:
            return Reply(200, {"error": self._error_body(error, method, params)})
        if failure:  # "after": the call took effect, the answer comes late or broken
            time.sleep(failure.get("stall", 0))
            if failure.get("http"):
                return Reply(failure["http"], "<html><body>500 Internal Server Error</body></html>")
        return Reply(200, {"response": response})

    def _identity(self, params: dict, request: Recorded) -> dict:
        if not params.get("v"):
            raise VkApiError(8)
        token = params.get("access_token") or request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not token:
            raise VkApiError(5, "User authorization failed: no access_token passed.")
        identity = self.tokens.get(token)
        if identity is None:
            raise VkApiError(5)
        return identity

    def _error_body(self, error: VkApiError, method: str, params: dict) -> dict:
        body: dict[str, Any] = {
            "error_code": error.code,
            "error_msg": error.message,
            # VK echoes the request, never the token.
            "request_params": [{"key": "method", "value": method}, {"key": "oauth", "value": "1"}]
            + [{"key": k, "value": v} for k, v in params.items() if k != "access_token"],
        }
        if error.code == 14:
            sid = str(239633676097 + len(self.requests))
            body.update(captcha_sid=sid, captcha_img=f"{self.url}/captcha.php?sid={sid}&s=1")
        if error.code == 17:
            body["redirect_uri"] = f"{self.url}/login?act=validate&api_hash=0f1e2d"
        body.update(error.extra)
        return body

    # --- uploads ------------------------------------------------------------------------------

    def _upload(self, request: Recorded) -> Reply:
        kind, _, key = request.path.removeprefix("/upload/").partition("/")
        server = self._upload_servers.get(key)
        if server is None or server["kind"] != kind:
            return Reply(200, {"error": "ERR_UPLOAD_BAD_URL: invalid upload url"})
        failure = self._take_failure_for(f"upload.{kind}")
        field = "photo" if kind == "photo" else "video_file"
        part = request.files.get(field)
        if part is not None:
            self.uploaded.append((field, part[0], part[2]))
        if kind == "photo":
            if part is None or (failure and failure.get("reject")):
                return Reply(200, {"server": server["server"], "photo": "[]", "hash": hashlib.md5(b"[]").hexdigest()})  # noqa: S324
            photo = json.dumps([{"markers_restarted": True, "photo": f"{uuid.uuid4().hex[:10]}:w", "sizes": [], "kid": key}])
            photo_hash = hashlib.md5(photo.encode()).hexdigest()  # noqa: S324 — an opaque checksum, as VK's
            self._pending_photos[photo] = {**server, "hash": photo_hash, "size": len(part[2])}
            return Reply(200, {"server": server["server"], "photo": photo, "hash": photo_hash})
        if part is None or (failure and failure.get("reject")):
            return Reply(200, {"error": "invalid file"})
        video = self.videos[server["video"]]
        video.update(size=len(part[2]), uploaded=True)
        return Reply(
            200,
            {
                "video_hash": hashlib.md5(part[2]).hexdigest(),  # noqa: S324
                "size": len(part[2]),
                "owner_id": video["owner_id"],
                "video_id": video["id"],
                "direct_link": f"{self.url}/video{video['owner_id']}_{video['id']}",
            },
        )

    # --- methods ------------------------------------------------------------------------------

    def _group(self, raw: str | None) -> dict:
        try:
            return self.groups[int(raw or "")]
        except (KeyError, ValueError):
            raise VkApiError(100, "One of the parameters specified was missing or invalid: group_id is invalid") from None

    def _users_get(self, identity: dict, params: dict) -> list:
        ids = [int(i) for i in (params.get("user_ids") or "").split(",") if i.strip()]
        if not ids:
            if identity["type"] != "user":
                return []  # a community token has no "current user"
            ids = [identity["user_id"]]
        fields = (params.get("fields") or "").split(",")
        result = []
        for user_id in ids:
            if user_id not in self.users:
                continue
            user = {k: v for k, v in self.users[user_id].items() if k in ("id", "first_name", "last_name")}
            user.update(can_access_closed=True, is_closed=False)
            if "can_post" in fields:
                me = identity.get("user_id")
                user["can_post"] = int(user_id == me or self.users[user_id]["open_wall"])
            result.append(user)
        return result

    def _groups_getById(self, identity: dict, params: dict) -> dict:
        ids = params.get("group_ids") or params.get("group_id")
        groups = []
        for raw in (ids or "").split(","):
            group = self._group(raw)
            item = {k: v for k, v in group.items() if k != "managers"}
            level = group["managers"].get(identity.get("user_id"))
            item.update(is_admin=int(bool(level)), is_member=int(bool(level)))
            if level:
                item["admin_level"] = level
            groups.append(item)
        return {"groups": groups, "profiles": []}

    def _photos_getWallUploadServer(self, identity: dict, params: dict) -> dict:
        group = self._group(params["group_id"]) if params.get("group_id") else None
        key = uuid.uuid4().hex
        self._upload_servers[key] = {
            "kind": "photo",
            "server": 856312,
            "group_id": group["id"] if group else None,
            "user_id": identity["user_id"],
        }
        response = {"album_id": -14, "upload_url": f"{self.url}/upload/photo/{key}", "user_id": identity["user_id"]}
        if group:
            response["group_id"] = group["id"]
        return response

    def _photos_saveWallPhoto(self, identity: dict, params: dict) -> list:
        photo = params.get("photo")
        if not photo:
            raise VkApiError(100, "One of the parameters specified was missing or invalid: photo is undefined")
        if photo == "[]":
            raise VkApiError(100, "One of the parameters specified was missing or invalid: photos_list is invalid")
        upload = self._pending_photos.get(photo)
        if upload is None or params.get("hash") != upload["hash"]:
            raise VkApiError(121)
        if str(upload["server"]) != str(params.get("server")):
            raise VkApiError(118, "Invalid server")
        group_id = int(params["group_id"]) if params.get("group_id") else None
        if group_id != upload["group_id"]:
            raise VkApiError(100, "One of the parameters specified was missing or invalid: group_id does not match the upload")
        del self._pending_photos[photo]
        owner_id = -group_id if group_id else identity["user_id"]
        photo_id = self._new_id("photo")
        saved = {
            "id": photo_id,
            "album_id": -14,
            "owner_id": owner_id,
            "user_id": identity["user_id"],
            "date": int(time.time()),
            "sizes": [{"type": "x", "url": f"{self.url}/photo{owner_id}_{photo_id}.jpg", "width": 604, "height": 403}],
            "text": params.get("caption", ""),
            "has_tags": False,
            "access_key": uuid.uuid4().hex[:18],
        }
        self.photos[f"{owner_id}_{photo_id}"] = saved
        return [saved]

    def _video_save(self, identity: dict, params: dict) -> dict:
        group = self._group(params["group_id"]) if params.get("group_id") else None
        owner_id = -group["id"] if group else identity["user_id"]
        album = None
        if params.get("album_id"):
            if not params["album_id"].isdigit():
                raise VkApiError(100, "One of the parameters specified was missing or invalid: album_id not integer")
            album = self.video_albums[owner_id].get(int(params["album_id"]))
            if album is None:
                raise VkApiError(204, "Access denied")
        privacy_view = [p for p in (params.get("privacy_view") or "").split(",") if p] if group is None else []
        video_id = self._new_id("video")
        key = uuid.uuid4().hex
        self.videos[f"{owner_id}_{video_id}"] = {
            "id": video_id,
            "owner_id": owner_id,
            "title": params.get("name") or "Untitled",
            "description": params.get("description", ""),
            "uploaded": False,
            "album_ids": [album["id"]] if album else [],
            "privacy_view": privacy_view or ["all"],
        }
        if album:
            album["videos"].append(video_id)
        self._upload_servers[key] = {"kind": "video", "video": f"{owner_id}_{video_id}"}
        return {
            "access_key": uuid.uuid4().hex[:18],
            "description": params.get("description", ""),
            "owner_id": owner_id,
            "title": params.get("name") or "Untitled",
            "upload_url": f"{self.url}/upload/video/{key}",
            "video_id": video_id,
        }

    def _wall_post(self, identity: dict, params: dict) -> dict:
        user_id = identity["user_id"]
        owner_id = int(params.get("owner_id") or user_id)
        from_group = params.get("from_group") == "1"
        if owner_id < 0:
            group = self._group(str(-owner_id))
            if from_group and group["managers"].get(user_id, 0) < 2:
                raise VkApiError(15, "Access denied: no access to call this method")
        elif owner_id != user_id and not self.users.get(owner_id, {}).get("open_wall"):
            raise VkApiError(214, "Access to adding post denied: access to the wall is denied")
        message = params.get("message") or ""
        attachments = []
        for ref in filter(None, (params.get("attachments") or "").split(",")):
            match = re.fullmatch(r"(photo|video)(-?\d+_\d+)", ref)
            store = {"photo": self.photos, "video": self.videos}.get(match[1]) if match else None
            if store is None or match[2] not in store:
                raise VkApiError(100, f"One of the parameters specified was missing or invalid: attachments is invalid ({ref})")
            media = {k: v for k, v in store[match[2]].items() if k not in ("uploaded", "album_ids", "privacy_view")}
            attachments.append({"type": match[1], match[1]: media})
        if not message and not attachments:
            raise VkApiError(100, "One of the parameters specified was missing or invalid: message is empty or invalid")
        if len(attachments) > 10:
            raise VkApiError(100, "One of the parameters specified was missing or invalid: too many attachments")
        guid = params.get("guid")
        if guid and (owner_id, guid) in self._guids:
            return {"post_id": self._guids[(owner_id, guid)]}
        post_id = self._new_id("post")
        self.walls[owner_id].append(
            {
                "id": post_id,
                "owner_id": owner_id,
                "from_id": owner_id if (owner_id < 0 and from_group) else user_id,
                "created_by": user_id,
                "date": int(time.time()),
                "text": message,
                "attachments": attachments,
                "post_type": "post",
                "comments": {"count": 0, "can_post": 1},
                "likes": {"count": 0, "user_likes": 0, "can_like": 1},
                "reposts": {"count": 0, "user_reposted": 0},
                "views": {"count": 1},
            }
        )
        if guid:
            self._guids[(owner_id, guid)] = post_id
        return {"post_id": post_id}

    def _wall_owner(self, identity: dict, params: dict) -> int:
        domain = (params.get("domain") or "").strip()
        if params.get("owner_id"):
            return int(params["owner_id"])
        if not domain:
            return identity.get("user_id") or -identity["group_id"]
        for group in self.groups.values():
            if group["screen_name"] == domain or domain == f"club{group['id']}":
                return -group["id"]
        for user in self.users.values():
            if user.get("screen_name") == domain or domain == f"id{user['id']}":
                return user["id"]
        raise VkApiError(100, "One of the parameters specified was missing or invalid: owner_id not integer")

    def _wall_get(self, identity: dict, params: dict) -> dict:
        owner_id = self._wall_owner(identity, params)
        reader = identity.get("user_id")
        if owner_id < 0:
            group = self._group(str(-owner_id))
            if group["is_closed"] and reader not in group.get("members", ()) and reader not in group["managers"]:
                raise VkApiError(15, "Access denied: this wall available only for community members")
        elif owner_id in self.users:
            user = self.users[owner_id]
            if user.get("deactivated"):
                raise VkApiError(18, "User was deleted or banned")
            if user.get("is_closed") and reader != owner_id:
                raise VkApiError(30)
        offset, count = int(params.get("offset") or 0), min(int(params.get("count") or 20), 100)
        posts = list(reversed(self.walls.get(owner_id, [])))  # newest first
        if params.get("filter") == "owner":
            posts = [p for p in posts if p["from_id"] == owner_id]
        posts.sort(key=lambda p: not p.get("is_pinned"))  # the pinned post first (a stable sort keeps the rest)
        return {"count": len(posts), "items": posts[offset : offset + count]}

    # --- statistics (wall.getById) ------------------------------------------------------------

    def set_counters(self, owner_id: int, post_id: int, **counts: int | None) -> None:
        """Set a post's views / likes / reposts / comments counts (None: leave the counter out)."""
        post = next(p for p in self.walls[owner_id] if p["id"] == post_id)
        for key, value in counts.items():
            if value is None:
                post.pop(key, None)
            else:
                post[key] = {**post.get(key, {}), "count": value}

    def _wall_getById(self, identity: dict, params: dict) -> dict:
        if not params.get("posts"):
            raise VkApiError(100, "One of the parameters specified was missing or invalid: posts is undefined")
        items = []
        for ref in params["posts"].split(","):
            match = re.fullmatch(r"(-?\d+)_(\d+)", ref.strip())
            if not match:
                continue  # VK skips what it cannot parse or see, it does not fail the call
            post = next((p for p in self.walls.get(int(match[1]), []) if p["id"] == int(match[2])), None)
            if post is not None:
                items.append(post)
        return {"items": items}
