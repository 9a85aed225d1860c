"""Writing Yandex Direct ads with the LLM, checking them against Direct's limits, and exporting the
campaign to Google Sheets (loopback emulator), XLSX and CSV."""

from __future__ import annotations

import csv
import io
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.cache import cache
from openpyxl import load_workbook

from campaigns.clients.sheets import SheetsError, write_spreadsheet
from campaigns.direct import check_ad, trim_at_word
from campaigns.exports import ADS_HEADER, campaign_csv, campaign_xlsx
from campaigns.models import Ad, AdStatus, Campaign, CampaignSettings, CampaignStatus, Cluster, Keyword
from campaigns.runner import campaign_run, run_all
from crosspost.models import Job, JobStatus
from tests.emulators.openai import OpenAIEmulator, header
from tests.emulators.sheets import GoogleSheetsEmulator
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

VALID = {"title1": "Купить диван недорого", "title2": "Доставка по Москве", "text": "Диваны от фабрики. Закажите!"}
VALID_AD = {**VALID, "display_path": "диваны"}


@pytest.fixture(autouse=True)
def _quick_ai(settings):
    """No LLM unless a test starts one; no client-side retries and no waiting between ours."""
    cache.clear()
    settings.OPENAI_API_KEY = ""
    settings.TRANSLATION_MAX_RETRIES = 0
    settings.CAMPAIGN_AI_RETRIES = 2
    settings.CAMPAIGN_AI_BACKOFF_SECONDS = 0
    yield
    cache.clear()


@pytest.fixture
def llm(settings):
    with OpenAIEmulator() as emulator:
        settings.OPENAI_API_KEY = emulator.api_key
        settings.OPENAI_BASE_URL = emulator.url + "/v1"
        yield emulator


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def google(settings, rsa_key):
    with GoogleSheetsEmulator(public_key=rsa_key.public_key()) as emulator:
        settings.GOOGLE_SHEETS_BASE_URL = emulator.url
        settings.GOOGLE_DRIVE_BASE_URL = emulator.url
        yield emulator


def service_account(emulator, key) -> dict:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return {
        "type": "service_account",
        "project_id": "test-project",
        "private_key_id": "k1",
        "private_key": pem.decode(),
        "client_email": emulator.client_email,
        "client_id": "1",
        "token_uri": emulator.token_uri,
    }


@pytest.fixture
def campaign(workspace):
    """A campaign whose clusters are done: «диваны» (bigger) and «кресла»."""
    author = UserFactory(email="author@example.test")
    campaign = Campaign.objects.create(
        workspace=workspace,
        author=author,
        name="Мебель",
        product_description="Диваны и кресла от фабрики в Москве.",
        target_url="https://mebel.example.ru/catalog?utm=1",
        base_keywords=["диван", "кресло"],
        regions=[213],
        minus_words=["бесплатно"],
        ads_per_cluster=2,
        finished_stage="cluster",
    )
    small = Cluster.objects.create(campaign=campaign, position=0, name="кресла", size=1, total_frequency=300)
    big = Cluster.objects.create(campaign=campaign, position=1, name="диваны", size=2, total_frequency=5000)
    Keyword.objects.create(campaign=campaign, phrase="купить кресло", frequency=300, cluster=small)
    Keyword.objects.create(campaign=campaign, phrase="диван угловой", frequency=1000, cluster=big)
    Keyword.objects.create(campaign=campaign, phrase="купить диван", frequency=4000, cluster=big)
    return campaign


def run_from(campaign, stage=None) -> Job:
    job = campaign_run(campaign=campaign, from_stage=stage)
    job.refresh_from_db()  # campaign_run records the first stage after creating the job
    run_all(campaign.pk, job.pk, job.stage)
    job.refresh_from_db()
    campaign.refresh_from_db()
    return job


def ads_answer(*ads) -> dict:
    return {"ads": [{**VALID_AD, **ad} for ad in ads]}


# ----- Direct's limits -----------------------------------------------------------------------------


def test_it_names_the_field_and_the_limit_it_breaks():
    assert check_ad(VALID_AD) == []
    title1, text = ("Диван угловой " * 5).strip(), ("слово " * 14).strip()
    problems = check_ad({"title1": title1, "title2": "", "text": text, "display_path": "диваны москва"})

    assert [(p.field, p.message) for p in problems] == [
        ("title1", "Title 1 has 69 characters; Direct allows 56."),
        ("text", 'Text has 83 characters; Direct allows 81 (up to 15 of . , ! : ; " are not counted).'),
        ("display_path", "Display link may hold only letters, digits and - № / % # (no spaces or dots)."),
    ]
    assert check_ad({**VALID_AD, "title2": "Сверхдлинноесловокотороенельзя"})[0].message == (
        "Title 2: the word «Сверхдлинноесловокотороенельзя» is longer than 22 characters."
    )


