"""A loopback emulator of the Instagram Graph API's content publishing, and the
public media host Meta fetches from.

:class:`InstagramGraphEmulator` serves ``/{version}/…`` as documented for
v21.0 (PLATFORM_APIS §3): ``POST /{ig}/media`` creates a container and — like
Meta, which "cURLs" the media — fetches its ``image_url``/``video_url`` at once
(a failed fetch or a non-JPEG image makes the container ERROR); image
containers are FINISHED at once, video containers stay IN_PROGRESS for
``processing_polls`` status reads; carousels take 2–10 ``is_carousel_item``
children; ``GET /{container}?fields=status_code,status``; ``POST
/{ig}/media_publish`` (9007/2207027 before FINISHED, 9/2207042 at the limit);
``GET /{ig}/content_publishing_limit``; ``GET /{media}?fields=permalink``;
``GET /{ig}/media`` and ``/{ig}/stories`` (newest first, ``limit`` (default 25, at most 100) a
page, ``paging.cursors.after`` and ``paging.next`` while more remain, nested fields such as
``children{media_url,media_type}``); ``GET /{ig}?fields=username``.
A wrong token is error 190. Errors are injected per call with :meth:`fail`.

:class:`MediaHost` is the "public" web server: ``MEDIA_ROOT`` under ``/files/``,
what ``PUBLIC_MEDIA_BASE_URL`` points Meta to in tests.
"""

from __future__ import annotations

import base64
import itertools
import mimetypes
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import requests

from .base import Emulator, Recorded, Reply

VERSION = "v21.0"
CDN = "https://scontent.cdninstagram.com/v/t51.29350-15"
QUOTA_DURATION = 86400


class _FastEmulator(Emulator):
    def __init__(self) -> None:
        super().__init__()
        # Headers and body leave in two writes: without this, every answer waits for a delayed ACK.
        self.server.RequestHandlerClass.disable_nagle_algorithm = True

    def __enter__(self):
        # A short poll interval: shutting down waits for it (0.5 s by default, on every test).
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        return super().__enter__()


class MediaHost(_FastEmulator):
    """Serves the files under ``root`` at ``/files/<relative path>``; records every fetch."""

    def __init__(self, root: Path, prefix: str = "/files/") -> None:
        super().__init__()
        self.root = Path(root).resolve()
        self.prefix = prefix

    def handle(self, request: Recorded) -> Reply:
        if not request.path.startswith(self.prefix):
            return Reply(404, "Not Found")
        path = (self.root / request.path.removeprefix(self.prefix)).resolve()
        if not path.is_file() or self.root not in path.parents:
            return Reply(404, "Not Found")
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return Reply(200, path.read_bytes(), headers={"Content-Type": ctype})


@dataclass
class Container:
    id: str
    owner: str
    kind: str  # IMAGE, VIDEO, REELS, STORIES, CAROUSEL
    url: str = ""
    caption: str = ""
    is_carousel_item: bool = False
    children: list[str] = field(default_factory=list)
    status_code: str = "IN_PROGRESS"
    status: str = ""
    polls_left: int = 0
    params: dict = field(default_factory=dict)


@dataclass
class Published:
    id: str
    owner: str
    caption: str
    media_type: str  # IMAGE, VIDEO, CAROUSEL_ALBUM
    product: str  # FEED, REELS, STORY
    timestamp: datetime
    permalink: str
    container_id: str = ""
    media_url: str = ""
    children: list[tuple[str, str, str]] = field(default_factory=list)  # (id, media_type, media_url)

    def fields(self, names: list[str], nested: dict[str, list[str]] | None = None) -> dict:
        nested = nested or {}
        children = [{"id": cid, "media_type": kind, "media_url": url} for cid, kind, url in self.children]
        values = {
            "id": self.id,
            "caption": self.caption,
            "media_type": self.media_type,
            "media_product_type": self.product,
            "timestamp": self.timestamp.strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "permalink": self.permalink,
            "shortcode": self.permalink.rstrip("/").rsplit("/", 1)[-1],
            # A carousel's media_url is its first item's; the thumbnail is a video's only.
            "media_url": self.media_url or (self.children[0][2] if self.children else ""),
            "thumbnail_url": f"{self.media_url}.thumbnail.jpg" if self.media_type == "VIDEO" and self.media_url else "",
        }
        if self.children:
            values["children"] = {
                "data": [{k: v for k, v in child.items() if k == "id" or k in nested.get("children", [])} for child in children]
            }
        chosen = {"id": self.id}
        for name in names:
            if name in values and (name not in ("caption", "media_url", "thumbnail_url") or values[name]):
                chosen[name] = values[name]  # Graph leaves out what is empty
        return chosen


