"""The dashboard's Sources pages: a workspace's Telegram sources listed and edited by its admins
(the bot token write-only: never rendered back, kept when left empty), clear field errors, viewers
read only, other workspaces' sources 404, and the actions — poll now (a post, or Telegram's refusal
as a message), webhook/polling, enable/disable, retry a failed record — through the services."""

import pytest
from django.urls import reverse

from accounts.models import Membership, Role
from posts.models import Post
from sources.models import Delivery, IngestRecord, ItemStatus, Source
from sources.services import source_ingest_due

from .emulators.telegram import TelegramEmulator
from .factories import AccountGroupFactory, SocialAccountFactory, WorkspaceFactory, png_bytes

pytestmark = pytest.mark.django_db

TOKEN = "7012345678:AAHdashboardSourceToken_never-shown-42"
NEW_TOKEN = "7012345678:AAHrotatedToken_never-shown-99"


@pytest.fixture
def telegram(settings):
    with TelegramEmulator() as emulator:
        settings.TELEGRAM_API_BASE_URL = emulator.url
        emulator.add_bot(TOKEN, username="source_bot")
        yield emulator


@pytest.fixture
def channel(telegram):
    return telegram.add_chat(title="Drops", admins=[TOKEN])


@pytest.fixture
def source(workspace):
    return Source.objects.create(
        workspace=workspace, name="Drops", options={"chat_id": "-1001234567890"}, secret={"bot_token": TOKEN}
    )


def login(client, member, role=Role.ADMIN):
    user = member(role)
    client.force_login(user)
    return user


def form_data(workspace, **changes) -> dict:
    data = {
        "workspace": workspace.pk,
        "name": "Drops",
        "chat_id": "-1001234567890",
        "bot_token": "",
        "language": "ru",
        "mode": "draft",
        "caption_mode": "original",
        "caption_template": "",
        "priority": "normal",
        "window_start": "",
        "window_end": "",
    }
    return {**data, **changes}


def pages(source) -> list[str]:
    return [
        reverse("dashboard:sources"),
        reverse("dashboard:source", args=[source.pk]),
        reverse("dashboard:source-new"),
        reverse("dashboard:source-edit", args=[source.pk]),
    ]


# --- list, create, edit --------------------------------------------------------------------------


def test_it_lists_only_the_workspaces_sources_with_what_they_made(client, member, workspace, source):
    other = Source.objects.create(
        workspace=WorkspaceFactory(), name="Elsewhere", options={"chat_id": "-100999"}, secret={"bot_token": "x"}
    )
    post = Post.objects.create(workspace=workspace, title="From Drops", caption="hi")
    IngestRecord.objects.create(source=source, chat_id=-1001234567890, key="message:1", post=post)
    IngestRecord.objects.create(source=source, chat_id=-1001234567890, key="message:2", status=ItemStatus.FAILED, error="no file")
    source.items.create(update_id=1, chat_id=-1001234567890, message_id=2, status=ItemStatus.FAILED)
    Source.objects.filter(pk=source.pk).update(last_error="Unauthorized")
    login(client, member, Role.VIEWER)

    page = client.get(reverse("dashboard:sources")).content.decode()

    assert "Drops" in page and other.name not in page
    row = page.split(f'id="source-{source.pk}"')[1].split("</tr>")[0]
    assert '<td class="num">1</td>' in row  # one post made
    assert '<span class="error">1</span>' in row  # one failed message
    assert "Unauthorized" in row and "-1001234567890" in row
    assert client.get(reverse("dashboard:source", args=[other.pk])).status_code == 404


def test_it_creates_a_source_and_an_edit_without_a_token_keeps_it(client, member, workspace):
    login(client, member, Role.ADMIN)
    group = AccountGroupFactory(workspace=workspace, name="Shops")
    account = SocialAccountFactory(workspace=workspace, handle="berlin_shop")

    response = client.post(
        reverse("dashboard:source-new"),
        form_data(
            workspace,
            bot_token=TOKEN,
            target_groups=[group.pk],
            target_accounts=[account.pk],
            window_start="09:00",
            window_end="21:00",
        ),
    )

    source = Source.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("dashboard:source", args=[source.pk])
    assert (source.bot_token, source.language, source.options) == (TOKEN, "ru", {"chat_id": "-1001234567890"})
    assert list(source.target_groups.all()) == [group] and list(source.target_accounts.all()) == [account]

    response = client.post(
        reverse("dashboard:source-edit", args=[source.pk]), form_data(workspace, name="Drops RU", mode="publish")
    )
    source.refresh_from_db()
    assert response.status_code == 302
    assert (source.name, source.mode, source.bot_token) == ("Drops RU", "publish", TOKEN)
    assert list(source.target_groups.all()) == []  # the form sent no groups: none now

    client.post(reverse("dashboard:source-edit", args=[source.pk]), form_data(workspace, bot_token=NEW_TOKEN))
    source.refresh_from_db()
    assert source.bot_token == NEW_TOKEN
    for url in pages(source):
        html = client.get(url, follow=True).content.decode()
        assert NEW_TOKEN not in html and TOKEN not in html and "never-shown" not in html, url


