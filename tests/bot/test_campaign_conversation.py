"""The ad-campaign conversation and history in the bot, driven through the Telegram emulator.

The run itself is not executed here (its stages are tested in tests/campaigns/): ``campaign_run``
enqueues the first stage to the test broker, where nothing consumes it, and the test moves the Job
with ``crosspost.jobs`` as a worker would — the progress message must follow."""

import pytest

from accounts.models import Role
from bot.models import CampaignProgressMessage, ConversationState
from campaigns.models import Campaign, CampaignStatus
from campaigns.runner import run_stage
from campaigns.services import campaign_create
from crosspost.jobs import job_completed, job_failed, job_started, job_step
from crosspost.models import ActivityLog, Job, JobStatus

from ..factories import WorkspaceFactory
from ..support.bot import running_bot
from .conftest import answer_to, labels

pytestmark = pytest.mark.django_db(transaction=True)

SHEET = "https://docs.google.com/spreadsheets/d/1AbCdEfGhIjKlMnOpQrStUvWxYz/edit"


@pytest.fixture(autouse=True)
def quick_edits(settings):
    settings.BOT_PROGRESS_EDIT_SECONDS = 0.2


def brief(olga, *, url_first: str | None = None, workspace=None, too_many_keywords: bool = False) -> dict:
    """From /campaign to the confirm step (picking ``workspace`` when asked); the confirm message."""
    olga.say("/campaign")
    if workspace is not None:
        olga.tap(olga.wait_reply(contains="In which workspace"), f"cn:ws:{workspace.pk}")
    olga.wait_reply(contains="What shall we call it")
    olga.say("Linen dresses — spring")
    olga.wait_reply(contains="Describe the product")
    olga.say("Light linen dresses for hot summers, sewn in Ivanovo.")
    olga.wait_reply(contains="base keywords")
    if too_many_keywords:
        olga.say("\n".join(f"dress {n}" for n in range(51)))
        assert "These keywords do not work: At most 50 phrases; 51 were given." in olga.wait_reply()["text"]
    olga.say("linen dress, summer dress\nlinen sundress")
    region = olga.wait_reply(contains="Where should the ads show")
    assert "Everywhere" in " ".join(labels(olga, region))
    olga.say("моск")
    found = olga.wait_reply(contains="Where should the ads show")
    assert "cn:rg:213" in {b["callback_data"] for b in olga.buttons(found)}
    olga.tap(found, "cn:rg:213")
    olga.wait_edit(found, lambda text: "Chosen: Moscow" in text)
    olga.tap_label(found, "Next")
    olga.wait_reply(contains="landing page")
    if url_first is not None:
        olga.say(url_first)
        assert "This URL does not work" in olga.wait_reply()["text"]
    olga.say("https://shop.example/linen")
    olga.wait_reply(contains="budget")
    olga.say("15 000")
    return olga.wait_reply(contains="Check the brief")


