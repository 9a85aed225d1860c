"""The admin for campaigns and jobs: pages render, scoped to the member's workspaces; actions go
through the runner and services; an ad edited here is marked edited; settings' secrets write-only."""

import pytest
from django.urls import reverse

from accounts.models import Role
from campaigns.models import Ad, Campaign, CampaignSettings, CampaignStatus
from crosspost.models import Job

from ..factories import WorkspaceFactory
from .web_support import add_output, make_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def staff(client, member):
    def make(role=Role.EDITOR):
        user = member(role, is_staff=True)
        client.force_login(user)
        return user

    return make


def test_it_renders_the_campaign_pages_scoped_to_the_workspace(client, staff, workspace):
    staff(Role.ADMIN)
    campaign = make_campaign(workspace)
    add_output(campaign)
    stranger = make_campaign(WorkspaceFactory(), name="Stranger campaign")
    CampaignSettings.objects.create(workspace=workspace, wordstat_token="y0_ADMIN_SECRET")
    listing = client.get(admin_url(Campaign, "changelist")).content.decode()
    assert campaign.name in listing and "Stranger campaign" not in listing
    assert client.get(admin_url(Campaign, "change", campaign.pk)).status_code == 200
    assert client.get(admin_url(Campaign, "change", stranger.pk)).status_code in (302, 403, 404)
    assert client.get(admin_url(Campaign, "add")).status_code == 200
    ad = Ad.objects.filter(campaign=campaign).first()
    assert client.get(admin_url(Ad, "change", ad.pk)).status_code == 200
    settings_row = CampaignSettings.objects.get(workspace=workspace)
    page = client.get(admin_url(CampaignSettings, "change", settings_row.pk)).content.decode()
    assert "y0_ADMIN_SECRET" not in page and "set" in page
    assert client.get(admin_url(Job, "changelist")).status_code == 200


def test_it_runs_and_cancels_campaigns_with_actions(client, staff, workspace):
    staff(Role.EDITOR)
    campaign = make_campaign(workspace)
    client.post(admin_url(Campaign, "changelist"), {"action": "run", "_selected_action": [campaign.pk]})
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PROCESSING and campaign.job is not None
    job_page = client.get(admin_url(Job, "change", campaign.job_id))
    assert job_page.status_code == 200
    client.post(admin_url(Campaign, "changelist"), {"action": "cancel", "_selected_action": [campaign.pk]})
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CANCELLED


def test_it_marks_an_ad_edited_in_the_admin(client, staff, workspace):
    staff(Role.EDITOR)
    campaign = make_campaign(workspace)
    add_output(campaign, clusters=1)
    ad = Ad.objects.filter(campaign=campaign).first()
    response = client.post(
        admin_url(Ad, "change", ad.pk), {"title1": "Платья из льна", "title2": "", "text": "Лёгкие", "display_path": ""}
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    ad.refresh_from_db()
    assert ad.title1 == "Платья из льна" and ad.edited


def test_it_saves_settings_secrets_without_showing_them(client, staff, workspace):
    staff(Role.ADMIN)
    response = client.post(
        admin_url(CampaignSettings, "add"),
        {"workspace": workspace.pk, "new_wordstat_token": "y0_NEW_SECRET", "share_with": "ops@shop.example"},
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    row = CampaignSettings.objects.get(workspace=workspace)
    assert row.wordstat_token == "y0_NEW_SECRET" and row.share_with == "ops@shop.example"
    assert "y0_NEW_SECRET" not in client.get(admin_url(CampaignSettings, "change", row.pk)).content.decode()