def test_it_does_not_count_up_to_15_narrow_characters_in_the_text_but_counts_them_in_title_1():
    text = ("Диван, кресло! " * 6).strip()  # 89 characters, 12 of them narrow: 77 counted
    assert check_ad({**VALID_AD, "text": text}) == []
    longer = ("Диван, кресло! " * 8).strip()  # 119 characters, 16 narrow: only 15 are free
    assert check_ad({**VALID_AD, "text": longer})[0].message.startswith("Text has 104 characters")
    title = ("Диван, кресло! " * 4).strip()  # 59 characters: every one counts in title 1
    assert check_ad({**VALID_AD, "title1": title})[0].message == "Title 1 has 59 characters; Direct allows 56."
    assert check_ad({**VALID_AD, "display_path": "диваны-№1/50%"}) == []


def test_it_trims_at_a_word_boundary():
    assert trim_at_word("Купить диван недорого, с доставкой", 22) == "Купить диван недорого"
    assert trim_at_word("Короткий", 22) == "Короткий"
    assert trim_at_word("Оченьдлинноеслово", 5) == ""


# ----- generate ----------------------------------------------------------------------------------------


def test_it_writes_valid_ads_for_every_cluster_largest_first(campaign, llm):
    job = run_from(campaign, "generate")

    assert job.status == JobStatus.COMPLETED, job.error
    assert campaign.ads.count() == 4 and not campaign.ads.exclude(status=AdStatus.VALID).exists()
    first = llm.user_payload(llm.completion_calls[0])
    assert first == {
        "product": "Диваны и кресла от фабрики в Москве.",
        "site": "mebel.example.ru",
        "phrases": ["купить диван", "диван угловой"],
        "ads": 2,
    }
    assert "title1 ≤ 56 (words ≤ 22)" in llm.completion_calls[0].json["messages"][0]["content"]
    assert job.result["ads"] == 4 and job.result["flagged_ads"] == 0


def test_it_asks_again_with_the_problems_listed_when_an_ad_is_over_a_limit(campaign, llm):
    campaign.ads_per_cluster = 1
    campaign.save()
    long_title = "Купить диван угловой недорого с доставкой по Москве и области"
    llm.reply_next(ads_answer({"title1": long_title}), ads_answer({"title1": "Купить диван угловой"}))

    run_from(campaign, "generate")

    ad = campaign.ads.get(cluster__name="диваны")
    assert (ad.title1, ad.status, ad.attempts) == ("Купить диван угловой", AdStatus.VALID, 2)
    repair = llm.completion_calls[1].json["messages"][-1]["content"]
    assert f"Ad «{long_title}»: Title 1 has {len(long_title)} characters; Direct allows 56." in repair


def test_a_non_json_answer_is_one_failed_try(campaign, llm):
    campaign.ads_per_cluster = 1
    campaign.save()
    llm.reply_next("Конечно! Вот объявления: ...", ads_answer({}))

    run_from(campaign, "generate")

    assert campaign.ads.get(cluster__name="диваны").attempts == 2
    assert "not JSON" in llm.completion_calls[1].json["messages"][-1]["content"]


def test_it_trims_or_flags_an_ad_still_over_the_limit_after_the_tries(campaign, llm):
    long_text = "Диваны от фабрики в Москве: угловые, прямые, модульные, кровати, тахты, кушетки и пуфы по выгодной цене"
    bad = ads_answer({"text": long_text}, {"title2": "Суперпредложениедлянашихклиентов"})
    llm.reply_next(bad, bad, bad)

    job = run_from(campaign, "generate")  # generate → validate → export (no Sheets configured)

    assert job.status == JobStatus.COMPLETED, job.error
    trimmed, flagged = campaign.ads.filter(cluster__name="диваны").order_by("position")
    # Cut after the last whole word that fits: 86 characters, 7 of them narrow, so 79 are counted.
    assert trimmed.status == AdStatus.VALID and trimmed.text == long_text.removesuffix(" по выгодной цене")
    assert flagged.status == AdStatus.FLAGGED and flagged.attempts == 3
    assert [p["message"] for p in flagged.problems] == [
        'Title 2 has 32 characters; Direct allows 30 (up to 15 of . , ! : ; " are not counted).',
        "Title 2: the word «Суперпредложениедлянашихклиентов» is longer than 22 characters.",
    ]
    assert len(llm.completion_calls) == 3 + 1  # three tries for диваны, one answer for кресла
    assert job.result["flagged_ads"] == 1


