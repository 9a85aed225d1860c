"""Fixtures for the translation, AI-caption and product tests: the DeepL, OpenAI
and Wildberries emulators wired into settings, and a clean Django cache (the
language list and product facts are cached there)."""

import pytest
from django.core.cache import cache

from .emulators.deepl import DeepLEmulator
from .emulators.openai import OpenAIEmulator
from .emulators.wildberries import WildberriesEmulator


@pytest.fixture(autouse=True)
def _no_providers(settings):
    """No provider unless a test starts one; no client-side retries (a test injects each failure once)."""
    cache.clear()
    settings.DEEPL_API_KEY = ""
    settings.OPENAI_API_KEY = ""
    settings.TRANSLATION_MAX_RETRIES = 0
    yield
    cache.clear()


@pytest.fixture
def deepl_api(settings):
    with DeepLEmulator() as emulator:
        settings.DEEPL_API_KEY = emulator.auth_key
        settings.DEEPL_SERVER_URL = emulator.url
        yield emulator


@pytest.fixture
def openai_api(settings):
    with OpenAIEmulator() as emulator:
        settings.OPENAI_API_KEY = emulator.api_key
        settings.OPENAI_BASE_URL = emulator.url + "/v1"
        yield emulator


@pytest.fixture
def wb_api(settings):
    with WildberriesEmulator() as emulator:
        settings.WB_CARD_BASE_URL = emulator.url
        yield emulator
