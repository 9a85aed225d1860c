"""Brute-force protection for every login: the API's token endpoints and the admin.

django-axes counts failed logins per (username, client IP) in the database, so
every web process sees the same count; after ``LOGIN_FAILURE_LIMIT`` failures
that pair is locked for ``LOGIN_LOCKOUT_MINUTES`` and gets 429 with
``Retry-After``. Someone else's failures on another username, or from another
client, never lock a user out. On top of that, DRF throttles limit how often
one client may ask for tokens at all (``API_THROTTLE_AUTH``), so spraying many
usernames from one address is slowed down too.
"""

from datetime import timedelta
from math import ceil

from axes.backends import AxesStandaloneBackend
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView


class LockoutBackend(AxesStandaloneBackend):
    """Refuses locked-out logins over HTTP. A login with no request (a management command,
    a script on the server) has no client to lock out, so it is left to the next backend."""

    def authenticate(self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def client_ip(request: HttpRequest) -> str:
    """The client's address as the API throttles see it (X-Forwarded-For behind TRUSTED_PROXY_COUNT proxies)."""
    return BaseThrottle().get_ident(request)


def lockout_seconds(request: HttpRequest | None = None) -> int:
    cool_off = get_cool_off(request) or timedelta(0)
    return max(1, ceil(cool_off.total_seconds()))


def lockout_message(seconds: int) -> str:
    minutes = max(1, ceil(seconds / 60))
    return _("Too many failed logins for this username from this address. Try again in %(minutes)d min.") % {"minutes": minutes}


def lockout_response(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE, for the admin login: a 429 page with Retry-After.

    The API's token views answer their own JSON 429 (``_LockedOutTokenMixin``): axes flags the DRF
    request there, which this middleware hook never sees."""
    seconds = lockout_seconds(request)
    response = render(request, "security/locked_out.html", {"message": lockout_message(seconds)}, status=429)
    response["Retry-After"] = str(seconds)
    return response


class _LockedOutTokenMixin:
    """Refuse a locked-out (username, client) before checking the password at all."""

    throttle_scope = "auth"

    def post(self, request: Request, *args, **kwargs) -> Response:
        credentials = {"username": str(request.data.get("username") or "")} if hasattr(request.data, "get") else {}
        if credentials and AxesProxyHandler.is_locked(request._request, credentials):
            return self._locked(request)
        try:
            response = super().post(request, *args, **kwargs)
        except AuthenticationFailed:
            # The failure that reaches the limit is flagged by axes on the request it was given.
            if getattr(request, "axes_locked_out", False):
                return self._locked(request)
            raise
        if response.status_code == status.HTTP_200_OK and credentials:
            # Like a session login (AXES_RESET_ON_SUCCESS): a right password clears this client's failures.
            AxesProxyHandler.reset_attempts(ip_address=client_ip(request._request), username=credentials["username"])
        return response

    def _locked(self, request: Request) -> Response:
        seconds = lockout_seconds(request._request)
        return Response(
            {"detail": lockout_message(seconds)},
            status=status.HTTP_429_TOO_MANY_REQUESTS,
            headers={"Retry-After": str(seconds)},
        )


class TokenObtainView(_LockedOutTokenMixin, TokenObtainPairView):
    """``POST auth/token/``: a JWT pair for a username and password (locked after repeated failures)."""


class TokenRefreshThrottledView(TokenRefreshView):
    """``POST auth/token/refresh/``: a new access token (throttled like the login)."""

    throttle_scope = "auth"
