"""The demo workspace (seed_demo) is consistent, and the README's failure example works on it."""

import io

import pytest
from django.core.management import call_command

from accounts.models import ProxyStatus, SocialAccount, Workspace
from posts.models import Post
from publishing.models import Execution, ExecutionStatus
from publishing.planner import post_publish
from tests.support.engine import drain

pytestmark = pytest.mark.django_db


def _seed() -> Workspace:
    call_command("seed_demo", stdout=io.StringIO())
    return Workspace.objects.get(slug="demo")


def test_demo_accounts_have_no_proxy_and_the_example_proxy_says_what_it_is():
    workspace = _seed()

    # The sandbox ignores proxies: demo accounts pointing at ports where nothing listens turned
    # every proxy red after the first check while their accounts kept publishing.
    assert workspace.accounts.count() == 20
    assert not workspace.accounts.filter(proxy__isnull=False).exists()
    proxy = workspace.proxies.get()
    assert "example" in proxy.host and "not-connected" in proxy.host
    assert proxy.accounts.count() == 0
    # Red from the start, with the reason, so a failed check is no surprise.
    assert proxy.status == ProxyStatus.FAILED
    assert "not connected to any account" in proxy.last_error


def test_seed_demo_cleans_up_the_unreachable_proxies_of_an_older_demo():
    from accounts.services import proxy_create

    workspace = _seed()
    old = proxy_create(workspace=workspace, url="http://demo:demo@127.0.0.1:18080", max_accounts=5)
    SocialAccount.objects.filter(workspace=workspace, handle="tech_en_01").update(proxy=old)

    output = io.StringIO()
    call_command("seed_demo", stdout=output)

    assert not workspace.proxies.filter(pk=old.pk).exists()
    assert SocialAccount.objects.get(workspace=workspace, handle="tech_en_01").proxy is None
    assert "removed 1 unreachable proxy" in output.getvalue()
    assert workspace.proxies.count() == 1


@pytest.mark.parametrize("fail_times", [1, 2])
def test_the_readme_failure_example_fails_n_times_then_publishes(fail_times):
    workspace = _seed()
    # README: put {"fail": "transient", "fail_times": 1} in a sandbox account's options.
    account = SocialAccount.objects.get(workspace=workspace, handle="tech_en_01")
    account.options = {"fail": "transient", "fail_times": fail_times}
    account.save(update_fields=["options"])
    # README: Posts → "Welcome to Crosspost" → Publish now.
    post = Post.objects.get(workspace=workspace, title="Welcome to Crosspost")
    plan = post_publish(post=post)
    assert plan.as_dict()["planned"] == 20

    failing = Execution.objects.get(post=post, account=account)
    for attempt in range(1, fail_times + 1):
        drain()
        failing.refresh_from_db()
        assert failing.status == ExecutionStatus.RETRY_WAIT, (attempt, failing.status, failing.error_message)
        assert failing.attempts == attempt
    drain()

    failing.refresh_from_db()
    assert failing.status == ExecutionStatus.SUCCESS, failing.error_message
    assert failing.attempts == fail_times + 1
    # Its link opens the feed on the page the post is on (tests/test_sandbox_feed.py).
    assert failing.remote_url == f"/sandbox/?post={failing.remote_id}#post-{failing.remote_id}"
    statuses = set(Execution.objects.filter(post=post).values_list("status", flat=True))
    assert statuses == {ExecutionStatus.SUCCESS}
