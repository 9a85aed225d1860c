"""Instagram: one adapter, two backends chosen per account.

* Graph API (:mod:`.graph`) — business and creator accounts whose credentials
  hold an ``access_token`` and whose options hold the ``ig_user_id``. Official,
  token-based, Meta fetches the media from public URLs.
* Private API (:mod:`.private`) — every other account: instagrapi logs in with
  the username (``handle``) and ``credentials["password"]`` and keeps the
  session on the account.

Both publish photos, videos, carousels (2–10 items), reels and stories, with
Instagram's caption limits (2200 characters, 30 hashtags, 20 mentions), and
find a post again after a crash by the rule in :mod:`.common`.
"""

from __future__ import annotations

from .. import base
from ..names import Platform
from .common import CAPTION_LIMIT, aspect_problems, caption_problems, shape_problems
from .graph import GraphBackend
from .private import PrivateBackend


def uses_graph_api(account: base.AccountSnapshot) -> bool:
    return bool((account.credentials or {}).get("access_token") and (account.options or {}).get("ig_user_id"))


class InstagramAdapter(base.Adapter):
    platform = Platform.INSTAGRAM
    media_types = frozenset({"photo", "video", "carousel", "reel", "story"})
    caption_limit = CAPTION_LIMIT
    can_lookup = True
    has_sessions = True

    def __init__(self) -> None:
        self.graph = GraphBackend()
        self.private = PrivateBackend()

    def backend(self, account: base.AccountSnapshot) -> GraphBackend | PrivateBackend:
        return self.graph if uses_graph_api(account) else self.private

    def validate(self, request: base.PublishRequest) -> list[base.Problem]:
        problems = super().validate(request)
        if not self.supports(request.media_type):
            return problems
        problems += caption_problems(request.caption)
        shape = shape_problems(request)
        if shape:
            return problems + shape
        return problems + aspect_problems(request) + self.backend(request.account).validate(request)

    def publish(self, request: base.PublishRequest) -> base.PublishResult:
        return self.backend(request.account).publish(request)

    def check(self, account: base.AccountSnapshot) -> base.Health:
        return self.backend(account).check(account)

    def lookup(self, execution: base.LookupRequest) -> base.PublishResult | None:
        return self.backend(execution.account).lookup(execution)

    def metrics(self, request: base.MetricsRequest) -> base.Metrics:
        return self.backend(request.account).metrics(request)

    def login(self, account: base.AccountSnapshot) -> base.Health:
        """Private API: log in and store the session. Graph API: prove the token works."""
        return self.backend(account).login(account)
