"""The API keeps to its own OpenAPI schema (found by schemathesis, scripts/api-fuzz.sh): no 5xx for
any input the schema allows, every refusal documented with one error body, answers that match
the documented shapes, and the schema saying what the server really checks."""

import functools
import re
from datetime import UTC, datetime

import jsonschema
import pytest
from rest_framework.test import APIClient

from accounts.models import Role, SocialAccount
from posts.models import Post
from posts.options import post_options_problems

from .factories import (
    AccountGroupFactory,
    ActivityLogFactory,
    ExecutionFactory,
    MediaAssetFactory,
    PostFactory,
    PostMediaFactory,
    ProxyFactory,
    PublishingPolicyFactory,
    SocialAccountFactory,
    WorkspaceFactory,
)

V1 = "/api/v1"
# What posts/options.py refuses, and a value using every kind of key it accepts.
MALFORMED_OPTIONS = [
    "x",
    7,
    [],
    None,
    {"bogus": {}},
    {"telegram": {"silent": True}},
    {"telegram": {"disable_notification": "yes"}},
    {"youtube": {"tags": [1, 2]}},
    {"vk": "wall"},
    {"captions": {"de": 5}},
    {"product": {"sku": 1}},
    {"allow_trim": "yes"},
]
VALID_OPTIONS = {
    "telegram": {"disable_notification": True},
    "youtube": {"title": "Demo", "tags": ["a", "b"], "allow_trim": True},
    "tiktok": {"privacy_level": "SELF_ONLY", "video_cover_timestamp_ms": 1000},
    "pinterest": {"board_id": "1", "cover_image_key_frame_time": 1.5},
    "captions": {"de": "Hallo"},
    "product": {"marketplace": "wildberries", "article": 123456},
    "allow_trim": False,
}
ERROR_STATUSES = ["400", "401", "403", "404", "409", "429"]
RFC_3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@functools.cache
def openapi() -> dict:
    return APIClient().get("/api/schema/", {"format": "json"}).json()


def _json_schema(node):
    """OpenAPI 3.0 schema objects as JSON Schema: ``nullable`` becomes a null alternative."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _json_schema(value) for key, value in node.items() if key != "nullable"}
    return {"anyOf": [converted, {"type": "null"}]} if node.get("nullable") else converted


def response_schema(path: str, method: str, status: int) -> dict:
    document = openapi()
    operation = document["paths"][path][method.lower()]
    schema = operation["responses"][str(status)]["content"]["application/json"]["schema"]
    return {**_json_schema(schema), "components": _json_schema(document["components"])}


def assert_documented(response, path: str, method: str) -> None:
    """The answer's status is documented for the operation and its body matches the schema, formats included."""
    schema = response_schema(path, method, response.status_code)
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(response.json())


def property_schema(component: str, name: str) -> dict:
    return openapi()["components"]["schemas"][component]["properties"][name]


# --- Item 5: server errors -------------------------------------------------------------------------------


OFFSET_FILTERS = [
    ("posts/", "scheduled_at_after"),
    ("posts/", "created_at_before"),
    ("executions/", "scheduled_for_after"),
    ("logs/", "created_at_after"),
]


def _filter_with_large_offsets(api, workspace) -> None:
    client = api(Role.VIEWER)
    noon = datetime(2026, 3, 1, 12, tzinfo=UTC)
    post = PostFactory(workspace=workspace, scheduled_at=noon)
    ExecutionFactory(post=post, scheduled_for=noon)
    ActivityLogFactory(workspace=workspace)
    for path, parameter in OFFSET_FILTERS:
        # RFC 3339 allows offsets up to ±23:59; PostgreSQL refused anything past ±15:59 with a 500.
        for value in ("2026-03-01T00:00:00+16:00", "2026-03-01T23:59:00-23:59"):
            response = client.get(f"{V1}/{path}", {parameter: value})
            assert response.status_code == 200, (path, parameter, value, response.content)
    # 2026-03-02T04:00+16:00 is 12:00 UTC on 1 March: the post's own time.
    assert [
        row["id"] for row in client.get(f"{V1}/posts/", {"scheduled_at_after": "2026-03-02T04:00:00+16:00"}).json()["results"]
    ] == [post.pk]
    assert client.get(f"{V1}/posts/", {"scheduled_at_after": "2026-03-02T04:00:01+16:00"}).json()["count"] == 0


