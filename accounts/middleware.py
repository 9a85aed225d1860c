import zoneinfo

from django.utils import timezone
from rest_framework.permissions import SAFE_METHODS

from .selectors import primary_membership


class MemberTimezoneMiddleware:
    """Activate the operator's time zone (their own, else their workspace's) so
    forms and pages take and show local times while the database keeps UTC."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # A read-only request keeps the roles it read for the workspace filters of its queries; a
        # write may change memberships on the way, so its reads ask the database each time.
        activate_member_timezone(request.user, remember_roles=request.method in SAFE_METHODS)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def activate_member_timezone(user, remember_roles: bool = False) -> None:
    membership = primary_membership(user, remember_roles) if user is not None else None
    if membership is None:
        timezone.deactivate()
        return
    timezone.activate(zoneinfo.ZoneInfo(membership.effective_timezone))
