"""The dashboard's Campaigns pages (Django test client): list with filters, the brief's form with
errors next to fields, a campaign's page and its live progress region, run/cancel/re-run, inline ad
edits, write-only settings; viewers read only and another workspace's campaign is a 404."""

import pytest
from django.urls import reverse

from accounts.models import Role
from campaigns.models import Ad, Campaign, CampaignSettings, CampaignStatus, Stage
from crosspost.jobs import job_completed, job_failed, job_step
from crosspost.models import JobStatus

from ..factories import WorkspaceFactory
from .web_support import BRIEF, add_output, make_campaign

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def login(client, member):
    def make(role=Role.EDITOR):
        user = member(role)
        client.force_login(user)
        return user

    return make


def form_data(**change):
    data = {**BRIEF, "base_keywords": "\n".join(BRIEF["base_keywords"]), "regions": "213, 2", "ads_per_cluster": 2}
    return {**data, **change}


def test_it_lists_campaigns_with_filters_and_a_nav_link(client, login, workspace):
    login(Role.VIEWER)
    make_campaign(workspace, name="Linen dresses")
    archived = make_campaign(workspace, name="Wool coats")
    Campaign.objects.filter(pk=archived.pk).update(status=CampaignStatus.ARCHIVED)
    make_campaign(WorkspaceFactory(), name="Someone else's")
    page = client.get(reverse("dashboard:campaigns")).content.decode()
    assert "Linen dresses" in page and "Wool coats" in page and "Someone else" not in page
    assert f'href="{reverse("dashboard:campaigns")}"' in page
    assert reverse("dashboard:campaign-new") not in page  # a viewer creates nothing
    filtered = client.get(reverse("dashboard:campaigns"), {"status": "archived"}, **HTMX).content.decode()
    assert "Wool coats" in filtered and "Linen dresses" not in filtered and "<html" not in filtered
    searched = client.get(reverse("dashboard:campaigns"), {"q": "coats"}).content.decode()
    assert "Wool coats" in searched and "Linen dresses" not in searched


def test_it_creates_a_campaign_from_the_form(client, login, workspace):
    user = login()
    response = client.post(reverse("dashboard:campaign-new"), form_data(budget="1500.50"))
    campaign = Campaign.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("dashboard:campaign", args=[campaign.pk])
    assert campaign.base_keywords == BRIEF["base_keywords"] and campaign.regions == [213, 2]
    assert str(campaign.budget) == "1500.50" and campaign.author == user and campaign.workspace == workspace


def test_it_shows_the_briefs_errors_next_to_their_fields(client, login):
    login()
    response = client.post(
        reverse("dashboard:campaign-new"), form_data(target_url="https://shop example", base_keywords="", regions="Moscow")
    )
    assert response.status_code == 400
    page = response.content.decode()
    for field in ("target_url", "base_keywords", "regions"):
        section = page.split(f'id="field-{field}"', 1)[1].split('<div class="field', 1)[0]
        assert "field-error" in section, field
    assert not Campaign.objects.exists()


def test_it_refuses_viewers_and_hides_other_workspaces(client, login, workspace):
    login(Role.VIEWER)
    campaign = make_campaign(workspace)
    assert client.get(reverse("dashboard:campaign-new")).status_code == 403
    assert client.post(reverse("dashboard:campaign-run", args=[campaign.pk])).status_code == 403
    stranger = make_campaign(WorkspaceFactory())
    assert client.get(reverse("dashboard:campaign", args=[stranger.pk])).status_code == 404
    page = client.get(reverse("dashboard:campaign", args=[campaign.pk])).content.decode()
    assert 'data-testid="run"' not in page and campaign.name in page


def test_it_runs_and_shows_live_progress_until_the_job_ends(client, login, workspace):
    login()
    campaign = make_campaign(workspace)
    assert client.post(reverse("dashboard:campaign-run", args=[campaign.pk])).status_code == 302
    campaign.refresh_from_db()
    job_step(campaign.job_id, progress=45, stage=Stage.CLUSTER, message="Clustering 120 phrases")
    url = reverse("dashboard:campaign", args=[campaign.pk])
    region = client.get(url, {"region": "progress", "was": "live"}, **HTMX)
    html = region.content.decode()
    assert "<html" not in html and 'hx-trigger="every 1s"' in html
    assert "width: 45%" in html and "45 %" in html and "Clustering 120 phrases" in html
    assert 'data-testid="stage-collect" data-mark="done"' in html
    assert 'data-testid="stage-cluster" data-mark="current"' in html
    assert 'data-testid="stage-export" data-mark="waiting"' in html
    assert "HX-Refresh" not in region
    job_completed(campaign.job_id, message="Done.")
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.COMPLETED, finished_stage=Stage.EXPORT)
    ended = client.get(url, {"region": "progress", "was": "live"}, **HTMX)
    assert ended["HX-Refresh"] == "true"  # the page reloads once, showing what the run wrote
    assert "every 1s" not in ended.content.decode() and "width: 100%" in ended.content.decode()