def test_it_filters_by_datetimes_with_any_rfc3339_offset(api, workspace):
    _filter_with_large_offsets(api, workspace)


@pytest.mark.postgres
def test_it_filters_by_datetimes_with_offsets_postgresql_refuses(api, workspace):
    _filter_with_large_offsets(api, workspace)


def test_it_refuses_a_datetime_filter_outside_the_calendar_naming_the_parameter(api):
    response = api(Role.VIEWER).get(f"{V1}/logs/", {"created_at_after": "0001-01-01T00:00:00+01:00"})
    assert response.status_code == 400
    assert "created_at_after" in response.json()
    assert_documented(response, "/api/v1/logs/", "get")


@pytest.mark.parametrize(
    ("path", "payload"), [("accounts/", {"platform": "sandbox", "handle": "a"}), ("posts/", {"caption": "hi"})]
)
def test_it_refuses_null_options_in_a_form_with_a_400(api, path, payload):
    # In a form, the text "null" parses to JSON null after DRF's own null check: NOT NULL raised a 500.
    response = api(Role.ADMIN).post(f"{V1}/{path}", {**payload, "options": "null"})
    assert response.status_code == 400, response.content
    assert "options" in response.json()
    assert not SocialAccount.objects.exists() and not Post.objects.exists()


def test_it_refuses_options_that_are_not_an_object(api):
    response = api(Role.ADMIN).post(f"{V1}/accounts/", {"platform": "sandbox", "handle": "a", "options": []}, format="json")
    assert response.status_code == 400
    assert response.json() == {"options": ["Expected a JSON object, not an array."]}


def test_it_refuses_an_id_too_large_for_the_database_without_a_server_error(api):
    client = api(Role.ADMIN)
    huge = 2**70
    assert client.post(f"{V1}/posts/", {"caption": "hi", "workspace": huge}, format="json").status_code == 409
    assert client.get(f"{V1}/executions/", {"post": huge}).status_code == 400
    assert client.post(f"{V1}/posts/", {"caption": "hi", "media": [huge]}, format="json").status_code == 400


# --- Item 6: every refusal documented, with one body --------------------------------------------------------


def test_it_documents_the_error_responses_on_every_operation():
    paths = openapi()["paths"]
    operations = [(path, method, op) for path, item in paths.items() for method, op in item.items()]
    assert len(operations) >= 60
    for path, method, operation in operations:
        for status in ERROR_STATUSES:
            schema = operation["responses"][status]["content"]["application/json"]["schema"]
            assert {"$ref": "#/components/schemas/Error"} in [schema, *schema.get("anyOf", [])], (path, method, status)
        assert "Retry-After" in operation["responses"]["429"]["headers"]


# Uploads: a media file; a recording as a file (multipart) or a URL (JSON).
MULTIPART = {
    ("/api/v1/media/", "post"): {"multipart/form-data"},
    ("/api/v1/recordings/", "post"): {"multipart/form-data", "application/json"},
}


def test_it_documents_request_bodies_as_json_and_uploads_as_multipart():
    for path, item in openapi()["paths"].items():
        for method, operation in item.items():
            media_types = set(operation.get("requestBody", {}).get("content", {}))
            expected = MULTIPART.get((path, method), {"application/json"})
            assert media_types <= expected, (path, method, media_types)


