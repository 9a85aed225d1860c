"""Outgoing webhooks against a loopback receiver: signatures a receiver can verify, retries with
backoff (5xx, timeouts, 429 with Retry-After), a refusal failing at once, one attempt per claim,
and the delivery log in the API and the admin — with the signing secret never shown again."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from crosspost.models import ActivityLog, DeliveryStatus, WebhookDelivery, WebhookEndpoint
from crosspost.tasks import retry_webhooks
from crosspost.webhooks import delivery_send, emit, endpoint_save
from tests.emulators.webhook_receiver import Scripted, signature_valid

pytest_plugins = ["tests.planning.webhook_support"]

pytestmark = pytest.mark.django_db

DATA = {"account": "a1", "from": "active", "to": "banned", "reason": "platform said so"}


def emit_one(run, workspace, event="account.status_changed", data=DATA) -> WebhookDelivery:
    assert run(lambda: emit(event, workspace_id=workspace.pk, payload=data)) == 1
    return WebhookDelivery.objects.get()


def test_it_signs_each_delivery_so_the_receiver_can_verify_it(run, workspace, endpoint, receiver):
    delivery = emit_one(run, workspace)
    [request] = receiver.requests
    assert request.method == "POST" and request.path == "/hook"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Crosspost-Event"] == "account.status_changed"
    assert request.headers["X-Crosspost-Delivery"] == str(delivery.event_id)
    assert abs(int(request.headers["X-Crosspost-Timestamp"]) - timezone.now().timestamp()) < 60
    assert signature_valid(endpoint.plain_secret, request)
    assert not signature_valid("another-secret-of-someone-else", request)
    body = request.json
    assert body["id"] == str(delivery.event_id) and body["event"] == "account.status_changed"
    assert body["workspace"] == workspace.pk and body["data"] == DATA
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.SUCCESS, 1, 200)
    assert delivery.delivered_at is not None and delivery.response_excerpt == "ok"


def test_a_tampered_body_fails_the_receivers_check(run, workspace, endpoint, receiver):
    emit_one(run, workspace)
    [request] = receiver.requests
    request.body = request.body.replace(b"banned", b"active")
    assert not signature_valid(endpoint.plain_secret, request)


def test_it_sends_only_to_active_endpoints_subscribed_to_the_event(run, workspace, endpoint, receiver):
    endpoint_save(workspace=workspace, endpoint=endpoint, url=endpoint.url, events=["post.completed"])
    assert run(lambda: emit("account.status_changed", workspace_id=workspace.pk, payload=DATA)) == 0
    endpoint_save(workspace=workspace, endpoint=endpoint, url=endpoint.url, events=["account.status_changed"], active=False)
    assert run(lambda: emit("account.status_changed", workspace_id=workspace.pk, payload=DATA)) == 0
    assert receiver.requests == [] and not WebhookDelivery.objects.exists()


def test_it_never_builds_the_payload_of_a_workspace_without_endpoints(workspace, django_assert_num_queries):
    def payload():
        raise AssertionError("built for nobody")

    with django_assert_num_queries(1):
        assert emit("post.completed", workspace_id=workspace.pk, payload=payload) == 0


def test_a_failing_payload_never_fails_the_caller(run, workspace, endpoint, receiver):
    def payload():
        raise RuntimeError("boom")

    assert run(lambda: emit("post.completed", workspace_id=workspace.pk, payload=payload)) == 0
    assert receiver.requests == []


def test_it_retries_a_server_error_with_backoff_and_logs_both_attempts(run, workspace, endpoint, receiver):
    receiver.script(500, 200)
    delivery = emit_one(run, workspace)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RETRY_WAIT and delivery.last_status_code == 500
    wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert 50 < wait <= 60  # the first backoff step: 1 minute
    assert delivery_send(delivery.pk) == "stale"  # not due yet: nothing sent
    assert len(receiver.requests) == 1
    assert delivery_send(delivery.pk, now=delivery.next_attempt_at + timedelta(seconds=1)) == DeliveryStatus.SUCCESS
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and [entry["status_code"] for entry in delivery.log] == [500, 200]
    first, second = receiver.requests
    assert first.headers["X-Crosspost-Delivery"] == second.headers["X-Crosspost-Delivery"]  # the receiver's dedupe key
    assert signature_valid(endpoint.plain_secret, second)


def test_the_backoff_grows_and_the_last_failure_gives_up(run, workspace, endpoint, receiver, settings):
    settings.WEBHOOK_RETRY_SECONDS = [60, 300]
    receiver.script(503, 502, 500)
    delivery = emit_one(run, workspace)
    delivery.refresh_from_db()
    first_wait = delivery.next_attempt_at - timezone.now()
    assert delivery_send(delivery.pk, now=delivery.next_attempt_at) == DeliveryStatus.RETRY_WAIT
    delivery.refresh_from_db()
    assert delivery.next_attempt_at - timezone.now() > first_wait + timedelta(seconds=200)  # 5 minutes now
    assert delivery_send(delivery.pk, now=delivery.next_attempt_at) == DeliveryStatus.FAILED
    delivery.refresh_from_db()
    assert delivery.attempts == 3 and delivery.next_attempt_at is None
    assert delivery.last_error.startswith("Gave up after 3 attempts")
    endpoint.refresh_from_db()
    assert endpoint.failure_count == 1


def test_a_refusal_fails_at_once(run, workspace, endpoint, receiver):
    receiver.script(Scripted(410, body="gone"))
    delivery = emit_one(run, workspace)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (DeliveryStatus.FAILED, 1, None)
    assert "410" in delivery.last_error and delivery.response_excerpt == "gone"
    assert run(retry_webhooks) == 0 and len(receiver.requests) == 1


def test_it_honours_retry_after_of_a_429(run, workspace, endpoint, receiver):
    receiver.script(Scripted(429, headers={"Retry-After": "600"}))
    delivery = emit_one(run, workspace)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RETRY_WAIT
    assert 590 < (delivery.next_attempt_at - timezone.now()).total_seconds() <= 600  # not the 60 s backoff


def test_it_retries_a_receiver_that_does_not_answer_in_time(run, workspace, endpoint, receiver, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    receiver.script(Scripted(200, delay=1.0))
    delivery = emit_one(run, workspace)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RETRY_WAIT and delivery.last_status_code is None
    assert delivery.last_error == "No answer within 0.3 s."


def test_one_claim_sends_one_attempt(run, workspace, endpoint, receiver):
    delivery = emit_one(run, workspace)  # sent by its task after commit
    assert delivery_send(delivery.pk) == "stale"
    assert run(retry_webhooks) == 0  # the beat finds nothing due either
    assert len(receiver.requests) == 1


def test_a_claim_left_by_a_dead_worker_is_sent_again_by_the_beat(workspace, endpoint, receiver, run):
    # Recorded, but its message is lost (on_commit callbacks do not run here).
    emit("account.status_changed", workspace_id=workspace.pk, payload=DATA)
    delivery = WebhookDelivery.objects.get()
    now = timezone.now()
    # The claim a worker makes before it dies mid-send (delivery_send's first step).
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.SENDING, attempts=1, claimed_until=now + timedelta(seconds=70)
    )
    assert run(retry_webhooks) == 0  # still inside its claim
    WebhookDelivery.objects.filter(pk=delivery.pk).update(claimed_until=now - timedelta(seconds=1))
    assert run(retry_webhooks) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCESS, 2)
    assert len(receiver.requests) == 1


def test_the_beat_sends_deliveries_whose_message_was_lost(workspace, endpoint, receiver, run):
    emit("account.status_changed", workspace_id=workspace.pk, payload=DATA)  # no commit hook ran: no task
    assert receiver.requests == []
    assert run(retry_webhooks) == 1
    assert WebhookDelivery.objects.get().status == DeliveryStatus.SUCCESS and len(receiver.requests) == 1


def test_it_refuses_internal_addresses_unless_allowed(workspace, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    for url, message in [
        ("http://127.0.0.1:9/hook", "internal address"),
        ("http://10.1.2.3/hook", "internal address"),
        ("ftp://example.com/hook", "must start with http:// or https://"),
        ("https://user:pw@example.com/hook", "no user name or password"),
    ]:
        with pytest.raises(Exception) as refused:
            endpoint_save(workspace=workspace, url=url, events=["post.completed"])
        assert message in str(refused.value), url
    assert not WebhookEndpoint.objects.exists()


def test_it_stores_the_secret_encrypted(workspace, endpoint):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM crosspost_webhookendpoint WHERE id = %s", [endpoint.pk])
        [stored] = cursor.fetchone()
    assert endpoint.plain_secret.startswith("whsec_") and endpoint.plain_secret not in stored
    assert WebhookEndpoint.objects.get().secret == endpoint.plain_secret


# --- API ----------------------------------------------------------------------------------------------------


def test_the_api_shows_the_secret_once_on_create_and_never_again(api, workspace, receiver):
    client = api(Role.ADMIN)
    created = client.post("/api/v1/webhooks/", {"url": receiver.hook_url, "events": ["post.completed"]}, format="json")
    assert created.status_code == 201, created.json()
    secret = created.json()["signing_secret"]
    assert secret.startswith("whsec_") and "secret" not in created.json()
    endpoint_id = created.json()["id"]
    for path in ("/api/v1/webhooks/", f"/api/v1/webhooks/{endpoint_id}/"):
        answer = client.get(path)
        assert answer.status_code == 200 and secret not in answer.content.decode()
        assert "signing_secret" not in answer.content.decode()
    patched = client.patch(f"/api/v1/webhooks/{endpoint_id}/", {"description": "CRM"}, format="json")
    assert patched.status_code == 200 and patched.json()["signing_secret"] == "" and secret not in patched.content.decode()
    assert WebhookEndpoint.objects.get().secret == secret  # kept
    rotated = client.post(f"/api/v1/webhooks/{endpoint_id}/rotate-secret/")
    assert rotated.status_code == 200
    assert rotated.json()["signing_secret"] not in ("", secret)
    assert WebhookEndpoint.objects.get().secret == rotated.json()["signing_secret"]
    assert ActivityLog.objects.filter(action="webhook.rotate_secret").exists()


def test_the_api_is_for_workspace_admins(api, workspace, endpoint):
    editor = api(Role.EDITOR)
    assert editor.get("/api/v1/webhooks/").json()["results"] == []
    assert editor.get(f"/api/v1/webhooks/{endpoint.pk}/").status_code == 404
    refused = editor.post("/api/v1/webhooks/", {"url": endpoint.url, "events": ["post.completed"]}, format="json")
    assert refused.status_code == 403
    assert editor.get("/api/v1/webhook-deliveries/").json()["results"] == []


def test_the_api_says_what_is_wrong_with_an_endpoint(api, workspace, settings):
    client = api(Role.ADMIN)
    unknown = client.post("/api/v1/webhooks/", {"url": "https://example.com/h", "events": ["post.eaten"]}, format="json")
    assert unknown.status_code == 400 and "events" in unknown.json()
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    internal = client.post("/api/v1/webhooks/", {"url": "http://127.0.0.1:8000/h", "events": ["post.completed"]}, format="json")
    assert internal.status_code == 400
    assert "internal address" in internal.json()["url"][0]


def test_the_api_sends_a_test_event_and_lists_and_redelivers_it(api, workspace, endpoint, receiver, run):
    client = api(Role.ADMIN)
    sent = run(lambda: client.post(f"/api/v1/webhooks/{endpoint.pk}/test/"))
    assert sent.status_code == 202
    [request] = receiver.requests
    assert request.headers["X-Crosspost-Event"] == "ping" and signature_valid(endpoint.plain_secret, request)
    log = client.get("/api/v1/webhook-deliveries/", {"endpoint": endpoint.pk}).json()["results"]
    assert [(row["event"], row["status"], row["last_status_code"]) for row in log] == [("ping", "success", 200)]
    again = run(lambda: client.post(f"/api/v1/webhook-deliveries/{log[0]['id']}/redeliver/"))
    assert again.status_code == 202 and again.json()["event_id"] == log[0]["event_id"]
    assert len(receiver.requests) == 2
    assert receiver.requests[1].headers["X-Crosspost-Delivery"] == log[0]["event_id"]
    assert endpoint.plain_secret not in json.dumps(client.get("/api/v1/webhook-deliveries/").json())


# --- Admin ---------------------------------------------------------------------------------------------------


def test_the_admin_shows_the_delivery_log_with_filters_and_the_receivers_answer(
    client, member, workspace, endpoint, receiver, run
):
    receiver.script(Scripted(410, body="endpoint removed"), 200)
    emit_one(run, workspace)
    run(lambda: emit("post.completed", workspace_id=workspace.pk, payload={"post": 7}))
    client.force_login(member(Role.ADMIN))
    failed = client.get("/admin/crosspost/webhookdelivery/", {"status__exact": "failed"})
    assert failed.status_code == 200
    assert [d.event for d in failed.context["cl"].result_list] == ["account.status_changed"]
    delivered = client.get("/admin/crosspost/webhookdelivery/", {"event__exact": "post.completed"})
    assert [(d.event, d.status) for d in delivered.context["cl"].result_list] == [("post.completed", "success")]
    by_endpoint = client.get("/admin/crosspost/webhookdelivery/", {"endpoint__id__exact": endpoint.pk})
    assert len(by_endpoint.context["cl"].result_list) == 2
    refused = WebhookDelivery.objects.get(status=DeliveryStatus.FAILED)
    detail = client.get(f"/admin/crosspost/webhookdelivery/{refused.pk}/change/").content.decode()
    assert "endpoint removed" in detail and "platform said so" in detail and str(refused.event_id) in detail
    assert endpoint.plain_secret not in detail


def test_the_admin_redelivers_from_the_log(client, member, workspace, endpoint, receiver, run):
    receiver.script(Scripted(410))
    refused = emit_one(run, workspace)
    client.force_login(member(Role.ADMIN))
    answer = run(
        lambda: client.post(
            "/admin/crosspost/webhookdelivery/", {"action": "redeliver", "_selected_action": [refused.pk]}, follow=True
        )
    )
    assert "1 delivery sent again." in answer.content.decode()
    copy = WebhookDelivery.objects.exclude(pk=refused.pk).get()
    assert copy.event_id == refused.event_id and copy.status == DeliveryStatus.SUCCESS


def test_the_admin_never_shows_the_secret_but_shows_a_new_one_once(client, member, workspace, endpoint, receiver, run):
    client.force_login(member(Role.ADMIN))
    change = client.get(f"/admin/crosspost/webhookendpoint/{endpoint.pk}/change/").content.decode()
    assert endpoint.plain_secret not in change and 'name="new_secret"' in change
    listing = client.get("/admin/crosspost/webhookendpoint/").content.decode()
    assert endpoint.plain_secret not in listing
    rotated = client.post(
        "/admin/crosspost/webhookendpoint/", {"action": "rotate_secret", "_selected_action": [endpoint.pk]}, follow=True
    ).content.decode()
    new_secret = WebhookEndpoint.objects.get().secret
    assert new_secret != endpoint.plain_secret and new_secret in rotated
    assert new_secret not in client.get(f"/admin/crosspost/webhookendpoint/{endpoint.pk}/change/").content.decode()
    tested = run(
        lambda: client.post(
            "/admin/crosspost/webhookendpoint/", {"action": "send_test", "_selected_action": [endpoint.pk]}, follow=True
        )
    )
    assert tested.status_code == 200 and receiver.requests[-1].headers["X-Crosspost-Event"] == "ping"
    assert signature_valid(new_secret, receiver.requests[-1])


def test_the_admin_adds_an_endpoint_and_shows_its_generated_secret_once(client, member, workspace, receiver):
    client.force_login(member(Role.ADMIN))
    answer = client.post(
        "/admin/crosspost/webhookendpoint/add/",
        {"workspace": workspace.pk, "url": receiver.hook_url, "events": ["post.failed", "execution.failed"], "active": "on"},
        follow=True,
    )
    assert answer.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["post.failed", "execution.failed"]
    assert endpoint.secret.startswith("whsec_") and endpoint.secret in answer.content.decode()
    again = client.get(f"/admin/crosspost/webhookendpoint/{endpoint.pk}/change/").content.decode()
    assert endpoint.secret not in again


def test_viewers_and_editors_see_no_webhooks_in_the_admin(client, member, workspace, endpoint):
    client.force_login(member(Role.EDITOR))
    assert client.get("/admin/crosspost/webhookendpoint/").status_code == 403
    assert client.get("/admin/crosspost/webhookdelivery/").status_code == 403


def test_the_admin_edits_an_endpoint_keeping_or_replacing_its_secret(client, member, workspace, endpoint):
    client.force_login(member(Role.ADMIN))
    url = f"/admin/crosspost/webhookendpoint/{endpoint.pk}/change/"
    form = {"url": endpoint.url, "events": ["post.completed"], "active": "on", "description": "CRM"}
    assert client.post(url, {**form, "new_secret": ""}).status_code == 302
    kept = WebhookEndpoint.objects.get()
    assert (kept.events, kept.description, kept.secret) == (["post.completed"], "CRM", endpoint.plain_secret)
    assert client.post(url, {**form, "new_secret": "a-secret-the-receiver-already-has"}).status_code == 302
    assert WebhookEndpoint.objects.get().secret == "a-secret-the-receiver-already-has"
    refused = client.post(url, {**form, "events": []})
    assert refused.status_code == 200 and "This field is required." in refused.content.decode()
