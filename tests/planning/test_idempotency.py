"""Idempotency-Key on API writes: a retried request gets the first answer back and makes nothing
twice; a key reused for another request is refused (422); a request still running answers 409;
keys are per user and forgotten after 24 hours."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Role
from crosspost.models import IdempotencyKey
from crosspost.tasks import purge_idempotency_keys
from media.models import MediaAsset
from posts.api import PostViewSet
from posts.models import Post
from tests.conftest import api_client_for
from tests.factories import png_bytes

pytestmark = pytest.mark.django_db

POSTS = "/api/v1/posts/"
KEY = "3f0c9b1e-6a55-4c1e-9d1e-2b7c1a0d9e42"


def create_post(client, key=KEY, caption="Launch day", **extra):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(POSTS, {"caption": caption, **extra}, format="json", headers=headers)


def test_the_same_key_twice_makes_one_post_and_replays_the_answer(api, workspace):
    client = api(Role.EDITOR)
    first = create_post(client)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    second = create_post(client)
    assert second.status_code == 201 and second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json() and second.headers["Content-Type"] == first.headers["Content-Type"]
    assert Post.objects.count() == 1


def test_without_a_key_each_request_runs(api, workspace):
    client = api(Role.EDITOR)
    create_post(client, key=None)
    create_post(client, key=None)
    assert Post.objects.count() == 2 and not IdempotencyKey.objects.exists()


def test_the_same_key_with_another_body_or_path_is_refused(api, workspace):
    client = api(Role.EDITOR)
    create_post(client)
    other_body = create_post(client, caption="Another caption")
    assert other_body.status_code == 422
    assert "Idempotency-Key was used for another request" in other_body.json()["detail"]
    other_path = client.post("/api/v1/groups/", {"name": "Shops"}, format="json", headers={"Idempotency-Key": KEY})
    assert other_path.status_code == 422
    assert Post.objects.count() == 1


def test_a_method_the_view_does_not_support_gets_its_405_not_the_keys_422(api, workspace):
    """Found by the API fuzzer: the key was checked before the URL was resolved, so a PUT to the
    posts list with a used key answered 422 instead of 405 Method Not Allowed."""
    client = api(Role.EDITOR)
    create_post(client)
    put = client.put(POSTS, {"caption": "x"}, format="json", headers={"Idempotency-Key": KEY})
    assert put.status_code == 405
    missing = client.post("/api/v1/no-such-thing/", {}, format="json", headers={"Idempotency-Key": KEY})
    assert missing.status_code == 404
    assert IdempotencyKey.objects.count() == 1


def test_a_request_still_running_with_the_same_key_answers_409(api, workspace, monkeypatch):
    client = api(Role.EDITOR)
    inner = {}
    create = PostViewSet.create

    def create_while_a_retry_arrives(self, request, *args, **kwargs):
        # The client gives up waiting and retries while this first request is still being served.
        if not inner:
            inner["retry"] = create_post(api_client_for(client.user))
        return create(self, request, *args, **kwargs)

    monkeypatch.setattr(PostViewSet, "create", create_while_a_retry_arrives)
    first = create_post(client)
    assert first.status_code == 201
    assert inner["retry"].status_code == 409
    assert "still running" in inner["retry"].json()["detail"]
    assert Post.objects.count() == 1
    assert create_post(client).headers["Idempotent-Replayed"] == "true"  # once it finished, the answer is there


def test_a_key_expires_after_24_hours(api, workspace):
    client = api(Role.EDITOR)
    create_post(client)
    # A day passes.
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=24, minutes=1))
    again = create_post(client)
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert Post.objects.count() == 2
    # A different body is a new request too once the key expired.
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    assert create_post(client, caption="Next week").status_code == 201


def test_the_beat_forgets_expired_keys(api, workspace):
    client = api(Role.EDITOR)
    create_post(client, key="old-key")
    create_post(client, key="new-key", caption="Fresh")
    IdempotencyKey.objects.filter(key="old-key").update(created_at=timezone.now() - timedelta(hours=25))
    assert purge_idempotency_keys() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new-key"]


def test_another_users_same_key_is_independent(api, workspace):
    alice, bob = api(Role.EDITOR), api(Role.EDITOR)
    assert create_post(alice).status_code == 201
    answer = create_post(bob, caption="Bob's own post")
    assert answer.status_code == 201 and "Idempotent-Replayed" not in answer.headers
    assert sorted(Post.objects.values_list("caption", flat=True)) == ["Bob's own post", "Launch day"]


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "tab\there", "ключ"])
def test_a_malformed_key_is_a_400_that_says_what_a_key_looks_like(api, workspace, key):
    client = api(Role.EDITOR)
    answer = client.post(POSTS, {"caption": "hi"}, format="json", headers={"Idempotency-Key": key})
    assert answer.status_code == 400
    assert "1 to 255 visible ASCII characters" in answer.json()["detail"]
    assert not Post.objects.exists()


def test_a_refusal_is_kept_and_replayed_too(api, workspace):
    client = api(Role.EDITOR)
    refused = client.post(POSTS, {"caption": "hi", "media": [999999]}, format="json", headers={"Idempotency-Key": KEY})
    assert refused.status_code in (400, 409)
    again = client.post(POSTS, {"caption": "hi", "media": [999999]}, format="json", headers={"Idempotency-Key": KEY})
    assert again.status_code == refused.status_code and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == refused.json()


def test_an_anonymous_request_is_left_to_the_view(db):
    answer = APIClient().post(POSTS, {"caption": "hi"}, format="json", headers={"Idempotency-Key": KEY})
    assert answer.status_code == 401 and not IdempotencyKey.objects.exists()


def test_a_session_login_is_keyed_like_a_token(client, member, workspace):
    client.force_login(member(Role.EDITOR))
    headers = {"Idempotency-Key": KEY}
    first = client.post(POSTS, {"caption": "hi"}, content_type="application/json", headers=headers)
    second = client.post(POSTS, {"caption": "hi"}, content_type="application/json", headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.headers["Idempotent-Replayed"] == "true" and Post.objects.count() == 1


def test_an_upload_with_a_key_is_stored_once(api, workspace):
    client = api(Role.EDITOR)
    content = png_bytes(80, 60)

    def send():
        upload = SimpleUploadedFile("shot.png", content, content_type="image/png")
        return client.post("/api/v1/media/", {"file": upload}, format="multipart", headers={"Idempotency-Key": KEY})

    first, second = send(), send()
    assert first.status_code == 201, first.content
    assert second.headers["Idempotent-Replayed"] == "true" and second.json()["id"] == first.json()["id"]
    assert MediaAsset.objects.count() == 1 and MediaAsset.objects.get().width == 80


def test_deletes_and_patches_are_keyed_too(api, workspace):
    client = api(Role.EDITOR)
    post_id = create_post(client, key=None).json()["id"]
    patch = {"caption": "Edited"}
    first = client.patch(f"{POSTS}{post_id}/", patch, format="json", headers={"Idempotency-Key": "patch-1"})
    second = client.patch(f"{POSTS}{post_id}/", patch, format="json", headers={"Idempotency-Key": "patch-1"})
    assert first.status_code == 200 and second.headers["Idempotent-Replayed"] == "true"
    gone = client.delete(f"{POSTS}{post_id}/", headers={"Idempotency-Key": "delete-1"})
    again = client.delete(f"{POSTS}{post_id}/", headers={"Idempotency-Key": "delete-1"})
    assert gone.status_code == 204 and again.status_code == 204 and again.headers["Idempotent-Replayed"] == "true"


def test_the_schema_documents_the_header_and_its_422_on_writes_only(db):
    document = APIClient().get("/api/schema/", {"format": "json"}).json()
    create = document["paths"]["/api/v1/posts/"]["post"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in create["parameters"])
    assert create["responses"]["422"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    listing = document["paths"]["/api/v1/posts/"]["get"]
    assert all(p["name"] != "Idempotency-Key" for p in listing.get("parameters", []))
    token = document["paths"]["/api/v1/auth/token/"]["post"]
    assert all(p["name"] != "Idempotency-Key" for p in token.get("parameters", []))
