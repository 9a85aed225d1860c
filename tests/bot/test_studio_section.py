"""The bot's Studio section: recordings, a card, and runs refused or started by the same rules as the API."""

import pytest

from accounts.models import Role
from crosspost.models import ActivityLog, Job, JobStatus
from studio.models import Recording, RecordingStatus, StudioQuota, Template

from ..factories import WorkspaceFactory
from ..support.bot import running_bot
from .conftest import answer_to, labels

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_editor_runs_a_recording_and_a_used_up_quota_is_said_in_words(telegram, linked, member, workspace):
    editor = member(Role.EDITOR)
    template = Template.objects.create(workspace=workspace, name="Talks")
    talk = Recording.objects.create(
        workspace=workspace, remote_id="z1", display_name="Weekly talk", duration_s=3725, size_bytes=10, template=template
    )
    busy = Recording.objects.create(workspace=workspace, remote_id="z2", display_name="Busy one", template=template)
    StudioQuota.objects.create(workspace=workspace, concurrent_jobs=1)
    Job.objects.create(
        kind="studio.pipeline", workspace=workspace, status=JobStatus.RUNNING, progress=40, message="Removing silences…"
    )
    stranger = Recording.objects.create(workspace=WorkspaceFactory(), remote_id="s", display_name="Not yours")
    with running_bot(telegram) as bot:
        olga = linked(bot, editor)
        olga.say("/studio")
        listing = olga.wait_reply()
        assert "Weekly talk · Discovered" in listing["text"] and "Busy one" in listing["text"]
        assert "Not yours" not in listing["text"]

        olga.tap(listing, f"rc:{talk.pk}:open")
        card = olga.wait_edit(listing, lambda t: "Template: Talks" in t)
        assert "1:02:05" in card["text"]
        assert {"▶ Run the whole pipeline", "⏭ Skip"} <= set(labels(olga, card))

        olga.tap_label(card, "Run the whole pipeline")
        card = olga.wait_edit(card, lambda t: t.startswith("⚠"))
        assert "1 at once" in card["text"]  # the quota, in words; nothing started
        talk.refresh_from_db()
        assert talk.job is None and talk.status == RecordingStatus.DISCOVERED

        Job.objects.filter(workspace=workspace).update(status=JobStatus.COMPLETED)
        olga.tap_label(card, "Run the whole pipeline")
        card = olga.wait_edit(card, lambda t: t.startswith("Started"))
        talk.refresh_from_db()
        assert talk.job is not None and talk.status == RecordingStatus.DOWNLOADING
        assert "⏹ Cancel the job" in labels(olga, card)

        olga.tap_label(card, "Cancel the job")
        card = olga.wait_edit(card, lambda t: t.startswith("Asked to stop"))

        answer = answer_to(olga, card, f"rc:{stranger.pk}:run", forged=True)
        assert answer["show_alert"] and answer["text"].startswith("Recording not found")
    assert Job.objects.get(pk=talk.job_id).status == JobStatus.CANCELLED
    assert set(ActivityLog.objects.filter(actor=editor, action__startswith="bot.studio.").values_list("action", flat=True)) == {
        "bot.studio.run",
        "bot.studio.cancel",
    }
    busy.refresh_from_db()
    assert busy.job is None


def test_a_viewer_sees_the_card_without_buttons(telegram, linked, member, workspace):
    viewer = member(Role.VIEWER)
    talk = Recording.objects.create(workspace=workspace, remote_id="z1", display_name="Weekly talk")
    with running_bot(telegram) as bot:
        vera = linked(bot, viewer)
        vera.say("/studio")
        listing = vera.wait_reply()
        vera.tap(listing, f"rc:{talk.pk}:open")
        card = vera.wait_edit(listing, lambda t: "Weekly talk" in t and "Status:" in t)
        assert not any("Run" in label or "Skip" in label for label in labels(vera, card))
        answer = answer_to(vera, card, f"rc:{talk.pk}:run", forged=True)
        assert answer["show_alert"] and "editor role" in answer["text"]
    talk.refresh_from_db()
    assert talk.job is None