def parse_fields(value: str) -> tuple[list[str], dict[str, list[str]]]:
    """``id,children{media_url,media_type}`` → (["id", "children"], {"children": ["media_url", "media_type"]})."""
    names: list[str] = []
    nested: dict[str, list[str]] = {}
    for match in re.finditer(r"(\w+)(?:\{([^}]*)\})?", value):
        names.append(match[1])
        if match[2] is not None:
            nested[match[1]] = [n for n in match[2].split(",") if n]
    return names, nested


@dataclass
class GraphAccount:
    ig_user_id: str
    token: str
    username: str
    quota_total: int = 50
    quota_usage: int = 0


def graph_error(code: int, message: str, subcode: int | None = None, kind: str = "OAuthException") -> dict:
    error = {"message": message, "type": kind, "code": code, "fbtrace_id": "AbCdEfGh123"}
    if subcode:
        error["error_subcode"] = subcode
    return {"error": error}


class InstagramGraphEmulator(_FastEmulator):
    def __init__(self, *, processing_polls: int = 2) -> None:
        super().__init__()
        self.accounts: dict[str, GraphAccount] = {}
        self.containers: dict[str, Container] = {}
        self.media: dict[str, Published] = {}
        self.processing_polls = processing_polls
        self.fetches: list[tuple[str, int]] = []  # (url, HTTP status or 0 when unreachable)
        # Outcomes forced on the next containers created: "EXPIRED", "ERROR:<subcode>", "STUCK".
        self.container_outcomes: list[str] = []
        self.lose_publish_answers = 0  # media_publish publishes, then answers 500
        self._ids = itertools.count(17_890_000_000_000_001)
        self._injected: list[tuple[str, int, Reply]] = []
        self.insight_values: dict[str, dict[str, int]] = {}  # media id -> metric -> lifetime value
        self.refused_metrics: dict[str, str] = {}  # metric -> the error 100 message Meta refuses it with

    @property
    def base_url(self) -> str:
        return f"{self.url}/{VERSION}"

    def add_account(self, ig_user_id: str, token: str, username: str, quota_total: int = 50) -> GraphAccount:
        account = GraphAccount(ig_user_id=ig_user_id, token=token, username=username, quota_total=quota_total)
        self.accounts[ig_user_id] = account
        return account

    def fail(
        self,
        where: str,
        code: int,
        subcode: int | None = None,
        *,
        status: int = 400,
        message: str = "Injected error",
        headers: dict | None = None,
        times: int = 1,
    ) -> None:
        """The next ``times`` calls of ``where`` (create, status, publish, limit, user, list, permalink) fail."""
        reply = Reply(status, graph_error(code, message, subcode), headers=headers or {})
        with self.lock:
            self._injected.extend([(where, code, reply)] * times)

    def calls(self, method: str, suffix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.endswith(suffix)]

    def published(self, ig_user_id: str | None = None) -> list[Published]:
        return [m for m in self.media.values() if ig_user_id is None or m.owner == ig_user_id]

    def add_published(
        self,
        ig_user_id: str,
        *,
        caption: str,
        when: datetime,
        product: str = "FEED",
        kind: str = "IMAGE",
        children: tuple[str, ...] = (),
    ) -> Published:
        """A post that exists already (published by hand, or by an earlier attempt); ``children``:
        a CAROUSEL_ALBUM's items, "IMAGE" or "VIDEO" each."""
        media = self._publish_record(ig_user_id, caption, kind, product, when)
        suffix = ".mp4" if kind == "VIDEO" else ".jpg"
        if kind != "CAROUSEL_ALBUM":
            media.media_url = f"{CDN}/{media.id}{suffix}"
        for position, child_kind in enumerate(children):
            child_id = str(next(self._ids))
            url = f"{CDN}/{media.id}_{position}{'.mp4' if child_kind == 'VIDEO' else '.jpg'}"
            media.children.append((child_id, child_kind, url))
        return media

    # --- dispatch

    def _take(self, where: str) -> Reply | None:
        with self.lock:
            for index, (group, _code, reply) in enumerate(self._injected):
                if group == where:
                    del self._injected[index]
                    return reply
        return None

    def handle(self, request: Recorded) -> Reply:
        parts = request.path.strip("/").split("/")
        if not parts or parts[0] != VERSION:
            return Reply(404, graph_error(803, f"Unknown path {request.path}"))
        parts = parts[1:]
        token = request.param("access_token") or ""
        owner = parts[0]
        if owner in self.accounts:
            account = self.accounts[owner]
        else:
            obj = self.containers.get(owner) or self.media.get(owner)
            if obj is None:
                return Reply(400, graph_error(100, f"Unsupported get request. Object with ID '{owner}' does not exist", 33))
            account = self.accounts[obj.owner]
        if token != account.token:
            return Reply(400, graph_error(190, "Error validating access token: Session has expired.", 463))
        edge = parts[1] if len(parts) > 1 else ""
        route = (request.method, bool(owner in self.accounts), edge)
        if route == ("POST", True, "media"):
            return self._take("create") or self._create(request, account)
        if route == ("POST", True, "media_publish"):
            return self._take("publish") or self._publish(request, account)
        if route == ("GET", True, "content_publishing_limit"):
            limit = {
                "quota_usage": account.quota_usage,
                "config": {"quota_total": account.quota_total, "quota_duration": QUOTA_DURATION},
            }
            return self._take("limit") or Reply(200, {"data": [limit]})
        if route == ("GET", True, "media") or route == ("GET", True, "stories"):
            return self._take("list") or self._list(request, account, stories=edge == "stories")
        if route == ("GET", True, ""):
            return self._take("user") or Reply(200, {"id": account.ig_user_id, "username": account.username})
        if route == ("GET", False, "") and owner in self.containers:
            return self._take("status") or self._status(self.containers[owner])
        if route == ("GET", False, "") and owner in self.media:
            names = (request.param("fields") or "id").split(",")
            return self._take("permalink") or Reply(200, self.media[owner].fields(names))
        if route == ("GET", False, "insights") and owner in self.media:
            return self._take("insights") or self._insights(request, self.media[owner])
        return Reply(400, graph_error(100, f"Unsupported {request.method} request: {request.path}"))

    # --- containers

    def _fetch(self, url: str) -> tuple[int, bytes]:
        session = requests.Session()
        session.trust_env = False  # a machine-wide proxy must not stand between loopback servers
        try:
            response = session.get(url, timeout=5)
        except requests.RequestException:
            self.fetches.append((url, 0))
            return 0, b""
        self.fetches.append((url, response.status_code))
        return response.status_code, response.content

    def _create(self, request: Recorded, account: GraphAccount) -> Reply:
        media_type = request.param("media_type") or ""
        image_url, video_url = request.param("image_url") or "", request.param("video_url") or ""
        carousel_item = request.param("is_carousel_item") == "true"
        container = Container(
            id=str(next(self._ids)),
            owner=account.ig_user_id,
            kind=media_type or "IMAGE",
            caption=request.param("caption") or "",
            is_carousel_item=carousel_item,
            params={k: v[0] for k, v in request.form.items() if k != "access_token"},
        )
        if media_type == "CAROUSEL":
            children = [c for c in (request.param("children") or "").split(",") if c]
            valid = all(
                c in self.containers and self.containers[c].is_carousel_item and self.containers[c].owner == account.ig_user_id
                for c in children
            )
            if not 2 <= len(children) <= 10 or not valid:
                return Reply(400, graph_error(100, "Your post won't work as a carousel.", 2207028))
            container.children = children
        else:
            wanted = "video_url" if media_type in ("REELS", "VIDEO") else "image_url" if not media_type else ""
            url = image_url or video_url
            if (wanted and not request.param(wanted)) or not url:
                return Reply(400, graph_error(100, f"The parameter {wanted or 'image_url or video_url'} is required."))
            container.url = url
            status, body = self._fetch(url)
            if status != 200:
                container.status_code, container.status = "ERROR", f"2207052: The media could not be fetched from this uri: {url}"
            elif image_url and body[:3] != b"\xff\xd8\xff":
                container.status_code, container.status = "ERROR", "2207005: The image format is not supported. Only JPEG."
            elif video_url:
                container.polls_left = self.processing_polls
            else:
                container.status_code = "FINISHED"
        with self.lock:
            outcome = self.container_outcomes.pop(0) if self.container_outcomes and not carousel_item else None
        if outcome == "EXPIRED":
            container.status_code, container.polls_left = "EXPIRED", 0
        elif outcome == "STUCK":
            container.status_code, container.polls_left = "IN_PROGRESS", 10**6
        elif outcome and outcome.startswith("ERROR"):
            container.status_code, container.status = "ERROR", outcome.partition(":")[2] or "2207001: processing failed"
        self.containers[container.id] = container
        return Reply(200, {"id": container.id})

    def _status(self, container: Container) -> Reply:
        if container.status_code == "IN_PROGRESS":
            if container.children:
                done = all(self.containers[c].status_code == "FINISHED" for c in container.children)
                container.status_code = "FINISHED" if done else "IN_PROGRESS"
            elif container.polls_left > 0:
                container.polls_left -= 1
            else:
                container.status_code = "FINISHED"
        return Reply(200, {"status_code": container.status_code, "status": container.status, "id": container.id})

    # --- publishing and reading

    def _publish(self, request: Recorded, account: GraphAccount) -> Reply:
        container = self.containers.get(request.param("creation_id") or "")
        if container is None or container.owner != account.ig_user_id or container.is_carousel_item:
            return Reply(400, graph_error(100, "Invalid parameter: creation_id", 2207001))
        if container.status_code == "IN_PROGRESS" and not container.children:
            return Reply(400, graph_error(9007, "The media is not ready for publishing, please wait for a moment", 2207027))
        if container.status_code != "FINISHED":
            return Reply(400, graph_error(9007, f"The media cannot be published: {container.status_code}", 2207027))
        if account.quota_usage >= account.quota_total:
            return Reply(
                400,
                graph_error(
                    9, "You reached maximum number of posts that is allowed to be published by Content Publishing API", 2207042
                ),
            )
        kind = {"CAROUSEL": "CAROUSEL_ALBUM", "REELS": "VIDEO", "VIDEO": "VIDEO"}.get(container.kind, "IMAGE")
        if container.kind == "STORIES":
            kind = "VIDEO" if container.params.get("video_url") else "IMAGE"
        product = {"REELS": "REELS", "STORIES": "STORY"}.get(container.kind, "FEED")
        media = self._publish_record(account.ig_user_id, container.caption, kind, product, datetime.now(UTC))
        media.container_id = container.id
        container.status_code = "PUBLISHED"
        account.quota_usage += 1
        if self.lose_publish_answers:
            self.lose_publish_answers -= 1
            return Reply(
                500, graph_error(2, "An unexpected error has occurred. Please retry your request later.", kind="OAuthException")
            )
        return Reply(200, {"id": media.id})

    def _publish_record(self, ig_user_id: str, caption: str, kind: str, product: str, when: datetime) -> Published:
        media_id = str(next(self._ids))
        code = f"C{media_id[-8:]}"
        username = self.accounts[ig_user_id].username
        permalink = {
            "REELS": f"https://www.instagram.com/reel/{code}/",
            "STORY": f"https://www.instagram.com/stories/{username}/{media_id}/",
        }.get(product, f"https://www.instagram.com/p/{code}/")
        media = Published(media_id, ig_user_id, caption, kind, product, when, permalink)
        self.media[media_id] = media
        return media

    def _list(self, request: Recorded, account: GraphAccount, *, stories: bool) -> Reply:
        names, nested = parse_fields(request.param("fields") or "id")
        limit = min(int(request.param("limit") or 25), 100)
        items = [m for m in self.media.values() if m.owner == account.ig_user_id and (m.product == "STORY") == stories]
        items.sort(key=lambda m: m.timestamp, reverse=True)
        after = request.param("after") or ""
        try:
            offset = int(base64.b64decode(after).decode()) if after else 0
        except ValueError:
            return Reply(400, graph_error(100, "Invalid parameter: after"))
        page = items[offset : offset + limit]
        body: dict = {"data": [m.fields(names, nested) for m in page]}
        if page:
            cursors = {
                "before": base64.b64encode(str(offset).encode()).decode(),
                "after": base64.b64encode(str(offset + len(page)).encode()).decode(),
            }
            body["paging"] = {"cursors": cursors}
            if offset + len(page) < len(items):
                query = f"fields={request.param('fields') or 'id'}&limit={limit}&after={cursors['after']}"
                body["paging"]["next"] = f"{self.base_url}{request.path.removeprefix('/' + VERSION)}?{query}"
        return Reply(200, body)

    # --- statistics (GET /{media}/insights) ----------------------------------------------------

    def set_insights(self, media_id: str, **values: int) -> None:
        """A media's lifetime insights by metric name (views, reach, likes, saved, …); a metric left
        out is answered with an empty set, as Meta does for data it has not computed."""
        self.insight_values[media_id] = values

    def refuse_metric(self, name: str, message: str | None = None) -> None:
        """Meta refuses ``name`` from now on (error 100 naming it, failing the whole call)."""
        text = message or f"(#100) The Media Insights API does not support the {name} metric for this media product type."
        self.refused_metrics[name] = text

    def _insights(self, request: Recorded, media: Published) -> Reply:
        asked = [m for m in (request.param("metric") or "").split(",") if m]
        if not asked:
            return Reply(400, graph_error(100, "(#100) The parameter metric is required"))
        refused = self.refused_metrics
        for name in asked:
            text = refused.get(name) or _unsupported(name, media)
            if text:
                return Reply(400, graph_error(100, text))
        values = self.insight_values.get(media.id, {})
        data = [
            {
                "name": name,
                "period": "lifetime",
                "values": [{"value": values[name]}],
                "title": name.replace("_", " ").capitalize(),
                "id": f"{media.id}/insights/{name}/lifetime",
            }
            for name in asked
            if name in values
        ]
        return Reply(200, {"data": data})


# The media insights matrix (v22+): what each media product type refuses.
_STORY_REFUSES = {"likes", "comments", "saved", "ig_reels_video_view_total_time", "ig_reels_avg_watch_time"}
_KNOWN = {
    "views", "reach", "likes", "comments", "saved", "shares", "total_interactions", "follows", "profile_visits",
    "replies", "navigation", "ig_reels_video_view_total_time", "ig_reels_avg_watch_time", "impressions",
}  # fmt: skip


def _unsupported(name: str, media: Published) -> str | None:
    if name not in _KNOWN:
        return f"(#100) metric[0] must be one of the following values: {', '.join(sorted(_KNOWN - {'impressions'}))}"
    if name == "impressions" and media.timestamp >= datetime(2024, 7, 2, tzinfo=UTC):
        return (
            "(#100) Starting from version v22.0 and above, the impressions metric is no longer supported for media "
            "created after July 2, 2024."
        )
    if media.product == "STORY" and name in _STORY_REFUSES:
        return f"(#100) The metric {name} is not supported for this media type"
    if media.product != "REELS" and name.startswith("ig_reels_"):
        return f"(#100) The metric {name} is not supported for this media type"
    return None
