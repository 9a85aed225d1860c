"""Management commands (import_accounts, seed_demo, setup_periodic_tasks) and the cooldown task."""

import io
from datetime import timedelta

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from accounts.models import AccountEvent, AccountGroup, AccountStatus, Proxy, SocialAccount, Workspace
from accounts.tasks import lift_expired_cooldowns
from crosspost.management.commands import setup_periodic_tasks
from crosspost.periodic import PERIODIC_TASKS, Periodic
from posts.models import Post, PostMedia

from .factories import AccountGroupFactory, ProxyFactory, SocialAccountFactory

pytestmark = pytest.mark.django_db

HEADER = "platform,handle,secret,language,group,proxy_url\n"


def run(*args, **options) -> str:
    """Run a command; return stdout + stderr, and attach them to a CommandError."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=err, **options)
    except CommandError as exc:
        exc.output = out.getvalue() + err.getvalue() + str(exc)
        raise
    return out.getvalue() + err.getvalue()


def csv_file(tmp_path, body: str, *, bom: bool = False):
    path = tmp_path / "accounts.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + (HEADER + body).encode())
    return path


def import_accounts(path, workspace, *flags) -> str:
    return run("import_accounts", str(path), "--workspace", workspace.slug, *flags)


# --- import_accounts -------------------------------------------------------------------


def test_it_imports_accounts_with_groups_and_proxies(tmp_path, workspace):
    tech = AccountGroupFactory(workspace=workspace, name="Tech")
    shared = ProxyFactory(workspace=workspace, host="10.20.0.1", port=8080, max_accounts=3)
    path = csv_file(
        tmp_path,
        "instagram,alice,ig-Pa55word!,en,Tech,http://u:p@10.20.0.1:8080\n"
        "Telegram,@news_de,123456:AAbbCC,de,Finance,http://u:p@10.20.0.1:8080\n"
        "sandbox,sandy,,pt-BR,,socks5://u:p@192.0.2.7:1080\n"
        "vk,wall_1,vk-token,zh-Hant,Tech,\n",
    )

    output = import_accounts(path, workspace, "--create-groups")

    assert "4 of 4 account(s) imported" in output
    accounts = {a.handle: a for a in SocialAccount.objects.filter(workspace=workspace)}
    assert set(accounts) == {"alice", "@news_de", "sandy", "wall_1"}
    alice = SocialAccount.objects.get(pk=accounts["alice"].pk)  # decrypted fresh from the database
    assert alice.credentials == {"password": "ig-Pa55word!"}
    assert SocialAccount.objects.get(handle="@news_de").credentials == {"bot_token": "123456:AAbbCC"}
    assert accounts["sandy"].credentials == {}
    assert accounts["@news_de"].platform == "telegram"
    assert accounts["sandy"].language == "pt-BR"
    # The existing group and proxy are reused; the missing group and the new proxy are created once.
    assert alice.group == tech and alice.proxy == shared and accounts["@news_de"].proxy == shared
    assert accounts["@news_de"].group.name == "Finance"
    assert AccountGroup.objects.filter(workspace=workspace).count() == 2
    assert Proxy.objects.filter(workspace=workspace).count() == 2
    socks = accounts["sandy"].proxy
    assert (socks.scheme, socks.host, socks.port, socks.url) == ("socks5", "192.0.2.7", 1080, "socks5://u:p@192.0.2.7:1080")
    assert AccountEvent.objects.filter(account__workspace=workspace, reason="created").count() == 4


def test_it_imports_nothing_and_names_every_bad_row(tmp_path, workspace):
    AccountGroupFactory(workspace=workspace, name="Tech")
    ProxyFactory(workspace=workspace, host="10.20.0.9", port=3128, max_accounts=2)
    SocialAccountFactory(workspace=workspace, platform="sandbox", handle="taken", proxy=Proxy.objects.get())
    path = csv_file(
        tmp_path,
        "sandbox,good,,en,Tech,\n"  # row 2
        "myspace,tom,pw,en,,\n"  # row 3
        "sandbox,Good,,en,,\n"  # row 4: same handle as row 2
        "sandbox,proxied,,en,,ftp://u:p@10.0.0.1:21\n"  # row 5
        "sandbox,grouped,,en,Sports,\n"  # row 6
        "sandbox,fits,,en,,http://x:y@10.20.0.9:3128\n"  # row 7: the proxy's last free place
        "sandbox,overflow,,en,,http://x:y@10.20.0.9:3128\n"  # row 8
        "sandbox,,,en,,\n"  # row 9
        "sandbox,lang,,english,,\n"  # row 10
        "sandbox,TAKEN,,en,,\n"  # row 11
        "instagram,nopass,,en,,\n"  # row 12
        "sandbox,wide,,en,,,extra\n",  # row 13
    )

    with pytest.raises(CommandError) as exc:
        import_accounts(path, workspace)

    output = exc.value.output
    assert SocialAccount.objects.filter(workspace=workspace).count() == 1
    assert "Nothing imported: 10 row(s) have errors" in output
    assert (
        "row 3: unknown platform 'myspace'; use one of: instagram, vk, telegram, tiktok, youtube, pinterest, sandbox." in output
    )
    assert "row 4: handle 'Good' for sandbox repeats row 2." in output
    assert "row 5: invalid proxy_url: Proxy scheme 'ftp' is not supported: use http, https or socks5." in output
    assert "row 6: group 'Sports' does not exist in workspace" in output
    assert "--create-groups" in output
    assert "row 7:" not in output
    assert (
        "row 8: proxy http://10.20.0.9:3128 is full: it allows 2 account(s) (max_accounts) and serves 1, and row(s) 7" in output
    )
    assert "row 9: handle is empty." in output
    assert "row 10: language 'english' is not a language code" in output
    assert f"row 11: sandbox account 'TAKEN' already exists in workspace {workspace.slug}." in output
    assert "row 12: secret is empty: instagram accounts need one (password)" in output
    assert "row 13: has 7 value(s) but the header has 6 column(s)." in output
    assert "row 2:" not in output


def test_it_limits_a_new_proxy_to_one_account(tmp_path, workspace):
    path = csv_file(tmp_path, "sandbox,one,,en,,http://a:b@198.51.100.4:8000\nsandbox,two,,en,,http://a:b@198.51.100.4:8000\n")

    with pytest.raises(CommandError) as exc:
        import_accounts(path, workspace)

    assert "row 3: proxy http://198.51.100.4:8000 is new and would be created with max_accounts=1, which row(s) 2" in (
        exc.value.output
    )
    assert not Proxy.objects.exists()


def test_it_imports_only_the_valid_rows_with_skip_invalid(tmp_path, workspace):
    path = csv_file(
        tmp_path,
        "sandbox,first,,en,,\nmyspace,bad,pw,en,,\nsandbox,second,,de,Missing,\nsandbox,third,tok,es,,\n",
    )

    output = import_accounts(path, workspace, "--skip-invalid")

    assert set(SocialAccount.objects.values_list("handle", flat=True)) == {"first", "third"}
    assert "row 3: unknown platform 'myspace'" in output
    assert "row 4: group 'Missing' does not exist" in output
    assert "2 of 4 account(s) imported" in output
    assert "2 invalid row(s) skipped" in output


def test_it_never_prints_the_secret(tmp_path, workspace):
    secrets = ["Sup3r-Secret-Passw0rd", "987654:TelegramBotTokenValue", "vk-Access-Token-Value"]
    path = csv_file(
        tmp_path,
        f"instagram,ok_account,{secrets[0]},en,,\n"
        f"myspace,broken,{secrets[1]},en,,\n"
        f"vk,,{secrets[2]},en,,http://user:{secrets[2]}@10.1.1.1:99999\n",
    )

    with pytest.raises(CommandError) as exc:
        import_accounts(path, workspace)
    skipped = import_accounts(path, workspace, "--skip-invalid")

    for output in (exc.value.output, skipped):
        assert "row 3" in output and "row 4" in output
        for secret in secrets:
            assert secret not in output
    assert SocialAccount.objects.get(handle="ok_account").credentials == {"password": secrets[0]}


def test_it_accepts_utf8_with_a_byte_order_mark(tmp_path, workspace):
    path = csv_file(tmp_path, "sandbox,café_münchen,,de,,\n", bom=True)

    output = import_accounts(path, workspace)

    assert "1 of 1 account(s) imported" in output
    assert SocialAccount.objects.get(workspace=workspace).handle == "café_münchen"


def test_it_rejects_a_file_that_is_not_utf8(tmp_path, workspace):
    path = tmp_path / "latin1.csv"
    path.write_bytes((HEADER + "sandbox,café,,fr,,\n").encode("latin-1"))

    with pytest.raises(CommandError, match=r"not UTF-8 text \(undecodable byte on line 2\)"):
        import_accounts(path, workspace)


def test_it_explains_a_bad_header(tmp_path, workspace):
    path = tmp_path / "accounts.csv"
    path.write_text("platform,username,secret,language\nsandbox,x,,en\n")

    with pytest.raises(CommandError) as exc:
        import_accounts(path, workspace)

    assert (
        "row 1: bad header (missing column(s): handle; unknown column(s): 'username'). "
        "Expected the columns platform,handle,secret,language,group,proxy_url (group and proxy_url may be left out)."
    ) in exc.value.output
    assert not SocialAccount.objects.exists()


def test_it_writes_nothing_in_a_dry_run(tmp_path, workspace):
    path = csv_file(tmp_path, "sandbox,dry,,en,New group,http://a:b@198.51.100.9:8000\n")

    output = import_accounts(path, workspace, "--dry-run", "--create-groups")

    assert "1 of 1 account(s) would be imported" in output
    assert "Groups that would be created: New group" in output
    assert "Dry run: nothing was written." in output
    assert not SocialAccount.objects.exists()
    assert not AccountGroup.objects.exists()
    assert not Proxy.objects.exists()


def test_it_refuses_an_unknown_workspace(tmp_path, workspace):
    with pytest.raises(CommandError, match="No workspace with slug 'nope'"):
        run("import_accounts", str(csv_file(tmp_path, "")), "--workspace", "nope")


# --- seed_demo -------------------------------------------------------------------------


def _demo_counts() -> dict:
    workspace = Workspace.objects.get(slug="demo")
    return {
        "workspaces": Workspace.objects.count(),
        "groups": workspace.groups.count(),
        "accounts": workspace.accounts.count(),
        "proxies": workspace.proxies.count(),
        "posts": workspace.posts.count(),
        "media": workspace.media_assets.count(),
        "post_media": PostMedia.objects.filter(post__workspace=workspace).count(),
        "memberships": workspace.memberships.count(),
        "events": AccountEvent.objects.filter(workspace=workspace).count(),
    }


def test_it_seeds_the_demo_workspace_idempotently(monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "first-Pass-123")
    first_output = run("seed_demo")
    first = _demo_counts()
    monkeypatch.setenv("DEMO_PASSWORD", "second-Pass-456")
    run("seed_demo")

    assert _demo_counts() == first
    assert first["groups"] == 3 and first["proxies"] == 1 and first["posts"] == 1 and first["post_media"] == 1
    assert first["accounts"] == 20
    assert "Log in at /admin/ as demo" in first_output
    workspace = Workspace.objects.get(slug="demo")
    assert workspace.timezone == "Europe/Berlin"
    user = authenticate(username="demo", password="second-Pass-456")
    assert user is not None and user.is_staff
    assert user.memberships.get(workspace=workspace).role == "owner"

    accounts = workspace.accounts.all()
    assert {a.platform for a in accounts} == {"sandbox"}
    assert {a.language for a in accounts} == {"en", "de", "es"}
    assert {a.group.name for a in accounts} == {"Tech", "Finance", "News"}
    assert all(a.credentials.get("token") for a in accounts)
    assert all(a.warmup_started_at < timezone.now() - timedelta(hours=23) for a in accounts)
    assert not any(a.proxy_id for a in accounts)  # the sandbox publishes without one (tests/test_demo_seed.py)

    post = Post.objects.get(workspace=workspace)
    assert post.status == "draft" and post.title == "Welcome to Crosspost" and "#" in post.caption
    assert set(post.target_groups.values_list("name", flat=True)) == {"Tech", "Finance", "News"}
    asset = post.media.get(position=0).asset
    assert (asset.width, asset.height, asset.mime) == (1080, 1350, "image/jpeg")
    assert asset.file.storage.exists(asset.file.name)


def test_it_uses_the_default_demo_password(monkeypatch):
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)

    output = run("seed_demo")

    assert "Log in at /admin/ as demo / crosspost-demo" in output
    assert authenticate(username="demo", password="crosspost-demo") is not None


# --- setup_periodic_tasks --------------------------------------------------------------


def test_it_writes_the_declared_periodic_tasks_idempotently():
    PeriodicTask.objects.create(
        name="crosspost: retired task",
        task="accounts.tasks.gone",
        interval=IntervalSchedule.objects.create(every=5, period="seconds"),
    )
    PeriodicTask.objects.create(
        name="someone else's task", task="other.task", interval=IntervalSchedule.objects.create(every=9, period="seconds")
    )

    first = run("setup_periodic_tasks")
    rows = list(PeriodicTask.objects.order_by("name").values_list("name", "task", "queue", "enabled", "interval__every"))
    second = run("setup_periodic_tasks")

    assert "removed: crosspost: retired task" in first
    declared = {f"crosspost: {p.name}" for p in PERIODIC_TASKS}
    assert set(PeriodicTask.objects.values_list("name", flat=True)) == declared | {"someone else's task"}
    for periodic in PERIODIC_TASKS:
        task = PeriodicTask.objects.get(name=f"crosspost: {periodic.name}")
        assert (task.task, task.queue, task.description, task.enabled) == (
            periodic.task,
            periodic.queue,
            periodic.description,
            True,
        )
        assert task.interval.period == "seconds"
    assert f"0 created, 0 updated, {len(PERIODIC_TASKS)} unchanged, 0 removed" in second
    assert list(PeriodicTask.objects.order_by("name").values_list("name", "task", "queue", "enabled", "interval__every")) == rows


def test_it_rounds_fractional_periods_up_and_updates_changed_tasks(monkeypatch):
    monkeypatch.setattr(
        setup_periodic_tasks, "PERIODIC_TASKS", [Periodic("fast", "x.fast", 0.25), Periodic("slow", "x.slow", 2.5)]
    )
    run("setup_periodic_tasks")
    PeriodicTask.objects.filter(name="crosspost: slow").update(enabled=False)
    monkeypatch.setattr(setup_periodic_tasks, "PERIODIC_TASKS", [Periodic("fast", "x.fast", 0.25, queue="low")])

    output = run("setup_periodic_tasks")

    fast = PeriodicTask.objects.get(name="crosspost: fast")
    assert (fast.interval.every, fast.queue) == (1, "low")
    assert not PeriodicTask.objects.filter(name="crosspost: slow").exists()
    assert "0 created, 1 updated, 0 unchanged, 1 removed" in output


def test_it_declares_lift_cooldowns_for_a_task_that_exists():
    from crosspost.celery import app

    app.loader.import_default_modules()
    for periodic in PERIODIC_TASKS:
        assert periodic.task in app.tasks


# --- lift_expired_cooldowns ------------------------------------------------------------


def test_it_lifts_only_expired_cooldowns(workspace):
    now = timezone.now()
    expired = SocialAccountFactory(workspace=workspace, status=AccountStatus.COOLDOWN, cooldown_until=now - timedelta(minutes=1))
    waiting = SocialAccountFactory(workspace=workspace, status=AccountStatus.COOLDOWN, cooldown_until=now + timedelta(hours=1))
    banned = SocialAccountFactory(workspace=workspace, status=AccountStatus.BANNED, cooldown_until=now - timedelta(hours=1))

    assert lift_expired_cooldowns() == 1
    assert lift_expired_cooldowns() == 0

    expired.refresh_from_db()
    assert (expired.status, expired.cooldown_until, expired.status_reason) == (AccountStatus.ACTIVE, None, "cooldown expired")
    event = AccountEvent.objects.get(account=expired)
    assert (event.from_status, event.to_status, event.reason) == ("cooldown", "active", "cooldown expired")
    waiting.refresh_from_db()
    banned.refresh_from_db()
    assert waiting.status == AccountStatus.COOLDOWN and banned.status == AccountStatus.BANNED
    assert not AccountEvent.objects.filter(account__in=[waiting, banned]).exists()


@pytest.mark.django_db
def test_it_seeds_a_demo_post_that_plans_for_every_account_in_its_language():
    from posts.models import Post
    from publishing.planner import post_publish

    call_command("seed_demo", stdout=io.StringIO())
    post = Post.objects.get(workspace__slug="demo")
    plan = post_publish(post=post, dry_run=True)
    assert (plan.as_dict()["planned"], plan.as_dict()["blocked"]) == (20, 0)
    captions = {e.language: e.caption for e in plan.entries}
    assert captions["de"].startswith("Willkommen") and captions["es"].startswith("¡Bienvenido")
    assert captions["en"].startswith("Welcome")