def test_a_rerun_replaces_generated_ads_and_keeps_hand_edited_ones(campaign, llm):
    run_from(campaign, "generate")
    edited = campaign.ads.filter(cluster__name="диваны").first()
    Ad.objects.filter(pk=edited.pk).update(title1="Мой заголовок", edited=True)
    old = set(campaign.ads.exclude(pk=edited.pk).values_list("pk", flat=True))
    calls = len(llm.completion_calls)

    run_from(campaign, "generate")

    assert campaign.ads.get(pk=edited.pk).title1 == "Мой заголовок"
    assert campaign.ads.count() == 4 and not old & set(campaign.ads.values_list("pk", flat=True))
    new_calls = llm.completion_calls[calls:]
    assert [llm.user_payload(c)["ads"] for c in new_calls] == [1, 2]  # the edited ad counts for диваны


def test_an_llm_outage_stops_resumably_and_the_resume_writes_only_the_missing_clusters(campaign, llm):
    llm.fail_next(None)  # the first cluster's answer goes through
    llm.fail_next(500, times=3)  # then the first try and both retries fail

    job = run_from(campaign, "generate")

    assert job.status == JobStatus.FAILED and campaign.status == CampaignStatus.FAILED
    assert "still unavailable" in job.error and "Run it again to resume" in job.message
    kept = set(campaign.ads.values_list("pk", flat=True))
    assert len(kept) == 2 and {a.cluster.name for a in campaign.ads.all()} == {"диваны"}

    job = run_from(campaign)  # resumes at generate

    assert job.status == JobStatus.COMPLETED, job.error
    assert kept < set(campaign.ads.values_list("pk", flat=True)) and campaign.ads.count() == 4
    assert llm.user_payload(llm.completion_calls[-1])["phrases"] == ["купить кресло"]


def test_without_an_llm_it_says_what_to_set(campaign, settings):
    settings.OPENAI_API_KEY = ""

    job = run_from(campaign, "generate")

    assert job.status == JobStatus.FAILED and "set OPENAI_API_KEY" in job.error


# ----- validate --------------------------------------------------------------------------------------


def test_validate_rechecks_hand_edited_ads(campaign, llm):
    run_from(campaign, "generate")
    broken, fixed = campaign.ads.filter(cluster__name="диваны")
    Ad.objects.filter(pk=broken.pk).update(title1="Д" * 60, edited=True)
    Ad.objects.filter(pk=fixed.pk).update(status=AdStatus.FLAGGED, problems=[{"field": "text", "message": "old"}])

    job = run_from(campaign, "validate")

    broken.refresh_from_db()
    fixed.refresh_from_db()
    assert broken.status == AdStatus.FLAGGED and broken.problems[0]["field"] == "title1"
    assert (fixed.status, fixed.problems) == (AdStatus.VALID, [])
    assert job.result["flagged_ads"] == 1


# ----- export ------------------------------------------------------------------------------------------


def test_it_exports_to_a_shared_google_sheet_and_rewrites_it_on_the_next_export(campaign, llm, google, rsa_key):
    CampaignSettings.objects.create(workspace=campaign.workspace, google_service_account=service_account(google, rsa_key))

    job = run_from(campaign, "generate")

    assert job.status == JobStatus.COMPLETED, job.error
    sheet_id = campaign.sheet_id
    assert campaign.sheet_url == f"https://docs.google.com/spreadsheets/d/{sheet_id}"
    assert google.titles(sheet_id) == ["Keywords", "Clusters", "Ads"]  # the default Sheet1 removed
    ads = google.values(sheet_id, "Ads")
    assert ads[0] == ADS_HEADER
    main = campaign.ads.filter(cluster__name="кресла").order_by("position").first()
    assert ads[1][:5] == ["-", "Текстово-графическое", 1, "кресла", "купить кресло -бесплатно"]
    assert ads[1][5:] == [main.title1, main.title2, main.text, campaign.target_url, main.display_path, "Москва"]
    assert ads[2][0] == "+" and ads[2][4] == ""  # the group's second ad, no phrase
    assert [r[2] for r in google.values(sheet_id, "Keywords")[1:]] == ["купить кресло", "купить диван", "диван угловой"]
    assert google.values(sheet_id, "Clusters")[1:] == [[1, "кресла", 1, 300, 2, 0], [2, "диваны", 2, 5000, 2, 0]]
    assert google.permissions == [
        {"file": sheet_id, "type": "user", "role": "writer", "emailAddress": "author@example.test", "notify": True}
    ]

    Keyword.objects.filter(phrase="диван угловой").delete()
    CampaignSettings.objects.filter(workspace=campaign.workspace).update(share_with="team@example.test")
    job = run_from(campaign, "export")

    assert job.status == JobStatus.COMPLETED, job.error
    assert campaign.sheet_id == sheet_id and len(google.spreadsheets) == 1
    assert [r[2] for r in google.values(sheet_id, "Keywords")[1:]] == ["купить кресло", "купить диван"]
    assert google.permissions[-1]["emailAddress"] == "team@example.test"
    # Each API call carried the access token the emulator issued for the signed JWT.
    assert all((header(r, "Authorization") or "").startswith("Bearer ya29.") for r in google.requests if r.path != "/token")