def test_it_answers_refusals_in_the_documented_shape(api, workspace):
    client = api(Role.EDITOR)
    post = PostFactory(workspace=workspace)
    cases = [
        (client.post(f"{V1}/posts/", {"caption": 0}, format="json"), "/api/v1/posts/", "post", 400),
        (client.get(f"{V1}/posts/", {"search": "a\x00b"}), "/api/v1/posts/", "get", 400),
        (client.get(f"{V1}/posts/", {"page_size": 0}), "/api/v1/posts/", "get", 400),
        (client.post(f"{V1}/posts/{post.pk}/translate/"), "/api/v1/posts/{id}/translate/", "post", 409),
        (client.get(f"{V1}/posts/999999/"), "/api/v1/posts/{id}/", "get", 404),
        (client.get(f"{V1}/posts/not-a-number/"), "/api/v1/posts/{id}/", "get", 404),
        (api(Role.VIEWER).post(f"{V1}/posts/", {"caption": "hi"}, format="json"), "/api/v1/posts/", "post", 403),
        (APIClient().get(f"{V1}/posts/"), "/api/v1/posts/", "get", 401),
        (
            APIClient().post(f"{V1}/auth/token/refresh/", {"refresh": "0"}, format="json"),
            "/api/v1/auth/token/refresh/",
            "post",
            401,
        ),
    ]
    for response, path, method, status in cases:
        assert response.status_code == status, (path, response.content)
        assert response["Content-Type"] == "application/json", (path, response.content)
        assert_documented(response, path, method)
    assert cases[1][0].json() == {"search": ["Null characters are not allowed."]}


def test_it_answers_409_only_when_every_refusal_is_a_conflict_with_stored_data(api, workspace):
    client = api(Role.ADMIN)
    AccountGroupFactory(workspace=workspace, name="Tech")
    duplicate = client.post(f"{V1}/groups/", {"name": "Tech"}, format="json")
    assert duplicate.status_code == 409
    assert "already exists" in duplicate.json()["name"][0]
    unknown_group = client.post(f"{V1}/accounts/", {"platform": "sandbox", "handle": "a", "group": 999999}, format="json")
    assert unknown_group.status_code == 409
    # A malformed field as well: the request is malformed first.
    both = client.post(f"{V1}/accounts/", {"platform": "nope", "handle": "a", "group": 999999}, format="json")
    assert both.status_code == 400
    assert set(both.json()) == {"platform", "group"}
    assert_documented(both, "/api/v1/accounts/", "post")


def test_it_answers_409_for_a_field_that_cannot_change(api, workspace):
    client = api(Role.ADMIN)
    account = SocialAccountFactory(workspace=workspace)
    response = client.patch(f"{V1}/accounts/{account.pk}/", {"platform": "vk"}, format="json")
    assert response.status_code == 409
    assert "cannot change" in response.json()["platform"][0]


# --- Item 6: answers that match the schema ----------------------------------------------------------------


def test_it_answers_null_group_and_proxy_fields_even_after_a_patch(api, workspace):
    # DRF leaves a field with source="group.name" and a default out of a partial update's answer.
    account = SocialAccountFactory(workspace=workspace)
    response = api(Role.ADMIN).patch(f"{V1}/accounts/{account.pk}/", {"language": "de"}, format="json")
    assert response.status_code == 200
    assert (response.json()["group_name"], response.json()["proxy_display_url"]) == (None, None)
    assert_documented(response, "/api/v1/accounts/{id}/", "patch")
    for name in ("group_name", "proxy_display_url"):
        assert property_schema("Account", name)["nullable"] is True


