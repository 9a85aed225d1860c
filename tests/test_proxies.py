"""Proxies: checks through real loopback HTTP and SOCKS5 proxies, the account HTTP client's routing,
rotation to a reserve proxy, bulk import, and the proxy API actions."""

import datetime
import ipaddress
import json
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.db import connection

from accounts.models import AccountEvent, AccountStatus, Proxy, ProxyStatus, Role, SocialAccount
from accounts.proxies import account_rotate_proxy, ewma, proxies_import
from crosspost.models import ActivityLog
from platforms.base import ProxyFailed
from platforms.http import DEFAULT_USER_AGENT, http_session
from publishing.adapters import account_snapshot
from publishing.proxy_checks import proxy_check
from publishing.tasks import check_proxies

from .emulators.base import Emulator, Recorded, Reply
from .emulators.proxies import HttpProxy, IpCheck, Socks5Proxy
from .factories import ProxyFactory, SocialAccountFactory, WorkspaceFactory

V1 = "/api/v1"
CREDENTIALS = ("proxyuser", "s3cret-Proxy-Pass")


@pytest.fixture
def ip_check(settings):
    with IpCheck() as emulator:
        settings.PROXY_CHECK_URL = f"{emulator.url}/?format=json"
        yield emulator


@pytest.fixture(params=[HttpProxy, Socks5Proxy], ids=["http", "socks5"])
def loopback(request):
    """A loopback proxy of each kind that demands CREDENTIALS."""
    with request.param(credentials=CREDENTIALS) as proxy:
        yield proxy


def proxy_for(workspace, loopback, **fields) -> Proxy:
    fields.setdefault("status", ProxyStatus.ACTIVE)
    return ProxyFactory(
        workspace=workspace, scheme=loopback.scheme, host="127.0.0.1", port=loopback.port, url=loopback.url(), **fields
    )


class Echo(Emulator):
    def handle(self, request: Recorded) -> Reply:
        return Reply(200, {"path": request.path})


# --- checks --------------------------------------------------------------------------------------------


def test_it_checks_a_proxy_through_it_with_its_credentials(workspace, ip_check, loopback):
    proxy = proxy_for(workspace, loopback, success_rate=0.5, status=ProxyStatus.CHECKING)

    result = proxy_check(proxy=proxy)

    assert result.ok
    assert loopback.targets == [ip_check.url.removeprefix("http://")]
    assert loopback.relays[0].credentials == CREDENTIALS
    assert ip_check.requests[0].query == {"format": ["json"]}
    proxy.refresh_from_db()
    assert (proxy.status, proxy.exit_ip, proxy.last_error) == ("active", "203.0.113.7", "")
    assert proxy.latency_ms is not None and proxy.latency_ms >= 0
    assert proxy.last_check_at is not None
    assert proxy.success_rate == pytest.approx(0.3 * 1 + 0.7 * 0.5)


def test_it_reads_a_plain_text_exit_ip(workspace, ip_check, loopback, settings):
    settings.PROXY_CHECK_URL = f"{ip_check.url}/"
    ip_check.ip = "2001:db8::7"
    result = proxy_check(proxy=proxy_for(workspace, loopback))
    assert (result.ok, result.exit_ip) == (True, "2001:db8::7")


def test_it_keeps_the_success_rate_as_an_ewma(workspace, ip_check, settings):
    settings.PROXY_EWMA_ALPHA = 0.5
    with HttpProxy() as loopback:
        proxy = proxy_for(workspace, loopback, success_rate=1.0)
        rates = []
        for alive in (False, False, True):
            loopback.revive() if alive else loopback.kill()
            rates.append(proxy_check(proxy=proxy).success_rate)
    assert rates == pytest.approx([0.5, 0.25, 0.625])
    assert ewma(0.8, True, alpha=0.3) == pytest.approx(0.86)


