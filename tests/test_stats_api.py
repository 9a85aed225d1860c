"""The statistics API: scoped, paginated, documented, and a 400 naming the allowed values for a bad period."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Role

from .test_api_schema import assert_documented
from .test_stats_results import TELEGRAM_NO_VIEWS, world  # noqa: F401 - the fixture

V1 = "/api/v1"


@pytest.fixture
def viewer(api):
    return api(Role.VIEWER)


def test_it_answers_a_posts_results(viewer, world):  # noqa: F811
    response = viewer.get(f"{V1}/posts/{world['post'].pk}/results/")
    assert response.status_code == 200
    assert_documented(response, "/api/v1/posts/{id}/results/", "get")
    body = response.json()
    assert body["totals"]["views"] == {"value": 780.0, "reporting": 2, "of": 3, "reason": ""}
    assert [(p["slot"], p["views"]) for p in body["series"]] == [("1h", 150), ("6h", 380), ("24h", 700)]
    assert body["count"] == 3
    telegram = next(row for row in body["results"] if row["platform"] == "telegram")
    assert telegram["numbers"]["views"] == {"value": None, "reason": TELEGRAM_NO_VIEWS}


def test_it_pages_the_rows_but_not_the_totals(viewer, world):  # noqa: F811
    body = viewer.get(f"{V1}/posts/{world['post'].pk}/results/", {"page_size": 1, "page": 2}).json()
    assert len(body["results"]) == 1 and body["count"] == 3
    assert body["totals"]["likes"]["value"] == 27


def test_it_hides_another_workspaces_post_and_account(viewer, world):  # noqa: F811
    stranger = world["stranger"]
    assert viewer.get(f"{V1}/posts/{stranger.pk}/results/").status_code == 404
    account = stranger.executions.get().account
    assert viewer.get(f"{V1}/accounts/{account.pk}/results/").status_code == 404


def test_it_answers_a_posts_results_as_csv(viewer, world):  # noqa: F811
    response = viewer.get(f"{V1}/posts/{world['post'].pk}/results/", {"format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert {row["account_handle"]: row["views"] for row in rows} == {"tg_shop": "", "vk_shop": "700", "yt_shop": "80"}


def test_an_empty_format_is_refused_not_read_as_json(viewer, world):  # noqa: F811
    """The API fuzzer found ``?format=`` answered 200: the documented values are json and csv."""
    for url in (f"{V1}/posts/{world['post'].pk}/results/", f"{V1}/stats/publications/"):
        response = viewer.get(url, {"format": ""})
        assert response.status_code == 400 and "json or csv" in str(response.json()), url


def test_it_ranks_the_top_posts(viewer, world):  # noqa: F811
    response = viewer.get(f"{V1}/stats/top-posts/", {"period": "30d"})
    assert_documented(response, "/api/v1/stats/top-posts/", "get")
    assert [(row["title"], row["numbers"]["views"]["value"]) for row in response.json()["results"]] == [
        ("Autumn sale", 780.0),
        ("Summer news", 400.0),
    ]


@pytest.mark.parametrize("path", ["stats/top-posts/", "stats/totals/", "stats/publications/"])
def test_it_refuses_an_unknown_period_naming_the_allowed_ones(viewer, path):
    response = viewer.get(f"{V1}/{path}", {"period": "1y"})
    assert response.status_code == 400
    assert_documented(response, f"/api/v1/{path}", "get")
    assert "7d, 30d" in response.json()["period"][0]
    assert viewer.get(f"{V1}/{path}", {"period": ""}).status_code == 400
    assert viewer.get(f"{V1}/{path}", {"period": "2026-03-01..2026-03-31"}).status_code == 200


def test_it_totals_per_group_and_per_platform(viewer, world):  # noqa: F811
    by_group = viewer.get(f"{V1}/stats/totals/", {"period": "7d", "by": "group"})
    assert_documented(by_group, "/api/v1/stats/totals/", "get")
    assert {row["label"]: row["numbers"]["likes"]["value"] for row in by_group.json()["results"]} == {
        "Shops": 24.0,
        "No group": 3.0,
    }
    by_platform = viewer.get(f"{V1}/stats/totals/", {"period": "7d"}).json()["results"]
    assert {row["key"]: row["numbers"]["views"]["value"] for row in by_platform} == {
        "telegram": None,
        "vk": 700.0,
        "youtube": 80.0,
    }
    assert viewer.get(f"{V1}/stats/totals/", {"by": "weekday"}).status_code == 400


def test_it_answers_an_accounts_recent_results(viewer, world):  # noqa: F811
    response = viewer.get(f"{V1}/accounts/{world['vk'].pk}/results/", {"period": "30d"})
    assert_documented(response, "/api/v1/accounts/{id}/results/", "get")
    body = response.json()
    assert [row["post_title"] for row in body["results"]] == ["Autumn sale", "Summer news"]
    assert body["totals"]["views"]["value"] == 1100.0


def test_it_lists_the_raw_snapshots_scoped_and_filtered(viewer, world):  # noqa: F811
    everything = viewer.get(f"{V1}/stats/snapshots/")
    assert_documented(everything, "/api/v1/stats/snapshots/", "get")
    assert everything.json()["count"] == 8  # not the other workspace's one
    of_vk = viewer.get(f"{V1}/stats/snapshots/", {"post": world["post"].pk, "account": str(world["vk"].pk)}).json()
    assert [row["slot"] for row in of_vk["results"]] == ["1h", "6h", "24h"]
    since = (timezone.now() - timedelta(days=2) + timedelta(hours=12)).isoformat()
    assert [row["slot"] for row in viewer.get(f"{V1}/stats/snapshots/", {"since": since}).json()["results"]] == ["24h", "24h"]
    assert viewer.get(f"{V1}/stats/snapshots/", {"since": "yesterday"}).status_code == 400
    refused = viewer.get(f"{V1}/stats/publications/", {"format": "csv", "workspace": "9223372036854775808"})
    assert (refused.status_code, refused["Content-Type"]) == (400, "application/json") and "workspace" in refused.json()
    for empty in ("since", "post", "account"):  # an empty parameter is a mistake to name, not "no filter"
        response = viewer.get(f"{V1}/stats/snapshots/", {empty: ""})
        assert response.status_code == 400 and empty in response.json()


def test_it_streams_a_periods_publications_as_csv(viewer, world):  # noqa: F811
    response = viewer.get(f"{V1}/stats/publications/", {"period": "30d", "format": "csv"})
    body = b"".join(response.streaming_content).decode()
    assert body.startswith("\ufeff") and len(body.strip().splitlines()) == 1 + 4
    listed = viewer.get(f"{V1}/stats/publications/", {"period": "30d"})
    assert_documented(listed, "/api/v1/stats/publications/", "get")
    assert listed.json()["count"] == 4