def test_it_declares_fields_that_may_be_null_nullable(api, workspace):
    client = api(Role.EDITOR)
    with_proxy = SocialAccountFactory(workspace=workspace, group=AccountGroupFactory(workspace=workspace))
    with_proxy.proxy = ProxyFactory(workspace=workspace)
    with_proxy.save()
    SocialAccountFactory(workspace=workspace)
    ActivityLogFactory(workspace=workspace, actor=None)
    PostFactory(workspace=workspace)
    post = PostMediaFactory(post__workspace=workspace).post
    checks = [
        (client.get(f"{V1}/accounts/"), "/api/v1/accounts/"),
        (client.get(f"{V1}/logs/"), "/api/v1/logs/"),
        (client.get(f"{V1}/stats/accounts/"), "/api/v1/stats/accounts/"),
        (client.get(f"{V1}/stats/posts/"), "/api/v1/stats/posts/"),
        (client.get(f"{V1}/posts/"), "/api/v1/posts/"),
        (client.get(f"{V1}/media/"), "/api/v1/media/"),
    ]
    for response, path in checks:
        assert response.status_code == 200
        assert_documented(response, path, "get")
    # Inside a post's media list the asset's posts_count is null, also in a PATCH answer.
    patched = client.patch(f"{V1}/posts/{post.pk}/", {"title": "t"}, format="json")
    assert patched.json()["media"][0]["asset"]["posts_count"] is None
    assert_documented(patched, "/api/v1/posts/{id}/", "patch")


def test_it_shows_site_relative_remote_urls_without_claiming_a_uri(api, workspace):
    ExecutionFactory(post=PostFactory(workspace=workspace), status="success", remote_url="/sandbox/#post-734")
    response = api(Role.VIEWER).get(f"{V1}/executions/")
    assert response.json()["results"][0]["remote_url"] == "/sandbox/#post-734"
    assert_documented(response, "/api/v1/executions/", "get")
    assert "format" not in property_schema("Execution", "remote_url")


@pytest.mark.parametrize(
    "scheduled_at",
    ["1800-06-01T12:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:30:00Z", "2026-06-01T08:00:00+16:00"],
)
def test_it_writes_every_datetime_in_rfc3339(api, workspace, scheduled_at):
    # Europe/Berlin before 1893 is local mean time, +00:53:28, which RFC 3339 cannot write; late on
    # 31 December 9999 it is already year 10000 there. Those are written in UTC instead.
    # Stored directly: the API refuses to schedule a post at a time that has passed.
    post = PostFactory(workspace=workspace, scheduled_at=datetime.fromisoformat(scheduled_at))
    response = api(Role.EDITOR).get(f"{V1}/posts/{post.pk}/")
    shown = response.json()["scheduled_at"]
    assert RFC_3339.match(shown), shown
    assert datetime.fromisoformat(shown) == datetime.fromisoformat(scheduled_at)
    assert_documented(response, "/api/v1/posts/{id}/", "get")


def test_it_still_writes_datetimes_in_the_members_time_zone(api, workspace):
    post = PostFactory(workspace=workspace, scheduled_at=datetime(2026, 7, 1, 10, tzinfo=UTC))
    response = api(Role.VIEWER).get(f"{V1}/posts/{post.pk}/")
    assert response.json()["scheduled_at"] == "2026-07-01T12:00:00+02:00"


