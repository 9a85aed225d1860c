"""The contract every platform adapter keeps, run against each platform's emulator
through the same tests (:class:`AdapterContract`); each platform's class only
supplies its emulator, its accounts and a post it can publish.

The adapters are a library of plain data: these tests give them
:class:`~platforms.base.AccountSnapshot` and :class:`~platforms.base.LookupRequest`
values built by hand and no database (none is enabled here), so an adapter that
reached for a model would fail them.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest
from django.utils import timezone
from PIL import Image

from platforms import base, registry
from platforms.names import AccountStatus, Platform
from platforms.pinterest import PinterestAdapter
from platforms.vk import VkAdapter

from .emulators.pinterest import PinterestEmulator
from .emulators.telegram import TelegramEmulator
from .emulators.vk import VkEmulator

CAPTION = "Hello from the contract #launch"


class AdapterContract:
    """The shared tests. A subclass sets ``platform`` and provides the fixtures
    ``emulator`` (running, with the settings pointing at it), ``account`` (a snapshot
    that may publish) and ``refused_account`` (a snapshot whose credentials the
    platform refuses)."""

    platform: str
    # A media type the platform cannot publish, for validate().
    unsupported_media_type: str = "story"

    def publish_request(self, account: base.AccountSnapshot, marker: str) -> base.PublishRequest:
        return base.PublishRequest(account=account, caption=CAPTION, media_type="text", marker=marker)

    def lookup_request(self, account: base.AccountSnapshot, execution_id: int, since: datetime) -> base.LookupRequest:
        return base.LookupRequest(
            account=account, execution_id=execution_id, caption=CAPTION, media_type="text", created_at=since, started_at=since
        )

    @property
    def adapter(self) -> base.Adapter:
        return registry.get_adapter(self.platform)

    def test_it_is_registered_for_its_platform(self):
        assert self.adapter.platform == self.platform

    def test_it_refuses_a_media_type_it_cannot_publish(self, account):
        problems = self.adapter.validate(
            base.PublishRequest(account=account, caption=CAPTION, media_type=self.unsupported_media_type)
        )
        assert "media_type" in [p.code for p in problems]

    def test_it_accepts_what_it_can_publish(self, account):
        assert self.adapter.validate(self.publish_request(account, "cp-1")) == []

    def test_a_working_account_passes_its_check(self, emulator, account):
        health = self.adapter.check(account)
        assert health.ok, health.detail

    def test_refused_credentials_fail_the_check_and_ask_for_a_login(self, emulator, refused_account):
        try:
            health = self.adapter.check(refused_account)
        except base.PlatformError as error:
            health = base.Health(ok=False, detail=error.message, account_status=error.account_status)
        assert not health.ok
        assert health.account_status == AccountStatus.LOGIN_REQUIRED

    def test_it_publishes_and_settles_a_lookup(self, emulator, account):
        since = timezone.now()
        result = self.adapter.publish(self.publish_request(account, base.execution_marker(7)))
        assert result.remote_id
        if not self.adapter.can_lookup:
            with pytest.raises(base.LookupUnsupported):
                self.adapter.lookup(self.lookup_request(account, 7, since))
            return
        found = self.adapter.lookup(self.lookup_request(account, 7, since))
        assert found is not None and found.remote_id == result.remote_id
        # A post already recorded by another execution is not this one's.
        taken = replace(self.lookup_request(account, 8, since), recorded_remote_ids=frozenset({result.remote_id}))
        assert self.adapter.lookup(taken) is None


class MemorySandboxStore:
    """A SandboxStore without a database: the sandbox adapter needs only the protocol."""

    def __init__(self) -> None:
        self.posts: list[dict] = []

    def create(self, *, account_id, marker, caption, media_type, media):
        post = {"id": len(self.posts) + 1, "account_id": account_id, "marker": marker, "created_at": timezone.now()}
        self.posts.append(post)
        return post

    def find(self, *, account_id, marker):
        return next((p["id"] for p in self.posts if p["account_id"] == account_id and p["marker"] == marker), None)

    def attempts(self, *, account_id):
        return 0


class TestSandbox(AdapterContract):
    platform = Platform.SANDBOX
    unsupported_media_type = "unknown"

    @pytest.fixture
    def emulator(self, monkeypatch):
        monkeypatch.setattr(registry.provided, "sandbox_store", MemorySandboxStore())

    @pytest.fixture
    def account(self, emulator):
        return base.AccountSnapshot(id="sandbox-1", platform=Platform.SANDBOX, handle="sandbox")

    @pytest.fixture
    def refused_account(self):
        return base.AccountSnapshot(id="sandbox-2", platform=Platform.SANDBOX, options={"fail": "auth_required"})

    def test_it_publishes_and_settles_a_lookup(self, emulator, account):
        # The sandbox finds a post by its marker only: another execution's marker finds nothing.
        result = self.adapter.publish(self.publish_request(account, base.execution_marker(7)))
        since = timezone.now()
        assert self.adapter.lookup(self.lookup_request(account, 7, since)).remote_id == result.remote_id
        assert self.adapter.lookup(self.lookup_request(account, 8, since)) is None


TELEGRAM_TOKEN = "7012345678:AAHcontractTokenValue_never-leaks"


class TestTelegram(AdapterContract):
    platform = Platform.TELEGRAM

    @pytest.fixture
    def emulator(self, settings):
        with TelegramEmulator() as emulator:
            settings.TELEGRAM_API_BASE_URL = emulator.url
            emulator.add_bot(TELEGRAM_TOKEN, username="contract_bot")
            emulator.add_chat(username="contract_news", title="Contract News", admins=[TELEGRAM_TOKEN])
            yield emulator

    @pytest.fixture
    def account(self):
        return base.AccountSnapshot(
            id="telegram-1",
            platform=Platform.TELEGRAM,
            handle="@contract_news",
            credentials={"bot_token": TELEGRAM_TOKEN},
            options={"chat_id": "@contract_news"},
        )

    @pytest.fixture
    def refused_account(self):
        return base.AccountSnapshot(
            id="telegram-2",
            platform=Platform.TELEGRAM,
            credentials={"bot_token": "7012345678:AAHrevoked"},
            options={"chat_id": "@contract_news"},
        )


VK_TOKEN = "vk1.a.contractSecretToken_0123456789"


class TestVk(AdapterContract):
    platform = Platform.VK

    @pytest.fixture
    def emulator(self, settings, monkeypatch):
        monkeypatch.setattr(VkAdapter, "call_interval", 0)  # VK's 3 requests/s do not apply to the emulator
        with VkEmulator() as emulator:
            settings.VK_API_BASE_URL = f"{emulator.url}/method"
            emulator.add_user(100, VK_TOKEN)
            emulator.add_group(1, "Contract", "contract", admins={100: 3})
            yield emulator

    @pytest.fixture
    def account(self):
        return base.AccountSnapshot(
            id="vk-1", platform=Platform.VK, handle="club1", credentials={"access_token": VK_TOKEN}, options={"owner_id": -1}
        )

    @pytest.fixture
    def refused_account(self):
        return base.AccountSnapshot(
            id="vk-2", platform=Platform.VK, credentials={"access_token": "vk1.a.expired"}, options={"owner_id": -1}
        )


PINTEREST_TOKEN = "pina_ContractAccessToken-never-leaks"
PINTEREST_REFRESH = "pinr_ContractRefreshToken-never-leaks"


class TestPinterest(AdapterContract):
    platform = Platform.PINTEREST

    @pytest.fixture(autouse=True)
    def fast(self, monkeypatch, settings):
        monkeypatch.setattr(PinterestAdapter, "media_poll_interval", 0)
        settings.PUBLIC_MEDIA_BASE_URL = ""

    @pytest.fixture
    def emulator(self, settings):
        with PinterestEmulator() as emulator:
            settings.PINTEREST_API_BASE_URL = f"{emulator.url}/v5"
            emulator.add_user(PINTEREST_TOKEN, refresh_token=PINTEREST_REFRESH, username="contract")
            emulator.board = emulator.add_board(PINTEREST_TOKEN, name="Launches")
            yield emulator

    @pytest.fixture
    def image(self, tmp_path):
        path = tmp_path / "pin.jpg"
        Image.new("RGB", (1000, 1500), (200, 30, 30)).save(path, "JPEG")
        return base.MediaItem(
            path=str(path), url="", kind="image", mime="image/jpeg", size=path.stat().st_size, width=1000, height=1500
        )

    @pytest.fixture
    def stored(self):
        """The credentials the caller stored through ``update_credentials``."""
        return {}

    def snapshot(self, emulator, stored, token: str, refresh: str) -> base.AccountSnapshot:
        credentials = {
            "access_token": token,
            "refresh_token": refresh,
            "client_id": "1500001",
            "client_secret": "pinterest-client-secret",
        }

        def update_credentials(renew):
            updates = renew(dict(credentials))
            stored.update(updates or {})
            return {**credentials, **(updates or {})}

        return base.AccountSnapshot(
            id="pinterest-1",
            platform=Platform.PINTEREST,
            handle="contract",
            credentials=credentials,
            options={"board_id": emulator.board["id"]},
            update_credentials=update_credentials,
        )

    @pytest.fixture
    def account(self, emulator, stored, image):
        self.image = image
        return self.snapshot(emulator, stored, PINTEREST_TOKEN, PINTEREST_REFRESH)

    @pytest.fixture
    def refused_account(self, emulator, stored):
        return self.snapshot(emulator, stored, "pina_gone", "pinr_gone")

    def publish_request(self, account, marker):
        return base.PublishRequest(account=account, caption=CAPTION, media_type="photo", media=(self.image,), marker=marker)

    def lookup_request(self, account, execution_id, since):
        return replace(super().lookup_request(account, execution_id, since), media_type="photo", media_kinds=("image",))

    def test_it_hands_a_renewed_token_to_the_caller(self, emulator, account, stored):
        emulator.expire(PINTEREST_TOKEN)
        assert self.adapter.check(account).ok
        assert stored["access_token"] not in ("", PINTEREST_TOKEN)
