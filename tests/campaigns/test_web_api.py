"""/api/v1/campaigns/, /api/v1/jobs/ and /api/v1/campaign-settings/: roles, workspace scoping,
refusals with field messages, runs and cancels through the runner and crosspost.jobs."""

import pytest
from rest_framework.test import APIClient

from accounts.models import Role
from campaigns.models import Ad, Campaign, CampaignSettings, CampaignStatus
from crosspost.jobs import JobCancelled, job_step
from crosspost.models import Job, JobStatus

from ..factories import WorkspaceFactory
from .web_support import BRIEF, add_output, make_campaign

V1 = "/api/v1"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_it_creates_a_campaign_for_an_editor_checking_the_brief(api, workspace):
    client = api(Role.EDITOR)
    response = client.post(f"{V1}/campaigns/", {**BRIEF, "base_keywords": ["a", "A", " b "]}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["base_keywords"] == ["a", "b"]
    assert body["status"] == "draft" and body["job"] is None and body["workspace"] == workspace.pk
    assert Campaign.objects.get(pk=body["id"]).author == client.user


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"target_url": "ftp://shop.example"}, "target_url"),
        ({"target_url": "https://shop example/"}, "target_url"),
        ({"target_url": "https://localhost/"}, "target_url"),
        ({"base_keywords": []}, "base_keywords"),
        ({"base_keywords": [f"k{n}" for n in range(51)]}, "base_keywords"),
        ({"regions": [0]}, "regions"),
        ({"budget": "-5"}, "budget"),
        ({"ads_per_cluster": 9}, "ads_per_cluster"),
        ({"name": "   "}, "name"),
    ],
)
def test_it_refuses_a_bad_brief_naming_the_field(api, workspace, change, field):
    response = api(Role.EDITOR).post(f"{V1}/campaigns/", {**BRIEF, **change}, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()) == [field] and response.json()[field]
    assert not Campaign.objects.exists()


def test_it_lets_a_viewer_read_but_not_write(api, workspace):
    campaign = make_campaign(workspace)
    client = api(Role.VIEWER)
    assert client.get(f"{V1}/campaigns/").json()["results"][0]["id"] == campaign.pk
    assert client.post(f"{V1}/campaigns/", BRIEF, format="json").status_code == 403
    assert client.post(f"{V1}/campaigns/{campaign.pk}/run/").status_code == 403
    assert client.patch(f"{V1}/campaigns/{campaign.pk}/", {"name": "x"}, format="json").status_code == 403


def test_it_hides_another_workspaces_campaign(api, workspace):
    stranger = make_campaign(WorkspaceFactory())
    client = api(Role.OWNER)
    assert client.get(f"{V1}/campaigns/").json()["count"] == 0
    for path in ("", "clusters/", "keywords/", "ads/"):
        assert client.get(f"{V1}/campaigns/{stranger.pk}/{path}").status_code == 404
    assert client.post(f"{V1}/campaigns/{stranger.pk}/run/").status_code == 404
    assert client.get(f"{V1}/jobs/").json()["count"] == 0


def test_it_runs_a_campaign_and_follows_its_job(api, workspace):
    campaign = make_campaign(workspace)
    client = api(Role.EDITOR)
    response = client.post(f"{V1}/campaigns/{campaign.pk}/run/", {}, format="json")
    assert response.status_code == 202, response.content
    job = response.json()["job"]
    assert response.json()["status"] == "processing" and job["stage"] == "collect" and job["progress"] == 0
    job_step(job["id"], progress=42, stage="cluster", message="Clustering 120 phrases")
    shown = client.get(f"{V1}/jobs/{job['id']}/").json()
    assert (shown["progress"], shown["stage"], shown["message"], shown["finished"]) == (
        42,
        "cluster",
        "Clustering 120 phrases",
        False,
    )
    assert client.post(f"{V1}/campaigns/{campaign.pk}/run/").status_code == 409  # already running
    assert client.patch(f"{V1}/campaigns/{campaign.pk}/", {"name": "x"}, format="json").status_code == 409