def test_a_new_source_needs_a_token(client, member, workspace):
    login(client, member, Role.ADMIN)
    response = client.post(reverse("dashboard:source-new"), form_data(workspace))
    assert response.status_code == 400
    assert "bot_token" in response.context["form"].errors
    assert not Source.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"chat_id": "@drops"}, "chat_id", "is not a chat id"),
        ({"window_start": "09:00"}, "window_end", "both ends"),
        ({"language": "english!"}, "language", "is not a language code"),
    ],
)
def test_it_explains_bad_input_next_to_the_field(client, member, workspace, source, changes, field, says):
    login(client, member, Role.ADMIN)
    response = client.post(reverse("dashboard:source-edit", args=[source.pk]), form_data(workspace, **changes))
    assert response.status_code == 400
    assert says in " ".join(response.context["form"].errors[field])
    assert f'id="field-{field}"' in response.content.decode() and TOKEN not in response.content.decode()
    source.refresh_from_db()
    assert (source.options, source.window_start, source.language) == ({"chat_id": "-1001234567890"}, None, "en")


def test_targets_must_be_in_the_sources_workspace(client, member, workspace, source):
    stranger = AccountGroupFactory(workspace=WorkspaceFactory(), name="Foreign")
    user = login(client, member, Role.ADMIN)
    Membership.objects.create(user=user, workspace=stranger.workspace, role=Role.ADMIN)  # the user may pick it
    response = client.post(reverse("dashboard:source-edit", args=[source.pk]), form_data(workspace, target_groups=[stranger.pk]))
    assert response.status_code == 400
    assert "Not in workspace" in " ".join(response.context["form"].errors["target_groups"])
    assert not source.target_groups.exists()


# --- roles ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR])
def test_below_admin_reads_but_cannot_change(client, member, workspace, source, role):
    login(client, member, role)
    detail = client.get(reverse("dashboard:source", args=[source.pk])).content.decode()
    listing = client.get(reverse("dashboard:sources")).content.decode()
    assert (
        "Drops" in detail and "Poll now" not in detail and "Edit" not in detail and 'data-testid="source-actions"' not in detail
    )
    assert "New source" not in listing
    assert client.get(reverse("dashboard:source-new")).status_code == 403
    assert client.post(reverse("dashboard:source-new"), form_data(workspace, bot_token=TOKEN)).status_code == 403
    assert client.post(reverse("dashboard:source-edit", args=[source.pk]), form_data(workspace, name="X")).status_code == 403
    for name in ("source-poll", "source-webhook", "source-polling", "source-disable"):
        assert client.post(reverse(f"dashboard:{name}", args=[source.pk])).status_code == 403
    source.refresh_from_db()
    assert (Source.objects.count(), source.name, source.enabled) == (1, "Drops", True)


def test_another_workspaces_source_is_404(client, member, source):
    outsider = member(Role.OWNER, WorkspaceFactory())
    client.force_login(outsider)
    for url in pages(source)[1:2] + pages(source)[3:]:
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("dashboard:source-poll", args=[source.pk])).status_code == 404
    assert client.post(reverse("dashboard:source-disable", args=[source.pk])).status_code == 404


# --- actions -------------------------------------------------------------------------------------


def test_poll_now_makes_a_post_and_lists_its_record(client, member, workspace, telegram, channel):
    source = Source.objects.create(
        workspace=workspace, name="Drops", options={"chat_id": str(channel["id"])}, secret={"bot_token": TOKEN}
    )
    telegram.channel_post(TOKEN, channel, text="Linen dress, new colours")
    login(client, member, Role.ADMIN)

    response = client.post(reverse("dashboard:source-poll", args=[source.pk]), follow=True)

    post = Post.objects.get(workspace=workspace)
    page = response.content.decode()
    assert post.caption == "Linen dress, new colours"
    assert "1 update received." in page
    assert reverse("dashboard:post", args=[post.pk]) in page  # the record links to its post
    source.refresh_from_db()
    assert source.last_polled_at is not None and source.last_error == ""