def test_it_builds_a_campaign_from_the_conversation_and_shows_its_run_live_to_the_sheet_link(telegram, workspace, member, linked):
    editor = member(Role.EDITOR)
    with running_bot(telegram) as bot:
        olga = linked(bot, editor)
        confirm = brief(olga, url_first="htp://shop example/linen")
        assert "Regions: Moscow (213)" in confirm["text"]
        assert "Budget: 15000" in confirm["text"]
        assert "linen dress, summer dress, linen sundress" in confirm["text"]
        olga.tap_label(confirm, "Start")

        progress = olga.wait_reply(contains="Campaign #")
        campaign = Campaign.objects.get()
        job = campaign.job
        assert (campaign.author, campaign.status, job.status) == (editor, CampaignStatus.PROCESSING, JobStatus.QUEUED)
        assert (campaign.name, campaign.target_url) == ("Linen dresses — spring", "https://shop.example/linen")
        assert campaign.regions == [213]
        assert campaign.base_keywords == ["linen dress", "summer dress", "linen sundress"]
        assert str(campaign.budget) == "15000.00"
        assert "▶ Collect keywords" in progress["text"] and "Queued." in progress["text"]
        assert labels(olga, progress) == ["✖ Cancel the run"]
        row = CampaignProgressMessage.objects.get()
        assert (row.campaign_id, row.job_id, row.message_id) == (campaign.pk, job.pk, progress["message_id"])

        # A worker moves the job: the message follows, stage by stage.
        job_started(job.pk, stage="collect")
        job_step(job.pk, progress=20, stage="collect", message="Wordstat: 2 of 3 keywords collected.")
        olga.wait_edit(progress, lambda text: "2 of 3 keywords" in text and "20%" in text)
        job_step(job.pk, progress=60, stage="generate", message="Writing ads: cluster 3 of 6.")
        moved = olga.wait_edit(progress, lambda text: "cluster 3 of 6" in text)
        assert "✓ Collect keywords" in moved["text"] and "✓ Cluster" in moved["text"] and "▶ Write ads" in moved["text"]
        assert "60%" in moved["text"]

        Campaign.objects.filter(pk=campaign.pk).update(sheet_url=SHEET)
        job_completed(job.pk, result={"clusters": 6, "ads": 12, "flagged_ads": 0, "sheet_url": SHEET}, message="Done.")
        final = olga.wait_edit(progress, lambda text: "Done: 6 clusters, 12 ads." in text)
        assert SHEET in final["text"] and "100%" in final["text"]
        assert f"Campaigns → #{campaign.pk}" in final["text"]  # where the XLSX and CSV are
        assert not olga.buttons(progress)  # no Cancel on a finished run
        olga.quiet(0.6)
        assert CampaignProgressMessage.objects.get().finished

    assert not ConversationState.objects.exclude(state="").exists()
    assert ActivityLog.objects.filter(actor=editor, action="bot.campaign.create").exists()


def test_cancel_on_the_progress_message_stops_the_run_and_resume_starts_it_again(telegram, workspace, member, linked):
    editor = member(Role.EDITOR)
    second = WorkspaceFactory(name="Second shop")
    editor.memberships.create(workspace=second, role=Role.EDITOR)
    with running_bot(telegram) as bot:
        olga = linked(bot, editor)
        olga.tap_label(brief(olga, workspace=second, too_many_keywords=True), "Start")
        progress = olga.wait_reply(contains="Campaign #")
        campaign = Campaign.objects.get()
        assert campaign.workspace == second  # an editor in two workspaces picked one
        job = campaign.job
        job_started(job.pk, stage="collect")
        job_step(job.pk, progress=10, stage="collect", message="Wordstat: 1 of 3 keywords collected.")
        olga.wait_edit(progress, lambda text: "1 of 3 keywords" in text)

        assert "stops after the current step" in answer_to(olga, progress, f"ca:{campaign.pk}:cancel:0")["text"]
        job.refresh_from_db()
        assert job.cancel_requested and job.status == JobStatus.RUNNING
        olga.wait_edit(progress, lambda text: "Cancelling" in text)
        assert not olga.buttons(progress)

        # The worker's next step notices the request: the run ends cancelled, finished stages kept.
        assert run_stage(campaign.pk, job.pk, "collect", chain=False) is None
        job.refresh_from_db()
        assert job.status == JobStatus.CANCELLED
        stopped = olga.wait_edit(progress, lambda text: "Cancelled." in text)
        assert "■ Collect keywords" in stopped["text"]
        assert labels(olga, progress) == ["▶ Resume"]

        olga.tap_label(progress, "Resume")
        again = olga.wait_reply(contains="Campaign #")
        campaign.refresh_from_db()
        assert campaign.job_id != job.pk and campaign.status == CampaignStatus.PROCESSING
        assert labels(olga, again) == ["✖ Cancel the run"]
        assert not olga.buttons(progress)  # the old message's Resume has done its work

        # A failed run says why and offers Resume.
        job_failed(campaign.job_id, error="Wordstat quota used up; run again later to resume.", message="Stage collect failed.")
        failed = olga.wait_edit(again, lambda text: "Failed:" in text)
        assert "quota used up" in failed["text"] and "✗ Collect keywords" in failed["text"]
        assert labels(olga, again) == ["▶ Resume"]

    actions = list(ActivityLog.objects.filter(actor=editor, action__startswith="bot.campaign.").values_list("action", flat=True))
    assert {"bot.campaign.create", "bot.campaign.cancel", "bot.campaign.run"} <= set(actions)