def test_it_marks_a_dead_proxy_failed_with_an_error_free_of_credentials(workspace, ip_check, loopback):
    proxy = proxy_for(workspace, loopback)
    SocialAccountFactory(workspace=workspace, proxy=proxy)
    loopback.kill()

    result = proxy_check(proxy=proxy)

    assert not result.ok
    proxy.refresh_from_db()
    assert proxy.status == "failed"
    assert proxy.last_error and CREDENTIALS[1] not in proxy.last_error
    down = ActivityLog.objects.get(action="proxy.down")
    assert proxy.display_url in down.message and CREDENTIALS[1] not in json.dumps([down.message, down.details])
    assert down.details["accounts"] == 1
    # Still down: no second "down" entry.
    proxy_check(proxy=proxy)
    assert ActivityLog.objects.filter(action="proxy.down").count() == 1


def test_it_fails_a_proxy_that_refuses_its_credentials(workspace, ip_check, loopback):
    proxy = proxy_for(workspace, loopback)
    proxy.url = loopback.url(("proxyuser", "wrong-password"))
    proxy.save()

    result = proxy_check(proxy=proxy)

    assert not result.ok and result.status == "failed"
    assert loopback.refused == [("proxyuser", "wrong-password")]
    assert loopback.relays == []
    assert "wrong-password" not in result.error


@pytest.mark.parametrize(("reply", "problem"), [(Reply(502, "bad gateway"), "HTTP 502"), (Reply(200, "<html>"), "no IP")])
def test_it_fails_a_check_whose_answer_has_no_exit_ip(workspace, ip_check, reply, problem):
    ip_check.reply = reply
    with HttpProxy() as loopback:
        result = proxy_check(proxy=proxy_for(workspace, loopback))
    assert not result.ok
    assert problem in result.error


def test_it_makes_proxy_error_accounts_due_for_a_check_when_their_proxy_recovers(workspace, ip_check):
    with HttpProxy() as loopback:
        proxy = proxy_for(workspace, loopback, status=ProxyStatus.FAILED)
        waiting = SocialAccountFactory(workspace=workspace, proxy=proxy, status=AccountStatus.PROXY_ERROR)
        SocialAccount.objects.filter(pk=waiting.pk).update(last_check_at=datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC))

        result = proxy_check(proxy=proxy)

    assert result.ok and result.accounts_to_recheck == [str(waiting.pk)]
    waiting.refresh_from_db()
    # Due for check_accounts, not flipped to active: only a platform check proves the account works.
    assert (waiting.status, waiting.last_check_at) == ("proxy_error", None)
    assert ActivityLog.objects.filter(action="proxy.recovered").exists()


def test_it_checks_every_proxy_even_when_one_check_breaks(workspace, ip_check, monkeypatch):
    from publishing import tasks

    with HttpProxy() as alive, HttpProxy() as dead:
        good, bad, broken = proxy_for(workspace, alive), proxy_for(workspace, dead), ProxyFactory(workspace=workspace)
        dead.kill()
        real = tasks.proxy_record_check

        def record(*, proxy, outcome, actor=None):
            if proxy.pk == broken.pk:
                raise RuntimeError("database hiccup")
            return real(proxy=proxy, outcome=outcome, actor=actor)

        monkeypatch.setattr(tasks, "proxy_record_check", record)
        counts = check_proxies()

    assert counts == {"ok": 1, "failed": 1, "errors": 1}
    assert Proxy.objects.get(pk=good.pk).status == "active"
    assert Proxy.objects.get(pk=bad.pk).status == "failed"


# --- the account HTTP client goes through the account's proxy ---------------------------------------------------


def test_it_routes_an_accounts_requests_through_its_proxy(workspace, loopback):
    with Echo() as target:
        account = SocialAccountFactory(workspace=workspace, proxy=proxy_for(workspace, loopback))
        response = http_session(account_snapshot(account)).get(f"{target.url}/me")
    assert response.json() == {"path": "/me"}
    assert loopback.targets == [target.url.removeprefix("http://")]
    assert loopback.relays[0].credentials == CREDENTIALS
    assert target.requests[0].headers["User-Agent"] == DEFAULT_USER_AGENT  # never the Instagram fingerprint