def test_it_takes_times_of_day_without_an_offset_and_documents_their_form(api, workspace):
    client = api(Role.ADMIN)
    response = client.post(
        f"{V1}/policies/", {"platform": "vk", "quiet_hours_start": "22:00", "quiet_hours_end": "06:30:15"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert (response.json()["quiet_hours_start"], response.json()["quiet_hours_end"]) == ("22:00:00", "06:30:15")
    assert_documented(response, "/api/v1/policies/", "post")
    schema = property_schema("PublishingPolicy", "quiet_hours_start")
    assert "format" not in schema and re.fullmatch(schema["pattern"], "22:00:00")
    for value in ("22:00+01:00", "22:00Z", "22:00\n", "24:00"):
        refused = client.patch(f"{V1}/policies/{response.json()['id']}/", {"quiet_hours_start": value}, format="json")
        assert refused.status_code == 400, value
        assert "quiet_hours_start" in refused.json()


def test_it_documents_optimal_times_and_refuses_a_trailing_newline(api, workspace):
    policy = PublishingPolicyFactory(workspace=workspace)
    client = api(Role.ADMIN)
    assert client.patch(f"{V1}/policies/{policy.pk}/", {"optimal_times": ["09:00\n"]}, format="json").status_code == 400
    assert client.patch(f"{V1}/policies/{policy.pk}/", {"optimal_times": ["09:00"]}, format="json").status_code == 200
    items = openapi()["components"]["schemas"]["PatchedPublishingPolicyRequest"]["properties"]["optimal_times"]["items"]
    assert re.search(items["pattern"], "09:00") and not re.search(items["pattern"], "9:00")


# --- Item 6: the server refuses what the schema refuses, and accepts what it allows ---------------------------


@pytest.mark.parametrize("page_size", ["0", "501", "-1", "abc", "", "1.5"])
def test_it_refuses_a_page_size_outside_the_documented_range(api, page_size):
    response = api(Role.VIEWER).get(f"{V1}/posts/", {"page_size": page_size})
    assert response.status_code == 400
    assert "page_size" in response.json()


def test_it_pages_within_the_documented_range(api, workspace):
    client = api(Role.VIEWER)
    for _ in range(3):
        PostFactory(workspace=workspace)
    assert len(client.get(f"{V1}/posts/", {"page_size": 2, "page": 2}).json()["results"]) == 1
    assert client.get(f"{V1}/posts/", {"page_size": 500}).status_code == 200
    assert client.get(f"{V1}/posts/", {"page": 0}).status_code == 400
    assert client.get(f"{V1}/posts/", {"page": 10**30}).status_code == 404
    parameters = {p["name"]: p["schema"] for p in openapi()["paths"]["/api/v1/posts/"]["get"]["parameters"]}
    assert parameters["page_size"] == {"type": "integer", "minimum": 1, "maximum": 500}
    assert parameters["page"] == {"type": "integer", "minimum": 1}


@pytest.mark.parametrize("parameter", ["workspace", "status", "scheduled_at_after"])
def test_it_refuses_a_typed_filter_parameter_sent_empty(api, parameter):
    response = api(Role.VIEWER).get(f"{V1}/posts/", {parameter: ""})
    assert response.status_code == 400
    assert parameter in response.json()


def test_it_takes_an_empty_free_text_filter_as_no_filter(api, workspace):
    PostFactory(workspace=workspace)
    assert api(Role.VIEWER).get(f"{V1}/posts/", {"language": ""}).json()["count"] == 1


def test_it_filters_by_an_unknown_or_foreign_id_with_an_empty_page(api, workspace):
    client = api(Role.VIEWER)
    PostFactory(workspace=workspace)
    other = WorkspaceFactory()
    for value in (other.pk, 999999):
        response = client.get(f"{V1}/posts/", {"workspace": value})
        assert (response.status_code, response.json()["count"]) == (200, 0)
    assert client.get(f"{V1}/posts/", {"workspace": workspace.pk}).json()["count"] == 1
    assert client.get(f"{V1}/accounts/", {"group": 0}).status_code == 400  # below the documented minimum


def test_it_refuses_a_number_where_the_schema_says_text(api, workspace):
    client = api(Role.EDITOR)
    post = PostFactory(workspace=workspace)
    assert client.put(f"{V1}/posts/{post.pk}/captions/de/", {"caption": 0}, format="json").status_code == 400
    assert client.post(f"{V1}/posts/", {"caption": True}, format="json").status_code == 400


def test_it_refuses_a_blank_caption_as_its_schema_says(api, workspace):
    client = api(Role.EDITOR)
    post = PostFactory(workspace=workspace)
    execution = ExecutionFactory(post=post, status="pending")
    assert client.put(f"{V1}/posts/{post.pk}/captions/de/", {"caption": " \x1c"}, format="json").status_code == 400
    assert client.patch(f"{V1}/executions/{execution.pk}/caption/", {"caption": "\u3000"}, format="json").status_code == 400
    pattern = openapi()["components"]["schemas"]["ExecutionCaptionRequest"]["properties"]["caption"]["pattern"]
    assert not re.search(pattern, " \x1c\u3000") and re.search(pattern, " a ")


def test_it_requires_the_caption_of_a_caption_patch_in_its_schema():
    # DRF validates a PATCH body partially only in partial_update; these actions validate it in full.
    document = openapi()
    for path in ("/api/v1/executions/{id}/caption/", "/api/v1/posts/{id}/captions/{language}/"):
        ref = document["paths"][path]["patch"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert document["components"]["schemas"][ref.rsplit("/", 1)[1]]["required"] == ["caption"]


def test_it_refuses_an_invalid_dry_run_parameter(api, workspace):
    post = PostFactory(workspace=workspace)
    response = api(Role.EDITOR).post(f"{V1}/posts/{post.pk}/publish/?dry_run=maybe")
    assert response.status_code == 400
    assert "dry_run" in response.json()


def test_it_refuses_a_mark_published_url_that_is_not_a_url(api, workspace):
    execution = ExecutionFactory(post=PostFactory(workspace=workspace), status="unconfirmed")
    client = api(Role.EDITOR)
    response = client.post(f"{V1}/executions/{execution.pk}/mark-published/", {"remote_url": "not a url"}, format="json")
    assert response.status_code == 400
    assert "remote_url" in response.json()


def test_it_refuses_media_ids_the_schema_refuses(api, workspace):
    client = api(Role.EDITOR)
    asset = MediaAssetFactory(workspace=workspace)
    assert client.post(f"{V1}/posts/", {"caption": "hi", "media": [0]}, format="json").status_code == 400
    assert client.post(f"{V1}/posts/", {"caption": "hi", "media": ["²"]}, format="json").status_code == 400
    assert client.post(f"{V1}/posts/", {"caption": "hi", "media": [asset.pk, asset.pk]}, format="json").status_code == 400
    media = openapi()["components"]["schemas"]["PostRequest"]["properties"]["media"]
    assert media["uniqueItems"] is True and media["items"]["minimum"] == 1


def test_it_offers_only_known_time_zones_for_an_account(api):
    client = api(Role.ADMIN)
    response = client.post(f"{V1}/accounts/", {"platform": "sandbox", "handle": "a", "timezone": "Mars/Olympus"}, format="json")
    assert response.status_code == 400
    enum = property_schema("AccountRequest", "timezone")
    assert "Europe/Berlin" in str(openapi()["components"]["schemas"]) and "Mars/Olympus" not in str(enum)


@pytest.mark.parametrize("options", MALFORMED_OPTIONS)
def test_it_documents_post_options_as_the_validator_checks_them(options):
    assert post_options_problems(options)
    schema = {**_json_schema(property_schema("PostRequest", "options")), "components": {}}
    assert not jsonschema.Draft202012Validator(schema).is_valid(options)


def test_it_documents_every_post_option_the_validator_accepts():
    assert not post_options_problems(VALID_OPTIONS)
    schema = {**_json_schema(property_schema("PostRequest", "options")), "components": {}}
    jsonschema.Draft202012Validator(schema).validate(VALID_OPTIONS)


def test_it_answers_json_for_an_api_url_no_route_matches(db):
    response = APIClient().get(f"{V1}/posts/1.5/executions/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.django_db
def test_post_actions_answer_in_their_documented_shapes(api, workspace):
    """Found by the API fuzzer: merging the approval actions moved the cancel's response schema
    onto submit, so a cancel's answer was documented as a whole post."""
    from tests.factories import PostFactory

    client = api("editor")
    post = PostFactory(workspace=workspace)
    cancelled = client.post(f"/api/v1/posts/{post.pk}/cancel/", {}, format="json")
    assert cancelled.status_code == 200
    assert_documented(cancelled, "/api/v1/posts/{id}/cancel/", "post")
    workspace.posts_need_approval = True
    workspace.save(update_fields=["posts_need_approval"])
    submitted = client.post(f"/api/v1/posts/{PostFactory(workspace=workspace).pk}/submit/", {}, format="json")
    assert submitted.status_code == 200
    assert_documented(submitted, "/api/v1/posts/{id}/submit/", "post")
