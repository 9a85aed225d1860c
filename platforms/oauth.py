"""What the OAuth platforms (TikTok, YouTube, Pinterest) share: the account's proxied
session, access-token reuse and renewal under the caller's row lock
(``AccountSnapshot.update_credentials``), and scrubbing the account's secrets out of
anything that is kept (raw responses, messages)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings

from . import base
from .http import http_session

if TYPE_CHECKING:
    from requests import Response

# Renew an access token this long before it expires.
TOKEN_MARGIN_SECONDS = 120


class OAuthClient:
    """One account's client of an OAuth 2 platform API.

    Subclasses name the platform, the base-URL setting and the messages, send
    requests (``send``), and implement ``request_token`` (the refresh-token
    grant) and ``refused`` (what a refused renewal means for the operator).
    """

    name: ClassVar[str]
    base_url_setting: ClassVar[str]
    missing_credentials: ClassVar[str]  # the message when the account has no token at all
    default_lifetime: ClassVar[int]  # seconds, when the token endpoint gives no expires_in
    # A stored token of unknown age: renew it first (Google tokens live an hour) or use it until refused.
    renew_without_expiry: ClassVar[bool] = False

    def __init__(self, account: base.AccountSnapshot) -> None:
        self.account = account
        # The credentials in use: the snapshot's, then what a renewal stored.
        self.credentials: dict = dict(account.credentials or {})
        credentials = self.credentials
        if not credentials.get("access_token") and not credentials.get("refresh_token"):
            raise base.AuthRequired(self.missing_credentials)
        self.session = http_session(account)
        self.base_url = getattr(settings, self.base_url_setting).rstrip("/")
        self.renewed = False

    # --- secrets ---------------------------------------------------------------------------------

    def secrets(self) -> list[str]:
        """The credentials' tokens and client secret (not ids: scrubbing those could mangle remote ids)."""
        credentials = self.credentials
        return [str(v) for k, v in credentials.items() if (k.endswith("token") or "secret" in k) and v and len(str(v)) >= 6]

    def scrub(self, value: Any) -> Any:
        text = json.dumps(value)
        for secret in self.secrets():
            text = text.replace(json.dumps(secret)[1:-1], "<redacted>")
        return json.loads(text)

    # --- tokens ----------------------------------------------------------------------------------

    def send(self, method: str, url: str, what: str, **kwargs) -> Response:
        raise NotImplementedError

    def request_token(self, credentials: dict) -> Response:
        """POST the refresh-token grant; raise AuthRequired when the credentials cannot renew."""
        raise NotImplementedError

    def refused(self, body: dict, status: int) -> base.AuthRequired:
        raise NotImplementedError

    def usable(self, credentials: dict, stale: str = "") -> bool:
        """Whether ``credentials`` hold an access token (other than ``stale``) that is not about to expire."""
        token = str(credentials.get("access_token") or "")
        if not token or token == stale:
            return False
        expires_at = credentials.get("access_token_expires_at")
        if not expires_at:
            return not self.renew_without_expiry
        return float(expires_at) - TOKEN_MARGIN_SECONDS > time.time()

    def token(self) -> str:
        credentials = self.credentials
        if not self.usable(credentials) and not (self.renewed and credentials.get("access_token")):
            self.renew(str(credentials.get("access_token") or ""))
        return str(self.credentials["access_token"])

    def renew(self, stale: str) -> None:
        """A new access token from the refresh token, stored (by the caller, encrypted) with its expiry.

        Under the caller's row lock: when another worker renewed it meanwhile, its token is used instead.
        """
        self.renewed = True
        if self.account.update_credentials is None:
            raise base.AuthRequired(f"{self.name}: the access token must be renewed, and nothing can store a new one.")
        self.credentials = dict(self.account.update_credentials(lambda current: self._renewed(current, stale)))

    def _renewed(self, current: dict, stale: str) -> dict | None:
        """The credential updates a renewal gives (None: ``current`` holds a token another worker renewed)."""
        if self.usable(current, stale):
            return None
        response = self.request_token(current)
        if response.status_code >= 500:
            raise base.Transient(f"{self.name}'s token endpoint answered HTTP {response.status_code}.")
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        if response.status_code != 200 or not body.get("access_token"):
            raise self.refused(body, response.status_code)
        now = time.time()
        updates: dict[str, Any] = {
            "access_token": body["access_token"],
            "access_token_expires_at": int(now + int(body.get("expires_in") or self.default_lifetime)),
        }
        if body.get("refresh_token"):  # refresh tokens may rotate: keep the newest
            updates["refresh_token"] = body["refresh_token"]
        if body.get("refresh_expires_in"):
            updates["refresh_token_expires_at"] = int(now + int(body["refresh_expires_in"]))
        elif body.get("refresh_token_expires_at"):
            updates["refresh_token_expires_at"] = int(body["refresh_token_expires_at"])
        return updates