def test_a_telegram_refusal_is_a_message_not_an_error_page(client, member, source, telegram):
    telegram.fail_next("unauthorized")
    login(client, member, Role.ADMIN)

    response = client.post(reverse("dashboard:source-poll", args=[source.pk]), follow=True)

    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    assert any("Telegram refused" in m and "Unauthorized" in m for m in messages), messages
    source.refresh_from_db()
    assert "Unauthorized" in source.last_error


def test_webhook_needs_https_then_connects_and_polling_disconnects(client, member, source, telegram):
    login(client, member, Role.ADMIN)

    plain = client.post(reverse("dashboard:source-webhook", args=[source.pk]), follow=True)
    assert any("HTTPS" in str(m) for m in plain.context["messages"])
    source.refresh_from_db()
    assert source.delivery == Delivery.POLLING and TOKEN not in telegram.webhooks

    client.post(reverse("dashboard:source-webhook", args=[source.pk]), secure=True)
    source.refresh_from_db()
    assert source.delivery == Delivery.WEBHOOK
    assert telegram.webhooks[TOKEN]["url"] == f"https://testserver/hooks/telegram/{source.pk}/"

    page = client.post(reverse("dashboard:source-polling", args=[source.pk]), follow=True).content.decode()
    source.refresh_from_db()
    assert source.delivery == Delivery.POLLING and TOKEN not in telegram.webhooks
    assert "Polling again." in page and source.webhook_secret == ""

    refusal = "Bad Request: bad webhook: Failed to resolve host"
    telegram.fail_next(telegram.error(400, refusal, method="setWebhook"))
    refused = client.post(reverse("dashboard:source-webhook", args=[source.pk]), secure=True, follow=True)
    assert refused.status_code == 200
    assert any(refusal in str(m) for m in refused.context["messages"])
    source.refresh_from_db()
    assert source.delivery == Delivery.POLLING


def test_disable_and_enable(client, member, source):
    login(client, member, Role.ADMIN)
    client.post(reverse("dashboard:source-disable", args=[source.pk]))
    source.refresh_from_db()
    assert not source.enabled
    client.post(reverse("dashboard:source-enable", args=[source.pk]))
    source.refresh_from_db()
    assert source.enabled


def test_a_failed_record_can_be_tried_again(client, member, workspace, telegram, channel, django_capture_on_commit_callbacks):
    source = Source.objects.create(
        workspace=workspace, name="Drops", options={"chat_id": str(channel["id"])}, secret={"bot_token": TOKEN}
    )
    file_id = telegram.add_file(png_bytes(), size=25 * 1024 * 1024)
    telegram.channel_post(TOKEN, channel, caption="Big", **telegram.photo_content(file_id))
    login(client, member, Role.ADMIN)
    client.post(reverse("dashboard:source-poll", args=[source.pk]))
    record = IngestRecord.objects.get(source=source)
    assert record.status == ItemStatus.FAILED
    detail = client.get(reverse("dashboard:source", args=[source.pk])).content.decode()
    assert "Try again" in detail and "20 MB" in detail
    viewer = client.__class__()
    viewer.force_login(member(Role.VIEWER))
    assert viewer.post(reverse("dashboard:ingest-record-retry", args=[record.pk])).status_code == 403
    telegram.files[file_id]["size"] = len(telegram.files[file_id]["content"])  # now served (a local Bot API server)

    with django_capture_on_commit_callbacks() as queued:
        response = client.post(reverse("dashboard:ingest-record-retry", args=[record.pk]), follow=True)

    assert "will be tried again" in response.content.decode()
    assert len(queued) == 1 and not IngestRecord.objects.exists()
    source_ingest_due(source=source)  # what the queued ingest_source task runs
    done = IngestRecord.objects.get(source=source)
    assert done.status == ItemStatus.DONE and done.post.caption == "Big"
    again = client.post(reverse("dashboard:ingest-record-retry", args=[done.pk]), follow=True)
    assert "Only a failed message can be tried again." in again.content.decode()


def test_every_mistake_is_shown_at_once(client, member, workspace):
    login(client, member, Role.ADMIN)
    response = client.post(reverse("dashboard:source-new"), form_data(workspace, chat_id="drops", window_end="21:00"))
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"chat_id", "bot_token", "window_end"}