def test_it_raises_proxy_failed_when_the_accounts_proxy_is_dead(workspace, loopback):
    account = SocialAccountFactory(workspace=workspace, proxy=proxy_for(workspace, loopback))
    loopback.kill()
    with Echo() as target, pytest.raises(ProxyFailed) as raised:
        http_session(account_snapshot(account)).get(f"{target.url}/me")
    assert target.requests == []
    assert CREDENTIALS[1] not in str(raised.value)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return folder / "cert.pem", folder / "key.pem"


def test_it_tunnels_https_through_the_accounts_proxy(workspace, loopback, tls_files):
    cert, key = tls_files
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    target = Echo()
    target.server.socket = context.wrap_socket(target.server.socket, server_side=True)
    account = SocialAccountFactory(workspace=workspace, proxy=proxy_for(workspace, loopback))
    with target:
        port = target.server.server_address[1]
        response = http_session(account_snapshot(account)).get(f"https://127.0.0.1:{port}/secure", verify=str(cert))
    assert response.json() == {"path": "/secure"}
    assert loopback.relays[0].target == f"127.0.0.1:{port}"
    assert loopback.relays[0].method == ("CONNECT" if loopback.scheme == "http" else "SOCKS5")


def test_it_forwards_a_post_body_through_the_http_proxy(workspace):
    with HttpProxy() as loopback, Echo() as target:
        account = SocialAccountFactory(workspace=workspace, proxy=proxy_for(workspace, loopback))
        http_session(account_snapshot(account)).post(f"{target.url}/upload?x=1", data={"caption": "hi"})
    assert target.requests[0].form == {"caption": ["hi"]}
    assert (loopback.relays[0].method, loopback.relays[0].path) == ("POST", "/upload?x=1")


# --- rotation -------------------------------------------------------------------------------------------------


def test_it_rotates_to_the_best_healthy_free_proxy_of_the_same_country(workspace):
    failing = ProxyFactory(workspace=workspace, country="DE")
    account = SocialAccountFactory(workspace=workspace, proxy=failing)
    full = ProxyFactory(workspace=workspace, country="DE", latency_ms=5)
    SocialAccountFactory(workspace=workspace, proxy=full)
    ProxyFactory(workspace=workspace, country="US", latency_ms=1)
    ProxyFactory(workspace=workspace, country="DE", status=ProxyStatus.FAILED, latency_ms=1)
    ProxyFactory(workspace=WorkspaceFactory(), country="DE", latency_ms=1)
    ProxyFactory(workspace=workspace, country="DE", latency_ms=300)
    fastest = ProxyFactory(workspace=workspace, country="DE", latency_ms=40)

    assert account_rotate_proxy(account=account, reason=f"connect failed via {failing.url}") == fastest

    account.refresh_from_db()
    failing.refresh_from_db()
    assert (account.proxy_id, account.status) == (fastest.pk, "active")
    assert failing.status == "failed"
    assert "proxy-pass" not in failing.last_error
    entry = ActivityLog.objects.get(action="proxy.rotate")
    assert entry.message == f"proxy rotated from {failing.display_url} to {fastest.display_url}"
    assert entry.account_id == account.pk
    assert "proxy-pass" not in json.dumps(entry.details)
    assert not AccountEvent.objects.filter(account=account).exists()


def test_it_prefers_the_least_loaded_reserve(workspace):
    failing = ProxyFactory(workspace=workspace, country="")
    account = SocialAccountFactory(workspace=workspace, proxy=failing)
    busy = ProxyFactory(workspace=workspace, country="FR", max_accounts=5, latency_ms=10)
    SocialAccountFactory(workspace=workspace, proxy=busy)
    idle = ProxyFactory(workspace=workspace, country="US", max_accounts=5, latency_ms=200)

    # No country on the failed proxy: any country will do.
    assert account_rotate_proxy(account=account, reason="timeout") == idle