def make_campaigns(workspace, author, count: int) -> list[Campaign]:
    return [
        campaign_create(
            workspace=workspace,
            author=author,
            name=f"Campaign {n:02d}",
            product_description="Linen dresses.",
            target_url="https://shop.example/",
            base_keywords=["linen dress"],
        )
        for n in range(count)
    ]


def test_history_pages_opens_repeats_and_deletes(telegram, workspace, member, linked):
    editor = member(Role.EDITOR)
    campaigns = make_campaigns(workspace, editor, 10)
    with running_bot(telegram) as bot:
        olga = linked(bot, editor)
        olga.say("/campaigns")
        first = olga.wait_reply(contains="Ad campaigns")
        assert "(page 1 of 2)" in first["text"]
        assert "Campaign 09" in first["text"] and "Campaign 01" not in first["text"]  # newest first
        assert "➕ New campaign" in labels(olga, first)
        olga.tap_label(first, "Next")
        second = olga.wait_edit(first, lambda text: "(page 2 of 2)" in text)
        assert "Campaign 01" in second["text"] and "Campaign 00" in second["text"]

        oldest = campaigns[0]
        olga.tap(first, f"ca:{oldest.pk}:open:2")
        card = olga.wait_edit(first, lambda text: "«Campaign 00»" in text)
        assert "Base keywords (1): linen dress" in card["text"] and "Regions: everywhere" in card["text"]
        assert {"▶ Run again", "🔁 Repeat as a new campaign", "🗑 Delete"} <= set(labels(olga, card))

        olga.tap_label(card, "Repeat")
        progress = olga.wait_reply(contains="Campaign #")
        repeated = Campaign.objects.order_by("-pk").first()
        assert repeated.pk not in {c.pk for c in campaigns}
        assert (repeated.name, repeated.base_keywords) == ("Campaign 00", ["linen dress"])
        assert repeated.status == CampaignStatus.PROCESSING
        assert str(repeated.pk) in progress["text"]

        olga.tap(card, f"ca:{oldest.pk}:open:2")
        card = olga.wait_edit(card, lambda text: "«Campaign 00»" in text and "🗑 Delete" in " ".join(labels(olga, card)))
        olga.tap_label(card, "Delete")
        asked = olga.wait_edit(card, lambda text: "cannot be undone" in text)
        olga.tap_label(asked, "Yes, delete")
        olga.wait_edit(card, lambda text: "Campaign «Campaign 00» deleted." in text and "(page 2 of 2)" in text)

    assert not Campaign.objects.filter(pk=oldest.pk).exists()
    assert Campaign.objects.count() == 10  # 9 left + the repeat
    assert ActivityLog.objects.filter(actor=editor, action="bot.campaign.delete").exists()
    assert ActivityLog.objects.filter(actor=editor, action="bot.campaign.repeat").exists()


def test_a_viewer_sees_the_history_but_cannot_create_run_or_delete(telegram, workspace, member, linked):
    viewer = member(Role.VIEWER)
    (campaign,) = make_campaigns(workspace, None, 1)
    with running_bot(telegram) as bot:
        ivan = linked(bot, viewer)
        ivan.say("/campaign")
        assert "viewer" in ivan.wait_reply()["text"]
        ivan.say("Linen dresses")  # not taken as a campaign name: no conversation was started
        assert "did not understand" in ivan.wait_reply()["text"]

        ivan.say("/menu")
        menu = ivan.wait_reply(contains="what would you like")
        ivan.tap(menu, "menu:campaigns")
        history = ivan.wait_edit(menu, lambda text: "Ad campaigns" in text)
        assert "Campaign 00" in history["text"]
        assert "➕ New campaign" not in labels(ivan, history)
        ivan.tap(history, f"ca:{campaign.pk}:open:1")
        card = ivan.wait_edit(history, lambda text: "«Campaign 00»" in text)
        assert not {"▶ Run again", "🗑 Delete"} & set(labels(ivan, card))

        refused = answer_to(ivan, card, f"ca:{campaign.pk}:delete_ok:1", forged=True)
        assert refused["show_alert"] and "editor role" in refused["text"]
        refused = answer_to(ivan, card, f"ca:{campaign.pk}:resume:1", forged=True)
        assert "editor role" in refused["text"]

    assert Campaign.objects.filter(pk=campaign.pk, job__isnull=True).exists()
    assert not Job.objects.exists()
    assert not ConversationState.objects.exclude(state="").exists()
