from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.selectors import scope

from .models import SandboxPost


@login_required
@require_GET
def sandbox_feed(request):
    """What the sandbox platform "published", newest first, for the user's workspaces."""
    posts = scope(SandboxPost.objects.select_related("account", "account__workspace"), request.user, field="account__workspace")
    page = Paginator(posts, 50).get_page(request.GET.get("page"))
    return render(request, "publishing/sandbox.html", {"page": page})