def test_it_refuses_to_rerun_from_a_stage_whose_predecessor_has_not_finished(api, workspace):
    campaign = make_campaign(workspace)
    response = api(Role.EDITOR).post(f"{V1}/campaigns/{campaign.pk}/run/", {"stage": "generate"}, format="json")
    assert response.status_code == 400 and "stage" in response.json()
    response = api(Role.EDITOR).post(f"{V1}/campaigns/{campaign.pk}/run/", {"stage": "bogus"}, format="json")
    assert response.status_code == 400 and "stage" in response.json()


def test_it_cancels_a_queued_run_at_once_and_a_running_one_at_its_next_step(api, workspace):
    client = api(Role.EDITOR)
    campaign = make_campaign(workspace)
    client.post(f"{V1}/campaigns/{campaign.pk}/run/")
    response = client.post(f"{V1}/campaigns/{campaign.pk}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert response.json()["job"]["status"] == "cancelled"
    assert client.post(f"{V1}/campaigns/{campaign.pk}/cancel/").status_code == 409

    job_id = client.post(f"{V1}/campaigns/{campaign.pk}/run/").json()["job"]["id"]
    Job.objects.filter(pk=job_id).update(status=JobStatus.RUNNING)
    response = client.post(f"{V1}/jobs/{job_id}/cancel/")
    assert response.status_code == 200 and response.json()["cancel_requested"] is True
    with pytest.raises(JobCancelled):
        job_step(job_id, progress=50)
    assert api(Role.VIEWER).post(f"{V1}/jobs/{job_id}/cancel/").status_code == 403


def test_it_answers_409_when_cancelling_a_finished_job(api, workspace):
    job = Job.objects.create(kind="campaign.build", workspace=workspace, status=JobStatus.COMPLETED, progress=100)
    response = api(Role.EDITOR).post(f"{V1}/jobs/{job.pk}/cancel/")
    assert response.status_code == 409 and "already" in response.json()["detail"]


def test_it_lists_clusters_keywords_and_ads_and_edits_an_ad(api, workspace):
    campaign = make_campaign(workspace)
    add_output(campaign)
    client = api(Role.EDITOR)
    clusters = client.get(f"{V1}/campaigns/{campaign.pk}/clusters/").json()["results"]
    assert [(c["size"], c["total_frequency"], c["ads"]) for c in clusters] == [(2, 300, 2), (2, 301, 2)]
    keywords = client.get(f"{V1}/campaigns/{campaign.pk}/keywords/", {"page_size": 3}).json()
    assert keywords["count"] == 4 and len(keywords["results"]) == 3
    ads = client.get(f"{V1}/campaigns/{campaign.pk}/ads/").json()["results"]
    assert [ad["status"] for ad in ads] == ["valid", "flagged", "valid", "flagged"]
    flagged = ads[1]
    response = client.patch(f"{V1}/campaigns/{campaign.pk}/ads/{flagged['id']}/", {"title1": "Платья из льна"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["title1"] == "Платья из льна" and response.json()["edited"] is True
    assert Ad.objects.get(pk=flagged["id"]).edited is True
    bad = client.patch(f"{V1}/campaigns/{campaign.pk}/ads/{flagged['id']}/", {"title1": " "}, format="json")
    assert bad.status_code == 400 and "title1" in bad.json()
    assert (
        api(Role.VIEWER).patch(f"{V1}/campaigns/{campaign.pk}/ads/{flagged['id']}/", {"text": "x"}, format="json").status_code
        == 403
    )
    other = make_campaign(workspace)
    assert client.patch(f"{V1}/campaigns/{other.pk}/ads/{flagged['id']}/", {"text": "x"}, format="json").status_code == 404


def test_it_archives_and_restores(api, workspace):
    campaign = make_campaign(workspace)
    client = api(Role.EDITOR)
    assert client.post(f"{V1}/campaigns/{campaign.pk}/archive/").json()["status"] == "archived"
    assert client.post(f"{V1}/campaigns/{campaign.pk}/run/").status_code == 409
    assert client.post(f"{V1}/campaigns/{campaign.pk}/archive/", {"archived": False}, format="json").json()["status"] == "draft"


def test_it_deletes_a_campaign_that_is_not_running(api, workspace):
    campaign = make_campaign(workspace)
    client = api(Role.EDITOR)
    assert client.delete(f"{V1}/campaigns/{campaign.pk}/").status_code == 204
    assert not Campaign.objects.exists()


def test_it_refuses_an_unknown_csv_tab(api, workspace):
    campaign = make_campaign(workspace)
    response = api(Role.VIEWER).get(f"{V1}/campaigns/{campaign.pk}/export.csv", {"tab": "nope"})
    assert response.status_code == 400 and "tab" in response.json()


def test_it_keeps_campaign_settings_write_only_for_admins(api, workspace):
    client = api(Role.ADMIN)
    key = {"type": "service_account", "client_email": "bot@proj.iam.gserviceaccount.com", "private_key": "-----KEY-----"}
    response = client.put(
        f"{V1}/campaign-settings/{workspace.pk}/",
        {"wordstat_token": "y0_secret-token", "google_service_account": key, "share_with": "ops@shop.example"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json() == {
        "workspace": workspace.pk,
        "share_with": "ops@shop.example",
        "has_wordstat_token": True,
        "has_google_service_account": True,
        "google_client_email": "bot@proj.iam.gserviceaccount.com",
    }
    assert b"y0_secret" not in client.get(f"{V1}/campaign-settings/{workspace.pk}/").content
    assert b"-----KEY" not in client.get(f"{V1}/campaign-settings/").content
    row = CampaignSettings.objects.get(workspace=workspace)
    assert row.wordstat_token == "y0_secret-token" and row.google_service_account == key
    # Left out: kept; empty: removed; not a service account key: refused.
    client.put(f"{V1}/campaign-settings/{workspace.pk}/", {"wordstat_token": ""}, format="json")
    row.refresh_from_db()
    assert row.wordstat_token == "" and row.google_service_account == key
    bad = client.put(f"{V1}/campaign-settings/{workspace.pk}/", {"google_service_account": {"a": 1}}, format="json")
    assert bad.status_code == 400 and "google_service_account" in bad.json()
    assert api(Role.EDITOR).get(f"{V1}/campaign-settings/{workspace.pk}/").status_code == 403
    assert client.get(f"{V1}/campaign-settings/{WorkspaceFactory().pk}/").status_code == 404
    assert APIClient().get(f"{V1}/campaign-settings/").status_code == 401


def test_it_marks_the_campaign_processing_while_its_job_runs(api, workspace):
    campaign = make_campaign(workspace)
    api(Role.EDITOR).post(f"{V1}/campaigns/{campaign.pk}/run/")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PROCESSING and campaign.job.status == JobStatus.QUEUED


@pytest.mark.parametrize(
    "path",
    [
        "/campaigns/99999999999999999999999/",
        "/campaigns/abc/clusters/",
        "/campaigns/99999999999999999999999/export.csv",
        "/jobs/99999999999999999999999/",
        "/campaign-settings/99999999999999999999999/",
    ],
)
def test_it_answers_404_for_an_id_no_row_can_have(api, path):
    response = api(Role.OWNER).get(f"{V1}{path}")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"


def test_it_answers_404_for_an_ad_id_too_large(api, workspace):
    campaign = make_campaign(workspace)
    response = api(Role.EDITOR).patch(f"{V1}/campaigns/{campaign.pk}/ads/999999999999999999/", {"text": "x"}, format="json")
    assert response.status_code == 404


def test_a_queued_run_cancelled_through_the_jobs_api_leaves_the_campaign_cancelled_not_processing(api, workspace):
    client = api(Role.EDITOR)
    campaign = make_campaign(workspace)
    job_id = client.post(f"{V1}/campaigns/{campaign.pk}/run/").json()["job"]["id"]
    assert client.post(f"{V1}/jobs/{job_id}/cancel/").json()["status"] == "cancelled"
    campaign.refresh_from_db()
    assert campaign.status == "cancelled"
    assert client.post(f"{V1}/campaigns/{campaign.pk}/run/").status_code == 202  # and it can run again


@pytest.mark.parametrize("path", ["export.csv?format=csv", "export.xlsx?format=xlsx"])
def test_a_refused_download_answers_json_even_when_the_file_format_was_asked_for(api, path):
    """What the API fuzzer found: a 404 for ?format=csv came back labelled text/csv."""
    response = api(Role.EDITOR).get(f"{V1}/campaigns/0/{path}")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()