def test_it_never_fills_a_reserve_beyond_max_accounts(workspace):
    failing = ProxyFactory(workspace=workspace, max_accounts=2)
    first, second = SocialAccountFactory.create_batch(2, workspace=workspace, proxy=failing)
    reserve = ProxyFactory(workspace=workspace, max_accounts=1)

    assert account_rotate_proxy(account=first, reason="timeout") == reserve
    assert account_rotate_proxy(account=second, reason="timeout") is None

    assert reserve.accounts.count() == 1
    second.refresh_from_db()
    assert second.status == "proxy_error"
    assert "no healthy proxy with a free slot is left in DE" in second.status_reason
    event = AccountEvent.objects.get(account=second)
    assert (event.from_status, event.to_status) == ("active", "proxy_error")


def test_it_keeps_a_live_cooldown_when_no_reserve_is_free(workspace):
    from django.utils import timezone

    until = timezone.now() + datetime.timedelta(hours=1)
    account = SocialAccountFactory(
        workspace=workspace, proxy=ProxyFactory(workspace=workspace), status=AccountStatus.COOLDOWN, cooldown_until=until
    )
    assert account_rotate_proxy(account=account, reason="timeout") is None
    account.refresh_from_db()
    assert (account.status, account.cooldown_until) == ("cooldown", until)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_gives_the_last_free_slot_to_one_of_two_concurrent_rotations():
    workspace = WorkspaceFactory()
    failing = ProxyFactory(workspace=workspace, max_accounts=2)
    accounts = SocialAccountFactory.create_batch(2, workspace=workspace, proxy=failing)
    reserve = ProxyFactory(workspace=workspace, max_accounts=1)
    barrier = threading.Barrier(2)
    results = {}

    def rotate(account):
        try:
            barrier.wait()
            results[account.pk] = account_rotate_proxy(account=account, reason="timeout")
        except Exception as exc:
            results[account.pk] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=rotate, args=(a,)) for a in accounts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(r.pk if r else 0 for r in results.values()) == [0, reserve.pk], results
    assert reserve.accounts.count() == 1
    assert SocialAccount.objects.filter(status="proxy_error").count() == 1


# --- import ------------------------------------------------------------------------------------------------------


IMPORT_TEXT = """# Office pool
http://u1:pw-one@198.51.100.1:8080

socks5://u2:pw-two@198.51.100.2:1080
ftp://u3:pw-three@198.51.100.3:21
http://198.51.100.1:8080
https://198.51.100.9
http://existing:pw-four@198.51.100.4:3128
"""


def test_it_imports_nothing_when_a_line_is_bad_and_names_the_lines(workspace):
    ProxyFactory(workspace=workspace, scheme="http", host="198.51.100.4", port=3128)
    report = proxies_import(workspace=workspace, text=IMPORT_TEXT, country="de")

    assert report.created == []
    assert Proxy.objects.filter(workspace=workspace).count() == 1
    assert [(e.line, e.message) for e in report.errors] == [
        (5, "Proxy scheme 'ftp' is not supported: use http, https or socks5."),
        (6, "http://198.51.100.1:8080 is listed twice (first on line 2)."),
        (7, "The proxy URL has no port: expected scheme://[user:pass@]host:port."),
        (8, "http://198.51.100.4:3128 is already a proxy in this workspace."),
    ]
    assert "pw-three" not in json.dumps(report.as_dict())


def test_it_imports_the_good_lines_when_told_to_skip_bad_ones(workspace):
    report = proxies_import(workspace=workspace, text=IMPORT_TEXT, country="de", max_accounts=3, skip_invalid=True)

    assert [p.display_url for p in report.created] == [
        "http://198.51.100.1:8080",
        "socks5://198.51.100.2:1080",
        "http://198.51.100.4:3128",
    ]
    assert [e.line for e in report.errors] == [5, 6, 7]
    socks = Proxy.objects.get(workspace=workspace, scheme="socks5")
    assert (socks.url, socks.country, socks.max_accounts, socks.has_credentials, socks.status) == (
        "socks5://u2:pw-two@198.51.100.2:1080",
        "DE",
        3,
        True,
        "checking",
    )
    assert ActivityLog.objects.get(action="proxy.import").details == {"created": 3, "skipped_lines": [5, 6, 7]}


def test_it_reports_a_line_that_is_not_even_a_url(workspace):
    report = proxies_import(workspace=workspace, text="http://[::1\nhttp://198.51.100.1:80")
    assert [e.line for e in report.errors] == [1]
    assert report.created == []


