"""DeepL through the official ``deepl`` client.

Placeholders travel as XML tags (``tag_handling="xml"``): ``<br/>`` tags split
sentences, ``<x/>`` tags do not. Glossary terms are placeholders too, restored
as their fixed translation, so no DeepL glossary has to be kept in sync.
"""

import hashlib
import logging
from contextlib import contextmanager

import deepl
from django.conf import settings
from django.core.cache import cache

from ..exceptions import (
    TranslationConfigError,
    TranslationError,
    TranslationQuotaExceeded,
    TranslationRetryLater,
)
from ..languages import DEEPL_SOURCES_FALLBACK, DEEPL_TARGETS_FALLBACK, deepl_source, deepl_target
from .base import Provider

logger = logging.getLogger(__name__)

PRO_URL = "https://api.deepl.com"
FREE_URL = "https://api-free.deepl.com"


def server_url_for(auth_key: str, configured: str = "") -> str:
    """DEEPL_SERVER_URL when set; otherwise the host the key belongs to (free keys end in ``:fx``)."""
    if configured:
        return configured
    return FREE_URL if auth_key.endswith(":fx") else PRO_URL


@contextmanager
def deepl_errors():
    """DeepL's exceptions as translation errors an operator can act on."""
    # The client retries 429/5xx itself with a back-off of up to ~2 min; the
    # planner runs while an operator waits, so keep that short (a module setting).
    deepl.http_client.max_network_retries = settings.TRANSLATION_MAX_RETRIES
    wait = settings.TRANSLATION_RETRY_AFTER_SECONDS
    try:
        yield
    except deepl.AuthorizationException as exc:
        raise TranslationConfigError(
            f"DeepL refused the API key (HTTP 403): check DEEPL_API_KEY and that it matches the host "
            f"(free keys end in ':fx' and use {FREE_URL}). DeepL said: {exc}"
        ) from exc
    except deepl.QuotaExceededException as exc:
        raise TranslationQuotaExceeded(
            "DeepL's character quota for this billing period is used up (HTTP 456): translations resume when the "
            "quota renews or the plan is upgraded. Nothing was retried."
        ) from exc
    except deepl.TooManyRequestsException as exc:
        raise TranslationRetryLater("DeepL is rate limiting requests (HTTP 429).", retry_after=wait) from exc
    except deepl.ConnectionException as exc:
        raise TranslationRetryLater(f"DeepL cannot be reached ({exc}).", retry_after=wait) from exc
    except deepl.DeepLException as exc:
        status = exc.http_status_code or 0
        if status >= 500:
            raise TranslationRetryLater(f"DeepL is failing (HTTP {status}).", retry_after=wait) from exc
        raise TranslationError(f"DeepL rejected the request: {exc}") from exc
    except (TypeError, ValueError, KeyError) as exc:  # a malformed answer (e.g. without billed_characters)
        raise TranslationError(f"DeepL answered in an unexpected shape: {exc}") from exc


class DeepLProvider(Provider):
    name = "deepl"
    label = "DeepL"

    def __init__(self, auth_key: str, server_url: str = "") -> None:
        self.server_url = server_url_for(auth_key, server_url)
        self.translator = deepl.Translator(auth_key, server_url=self.server_url, send_platform_info=False)

    @classmethod
    def from_settings(cls) -> "DeepLProvider":
        return cls(settings.DEEPL_API_KEY, settings.DEEPL_SERVER_URL)

    def languages(self) -> tuple[frozenset[str], frozenset[str]]:
        """(targets, sources) DeepL supports, read from /v2/languages once a day per server.

        When the list cannot be read, the classic list is used for this call (not cached)
        and the translation itself reports any real problem.
        """
        key = "translations:deepl:languages:" + hashlib.sha256(self.server_url.encode()).hexdigest()[:16]
        cached = cache.get(key)
        if cached is not None:
            return cached
        try:
            with deepl_errors():
                targets = frozenset(lang.code.upper() for lang in self.translator.get_target_languages())
                sources = frozenset(lang.code.upper() for lang in self.translator.get_source_languages())
        except TranslationConfigError:
            raise
        except TranslationError as exc:
            logger.warning("DeepL language list unavailable, using the built-in one: %s", exc)
            return DEEPL_TARGETS_FALLBACK, DEEPL_SOURCES_FALLBACK
        cache.set(key, (targets, sources), settings.DEEPL_LANGUAGES_CACHE_SECONDS)
        return targets, sources

    def target_code(self, language: str) -> str:
        return deepl_target(language, self.languages()[0])

    def source_code(self, language: str) -> str:
        return deepl_source(language, self.languages()[1])

    def translate(self, texts: list[str], *, source: str, target: str, glossary: dict[str, str]) -> list[str]:
        with deepl_errors():
            results = self.translator.translate_text(
                texts,
                source_lang=source,
                target_lang=target,
                tag_handling="xml",
                outline_detection=False,
                splitting_tags=["br"],
                non_splitting_tags=["x"],
                preserve_formatting=True,
            )
        if len(results) != len(texts):
            raise TranslationError(f"DeepL returned {len(results)} translation(s) for {len(texts)} text(s).")
        return [result.text for result in results]
