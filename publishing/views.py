from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from accounts.models import Platform, SocialAccount
from accounts.selectors import scope
from posts.models import MediaType

from .models import SandboxPost

SANDBOX_PER_PAGE = 20


class _AccountChoiceField(forms.ModelChoiceField):
    def to_python(self, value):
        try:
            return super().to_python(value)
        except forms.ValidationError:  # not even an id (account ids are UUIDs): the same message
            raise forms.ValidationError(self.error_messages["invalid_choice"], code="invalid_choice") from None


class SandboxFilterForm(forms.Form):
    account = _AccountChoiceField(
        queryset=SocialAccount.objects.none(),
        required=False,
        label=_("Account"),
        empty_label=_("All sandbox accounts"),
        error_messages={"invalid_choice": _("There is no such sandbox account in your workspaces: showing every account.")},
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        accounts = scope(SocialAccount.objects.filter(platform=Platform.SANDBOX), user).order_by("handle", "pk")
        self.fields["account"].queryset = accounts


def _page_of(posts, post_id: str | None) -> int | None:
    """The page ``?post=<id>`` (a sandbox post's link, /sandbox/?post=7#post-7) is on, if it is one of ``posts``."""
    if not (post_id and post_id.isascii() and post_id.isdigit()):
        return None
    post = posts.filter(pk=int(post_id)).values("pk", "created_at").first()
    if post is None:
        return None
    newer = posts.filter(Q(created_at__gt=post["created_at"]) | Q(created_at=post["created_at"], pk__gt=post["pk"])).count()
    return newer // SANDBOX_PER_PAGE + 1


@login_required
@require_GET
def sandbox_feed(request):
    """What the sandbox platform "published", newest first, 20 a page, for the user's workspaces;
    ``?account=<id>`` shows one account's posts."""
    posts = scope(SandboxPost.objects.select_related("account", "account__workspace"), request.user, field="account__workspace")
    filters = SandboxFilterForm(request.GET or None, user=request.user)
    query = ""
    if filters.is_bound and filters.is_valid() and filters.cleaned_data["account"]:
        posts = posts.filter(account=filters.cleaned_data["account"])
        query = urlencode({"account": filters.cleaned_data["account"].pk})
    posts = posts.order_by("-created_at", "-id")
    page = Paginator(posts, SANDBOX_PER_PAGE).get_page(_page_of(posts, request.GET.get("post")) or request.GET.get("page"))
    for post in page:
        post.media_type_label = MediaType(post.media_type).label if post.media_type in MediaType.values else post.media_type
        post.items = [
            {**item, "kind": str(item.get("mime", "")).split("/", 1)[0]} for item in (post.media or []) if isinstance(item, dict)
        ]
    name = "publishing/sandbox.html#feed" if getattr(request, "htmx", False) else "publishing/sandbox.html"
    response = render(request, name, {"page": page, "filters": filters, "query": query})
    patch_vary_headers(response, ("HX-Request",))
    return response
