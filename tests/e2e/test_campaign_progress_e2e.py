"""Issue 16 in a real browser: a member watches a campaign being built. The test moves the run's
Job through the stages with crosspost.jobs (as the stage tasks do) and the page, polling by
itself, shows the bar's width and percent, the current stage and the message change, ending at
100 % "Completed" with every stage done."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.models import Role
from campaigns.models import Campaign, CampaignStatus, Stage
from campaigns.runner import JOB_KIND
from campaigns.services import campaign_create
from crosspost.jobs import job_completed, job_create, job_started, job_step

from ..factories import MembershipFactory, UserFactory
from .conftest import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_campaign_page_shows_the_build_moving_through_its_stages_to_completed(page, live_server, db_lock):
    from playwright.sync_api import expect

    with db_lock:
        member = MembershipFactory(user=UserFactory(username="marketer"), role=Role.EDITOR)
        campaign = campaign_create(
            workspace=member.workspace,
            author=member.user,
            name="Linen dresses",
            product_description="Linen summer dresses.",
            target_url="https://shop.example/linen",
            base_keywords=["льняное платье", "платье из льна", "летнее платье"],
        )
        job = job_create(
            kind=JOB_KIND, workspace=member.workspace, author=member.user, subject=f"campaigns.campaign:{campaign.pk}"
        )
        job_started(job.pk, stage=Stage.COLLECT, message="Asking Wordstat about “льняное платье”")
        Campaign.objects.filter(pk=campaign.pk).update(job=job, status=CampaignStatus.PROCESSING)

    path = f"/campaigns/{campaign.pk}/"
    login(page, live_server.url, "marketer", next_path=path)
    bar, percent = page.get_by_test_id("progress-bar"), page.get_by_test_id("progress-percent")
    expect(percent).to_have_text("0 %")
    expect(page.get_by_test_id("stage-collect")).to_have_attribute("data-mark", "current")
    expect(page.get_by_test_id("job-message")).to_contain_text("льняное платье")

    def move(progress: int, stage: str, message: str) -> None:
        with db_lock:
            job_step(job.pk, progress=progress, stage=stage, message=message)

    move(40, Stage.CLEAN, "Lemmatising 412 phrases")
    expect(bar).to_have_attribute("style", "width: 40%")
    expect(percent).to_have_text("40 %")
    expect(page.get_by_test_id("stage-clean")).to_have_attribute("data-mark", "current")
    expect(page.get_by_test_id("stage-collect")).to_have_attribute("data-mark", "done")
    expect(page.get_by_test_id("job-message")).to_have_text("Lemmatising 412 phrases")

    move(68, Stage.GENERATE, "Writing ads for cluster 3 of 7")
    expect(bar).to_have_attribute("style", "width: 68%")
    expect(page.get_by_test_id("stage-generate")).to_have_attribute("data-mark", "current")
    expect(page.get_by_test_id("stage-cluster")).to_have_attribute("data-mark", "done")
    expect(page.get_by_test_id("stage-export")).to_have_attribute("data-mark", "waiting")
    shot(page, "campaign-progress-generate")

    with db_lock:
        job_completed(job.pk, message="Done.")
        Campaign.objects.filter(pk=campaign.pk).update(
            status=CampaignStatus.COMPLETED, finished_stage=Stage.EXPORT, updated_at=timezone.now()
        )
    expect(percent).to_have_text("100 %")
    expect(bar).to_have_attribute("style", "width: 100%")
    expect(page.get_by_test_id("job-status")).to_have_text("Completed")
    for stage in ("collect", "clean", "cluster", "generate", "validate", "export"):
        expect(page.get_by_test_id(f"stage-{stage}")).to_have_attribute("data-mark", "done")
    expect(page.get_by_test_id("campaign-progress")).to_have_attribute("data-live", "false")
    expect(page.get_by_test_id("campaign-status")).to_have_text("Completed")  # the page reloaded once
    shot(page, "campaign-progress-completed")
    assert page.console_problems == []
