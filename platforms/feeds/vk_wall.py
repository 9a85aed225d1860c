"""A VK wall (a user's or a community's) as a source: ``wall.get`` through a VK account.

Options: ``owner_id`` (a user id, or minus the community id: ``-123456``) or ``domain`` (the
short address, ``durov`` or ``club1``); ``backfill`` (0–100, default 0). The account is any VK
account with a user access token: the call goes with its token, through its proxy, with
Crosspost's own user agent, paced like the VK adapter (3 requests per second).

Only the wall owner's posts are read (``filter=owner``). VK returns a pinned post first whatever
its date, then the others newest first; post ids grow on a wall, so "new" means an id above the
cursor's ``last_id`` — an old pinned post is never new again.

The first poll starts from now: it remembers the newest post and returns nothing, so connecting
a wall does not repost its history — unless ``backfill`` asks for its latest N posts. Later
polls page back (100 posts a page, at most ``MAX_PAGES``) until they reach ``last_id`` and
return the new posts oldest first, at most ``request.limit``; the cursor then points at the
newest one returned, so the rest come with the next poll. When more than ``MAX_PAGES`` pages
came since, the oldest of them are skipped.

An item: remote id and link ``<owner_id>_<id>``, ``https://vk.com/wall<owner_id>_<id>``; the
text (a repost's own comment, then the reposted post's text); photo URLs, the largest size of
each, the reposted post's included; a link attachment's URL after the text when the text lacks
it; ``is_repost`` when ``copy_history`` is there, ``is_ad`` from ``marked_as_ads``. Videos are
left out: VK gives no file URL for them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from .. import base
from ..names import Platform
from ..vk import _Api
from . import FetchedItem, Fetcher, FetchRequest, FetchResult, as_int, register

PAGE = 100  # wall.get's maximum count
MAX_PAGES = 10
MAX_BACKFILL = 100
DOMAIN = re.compile(r"[A-Za-z0-9_.]{2,64}")

# Errors that say the wall cannot be read with this token: nothing is wrong with the account.
UNREADABLE = {
    15: gettext_noop("the wall is closed to the token's user (a closed community they are not a member of, or a blocked user)"),
    18: gettext_noop("the wall's owner was deleted or banned"),
    30: gettext_noop("the profile is private"),
    203: gettext_noop("the community is closed to the token's user"),
}
NOT_FOUND = {100, 113}  # invalid owner_id / domain, invalid user id


class _WallApi(_Api):
    """The VK client of the adapter, with what reading someone else's wall means for its errors."""

    def error(self, method: str, error: dict) -> base.PlatformError:
        code = int(error.get("error_code") or 0)
        if code not in UNREADABLE and code not in NOT_FOUND:
            return super().error(method, error)
        params = [p for p in error.get("request_params") or [] if isinstance(p, dict) and p.get("key") != "access_token"]
        raw = self.scrub({"method": method, **error, "request_params": params})
        text = f"VK {method} error {code}: {raw.get('error_msg') or 'unknown error'}"
        if code in UNREADABLE:
            return base.PermissionDenied(
                _("%(text)s. VK will not show this wall: %(why)s. Use an account that can read it, or remove the source.")
                % {"text": text, "why": _(UNREADABLE[code])},
                raw=raw,
            )
        return base.PermissionDenied(
            _("%(text)s. VK knows no such wall: check the source's owner_id or domain.") % {"text": text}, raw=raw
        )


def _largest(photo: dict) -> str:
    sizes = [s for s in photo.get("sizes") or [] if s.get("url") or s.get("src")]
    if not sizes:
        return ""
    best = max(sizes, key=lambda s: (s.get("width") or 0) * (s.get("height") or 0))
    return best.get("url") or best.get("src") or ""


def _photos(post: dict) -> list[str]:
    urls = []
    for attachment in post.get("attachments") or []:
        if attachment.get("type") == "photo":
            url = _largest(attachment.get("photo") or {})
            if url:
                urls.append(url)
    return urls


def _links(post: dict) -> list[str]:
    return [
        (a.get("link") or {}).get("url", "")
        for a in post.get("attachments") or []
        if a.get("type") == "link" and (a.get("link") or {}).get("url")
    ]