def test_flagged_ads_go_to_their_own_tab_not_to_the_upload(campaign, llm, google, rsa_key):
    CampaignSettings.objects.create(workspace=campaign.workspace, google_service_account=service_account(google, rsa_key))
    bad = ads_answer({"display_path": "диваны москва"}, {})
    llm.reply_next(bad, bad, bad)

    run_from(campaign, "generate")

    assert google.titles(campaign.sheet_id) == ["Keywords", "Clusters", "Ads", "Flagged"]
    flagged = google.values(campaign.sheet_id, "Flagged")
    assert flagged[1][1] == "диваны" and "Display link may hold only" in flagged[1][6]
    assert "диваны москва" not in json.dumps(google.values(campaign.sheet_id, "Ads"), ensure_ascii=False)


def test_a_rejected_service_account_fails_the_export_without_leaking_the_key(campaign, llm, google, rsa_key):
    account = service_account(google, rsa_key)
    CampaignSettings.objects.create(workspace=campaign.workspace, google_service_account=account)
    google.fail_next("invalid_grant")

    job = run_from(campaign, "generate")

    assert job.status == JobStatus.FAILED and "Google refused the service account's token request" in job.error
    assert "PRIVATE KEY" not in job.error and account["private_key_id"] not in job.error
    assert campaign.ads.count() == 4 and campaign.finished_stage == "validate"  # a rerun exports only


def test_without_a_service_account_the_export_skips_sheets(campaign, llm):
    job = run_from(campaign, "generate")

    assert job.status == JobStatus.COMPLETED and campaign.sheet_id == ""
    assert job.result["sheet_url"] == ""


def test_the_xlsx_has_the_three_tabs_with_headers_and_rows(campaign, llm):
    run_from(campaign, "generate")

    workbook = load_workbook(io.BytesIO(campaign_xlsx(campaign)))

    assert workbook.sheetnames == ["Keywords", "Clusters", "Ads"]
    rows = [list(r) for r in workbook["Ads"].iter_rows(values_only=True)]
    assert rows[0] == ADS_HEADER and len(rows) == 1 + 3 + 2  # a line per keyword + one per extra ad
    assert [r[4] for r in rows[1:] if r[0] == "-"] == [
        "купить кресло -бесплатно",
        "купить диван -бесплатно",
        "диван угловой -бесплатно",
    ]
    assert [list(r) for r in workbook["Clusters"].iter_rows(values_only=True)][1] == [1, "кресла", 1, 300, 2, 0]


def test_a_phrase_that_looks_like_a_formula_stays_text_in_the_xlsx(campaign):
    Keyword.objects.filter(phrase="купить кресло").update(phrase='=HYPERLINK("http://evil.example","кресло")')

    workbook = load_workbook(io.BytesIO(campaign_xlsx(campaign)))

    cell = workbook["Keywords"]["C2"]
    assert cell.value == '=HYPERLINK("http://evil.example","кресло")' and cell.data_type == "s"


def test_the_csv_is_commanders_tab_separated_utf8(campaign, llm):
    run_from(campaign, "generate")

    text = campaign_csv(campaign, "Ads")

    assert not text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text), delimiter="\t"))
    assert rows[0] == ADS_HEADER and rows[1][4] == "купить кресло -бесплатно"
    assert list(csv.reader(io.StringIO(campaign_csv(campaign, "Keywords")), delimiter="\t"))[1][2] == "купить кресло"
    with pytest.raises(ValueError):
        campaign_csv(campaign, "Secrets")


def test_a_deleted_sheet_is_made_again_and_google_errors_say_what_to_do(google, rsa_key):
    account = service_account(google, rsa_key)
    tables = {"Ads": [ADS_HEADER]}

    sheet = write_spreadsheet(service_account=account, title="Мебель", tables=tables, sheet_id="gone")

    assert sheet.id in google.spreadsheets and sheet.id != "gone"
    assert google.values(sheet.id, "Ads") == [ADS_HEADER]
    google.fail_next(403)
    with pytest.raises(SheetsError) as denied:
        write_spreadsheet(service_account=account, title="Мебель", tables=tables, sheet_id=sheet.id)
    assert denied.value.permanent and "(HTTP 403): share it with crosspost@test-project" in denied.value.message
    google.fail_next(429)
    with pytest.raises(SheetsError) as busy:
        write_spreadsheet(service_account=account, title="Мебель", tables=tables, sheet_id=sheet.id)
    assert not busy.value.permanent and "try the export again later" in busy.value.message
    with pytest.raises(SheetsError, match="not a service account JSON key"):
        write_spreadsheet(service_account={"type": "authorized_user"}, title="Мебель", tables=tables)