def test_it_marks_the_stage_a_run_failed_at_and_offers_to_resume(client, login, workspace):
    login()
    campaign = make_campaign(workspace)
    client.post(reverse("dashboard:campaign-run", args=[campaign.pk]))
    campaign.refresh_from_db()
    job_step(campaign.job_id, progress=40, stage=Stage.CLEAN)
    job_failed(campaign.job_id, error="Wordstat quota used up", message="Stage clean failed.")
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.FAILED, finished_stage=Stage.COLLECT)
    page = client.get(reverse("dashboard:campaign", args=[campaign.pk])).content.decode()
    assert 'data-testid="stage-clean" data-mark="failed"' in page and "Wordstat quota used up" in page
    assert "Resume" in page and "every 1s" not in page
    client.post(reverse("dashboard:campaign-run", args=[campaign.pk]), {"stage": "clean"})
    campaign.refresh_from_db()
    assert campaign.job.stage == Stage.CLEAN and campaign.job.status == JobStatus.QUEUED


def test_it_cancels_a_run(client, login, workspace):
    login()
    campaign = make_campaign(workspace)
    client.post(reverse("dashboard:campaign-run", args=[campaign.pk]))
    response = client.post(reverse("dashboard:campaign-cancel", args=[campaign.pk]), follow=True)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CANCELLED and campaign.job.status == JobStatus.CANCELLED
    assert 'data-testid="stage-collect" data-mark="cancelled"' in response.content.decode()


def test_it_shows_clusters_and_flagged_ads_and_edits_an_ad_inline(client, login, workspace):
    login()
    campaign = make_campaign(workspace)
    add_output(campaign)
    page = client.get(reverse("dashboard:campaign", args=[campaign.pk])).content.decode()
    assert page.count('data-testid="cluster"') == 2 and "frequency 300" in page
    assert "title1: 60 characters, at most 56" in page and page.count('class="ad flagged"') == 2
    ad = Ad.objects.filter(status="flagged").first()
    url = reverse("dashboard:campaign-ad", args=[campaign.pk, ad.pk])
    assert 'name="title1"' in client.get(url, **HTMX).content.decode()
    refused = client.post(url, {"title1": "", "text": "Платья"}, **HTMX)
    assert refused.status_code == 400 and "field-error" in refused.content.decode()
    saved = client.post(
        url, {"title1": "Платья из льна", "title2": "", "text": "Лёгкие, с доставкой", "display_path": "platya"}, **HTMX
    )
    assert saved.status_code == 200 and "Платья из льна" in saved.content.decode() and "edited" in saved.content.decode()
    ad.refresh_from_db()
    assert ad.edited and ad.display_path == "platya"
    other_ad = Ad.objects.exclude(campaign=campaign).first()
    assert other_ad is None or client.get(reverse("dashboard:campaign-ad", args=[campaign.pk, other_ad.pk])).status_code == 404


def test_it_keeps_campaign_settings_write_only(client, login, workspace):
    login(Role.ADMIN)
    url = reverse("dashboard:campaign-settings")
    key = '{"type": "service_account", "client_email": "b@p.iam.gserviceaccount.com", "private_key": "-----SECRET-----"}'
    response = client.post(url, {"workspace": workspace.pk, "wordstat_token": "y0_TOKEN_SECRET", "google_service_account": key})
    assert response.status_code == 302
    page = client.get(url).content.decode()
    assert "y0_TOKEN_SECRET" not in page and "-----SECRET" not in page and "b@p.iam.gserviceaccount.com" in page
    row = CampaignSettings.objects.get(workspace=workspace)
    assert row.wordstat_token == "y0_TOKEN_SECRET"
    client.post(url, {"workspace": workspace.pk, "share_with": "ops@shop.example"})  # empty secrets: kept
    row.refresh_from_db()
    assert row.wordstat_token == "y0_TOKEN_SECRET" and row.share_with == "ops@shop.example"
    bad = client.post(url, {"workspace": workspace.pk, "google_service_account": "{not json"})
    assert bad.status_code == 400 and "not JSON" in bad.content.decode()


def test_it_refuses_settings_to_an_editor(client, login):
    login(Role.EDITOR)
    assert client.get(reverse("dashboard:campaign-settings")).status_code == 403


def test_it_finds_regions_by_name_for_the_brief(client, login):
    pytest.importorskip("campaigns.regions")
    login(Role.VIEWER)
    results = client.get(reverse("dashboard:campaign-regions"), {"q": "Моск"}).json()["results"]
    assert {"id": 213, "name": "Москва"} in results or any(region["id"] == 213 for region in results)
