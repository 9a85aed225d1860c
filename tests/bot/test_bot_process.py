"""The bot as the process `make run` starts (`manage.py runbot`): killed mid-conversation — no
handler, no finally, what an OOM kill does — and started again, the member carries on where they were."""

import signal
import subprocess
import sys

import pytest

from accounts.models import Role
from posts.models import Post, PostStatus
from publishing.models import Execution

from ..support.bot import BOT_TOKEN, Person
from ..support.engine import drain
from ..support.stack import ROOT, stack_env
from .test_compose import OLGA, group_with_accounts, linked, texts_post

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def runbot(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "runbot"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def test_a_bot_process_killed_mid_conversation_resumes_it_after_a_restart(telegram, workspace, member, tmp_path):
    editor = member(Role.EDITOR)
    linked(editor)
    group, accounts = group_with_accounts(workspace, "Alpha", 3)
    env = stack_env(
        "memory://", tmp_path / "var", TELEGRAM_BOT_TOKEN=BOT_TOKEN, TELEGRAM_API_BASE_URL=telegram.url, LOG_LEVEL="WARNING"
    )
    olga = Person(telegram, BOT_TOKEN, telegram.add_user(OLGA, language_code="en"))
    first = runbot(env)
    try:
        groups = texts_post(olga)
        olga.tap(groups, f"np:g:{group.pk}.0")
        olga.wait_edit(groups, lambda text: "1 group selected" in text)
        olga.tap(groups, "np:gnext:")
        when = olga.wait_reply(contains="When to publish")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == -signal.SIGKILL

    second = runbot(env)
    try:
        olga.tap(when, "np:now:")
        preview = olga.wait_reply(contains="Preview of post", timeout=30)
        assert "3 accounts in total" in preview["text"]
        olga.tap_label(preview, "Publish")
        assert "Published: 3 accounts" in olga.wait_reply(timeout=30)["text"]
        progress = olga.wait_reply(contains="%")  # the live progress message, edited by the new process
        drain()  # the engine publishes the three
        olga.wait_edit(progress, lambda text: "100%" in text and "/sandbox/?post=" in text, timeout=30)
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(timeout=15)
        except subprocess.TimeoutExpired:
            second.kill()
    assert second.returncode == 0, second.stdout.read().decode()[-2000:]
    post = Post.objects.get()
    assert (post.caption, post.status) == ("Autumn sale starts today", PostStatus.COMPLETED)
    assert {e.account_id for e in Execution.objects.filter(post=post)} == {a.pk for a in accounts}