def test_it_imports_a_host_port_user_password_line_as_an_http_proxy(workspace, ip_check):
    user, password = "p@user", "pa:ss/w@rd"  # characters a URL would need escaped
    with HttpProxy(credentials=(user, password)) as loopback:
        report = proxies_import(
            workspace=workspace, text=f"10.6.6.6:3128:puser:SECRET\n127.0.0.1:{loopback.port}:{user}:{password}\n"
        )
        assert report.ok and len(report.created) == 2
        listed = Proxy.objects.get(host="10.6.6.6")
        assert (listed.url, listed.scheme, listed.port, listed.has_credentials) == (
            "http://puser:SECRET@10.6.6.6:3128",
            "http",
            3128,
            True,
        )
        assert proxy_check(proxy=Proxy.objects.get(host="127.0.0.1")).ok
        assert loopback.relays[0].credentials == (user, password)


@pytest.mark.parametrize(
    "line",
    [
        "10.6.6.6:notaport:puser:SECRET",
        "10.6.6.6:99999:puser:SECRET",
        "10.6.6.6 3128 puser SECRET",
        "ftp://puser:SECRET@10.6.6.6:21",
        "http://puser:SECRET@10.6.6.6",
        "http://puser:SECRET@[::1",
        "socks4://:SECRET@10.6.6.6:1080",
    ],
)
def test_it_never_echoes_the_password_of_a_bad_line(api, workspace, line):
    report = proxies_import(workspace=workspace, text=line)
    (error,) = report.errors
    assert "SECRET" not in json.dumps(report.as_dict())
    assert error.text.startswith(("10.6.6.6", "ftp://", "http://", "socks4://"))  # still recognisable
    refused = api(Role.ADMIN).post(f"{V1}/proxies/import/", {"text": line}, format="json")
    assert refused.status_code == 400 and "SECRET" not in refused.content.decode()


def test_it_counts_a_password_without_a_user_name_as_credentials(api, workspace):
    created = api(Role.ADMIN).post(f"{V1}/proxies/", {"url": "http://:secret@203.0.113.30:8080"}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["has_credentials"] is True
    (imported,) = proxies_import(workspace=workspace, text="socks5://:secret@203.0.113.31:1080").created
    assert imported.has_credentials


# --- API --------------------------------------------------------------------------------------------------------


def test_it_checks_a_proxy_from_the_api_without_showing_its_credentials(api, workspace, ip_check, loopback):
    proxy = proxy_for(workspace, loopback)
    response = api(Role.ADMIN).post(f"{V1}/proxies/{proxy.pk}/check/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["result"]["ok"] is True
    assert body["proxy"]["exit_ip"] == "203.0.113.7"
    assert body["proxy"]["status"] == "active"
    assert CREDENTIALS[1] not in response.content.decode()

    loopback.kill()
    response = api(Role.ADMIN).post(f"{V1}/proxies/{proxy.pk}/check/")
    assert response.json()["proxy"]["status"] == "failed"
    assert CREDENTIALS[1] not in response.content.decode()


def test_it_imports_proxies_from_the_api(api, workspace):
    client = api(Role.ADMIN)
    bad = client.post(f"{V1}/proxies/import/", {"text": IMPORT_TEXT}, format="json")
    assert bad.status_code == 400
    assert [e["line"] for e in bad.json()["errors"]] == [5, 6, 7]
    assert "pw-" not in bad.content.decode()

    good = client.post(f"{V1}/proxies/import/", {"text": "http://a:b@198.51.100.7:80\n", "country": "US"}, format="json")
    assert good.status_code == 201, good.content
    assert good.json()["created"] == 1
    assert Proxy.objects.get(host="198.51.100.7").country == "US"

    assert api(Role.EDITOR).post(f"{V1}/proxies/import/", {"text": "http://198.51.100.8:80"}, format="json").status_code == 403
    empty = client.post(f"{V1}/proxies/import/", {"text": "# nothing\n"}, format="json")
    assert empty.status_code == 400 and "text" in empty.json()
