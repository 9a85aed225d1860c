import zoneinfo

from django.utils import timezone

from .selectors import primary_membership


class MemberTimezoneMiddleware:
    """Activate the operator's time zone (their own, else their workspace's) so
    forms and pages take and show local times while the database keeps UTC."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        activate_member_timezone(request.user)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def activate_member_timezone(user) -> None:
    membership = primary_membership(user) if user is not None else None
    if membership is None:
        timezone.deactivate()
        return
    timezone.activate(zoneinfo.ZoneInfo(membership.effective_timezone))