def _item(post: dict) -> FetchedItem:
    owner_id, post_id = post["owner_id"], post["id"]
    original = (post.get("copy_history") or [None])[0]
    parts = [post.get("text") or ""]
    media = _photos(post)
    links = _links(post)
    if original:
        parts.append(original.get("text") or "")
        media += _photos(original)
        links += _links(original)
    text = "\n\n".join(part.strip() for part in parts if part and part.strip())
    for url in dict.fromkeys(links):
        if url not in text:
            text = f"{text}\n\n{url}" if text else url
    return FetchedItem(
        remote_id=f"{owner_id}_{post_id}",
        text=text,
        media_urls=tuple(dict.fromkeys(media)),
        link=f"https://vk.com/wall{owner_id}_{post_id}",
        published_at=datetime.fromtimestamp(int(post.get("date") or 0), UTC),
        is_repost=bool(post.get("copy_history")),
        is_ad=bool(post.get("marked_as_ads")),
        raw=post,
    )


class VkWallFetcher(Fetcher):
    kind = "vk_wall"
    needs_account = Platform.VK
    # Seconds between two calls (user tokens: 3 requests per second); tests set 0.
    call_interval = 0.34

    def options_errors(self, options: dict) -> dict[str, str]:
        problems = []
        has_owner, has_domain = options.get("owner_id") not in (None, ""), bool(str(options.get("domain") or "").strip())
        if has_owner == has_domain:
            problems.append(
                _("Give either options.owner_id (a user id, or minus the community id: -123456) or options.domain (durov).")
            )
        elif has_owner and not as_int(options["owner_id"]):
            problems.append(_("options.owner_id must be a user id, or minus the community id: -123456."))
        elif has_domain and not DOMAIN.fullmatch(str(options["domain"]).strip()):
            problems.append(_("options.domain must be the wall's short address, like durov or club1."))
        backfill = options.get("backfill", 0)
        if as_int(backfill) is None or not 0 <= as_int(backfill) <= MAX_BACKFILL:
            problems.append(_("options.backfill must be a number of posts from 0 to %(max)d.") % {"max": MAX_BACKFILL})
        unknown = set(options) - {"owner_id", "domain", "backfill"}
        if unknown:
            problems.append(_("Unknown options for a VK wall: %(keys)s.") % {"keys": ", ".join(sorted(unknown))})
        return {"options": " ".join(problems)} if problems else {}

    def fetch_new(self, request: FetchRequest) -> FetchResult:
        if request.account is None:
            raise base.AuthRequired(_("A VK wall is read through a VK account: choose one for the source."))
        options = request.options
        owner = as_int(options.get("owner_id"))
        where = {"owner_id": owner} if owner else {"domain": str(options.get("domain") or "").strip()}
        api = _WallApi(request.account, interval=self.call_interval)
        last_id = as_int(request.cursor.get("last_id"))
        if last_id is None:
            backfill = min(max(as_int(options.get("backfill")) or 0, 0), MAX_BACKFILL)
            # One more than asked, and never just one: a pinned post takes the first place.
            page = api.call("wall.get", {**where, "count": min(max(backfill, 1) + 1, PAGE), "filter": "owner"})
            posts = sorted(self._posts(page), key=lambda p: p["id"], reverse=True)
            chosen = posts[:backfill][::-1]
            return FetchResult(items=[_item(p) for p in chosen], cursor=self._cursor(posts[:1], {"last_id": 0, "last_date": 0}))
        found: dict[int, dict] = {}
        for number in range(MAX_PAGES):
            page = api.call("wall.get", {**where, "offset": number * PAGE, "count": PAGE, "filter": "owner"})
            posts = self._posts(page)
            for post in posts:
                if post["id"] > last_id:
                    found[post["id"]] = post  # posts added while paging shift the pages: the same post twice
            reached = any(p["id"] <= last_id and not p.get("is_pinned") for p in posts)
            if reached or len(page.get("items") or []) < PAGE:
                break
        new = sorted(found.values(), key=lambda p: p["id"])[: max(request.limit, 1)]
        return FetchResult(items=[_item(p) for p in new], cursor=self._cursor(new[-1:], request.cursor))

    @staticmethod
    def _posts(page: dict) -> list[dict]:
        return [p for p in page.get("items") or [] if isinstance(p.get("id"), int) and not p.get("is_deleted")]

    @staticmethod
    def _cursor(newest: list[dict], default: dict) -> dict:
        if not newest:
            return dict(default)
        return {"last_id": newest[-1]["id"], "last_date": int(newest[-1].get("date") or 0)}


register(VkWallFetcher())
